"""Comparing analyses: tasks of one model (shared neurons) and models (localised vs distributed).

Neurons of different models live in different spaces, so models are compared through
scale-free quantities: minimal-set size as a share of all neurons *against its chance level*
(the share random neurons need for the same accuracy: a wider model has more redundant neurons,
so raw shares favour it), the layer distribution on a relative depth axis (0 = embeddings,
1 = last layer), accuracy-vs-neurons curves in percent, and how many neurons (share) reach
90 / 95 / 99% of the oracle's accuracy. Tasks of one model share a neuron space, so their minimal
sets are compared directly: intersection and Jaccard beside the Jaccard random sets of the same
sizes would have (:mod:`neuronviz.stats.chance`), with a p-value and an interval.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from neuronviz.errors import ConfigError
from neuronviz.stats.chance import expected_jaccard, overlap_p, prefix_overlap_draws
from neuronviz.stats.uncertainty import ALPHA, bootstrap_p, interval
from neuronviz.store.results import AnalysisResult

__all__ = [
    "compare_models",
    "compare_tasks",
    "neurons_to_reach",
    "relative_depth_distribution",
    "verdicts",
]

REACH = (0.90, 0.95, 0.99)


def _pair_overlap(a: AnalysisResult, b: AnalysisResult) -> dict:
    """Overlap of two tasks' minimal sets against random sets of the same sizes."""
    n = a.n_neurons
    sa, sb = set(a.minimal_neurons.tolist()), set(b.minimal_neurons.tolist())
    inter = len(sa & sb)
    jaccard = inter / max(len(sa | sb), 1)
    expected = expected_jaccard(n, len(sa), len(sb))
    observed, chance = prefix_overlap_draws(a.order, a.size_draws, b.order, b.size_draws)
    ratio = observed / np.maximum(chance, 1e-12)
    return {
        "tasks": [a.task, b.task],
        "intersection": inter,
        "jaccard": jaccard,
        "jaccard_interval": list(interval(observed)),
        "expected_jaccard": expected,
        "ratio": jaccard / expected if expected > 0 else None,
        "ratio_interval": list(interval(ratio)),
        "p_value": overlap_p(n, len(sa), len(sb), inter),
        "_ratio_draws": ratio,
    }


def overlap_ratio_draws(results: Sequence[AnalysisResult]) -> np.ndarray | None:
    """Mean over task pairs of observed / chance Jaccard, per bootstrap draw (None: < 2 tasks)."""
    pairs = [_pair_overlap(a, b) for a, b in itertools.combinations(results, 2)]
    if not pairs:
        return None
    return np.mean([p["_ratio_draws"] for p in pairs], axis=0)


def compare_tasks(results: Sequence[AnalysisResult]) -> dict:
    """Overlap of the minimal sets of several tasks of one model, against chance."""
    models = {r.model for r in results}
    if len(models) != 1:
        raise ConfigError(f"task overlap needs results of one model, got {sorted(models)}")
    ordered = sorted(results, key=lambda r: r.task)
    pairs = [_pair_overlap(a, b) for a, b in itertools.combinations(ordered, 2)]
    draws = np.mean([p.pop("_ratio_draws") for p in pairs], axis=0) if pairs else None
    counts: dict[int, int] = {}
    for r in ordered:
        for n in r.minimal_neurons.tolist():
            counts[n] = counts.get(n, 0) + 1
    shared = sorted(n for n, c in counts.items() if c >= 2)
    ratios = [p["ratio"] for p in pairs if p["ratio"] is not None]
    return {
        "model": models.pop(),
        "minimal_sizes": {r.task: len(r.minimal_neurons) for r in ordered},
        "pairs": pairs,
        "mean_ratio": float(np.mean(ratios)) if ratios else None,
        "mean_ratio_interval": None if draws is None else list(interval(draws)),
        "shared_by_two_or_more": len(shared),
        "shared_neurons": shared,
        "union": len(counts),
    }


def relative_depth_distribution(counts: Sequence[int], bins: int = 5) -> list[float]:
    """Share of neurons per relative-depth bin (0 = embeddings ... 1 = last layer)."""
    values = np.asarray(counts, dtype=np.float64)
    if values.sum() == 0:
        return [0.0] * bins
    depth = np.arange(len(values)) / max(len(values) - 1, 1)
    idx = np.minimum((depth * bins).astype(int), bins - 1)
    return (np.bincount(idx, weights=values, minlength=bins) / values.sum()).tolist()


