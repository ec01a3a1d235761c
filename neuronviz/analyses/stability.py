"""How stable a ranking's top neurons are across regularisation settings and training resamples.

A top neuron that only one (lambda1, lambda2) pair puts among its top k says more about the
penalty than about the model. For each of a ranking's first neurons this counts the grid pairs
whose own ranking (fitted on the grid subset) holds it among the top k (default: the size of the
minimal set), and, when the analysis ran with ``--seeds N``, the resamples whose minimal set
holds it; both with 95% Wilson intervals.
"""

from __future__ import annotations

from neuronviz.analyses.neurons import neuron_label
from neuronviz.probing.metrics import wilson_interval
from neuronviz.store.results import AnalysisResult

__all__ = ["ranking_stability"]


def ranking_stability(result: AnalysisResult, top: int = 20, k: int | None = None) -> list[dict]:
    """One row per top neuron: lambda-pair share (and seed share when measured) with intervals."""
    orders = result.arrays.get("grid_orders")
    k = int(k or result.minimal["size"])
    tops = [set(row[:k].tolist()) for row in orders] if orders is not None else []
    seeds = result.stability or {}
    membership = {int(n): v for n, v in seeds.get("membership", {}).items()}
    n_seeds = int(seeds.get("seeds", 0))
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
