"""What subsets of ranked neurons can do: minimal sets, top/random/bottom curves, ablation."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import torch

from neuronviz.analyses.settings import QUALITY_PERCENTS
from neuronviz.probing.design import StreamedDesign
from neuronviz.probing.features import ProbeData
from neuronviz.probing.objective import FitResult
from neuronviz.probing.ranking import NeuronRanking
from neuronviz.probing.retrain import (
    Retrained,
    Retrainer,
    percent_size,
)
from neuronviz.store.result_parts import Ablation, Curves

__all__ = [
    "CurveProbes",
    "MinimalSet",
    "ablation",
    "curves",
    "feasible_percents",
    "minimal_set",
    "minimal_threshold",
]

log = logging.getLogger(__name__)

COARSE_PERCENTS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 35, 50, 75, 100)


def minimal_threshold(oracle: float, delta: float, relative: bool = False) -> float:
    """The dev accuracy a subset must reach: oracle minus ``delta`` points (or ``delta`` percent)."""
    return oracle * (1 - delta / 100) if relative else oracle - delta / 100


@dataclass(frozen=True)
class MinimalSet:
    """The smallest ranked prefix whose retrained dev accuracy reaches the threshold.

    ``curve`` keeps every size tried (size, dev, test), sorted by size: the chosen size sits on a
    threshold that another seed may miss by a hair, so the curve matters as much as the point.
    """

    size: int
    fraction: float
    neurons: np.ndarray
    dev_accuracy: float
    test_accuracy: float
    threshold: float
    reached: bool
    curve: list[tuple[int, float, float]] = field(default_factory=list)


def minimal_set(
    data: ProbeData, ranking: NeuronRanking, retrain: Retrainer, threshold: float
) -> MinimalSet:
    """Coarse-to-fine search: coarse sizes from 0.1% up, then bisection inside the bracket.

    Assumes accuracy grows with the prefix size (it does up to noise); every retraining is kept in
    the curve.
    """
    n = data.n_neurons
    tried: dict[int, Retrained] = {}

    def at(size: int) -> Retrained:
        if size not in tried:
            tried[size] = retrain(ranking.top(size))
        return tried[size]

    sizes = sorted({percent_size(p, n) for p in COARSE_PERCENTS} | {n})
    retrain.prefetch(ranking.top(size) for size in sizes if size < n)  # parallel with a pool
    low, high = 0, None
    for size in sizes:
        if at(size).dev >= threshold:
            high = size
            break
        low = size
    if high is None:
        log.warning(
            "no prefix of the ranking reaches dev accuracy %.4f; the minimal set is all neurons",
            threshold,
        )
        high = n
    while high - low > max(1, high // 50):  # refine to within 2% of the size
        mid = (low + high) // 2
        if at(mid).dev >= threshold:
            high = mid
        else:
            low = mid
    best = at(high)
    curve = sorted((s, r.dev, r.test) for s, r in tried.items())
    return MinimalSet(
        size=high,
        fraction=high / n,
        neurons=ranking.top(high).copy(),
        dev_accuracy=best.dev,
        test_accuracy=best.test,
        threshold=threshold,
        reached=best.dev >= threshold,
        curve=curve,
    )


@dataclass(frozen=True)
class CurveProbes:
    """The retrained probes behind :class:`Curves`, per size (their per-word correctness)."""

    top: list[list[Retrained]]
    random: list[list[Retrained]]
    bottom: list[list[Retrained]]


def draws_for(percent: float, draws: int, quality: bool = True) -> int:
    """Random draws at a size. At the ranking-quality sizes (``quality``): all of them up to 5%,
    half (at least 5) at 10%. Elsewhere the curve only needs its shape: at most 5 up to 10%,
    2 at 20%, 1 above (costly, low-variance sizes)."""
    if quality and percent <= 5:
        return draws
    if percent <= 10:
        return max(1, min(draws, max(draws // 2, 5) if quality else 5))
    return max(1, min(draws, 2 if percent <= 20 else 1))


def curves(
    data: ProbeData,
    ranking: NeuronRanking,
    retrain: Retrainer,
    percents,
    draws: int,
    seed: int,
    tie_draws: int = 3,
    quality=(1, 5, 10),
) -> tuple[Curves, CurveProbes]:
    """Top / random / bottom retrained accuracies for each percentage of neurons.

    At the ``quality`` sizes the random draws and tie orders are the full ``draws`` and
    ``tie_draws`` (the tests of :mod:`neuronviz.stats.intervals` need them); elsewhere fewer.
    """
    rng = np.random.default_rng(seed + 1)
    sizes = [percent_size(percent, data.n_neurons) for percent in percents]
    used = [draws_for(percent, draws, percent in quality) for percent in percents]
    ties = [tie_draws if percent in quality else min(tie_draws, 2) for percent in percents]
    draws_at = [
        [rng.choice(data.n_neurons, k, replace=False) for _ in range(n_draws)]
        for k, n_draws in zip(sizes, used, strict=True)
    ]
    tops = [ranking.top_sets(k, t, seed) for k, t in zip(sizes, ties, strict=True)]
    bottoms = [ranking.bottom_sets(k, t, seed) for k, t in zip(sizes, ties, strict=True)]
    every = [
        cols
        for group in zip(tops, bottoms, draws_at, strict=True)
        for sets in group
        for cols in sets
    ]
    retrain.expect(every)
    retrain.prefetch(every)
    probes = CurveProbes(
        top=[[retrain(c) for c in sets] for sets in tops],
        random=[[retrain(c) for c in sets] for sets in draws_at],
        bottom=[[retrain(c) for c in sets] for sets in bottoms],
    )
    out: dict[str, dict[str, list]] = {
        k: {"dev": [], "test": []} for k in ("top", "mean", "std", "bottom", "values", "bottoms")
    }
    for top, rand, bottom in zip(probes.top, probes.random, probes.bottom, strict=True):
        for split in ("dev", "test"):
            values = [getattr(r, split) for r in rand]
            out["top"][split].append(float(np.mean([getattr(r, split) for r in top])))
            out["bottoms"][split].append([getattr(r, split) for r in bottom])
            out["bottom"][split].append(float(np.mean(out["bottoms"][split][-1])))
            out["values"][split].append(values)
            out["mean"][split].append(float(np.mean(values)))
            out["std"][split].append(float(np.std(values, ddof=1)) if len(values) > 1 else 0.0)
    result = Curves(
        percents=list(percents),
        sizes=sizes,
        top=out["top"],
        random_mean=out["mean"],
        random_std=out["std"],
        bottom=out["bottom"],
        random_draws=used,
        random_values=out["values"],
        bottom_values=out["bottoms"],
        top_draws=[len(t) for t in tops],
        bottom_draws=[len(b) for b in bottoms],
    )
    return result, probes


def ablation(
    data: ProbeData, oracle: FitResult, ranking: NeuronRanking, percents, seed: int
) -> Ablation:
    """Zero neurons (raw activation 0, i.e. ``-mean/scale`` standardised) in the oracle at test time."""
    weights, bias = oracle.weights.cpu(), oracle.bias.cpu()
    base = data.test.logits(weights, bias)
    zero_value = torch.as_tensor(-data.train.mean / data.train.scale, dtype=torch.float32)
    rng = np.random.default_rng(seed + 2)

    def zeroed(cols: np.ndarray) -> float:
        c = torch.as_tensor(np.asarray(cols, dtype=np.int64))
        w = weights.index_select(0, c)
        logits = (
            base
            - data.test.logits(w, torch.zeros_like(bias), np.asarray(cols))
            + (zero_value[c] @ w)
        )
        return float(np.mean(logits.argmax(1).numpy() == data.test.y))

    top, rand = [], []
    for percent in percents:
        k = percent_size(percent, data.n_neurons)
        top.append(zeroed(ranking.top(k)))
        rand.append(zeroed(rng.choice(data.n_neurons, k, replace=False)))
    full = float(np.mean(base.argmax(1).numpy() == data.test.y))
    return Ablation(list(percents), top, rand, full)


def feasible_percents(data: ProbeData, percents: list[float]) -> list[float]:
    """Curve sizes worth retraining: on a matrix streamed from the cache, sizes whose column
    subset cannot be read into memory would re-read the whole cache at every solver step
    (hours for a large model); they are left out, except the ranking-quality sizes."""
    if not isinstance(data.train, StreamedDesign):
        return percents
    limit = data.train.dense_bytes // (4 * data.train.n_rows)
    kept = [
        p for p in percents if p in QUALITY_PERCENTS or percent_size(p, data.n_neurons) <= limit
    ]
    skipped = sorted(set(percents) - set(kept))
    if skipped:
        log.warning(
            "curves at %s%% of the neurons skipped: their subsets of %d training words do not "
            "fit the in-memory limit (raise NEURONVIZ_MEMORY_GB or cap --max-train-words)",
            ", ".join(f"{p:g}" for p in skipped),
            data.train.n_rows,
        )
    return kept
