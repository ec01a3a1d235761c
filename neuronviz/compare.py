"""Comparing analyses: tasks of one model (shared neurons) and models (localised vs distributed).

Neurons of different models live in different spaces, so models are compared through
scale-free quantities: minimal-set size as a share of all neurons, the layer distribution on a
relative depth axis (0 = embeddings, 1 = last layer), accuracy-vs-neurons curves in percent,
and how many neurons (share) reach 90 / 95 / 99% of the oracle's accuracy. Tasks of one model
share a neuron space, so their minimal sets are compared directly (intersection, Jaccard, and
neurons serving two or more tasks).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from neuronviz.errors import ConfigError
from neuronviz.results import AnalysisResult

__all__ = [
    "compare_models",
    "compare_tasks",
    "neurons_to_reach",
    "relative_depth_distribution",
    "verdicts",
]

REACH = (0.90, 0.95, 0.99)


def compare_tasks(results: Sequence[AnalysisResult]) -> dict:
    """Overlap of the minimal sets of several tasks of one model."""
    models = {r.model for r in results}
    if len(models) != 1:
        raise ConfigError(f"task overlap needs results of one model, got {sorted(models)}")
    sets = {r.task: set(r.minimal_neurons.tolist()) for r in results}
    pairs = []
    for a, b in itertools.combinations(sorted(sets), 2):
        inter = sets[a] & sets[b]
        union = sets[a] | sets[b]
        pairs.append(
            {
                "tasks": [a, b],
                "intersection": len(inter),
                "jaccard": len(inter) / max(len(union), 1),
            }
        )
    counts: dict[int, int] = {}
    for neurons in sets.values():
        for n in neurons:
            counts[n] = counts.get(n, 0) + 1
    shared = sorted(n for n, c in counts.items() if c >= 2)
    return {
        "model": models.pop(),
        "minimal_sizes": {t: len(s) for t, s in sets.items()},
        "pairs": pairs,
        "shared_by_two_or_more": len(shared),
        "shared_neurons": shared,
        "union": len(counts),
    }


def relative_depth_distribution(counts: Sequence[int], bins: int = 5) -> list[float]:
    """Share of neurons per relative-depth bin (0 = embeddings ... 1 = last layer)."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.sum() == 0:
        return [0.0] * bins
    depth = np.arange(len(counts)) / max(len(counts) - 1, 1)
    idx = np.minimum((depth * bins).astype(int), bins - 1)
    return (np.bincount(idx, weights=counts, minlength=bins) / counts.sum()).tolist()


def neurons_to_reach(result: AnalysisResult, fraction: float) -> float | None:
    """Smallest share of neurons whose retrained dev accuracy reaches ``fraction`` of the oracle's.

    Uses every retrained top-k probe the analysis ran (minimal-set search and curves).
    """
    oracle = result.oracle["dev_accuracy"]
    points = [(s, dev) for s, dev, _ in result.minimal["curve"]]
    points += list(zip(result.curves["sizes"], result.curves["top"]["dev"], strict=True))
    hits = sorted(s for s, dev in points if dev >= fraction * oracle)
    return hits[0] / result.n_neurons if hits else None


def compare_models(results: Sequence[AnalysisResult]) -> dict:
    """Scale-free comparison of models per task (minimal share, depth profile, reach, curves)."""
    rows = []
    for r in results:
        rows.append(
            {
                "model": r.model,
                "task": r.task,
                "neurons": r.n_neurons,
                "layers": r.n_layers,
                "oracle_test_accuracy": r.oracle["test_accuracy"],
                "minimal_share": r.minimal["fraction"],
                "minimal_test_accuracy": r.minimal["test_accuracy"],
                "depth_profile": relative_depth_distribution(r.layers["minimal"]["count"]),
                "reach": {f"{p:g}": neurons_to_reach(r, p) for p in REACH},
                "top_curve": {"percents": r.curves["percents"], "test": r.curves["top"]["test"]},
                "selectivity": None if r.control is None else r.control["selectivity"],
            }
        )
    by_model: dict[str, list[AnalysisResult]] = {}
    for r in results:
        by_model.setdefault(r.model, []).append(r)
    overlap = {m: compare_tasks(rs) for m, rs in by_model.items() if len(rs) > 1}
    for summary in overlap.values():
        summary.pop("shared_neurons")
    return {"rows": rows, "task_overlap": overlap}


def verdicts(rows: Sequence[dict]) -> list[str]:
    """Plain-words verdicts per task: which model needs the smallest share of its neurons."""
    lines = []
    for task in sorted({r["task"] for r in rows}):
        mine = sorted((r for r in rows if r["task"] == task), key=lambda r: r["minimal_share"])
        if len(mine) < 2:
            continue
        best, worst = mine[0], mine[-1]
        ratio = (
            worst["minimal_share"] / best["minimal_share"]
            if best["minimal_share"] > 0
            else float("inf")
        )
        reach = best["reach"].get("0.95"), worst["reach"].get("0.95")
        extra = ""
        if None not in reach:
            extra = f"; 95% of its oracle accuracy takes {100 * reach[0]:.1f}% vs {100 * reach[1]:.1f}% of neurons"
        lines.append(
            f"**{task}**: {best['model']} is more localized: its minimal set is {100 * best['minimal_share']:.2f}% "
            f"of its neurons vs {100 * worst['minimal_share']:.2f}% for {worst['model']} ({ratio:.1f}x smaller share{extra})."
        )
    return lines
