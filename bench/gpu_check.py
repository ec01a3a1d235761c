"""The analysis on a CUDA device: converged fits, the same answers as the CPU, and the time a
converged all-neuron probe takes at minilm x pos's size.

Usage (on a machine with a GPU; writes JSON to --json):

    python bench/gpu_check.py --json gpu.json

1. The solvers on an ill-conditioned problem (noisy mixtures of 20 factors), on CPU and GPU:
   both reach KKT <= 1e-4 and the same objective.
2. The whole analysis of the synthetic task (4 informative neurons of 48) with the training
   matrix on the GPU: every fit converged, and the ranking, minimal set and verdict-relevant
   numbers equal the CPU run's.
3. A converged OWL-QN fit at minilm x pos's size (150,000 rows x 2,688 neurons, 44 classes, on
   correlated random features: mixtures of 64 factors, the class decided by 8 of them), timed
   on each device.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from synthetic import INFORMATIVE, probe_data  # noqa: E402

from neuronviz.analyses.run import analyse  # noqa: E402
from neuronviz.analyses.settings import AnalysisSettings  # noqa: E402
from neuronviz.probing.design import DenseDesign  # noqa: E402
from neuronviz.probing.probe import fit_sparse  # noqa: E402


def correlated(device: str):
    rng = np.random.default_rng(0)
    base = rng.normal(size=(3000, 20))
    x = base @ rng.normal(size=(20, 200)) + 0.05 * rng.normal(size=(3000, 200))
    design = DenseDesign.from_array(x.astype(np.float32), device=device)
    return design, torch.as_tensor(base[:, :4].argmax(1))


def solver_part(devices) -> dict:
    out = {}
    for device in devices:
        design, y = correlated(device)
        for solver in ("owlqn", "fista"):
            start = time.perf_counter()
            fit = fit_sparse(design, y, 4, 1e-4, 1e-4, solver=solver, max_iter=3000)
            out[f"{device}/{solver}"] = {
                **fit.record(),
                "seconds": round(time.perf_counter() - start, 2),
            }
    return out


def analysis_part(devices) -> dict:
    settings = AnalysisSettings(percents=(1, 5, 10), layers=False, grid_words=1500)
    out = {}
    for device in devices:
        data = probe_data()
        train = data.train
        data = replace(data, train=DenseDesign(train.data.to(device), train.mean, train.scale))
        result = analyse(data, settings)
        fits = [result.oracle, result.control, *result.lambda_search.points]
        out[device] = {
            "all_converged": all(f is not None and f.converged for f in fits),
            "kkt_max": max(f.kkt_max or 0.0 for f in fits if f is not None),
            "top4": sorted(result.order[:4].tolist()),
            "informative_first": set(result.order[:4].tolist()) == set(INFORMATIVE),
            "minimal_size": result.minimal.size,
            "minimal_size_interval": result.minimal.size_interval,
            "oracle_test_accuracy": result.oracle.test_accuracy,
            "selectivity": result.control.selectivity,
            "beats_random": {k: q.beats_random for k, q in result.ranking_quality.items()},
        }
    return out


def size_part(devices) -> dict:
    rng = np.random.default_rng(1)
    n, d, c = 150_000, 2688, 44
    # neurons as noisy mixtures of 64 factors (correlated, as hidden states are); the class is
    # decided by a few factors through a random linear map, with label noise
    factors = rng.normal(size=(n, 64)).astype(np.float32)
    x = factors @ rng.normal(size=(64, d)).astype(np.float32)
    x += 0.5 * rng.normal(size=(n, d)).astype(np.float32)
    scores = factors[:, :8] @ rng.normal(size=(8, c)).astype(np.float32)
    y = np.argmax(scores + rng.gumbel(size=(n, c)).astype(np.float32), axis=1)
    out = {}
    for device in devices:
        design = DenseDesign.from_array(x, device=device)
        labels = torch.as_tensor(y)
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fit = fit_sparse(design, labels, c, 1e-3, 1e-3, max_iter=1000)
        if device == "cuda":
            torch.cuda.synchronize()
        out[device] = {**fit.record(), "seconds": round(time.perf_counter() - start, 2)}
        del design
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument("--skip-cpu-size", action="store_true", help="time part 3 on the GPU only")
    args = parser.parse_args()
    devices = ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
    report = {
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "solvers": solver_part(devices),
        "analysis": analysis_part(devices),
        "size": size_part([d for d in devices if d != "cpu"] if args.skip_cpu_size else devices),
    }
    text = json.dumps(report, indent=1, default=str)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    cuda = report["analysis"].get("cuda")
    if cuda is not None:
        cpu = report["analysis"]["cpu"]
        assert cuda["all_converged"] and cuda["informative_first"], cuda
        assert cuda["minimal_size"] == cpu["minimal_size"], (cuda, cpu)
        for key, record in report["solvers"].items():
            assert record["converged"], (key, record)


if __name__ == "__main__":
    main()
