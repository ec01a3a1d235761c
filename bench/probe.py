"""Probe benchmarks: the solver on the issue's reference problem, and complete analysis runs.

Usage (from the repository root, NEURONVIZ_DATA pointing at shared/data, activations extracted):

    python bench/probe.py --part solver          # objective vs time on 2,000 POS sentences
    python bench/probe.py --part run --task pos  # complete `neuronviz probe`: wall time, peak memory
    python bench/probe.py --part oracle          # regularised vs unregularised oracle, full train split

``solver``: minilm features of the first 2,000 CoNLL-2000 training sentences (47,589 words),
lambda1 = lambda2 = 1e-3: time for OWL-QN and FISTA to reach objective 0.458 (scikit-learn's saga
reaches it after 100 passes, in 54 minutes), and where each ends.

``run``: `neuronviz probe --force` in a child process, timed, with its peak resident memory.

``oracle``: all-neuron probes on the full training split for each grid pair, from zero with the
same solver and a fixed iteration budget, to compare the chosen pair with the unregularised one
(which never converges: on nearly separable data its objective keeps falling toward zero while
test accuracy slowly drops, so it is compared at the same budget).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.extract import environment  # noqa: E402
from neuronviz.extraction.fill_cache import cached_entries  # noqa: E402
from neuronviz.probing.design import DenseDesign  # noqa: E402
from neuronviz.probing.features import load_probe_data  # noqa: E402
from neuronviz.probing.retrain import accuracy_of  # noqa: E402
from neuronviz.probing.solvers import fit_elastic_net, fit_owlqn  # noqa: E402
from neuronviz.progress import set_bars_enabled  # noqa: E402

REFERENCE_WORDS = 47_589  # the first 2,000 training sentences of CoNLL-2000
TARGET = 0.458


def solver_part(args) -> dict:
    entries = cached_entries(args.model, "pos", data_dir=args.data_dir, cache=args.cache_dir)
    train = entries["train"]
    x = train.matrix(rows=slice(0, REFERENCE_WORDS))
    ids, _ = train.labels("pos")
    classes, y = np.unique(ids[:REFERENCE_WORDS], return_inverse=True)
    design = DenseDesign.from_array(x)
    del x
    y_t = torch.as_tensor(y)
    out = {
        "words": REFERENCE_WORDS,
        "classes": len(classes),
        "lambda1": 1e-3,
        "lambda2": 1e-3,
        "target": TARGET,
    }
    for name, fit in (("owlqn", fit_owlqn), ("fista", fit_elastic_net)):
        trace = []
        for iters in args.iters:
            start = time.perf_counter()
            r = fit(design, y_t, len(classes), 1e-3, 1e-3, max_iter=iters, kkt_tol=1e-12)
            trace.append(
                {
                    "iterations": r.n_iter,
                    "seconds": round(time.perf_counter() - start, 1),
                    "objective": round(r.objective, 5),
                    "kkt_max": r.kkt_max,
                    "zero_weight_fraction": round(r.zero_fraction, 4),
                }
            )
            print(f"[solver] {name} {trace[-1]}", flush=True)
        reached = [t for t in trace if t["objective"] <= TARGET]
        out[name] = {"trace": trace, "first_at_target": reached[0] if reached else None}
    return out


def oracle_part(args) -> dict:
    entries = cached_entries(args.model, args.task, data_dir=args.data_dir, cache=args.cache_dir)
    data = load_probe_data(entries, args.task)
    out = {"task": args.task, "train_words": data.train.n_rows}
    for l1, l2 in ((1e-3, 1e-3), (1e-4, 1e-4), (1e-5, 1e-5), (0.0, 0.0)):
        start = time.perf_counter()
        r = fit_owlqn(data.train, data.y_train, data.n_classes, l1, l2, max_iter=args.oracle_iter)
        out[f"{l1:g},{l2:g}"] = {
            "seconds": round(time.perf_counter() - start, 1),
            "iterations": r.n_iter,
            "test_accuracy": accuracy_of(data.test, r, None, data.test.y),
            "dev_accuracy": accuracy_of(data.dev, r, None, data.dev.y),
            "objective": r.objective,
        }
        print(f"[oracle] lambdas {l1:g},{l2:g}: {out[f'{l1:g},{l2:g}']}", flush=True)
    return out


def run_part(args) -> dict:
    summary = Path(f"/tmp/nvbench-probe-{os.getpid()}.json")
    cmd = [
        sys.executable,
        "-m",
        "neuronviz.cli.main",
        "probe",
        "--model",
        args.model,
        "--task",
        args.task,
        "--force",
        "-q",
        "--json",
        str(summary),
    ]
    if args.data_dir:
        cmd += ["--data-dir", args.data_dir]
    if args.cache_dir:
        cmd += ["--cache-dir", args.cache_dir]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    result = json.loads(summary.read_text())
    summary.unlink()
    print(f"[run] {args.model} x {args.task}: {wall:.0f} s, peak RSS {peak:.0f} MiB", flush=True)
    return {"wall_seconds": round(wall, 1), "peak_rss_mib": round(peak, 1), "summary": result}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--part", choices=["solver", "run", "oracle"], required=True)
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--task", default="pos")
    parser.add_argument("--data-dir", default=os.environ.get("NEURONVIZ_DATA"))
    parser.add_argument("--cache-dir")
    parser.add_argument(
        "--iters", type=lambda s: [int(x) for x in s.split(",")], default=[50, 100, 150, 200, 300]
    )
    parser.add_argument(
        "--oracle-iter", type=int, default=100, help="iteration budget per pair (oracle part)"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    set_bars_enabled(False)
    report = {
        "environment": environment(),
        args.part: {"solver": solver_part, "run": run_part, "oracle": oracle_part}[args.part](args),
    }
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
