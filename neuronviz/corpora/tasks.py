"""The task registry: a task name maps to a corpus, a label column and train/dev/test splits.

Built-in tasks read the corpora of ``shared/data`` (``pos``, ``chunk``, ``sem``, ``ccg``,
``ptb-pos``). Tasks on the user's own files take a path after a colon: ``upos:PATH``,
``xpos:PATH``, ``deprel:PATH``, ``feats:PATH`` for CoNLL-U, ``parallel:PATH`` for a pair of
sentence/label files. Where a corpus has no dev split one is carved deterministically.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from neuronviz.corpora.corpus import Corpus, tokens_digest
from neuronviz.corpora.readers import read_conll2000, read_conllu, read_parallel, read_pmb, read_ptb
from neuronviz.corpora.sources import locate_corpus
from neuronviz.errors import ConfigError, DataError

__all__ = [
    "SPLITS",
    "TASKS",
    "TaskData",
    "TaskSpec",
    "TaskSplit",
    "carve",
    "load_task",
    "parse_task_name",
]

SPLITS = ("train", "dev", "test")
DEV_FRACTION = 0.1


@dataclass(frozen=True)
class TaskSplit:
    """One split of one task: sentences and their gold label per word."""

    task: str
    split: str
    corpus: str
    source: str
    tokens: list[list[str]]
    labels: list[list[str]]

    @property
    def n_sentences(self) -> int:
        return len(self.tokens)

    @property
    def n_words(self) -> int:
        return sum(len(s) for s in self.tokens)

    @cached_property
    def digest(self) -> str:
        """Digest of the token content (not the labels): tasks on one corpus share activations."""
        return tokens_digest(self.tokens)


@dataclass(frozen=True)
class TaskData:
    """A loaded task: its splits by name (``train``, ``dev``, ``test``)."""

    name: str
    corpus: str
    column: str
    splits: dict[str, TaskSplit] = field(default_factory=dict)

    def __getitem__(self, split: str) -> TaskSplit:
        return self.splits[split]


@dataclass(frozen=True)
class TaskSpec:
    """A registered task: which corpus, which column, and how to read its splits.

    ``load(location)`` returns the corpus of each split; ``location`` is the corpus folder for
    built-in corpora or the user's path for tasks that take one.
    """

    name: str
    description: str
    corpus: str
    column: str
    load: Callable[[Path], dict[str, Corpus]]
    needs_path: bool = False


def carve(corpus: Corpus, fractions: tuple[float, ...]) -> list[Corpus]:
    """Cut a corpus into contiguous parts of the given fractions, in order (deterministic)."""
    n = len(corpus)
    bounds = [0]
    for frac in fractions[:-1]:
        bounds.append(min(n, bounds[-1] + math.ceil(n * frac)))
    bounds.append(n)
    return [corpus.select(range(a, b)) for a, b in itertools.pairwise(bounds)]


def _conll2000(folder: Path) -> dict[str, Corpus]:
    train, dev = carve(read_conll2000(folder / "train.txt"), (1 - DEV_FRACTION, DEV_FRACTION))
    return {"train": train, "dev": dev, "test": read_conll2000(folder / "test.txt")}


def _pmb(folder: Path) -> dict[str, Corpus]:
    return {split: read_pmb(folder / f"{split}.conll") for split in SPLITS}


def _split_three(corpus: Corpus) -> dict[str, Corpus]:
    return dict(zip(SPLITS, carve(corpus, (0.8, 0.1, 0.1)), strict=True))


def _ptb(folder: Path) -> dict[str, Corpus]:
    files = sorted((folder / "combined").glob("*.mrg"))
    cut_dev, cut_test = math.ceil(len(files) * 0.8), math.ceil(len(files) * 0.9)
    return {
        "train": read_ptb(files[:cut_dev]),
        "dev": read_ptb(files[cut_dev:cut_test]),
        "test": read_ptb(files[cut_test:]),
    }


def _find_split_file(folder: Path, split: str, suffixes: tuple[str, ...]) -> Path | None:
    for suffix in suffixes:
        hits = sorted(folder.glob(f"*{split}*{suffix}"))
        if hits:
            return hits[0]
    return None


def _conllu(path: Path) -> dict[str, Corpus]:
    if path.is_dir():
        files = {s: _find_split_file(path, s, (".conllu",)) for s in SPLITS}
        if files["train"] is None:
            raise DataError("no *train*.conllu file in this folder", path=path)
        splits = {s: read_conllu(f) for s, f in files.items() if f is not None}
        if "dev" not in splits:
            splits["train"], splits["dev"] = carve(
                splits["train"], (1 - DEV_FRACTION, DEV_FRACTION)
            )
        if "test" not in splits:
            raise DataError("no *test*.conllu file in this folder", path=path)
        return splits
    return _split_three(read_conllu(path))


def _parallel(path: Path) -> dict[str, Corpus]:
    if path.is_dir():
        splits = {}
        for split in SPLITS:
            word_file = _find_split_file(path, split, (".word", ".word.txt", ".words"))
            label_file = _find_split_file(path, split, (".label", ".label.txt", ".labels"))
            if word_file is not None and label_file is not None:
                splits[split] = read_parallel(word_file, label_file)
        if "train" not in splits:
            raise DataError(
                "no train sentence/label pair (train.word + train.label) in this folder", path=path
            )
        if "dev" not in splits:
            splits["train"], splits["dev"] = carve(
                splits["train"], (1 - DEV_FRACTION, DEV_FRACTION)
            )
        if "test" not in splits:
            splits["train"], splits["test"] = carve(
                splits["train"], (1 - DEV_FRACTION, DEV_FRACTION)
            )
        return splits
    words, sep, labels = str(path).partition(",")
    if not sep:
        raise DataError(
            "parallel: needs a folder with train.word/train.label files or 'SENTENCES,LABELS'",
            path=path,
        )
    return _split_three(read_parallel(words, labels))


TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec(
            "pos", "Part-of-speech tags (PTB tagset), CoNLL-2000", "conll2000", "pos", _conll2000
        ),
        TaskSpec("chunk", "Syntactic chunks (BIO), CoNLL-2000", "conll2000", "chunk", _conll2000),
        TaskSpec("sem", "Semantic tags, Parallel Meaning Bank 4.0.0 gold", "pmb", "sem", _pmb),
        TaskSpec("ccg", "CCG supertags, Parallel Meaning Bank 4.0.0 gold", "pmb", "ccg", _pmb),
        TaskSpec("ptb-pos", "POS tags from Penn Treebank sample trees", "ptb-sample", "pos", _ptb),
        TaskSpec(
            "upos",
            "Universal POS tags of a CoNLL-U file (upos:PATH)",
            "conllu",
            "upos",
            _conllu,
            True,
        ),
        TaskSpec(
            "xpos",
            "Language-specific POS of a CoNLL-U file (xpos:PATH)",
            "conllu",
            "xpos",
            _conllu,
            True,
        ),
        TaskSpec(
            "deprel",
            "Dependency relations of a CoNLL-U file (deprel:PATH)",
            "conllu",
            "deprel",
            _conllu,
            True,
        ),
        TaskSpec(
            "feats",
            "Morphological features of a CoNLL-U file (feats:PATH)",
            "conllu",
            "feats",
            _conllu,
            True,
        ),
        TaskSpec(
            "parallel",
            "Labels from parallel sentence/label files (parallel:FOLDER or parallel:SENTS,LABELS)",
            "parallel",
            "label",
            _parallel,
            True,
        ),
    )
}


def parse_task_name(name: str) -> tuple[TaskSpec, Path | None]:
    """Split ``"upos:PATH"`` into its spec and path; check that a path is given where needed."""
    base, sep, rest = name.partition(":")
    spec = TASKS.get(base.strip().lower())
    if spec is None:
        raise ConfigError(f"unknown task {name!r}", hint=f"choose one of {', '.join(TASKS)}")
    if spec.needs_path and not rest:
        raise ConfigError(f"task {base!r} needs a path: {base}:PATH", hint=spec.description)
    if not spec.needs_path and sep:
        raise ConfigError(
            f"task {base!r} takes no path", hint="its corpus comes from the data folder"
        )
    if spec.name == "parallel" and "," not in rest and not Path(rest).expanduser().is_dir():
        raise ConfigError(
            f"parallel: takes a folder or two paths, SENTENCES,LABELS; {rest!r} is neither",
            hint="parallel:SENTENCES,LABELS or parallel:FOLDER (with train.word, train.label)",
        )
    if spec.name == "parallel" and "," in rest and (rest.count(",") != 1 or "" in rest.split(",")):
        raise ConfigError(
            f"parallel: takes two paths, SENTENCES,LABELS, got {rest.count(',') + 1} in {name!r}",
            hint="parallel:SENTENCES,LABELS or parallel:FOLDER (with train.word, train.label)",
        )
    return spec, (Path(rest).expanduser() if rest else None)


def load_task(
    name: str,
    *,
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    max_sentences: int | None = None,
    download: bool = True,
) -> TaskData:
    """Read every split of task ``name``, each capped at ``max_sentences`` sentences."""
    spec, user_path = parse_task_name(name)
    if max_sentences is not None and max_sentences < 1:
        raise ConfigError(f"max_sentences must be at least 1, got {max_sentences}")
    if user_path is not None:
        if not user_path.exists() and "," not in str(user_path):
            raise DataError(
                "not found",
                path=user_path,
                hint=f"give an existing file or folder after '{spec.name}:'",
            )
        corpora, corpus_id = spec.load(user_path), f"{spec.corpus}:{user_path}"
    else:
        folder = locate_corpus(
            spec.corpus, data_dir=data_dir, cache_dir=cache_dir, download=download
        )
        corpora, corpus_id = spec.load(folder), spec.corpus
    splits = {}
    for split in SPLITS:
        corpus = corpora[split]
        if spec.column not in corpus.columns:
            raise DataError(f"has no column {spec.column!r}", path=corpus.source)
        if max_sentences is not None:
            corpus = corpus.select(range(min(max_sentences, len(corpus))))
        if len(corpus) == 0:
            raise DataError(f"the {split} split of task {name!r} is empty", path=corpus.source)
        splits[split] = TaskSplit(
            task=name,
            split=split,
            corpus=corpus_id,
            source=corpus.source,
            tokens=corpus.tokens,
            labels=corpus.columns[spec.column],
        )
    return TaskData(name=name, corpus=corpus_id, column=spec.column, splits=splits)
