"""What verified reads cost: hashing a model's cached entries once, then reading them stamped.

For each complete activation entry of ``--model`` (on ``--corpus``), removes its stamp file,
times ``entry.verified()`` in a fresh state (every layer file hashed, as the first read after a
change does) and again with only the stamp on disk (what every later read, in any process,
pays: one ``stat`` per file).

    python bench/verified_reads.py --model minilm --corpus conll2000 --json verified.json

``--part load`` times what an analysis reads, ``load_probe_data`` for ``--task`` (every layer
of the train, dev and test entries, labels and words), with verification as it runs (stamped)
and with ``verify_file`` replaced by a plain path lookup, alternating, ``--repeats`` times each:
the whole of what verified reads add to an analysis, since nothing after loading reads a file.

    python bench/verified_reads.py --part load --model minilm --task pos --json load.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import neuronviz.store.integrity as integrity
from bench.extract import environment
from neuronviz.store.activation_cache import ActivationCache


def load_part(args) -> dict:
    """Seconds of ``load_probe_data`` with verified reads and without, alternating."""
    from unittest import mock

    import neuronviz.store.activations as cache_module
    from neuronviz.extraction.fill_cache import cached_entries
    from neuronviz.probing.features import load_probe_data

    entries = cached_entries(args.model, args.task, cache=args.cache_dir)
    load_probe_data(entries, args.task)  # stamps written, page cache warm
    times: dict[str, list[float]] = {"verified": [], "unverified": []}
    for _ in range(args.repeats):
        for mode in times:
            integrity.forget()  # as a new process would: only the stamps on disk remember
            unverified = mock.patch.object(
                cache_module, "verify_file", lambda entry, relative, size, sha: entry / relative
            )
            start = time.perf_counter()
            if mode == "unverified":
                with unverified:
                    load_probe_data(entries, args.task)
            else:
                load_probe_data(entries, args.task)
            times[mode].append(time.perf_counter() - start)
    out = {
        k: {"median_s": round(statistics.median(v), 3), "runs_s": [round(t, 3) for t in v]}
        for k, v in times.items()
    }
    out["added_s"] = round(out["verified"]["median_s"] - out["unverified"]["median_s"], 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["hash", "load"], default="hash")
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--corpus", default="conll2000")
    parser.add_argument("--task", default="pos")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    if args.part == "load":
        report = {
            "environment": environment(),
            "command": " ".join(["python", *sys.argv]),
            "model": args.model,
            "task": args.task,
            "load": load_part(args),
        }
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
        print(json.dumps(report["load"], indent=1))
        return
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
