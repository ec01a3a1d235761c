"""Where a probe's peak memory comes from: resident high-water mark after each phase.

Loads one model x task's cached train/dev/test activations with ``load_probe_data``, fits the
elastic net with OWL-QN and scores the test split, printing the process's ``VmHWM`` (peak) and
``VmRSS`` (now) after each phase. With ``--eval-blocks`` it also times the test split's scoring
with float32 evaluation blocks of several sizes (the peak's last phase is that block).

    python bench/probe_memory.py --train cache/activations/minilm/<train entry> \\
        --dev cache/activations/minilm/<dev entry> --test cache/activations/minilm/<test entry> \\
        --task pos --max-train-words 47589 [--eval-block 256] --eval-blocks 256 64 32
"""

from __future__ import annotations

import argparse
import json
import time

import neuronviz.probing.features as features
from neuronviz.probing.probe import fit_sparse
from neuronviz.probing.retrain import accuracy_of
from neuronviz.store.activation_cache import open_entry


def memory_mib() -> dict[str, float]:
    """Peak and current resident memory of this process (``/proc/self/status``), MiB."""
    status = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                status[key] = int(value.split()[0]) / 1024
    return status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for split in ("train", "dev", "test"):
        parser.add_argument(f"--{split}", required=True, help=f"{split} cache entry folder")
    parser.add_argument("--task", default="pos")
    parser.add_argument("--max-train-words", type=int)
    parser.add_argument("--lambda1", type=float, default=1e-3)
    parser.add_argument("--lambda2", type=float, default=1e-3)
    parser.add_argument(
        "--eval-block", type=int, help="MiB of the scoring block (default: neuronviz's)"
    )
    parser.add_argument("--eval-blocks", type=int, nargs="*", default=[], help="MiB, timed")
    parser.add_argument("--json")
    args = parser.parse_args()

    if args.eval_block:
        features._EVAL_BLOCK_BYTES = args.eval_block << 20
    entries = {s: open_entry(getattr(args, s)) for s in ("train", "dev", "test")}
    phases = {}
    data = features.load_probe_data(entries, args.task, max_train_words=args.max_train_words)
    phases["loaded"] = memory_mib()
    fit = fit_sparse(
        data.train,
        data.y_train,
        data.n_classes,
        args.lambda1,
        args.lambda2,
        solver="owlqn",
        max_iter=300,
    )
    phases["fitted"] = memory_mib()
    accuracy = accuracy_of(data.test, fit, None, data.test.y)
    phases["tested"] = memory_mib()
    block_mib = features._EVAL_BLOCK_BYTES >> 20
    out = {
        "train_words": data.train.n_rows,
        "test_words": len(data.test.y),
        "neurons": data.n_neurons,
        "eval_block_mib": block_mib,
        "test_accuracy": accuracy,
        "iterations": fit.n_iter,
        "phases": phases,
        "eval_seconds": {},
    }
    for mib in args.eval_blocks:
        features._EVAL_BLOCK_BYTES = mib << 20
        times = []
        for _ in range(3):
            start = time.perf_counter()
            data.test.logits(fit.weights, fit.bias)
            times.append(time.perf_counter() - start)
        out["eval_seconds"][mib] = min(times)
    text = json.dumps(out, indent=1)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
