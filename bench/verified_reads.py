"""What verified reads cost: hashing a model's cached entries once, then reading them stamped.

For each complete activation entry of ``--model`` (on ``--corpus``), removes its stamp file,
times ``entry.verified()`` in a fresh state (every layer file hashed, as the first read after a
change does) and again with only the stamp on disk (what every later read, in any process,
pays: one ``stat`` per file).

    python bench/verified_reads.py --model minilm --corpus conll2000 --json verified.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.extract import environment
from neuronviz import integrity
from neuronviz.cache import ActivationCache


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--corpus", default="conll2000")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    cache = ActivationCache(args.cache_dir)
    splits = {}
    for entry in cache.entries(args.model):
        if entry.manifest.key.corpus != args.corpus:
            continue
        (entry.path / integrity.STAMP_FILE).unlink(missing_ok=True)
        integrity.forget()
        start = time.perf_counter()
        entry.verified()
        first = time.perf_counter() - start
        integrity.forget()  # as a new process: only the stamp on disk remembers
        start = time.perf_counter()
        entry.verified()
        stamped = time.perf_counter() - start
        splits[entry.manifest.key.split] = {
            "files": len(entry.manifest.layers),
            "MiB": round(entry.nbytes / 2**20),
            "first_read_s": round(first, 3),
            "stamped_read_s": round(stamped, 5),
            "MiB_per_s": round(entry.nbytes / 2**20 / first),
        }
    report = {
        "environment": environment(),
        "command": " ".join(["python", *sys.argv]),
        "model": args.model,
        "corpus": args.corpus,
        "splits": splits,
    }
    text = json.dumps(report, indent=1)
    if args.json:
        Path(args.json).write_text(text + "\n")
    print(json.dumps(splits, indent=1))


if __name__ == "__main__":
    main()
