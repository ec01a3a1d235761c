"""How stable a ranking's top neurons are across regularisation settings and training resamples.

A top neuron that only one (lambda1, lambda2) pair puts among its top k says more about the
penalty than about the model. For each of a ranking's first neurons this counts the grid pairs
whose own ranking (fitted on the grid subset) holds it among the top k (default: the size of the
minimal set), and, when the analysis ran with ``--seeds N``, the resamples whose minimal set
holds it; both with 95% Wilson intervals.
"""

from __future__ import annotations

import numpy as np
import torch

from neuronviz.analyses.neurons import neuron_label
from neuronviz.analyses.oracle import (
    rank,
)
from neuronviz.analyses.settings import AnalysisSettings
from neuronviz.analyses.subsets import minimal_set
from neuronviz.probing.design import DenseDesign
from neuronviz.probing.features import ProbeData
from neuronviz.probing.metrics import wilson_interval
from neuronviz.probing.objective import FitResult
from neuronviz.probing.probe import fit_sparse
from neuronviz.probing.retrain import (
    Retrainer,
)
from neuronviz.store.results import AnalysisResult

__all__ = ["ranking_stability"]


def ranking_stability(result: AnalysisResult, top: int = 20, k: int | None = None) -> list[dict]:
    """One row per top neuron: lambda-pair share (and seed share when measured) with intervals."""
    orders = result.arrays.get("grid_orders")
    k = int(k or result.minimal.size)
    tops = [set(row[:k].tolist()) for row in orders] if orders is not None else []
    seeds = result.stability
    membership = {} if seeds is None else seeds.membership
    n_seeds = 0 if seeds is None else seeds.seeds
    rows = []
    for neuron in result.order[:top].tolist():
        row: dict = {"neuron": neuron, "label": neuron_label(neuron, result.hidden_size), "k": k}
        if tops:
            hits = sum(neuron in s for s in tops)
            row["lambda_share"] = hits / len(tops)
            row["lambda_low"], row["lambda_high"] = wilson_interval(hits, len(tops))
        if n_seeds > 1:
            hits = round(membership.get(neuron, 0.0) * n_seeds)
            row["seed_share"] = hits / n_seeds
            row["seed_low"], row["seed_high"] = wilson_interval(hits, n_seeds)
        rows.append(row)
    return rows


def minimal_set_stability(
    data: ProbeData,
    settings: AnalysisSettings,
    pair,
    init: FitResult,
    retrain: Retrainer,
    threshold: float,
    first,
    weighting: str = "uniform",
) -> dict:
    """Minimal sets from training resamples: spread of sizes/accuracies and pairwise Jaccard."""
    sets, sizes, accs, fits = [first.neurons], [first.size], [first.test_accuracy], []
    dense = data.train
    assert isinstance(dense, DenseDesign)  # analyse() refuses seeds > 1 on a streamed design
    for s in range(1, settings.seeds):
        rng = np.random.default_rng(settings.seed + 1000 * s)
        rows = np.sort(rng.choice(data.train.n_rows, int(0.9 * data.train.n_rows), replace=False))
        sub = ProbeData(
            **{
                **data.__dict__,
                "train": dense.rows(rows),
                "y_train": data.y_train[torch.as_tensor(rows)],
            }
        )
        fit = fit_sparse(
            sub.train,
            sub.y_train,
            data.n_classes,
            *pair,
            init=(init.weights, init.bias),
            **settings.fit_terms(),
        )
        fits.append(fit.record())
        ranking = rank(
            sub,
            fit,
            settings.method,
            pair[0],
            settings.seed + s,
            weighting,
            max_iter=settings.oracle_iter,
            kkt_tol=settings.kkt_tol,
        )
        result = minimal_set(
            sub, ranking, Retrainer(sub, pair[1], settings.retrain_iter), threshold
        )
        sets.append(result.neurons)
        sizes.append(result.size)
        accs.append(result.test_accuracy)
    jaccard = [
        len(np.intersect1d(a, b)) / max(len(np.union1d(a, b)), 1)
        for i, a in enumerate(sets)
        for b in sets[i + 1 :]
    ]
    membership = np.bincount(np.concatenate(sets), minlength=data.n_neurons) / len(sets)
    return {
        "seeds": settings.seeds,
        "sizes": sizes,
        "test_accuracies": accs,
        "size_mean": float(np.mean(sizes)),
        "size_std": float(np.std(sizes, ddof=1)) if len(sizes) > 1 else 0.0,
        "size_interval": [float(v) for v in np.percentile(sizes, [2.5, 97.5])],
        "jaccard": jaccard,
        "jaccard_mean": float(np.mean(jaccard)) if jaccard else 1.0,
        "membership": {int(n): float(membership[n]) for n in np.flatnonzero(membership)},
        "fits": fits,
    }
