"""Small hand-made corpora in the formats of shared/data, written for neuronviz's tests.

Sentences come from a tiny grammar with a fixed seed, so every test sees the same data; they
are not taken from any real corpus.
"""

from __future__ import annotations

import random
from pathlib import Path

DET = [("the", "DT"), ("a", "DT"), ("every", "DT")]
ADJ = [("small", "JJ"), ("green", "JJ"), ("quiet", "JJ")]
NOUN = [("robot", "NN"), ("garden", "NN"), ("lamp", "NN"), ("river", "NN")]
VERB = [("moved", "VBD"), ("watched", "VBD"), ("painted", "VBD")]
PREP = [("near", "IN"), ("under", "IN")]

SEM = {"DT": "DEF", "JJ": "IST", "NN": "CON", "VBD": "EPS", "IN": "REL", ".": "NIL"}
CCG = {"DT": "np/n", "JJ": "n/n", "NN": "n", "VBD": r"(s:dcl\np)/np", "IN": r"(np\np)/np", ".": "."}


def sentences(n: int, seed: int = 0) -> list[list[tuple[str, str, str]]]:
    """``n`` sentences of (word, POS, chunk) triples."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words: list[tuple[str, str, str]] = []
        for phrase in ("np", "vp", "np", "pp", "np")[: rng.choice([3, 5])]:
            if phrase == "vp":
                w, t = rng.choice(VERB)
                words.append((w, t, "B-VP"))
            elif phrase == "pp":
                w, t = rng.choice(PREP)
                words.append((w, t, "B-PP"))
            else:
                parts = [rng.choice(DET)] + ([rng.choice(ADJ)] if rng.random() < 0.5 else [])
                parts.append(rng.choice(NOUN))
                words += [(w, t, ("B-NP" if i == 0 else "I-NP")) for i, (w, t) in enumerate(parts)]
        words.append((".", ".", "O"))
        words[0] = (words[0][0].capitalize(), *words[0][1:])
        out.append(words)
    return out


def conll2000_text(sents) -> str:
    return "\n\n".join("\n".join(" ".join(t) for t in s) for s in sents) + "\n"


def pmb_text(sents) -> str:
    blocks = ["### made for neuronviz tests"]
    for i, s in enumerate(sents):
        raw = " ".join(w for w, _, _ in s)
        lines = [f"# newdoc id = t{i}", f"# raw sent = {raw}"]
        lines += [f"{w}\t{w}\t{w.lower()}\t{SEM[p]}\t{CCG[p]}\tO\t[]" for w, p, _ in s]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def ptb_text(sents) -> str:
    trees = []
    for s in sents:
        leaves = " ".join(f"({p} {w})" for w, p, _ in s)
        trees.append(f"( (S (NP-SBJ (-NONE- *-1)) {leaves}) )")
    return "\n".join(trees) + "\n"


def write_data_dir(root: Path) -> Path:
    """A folder laid out like shared/data with small made-up corpora."""
    conll = root / "conll2000"
    conll.mkdir(parents=True)
    (conll / "train.txt").write_text(conll2000_text(sentences(60, seed=1)))
    (conll / "test.txt").write_text(conll2000_text(sentences(15, seed=2)))
    pmb = root / "pmb-4.0.0-en-gold"
    pmb.mkdir()
    for split, (n, seed) in {"train": (40, 3), "dev": (10, 4), "test": (10, 5)}.items():
        (pmb / f"{split}.conll").write_text(pmb_text(sentences(n, seed=seed)))
    ptb = root / "ptb-sample" / "combined"
    ptb.mkdir(parents=True)
    for i in range(1, 11):
        (ptb / f"wsj_{i:04d}.mrg").write_text(ptb_text(sentences(4, seed=10 + i)))
    return root
