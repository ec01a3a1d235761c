"""What subsets of ranked neurons can do: minimal sets, top/random/bottom curves, ablation."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import torch

from neuronviz.features import ProbeData
from neuronviz.probe import FitResult
from neuronviz.ranking import NeuronRanking
from neuronviz.retrain import Retrained, Retrainer, percent_size

__all__ = [
    "Ablation",
    "Curves",
    "MinimalSet",
    "ablation",
    "curves",
    "minimal_set",
    "minimal_threshold",
    "ranking_quality",
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
class Curves:
    """Retrained accuracy on the top-k, random-k (mean, std over draws) and bottom-k neurons."""

    percents: list[float]
    sizes: list[int]
    top: dict[str, list[float]]  # split -> accuracy per percent
    random_mean: dict[str, list[float]]
    random_std: dict[str, list[float]]
    bottom: dict[str, list[float]]
    random_draws: list[int]


def draws_for(percent: float, draws: int) -> int:
    """Random draws at a size: all of them up to 10%, fewer for large (costly, low-variance) sizes."""
    if percent <= 10:
        return draws
    return max(1, min(draws, 2 if percent <= 20 else 1))


def curves(
    data: ProbeData, ranking: NeuronRanking, retrain: Retrainer, percents, draws: int, seed: int
) -> Curves:
    """Top / random / bottom retrained accuracies for each percentage of neurons."""
    rng = np.random.default_rng(seed + 1)
    out: dict[str, dict[str, list[float]]] = {
        k: {"dev": [], "test": []} for k in ("top", "mean", "std", "bottom")
    }
    sizes = [percent_size(percent, data.n_neurons) for percent in percents]
    used = [draws_for(percent, draws) for percent in percents]
    draws_at = [
        [rng.choice(data.n_neurons, k, replace=False) for _ in range(n_draws)]
        for k, n_draws in zip(sizes, used, strict=True)
    ]
    retrain.prefetch(
        cols
        for k, chosen in zip(sizes, draws_at, strict=True)
        for cols in (ranking.top(k), ranking.bottom(k), *chosen)
    )
    for k, chosen in zip(sizes, draws_at, strict=True):
        top, bottom = retrain(ranking.top(k)), retrain(ranking.bottom(k))
        rand = [retrain(cols) for cols in chosen]
        for split in ("dev", "test"):
            values = [getattr(r, split) for r in rand]
            out["top"][split].append(getattr(top, split))
            out["bottom"][split].append(getattr(bottom, split))
            out["mean"][split].append(float(np.mean(values)))
            out["std"][split].append(float(np.std(values)))
    return Curves(list(percents), sizes, out["top"], out["mean"], out["std"], out["bottom"], used)


def ranking_quality(
    c: Curves, split: str = "test", percents=(1, 5, 10), margin: float = 0.0
) -> dict:
    """Top / random / bottom at the given percents, and whether the ranking beats random.

    ``beats_random`` is False at a percent where top-k is not above the random-k mean by more than
    ``margin`` plus one standard deviation of the random draws.
    """
    quality: dict = {}
    for p in percents:
        if p not in c.percents:
            continue
        i = c.percents.index(p)
        top, mean, std, bottom = (
            c.top[split][i],
            c.random_mean[split][i],
            c.random_std[split][i],
            c.bottom[split][i],
        )
        quality[_key(p)] = {
            "size": c.sizes[i],
            "top": top,
            "random_mean": mean,
            "random_std": std,
            "bottom": bottom,
            "beats_random": bool(top > mean + std + margin),
        }
    return quality


def _key(percent: float) -> str:
    return f"{percent:g}"


@dataclass(frozen=True)
class Ablation:
    """Test accuracy of the oracle with the top-k or random-k neurons set to zero."""

    percents: list[float]
    top: list[float]
    random: list[float]
    full: float


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