def neurons_to_reach(result: AnalysisResult, fraction: float) -> float | None:
    """Smallest share of neurons whose retrained dev accuracy reaches ``fraction`` of the oracle's.

    Uses every retrained top-k probe the analysis ran (minimal-set search and curves).
    """
    oracle = result.oracle.dev_accuracy
    points = [(s, dev) for s, dev, _ in result.minimal.curve]
    points += list(zip(result.curves.sizes, result.curves.top["dev"], strict=True))
    hits = sorted(s for s, dev in points if dev >= fraction * oracle)
    return hits[0] / result.n_neurons if hits else None


def _interval(values) -> list[float] | None:
    return None if values is None else [float(v) for v in values]


def compare_models(results: Sequence[AnalysisResult]) -> dict:
    """Scale-free comparison of models per task (minimal share against its chance level, depth
    profile, reach, curves) and the task overlap within each model against chance."""
    rows = []
    for r in results:
        m = r.minimal
        rows.append(
            {
                "model": r.model,
                "task": r.task,
                "neurons": r.n_neurons,
                "layers": r.n_layers,
                "oracle_test_accuracy": r.oracle.test_accuracy,
                "oracle_test_accuracy_ci": _interval(r.oracle.test_accuracy_ci),
                "minimal_share": m.fraction,
                "minimal_share_interval": _interval(m.fraction_interval),
                "chance_share": m.chance_share,
                "chance_share_interval": _interval(m.chance_share_interval),
                "localization": m.localization,
                "localization_interval": _interval(m.localization_interval),
                "minimal_test_accuracy": m.test_accuracy,
                "depth_profile": relative_depth_distribution(r.layers.minimal.count),
                "reach": {f"{p:g}": neurons_to_reach(r, p) for p in REACH},
                "top_curve": {"percents": r.curves.percents, "test": r.curves.top["test"]},
                "selectivity": None if r.control is None else r.control.selectivity,
                "selectivity_ci": None
                if r.control is None
                else _interval(r.control.selectivity_ci),
            }
        )
    by_model: dict[str, list[AnalysisResult]] = {}
    for r in results:
        by_model.setdefault(r.model, []).append(r)
    overlap = {m: compare_tasks(rs) for m, rs in by_model.items() if len(rs) > 1}
    for summary in overlap.values():
        summary.pop("shared_neurons")
    return {"rows": rows, "task_overlap": overlap}


def localization_p(a: AnalysisResult, b: AnalysisResult) -> float:
    """One-sided bootstrap p of "``a`` is more localized than ``b``": its minimal share is a
    smaller multiple of its chance share."""
    return bootstrap_p(a.localization_draws, b.localization_draws)


def _fmt_interval(values, scale: float = 100, digits: int = 2) -> str:
    if not values:
        return ""
    return f" [{scale * values[0]:.{digits}f}, {scale * values[1]:.{digits}f}]"


def verdicts(rows: Sequence[dict], results: Sequence[AnalysisResult] = ()) -> list[str]:
    """Plain-words verdicts per task: which model needs the smaller share of its neurons
    *relative to chance* (minimal share / share random neurons need), decided by a bootstrap
    test; "not significant" when the intervals cannot tell the models apart."""
    by_key = {(r.model, r.task): r for r in results}
    lines = []
    for task in sorted({r["task"] for r in rows}):
        mine = [r for r in rows if r["task"] == task and r.get("localization") is not None]
        if len(mine) < 2:
            continue
        mine.sort(key=lambda r: r["localization"])
        best = mine[0]
        numbers = ", ".join(
            f"{r['model']} {100 * r['minimal_share']:.2f}%{_fmt_interval(r['minimal_share_interval'])} "
            f"of neurons, chance {100 * r['chance_share']:.1f}%, ratio {r['localization']:.3f}"
            f"{_fmt_interval(r['localization_interval'], 1, 3)}"
            for r in mine
        )
        best_result = by_key.get((best["model"], task))
        found = [by_key.get((r["model"], task)) for r in mine[1:]]
        others = [o for o in found if o is not None]
        if best_result is None or len(others) < len(found):
            call = f"{best['model']} has the smaller ratio (no test: results not given)"
        else:
            # more localized than *every* other model: the largest of the one-sided p-values
            p = float(np.max([localization_p(best_result, o) for o in others]))
            than = ", ".join(r["model"] for r in mine[1:])
            if p < ALPHA:
                call = f"**{best['model']} is more localized** relative to chance than {than} (p = {p:.3f})"
            else:
                call = f"**not significant** (p = {p:.3f}): the models cannot be told apart"
        lines.append(f"**{task}**: {call}; {numbers}.")
    return lines
