"""Cost of one solver step and of one retrained probe (the figures of docs/benchmarks.md,
"Where the time goes").

Usage (from the repository root, NEURONVIZ_DATA pointing at shared/data, activations cached):

    python bench/solver_steps.py --part steps                        # freed memory reused
    NEURONVIZ_MALLOC=system python bench/solver_steps.py --part steps  # glibc's default
    python bench/solver_steps.py --part whiten                       # smollm2-135m x sem
    python bench/solver_steps.py --part synthetic                    # the tests' problem

``steps``: loss and residual over all minilm x pos training words, two-pass (softmax and
log-sum-exp apart, as before) against :func:`neuronviz.probing.objective.loss_and_residual`; then five
probes retrained on 27 random neurons through :class:`neuronviz.probing.retrain.Retrainer`, seconds a
probe (the first, warm-up, left out). ``whiten``: ridge probes on smollm2-135m (30,000 words)
solved plainly and in whitened coordinates ``w = P v``, ``P = (X^T X / n + 2 lambda2 I)^(-1/2)``
(an experiment, not the library's solver), to gradient 1e-3 and 1e-4.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neuronviz.extraction.fill_cache import cached_entries
from neuronviz.probing.allocator import reuse_freed_memory
from neuronviz.probing.features import load_probe_data
from neuronviz.probing.objective import FitResult, f64, loss_and_residual
from neuronviz.probing.retrain import Retrainer, correct_of, sub_design
from neuronviz.probing.solvers import fit_ridge


def _ms(f, reps: int = 20) -> float:
    f()
    start = time.perf_counter()
    for _ in range(reps):
        f()
    return 1000 * (time.perf_counter() - start) / reps


def _two_pass(logits: torch.Tensor, y: torch.Tensor):
    rows = torch.arange(len(y))
    loss = f64(torch.logsumexp(logits, 1) - logits[rows, y]).mean()
    p = torch.softmax(logits, 1)
    p[rows, y] -= 1.0
    return loss, p / len(y)


def steps(data) -> None:
    logits = torch.randn(
        len(data.y_train), data.n_classes, generator=torch.Generator().manual_seed(0)
    )
    print(
        f"loss+residual two-pass {_ms(lambda: _two_pass(logits, data.y_train)):.1f} ms, "
        f"one pass {_ms(lambda: loss_and_residual(logits, data.y_train)):.1f} ms"
    )
    print("freed memory reused:", reuse_freed_memory())
    retrain = Retrainer(data, 1e-3, 200)
    sets = [np.random.default_rng(i).choice(data.n_neurons, 27, replace=False) for i in range(6)]
    retrain(sets[0])
    start = time.perf_counter()
    for cols in sets[1:]:
        retrain(cols)
    print(f"retrained probe on 27 neurons: {(time.perf_counter() - start) / 5:.2f} s a probe")


def _whitened(x: torch.Tensor, y: torch.Tensor, n_classes: int, lambda2: float, tol: float):
    """L-BFGS on v, w = P v, stopping on w's gradient (the experiment, not the library)."""
    values, vectors = torch.linalg.eigh(f64(x.T @ x) / len(x))
    whiten = ((vectors * (values.clamp(min=0) + 2 * lambda2).rsqrt()) @ vectors.T).float()
    counts = torch.bincount(y, minlength=n_classes).float() + 1e-3
    v = torch.zeros(x.shape[1], n_classes, requires_grad=True)
    b = torch.log(counts / counts.sum()).requires_grad_(True)
    opt = torch.optim.LBFGS(
        [v, b],
        max_iter=500,
        tolerance_grad=0.0,
        tolerance_change=1e-7,
        history_size=20,
        line_search_fn="strong_wolfe",
    )
    evaluations = [0]

    def closure():
        opt.zero_grad()
        with torch.no_grad():
            w = whiten @ v
            loss, r = loss_and_residual(torch.addmm(b, x, w), y)
            gw, gb = x.T @ r + 2 * lambda2 * w, r.sum(0)
            if max(float(gw.abs().max()), float(gb.abs().max())) <= tol:
                gw, gb = torch.zeros_like(gw), torch.zeros_like(gb)
            v.grad, b.grad = whiten @ gw, gb
        evaluations[0] += 1
        return loss + lambda2 * (w * w).sum()

    opt.step(closure)
    return FitResult((whiten @ v).detach(), b.detach(), 0.0, 0.0, evaluations[0], True, "whitened")


def whiten(data) -> None:
    rng = np.random.default_rng(0)
    layer = np.arange(576 * 12, 576 * 13)
    for name, cols in (
        ("179 random", np.sort(rng.choice(data.n_neurons, 179, replace=False))),
        ("576, layer 12", layer),
        ("893 random", np.sort(rng.choice(data.n_neurons, 893, replace=False))),
    ):
        sub = sub_design(data.train, cols)
        for tol in (1e-3, 1e-4):
            row = [_measured(data, sub, cols, tol, whitened) for whitened in (False, True)]
            print(f"{name}, gradient {tol:g}: " + " | ".join(row), flush=True)


def _measured(data, sub, cols: np.ndarray, tol: float, whitened: bool) -> str:
    start = time.perf_counter()
    if whitened:
        fit = _whitened(sub.data, data.y_train, data.n_classes, 1e-3, tol)
    else:
        fit = fit_ridge(sub, data.y_train, data.n_classes, 1e-3, max_iter=500, tol_grad=tol)
    seconds = time.perf_counter() - start
    dev = 100 * correct_of(data.dev, fit, cols, data.dev.y).mean()
    label = "whitened" if whitened else "plain"
    return f"{label} {fit.n_iter} evaluations {seconds:.1f} s dev {dev:.2f}%"


def synthetic() -> None:
    """The test suite's ill-conditioned problem (``tests/probing/test_probe.py``: 3,000 words, neurons
    mixed from 20 factors plus a little noise), its first 60 neurons, 4 classes."""
    from neuronviz.probing.design import DenseDesign

    rng = np.random.default_rng(0)
    base = rng.normal(size=(3000, 20))
    x = base @ rng.normal(size=(20, 200)) + 0.05 * rng.normal(size=(3000, 200))
    design = DenseDesign.from_array(x.astype(np.float32)).subset(list(range(60)))
    y = torch.as_tensor(base[:, :4].argmax(1))
    for tol in (1e-4, 1e-5):
        plain = fit_ridge(design, y, 4, 1e-3, max_iter=500, tol_grad=tol)
        white = _whitened(design.data, y, 4, 1e-3, tol)
        print(
            f"synthetic, gradient {tol:g}: plain {plain.n_iter} evaluations | "
            f"whitened {white.n_iter} evaluations"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["steps", "whiten", "synthetic"], required=True)
    parser.add_argument("--data-dir", default=os.environ.get("NEURONVIZ_DATA"))
    parser.add_argument("--cache-dir")
    args = parser.parse_args()
    if args.part == "synthetic":
        synthetic()
        return
    model, task, cap = (
        ("minilm", "pos", None) if args.part == "steps" else ("smollm2-135m", "sem", 30_000)
    )
    entries = cached_entries(model, task, data_dir=args.data_dir, cache=args.cache_dir)
    data = load_probe_data(entries, task, max_train_words=cap)
    (steps if args.part == "steps" else whiten)(data)


if __name__ == "__main__":
    main()
