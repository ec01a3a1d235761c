"""Intervals, chance levels and tests of one analysis' numbers, computed once and stored with it.

Everything here reuses the per-word correctness the retrained probes already computed
(:class:`neuronviz.probing.retrain.Retrained`); nothing is retrained:

- curve bands and ranking quality: top-k and bottom-k with bootstrap intervals over test
  sentences, random-k as the spread of its draws, and the tests that decide "top beats random"
  and "random beats bottom" (:mod:`neuronviz.stats.uncertainty`);
- the minimal set's size distribution: the size is where the retrained dev-accuracy curve of
  the ranking's prefixes first reaches the threshold, and the threshold moves with the oracle's
  dev accuracy, so resampling dev sentences gives the sizes another dev set could have given
  (training variance is left out: ``--seeds`` measures that, at the cost of full refits);
- the chance level of that size: the share of neurons *random* sets need to reach the same
  threshold, read off the random-k dev curve (interpolated in log size; the curve ends at all
  neurons with the oracle's accuracy) on the same resamples, so models of different widths
  compare by ``minimal share / chance share``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from neuronviz.analyses.settings import AnalysisSettings
from neuronviz.analyses.subsets import (
    CurveProbes,
    MinimalSet,
    minimal_threshold,
)
from neuronviz.probing.features import ProbeData
from neuronviz.probing.ranking import NeuronRanking
from neuronviz.probing.retrain import (
    Retrained,
    Retrainer,
)
from neuronviz.stats.uncertainty import (
    ALPHA,
    Bootstraps,
    SentenceBootstrap,
    as_interval,
    beats_draws,
    draws_differ,
    interval,
)
from neuronviz.store.result_parts import Curves

__all__ = [
    "chance_share_draws",
    "crossing_share",
    "curve_intervals",
    "minimal_size_draws",
    "minimal_uncertainty",
    "prefix_sizes",
    "ranking_quality",
    "refine_interval",
]


def _mean_correct(probes: Sequence[Retrained], split: str, n_words: int) -> np.ndarray:
    """Per-word correctness averaged over several probes (tie orders): the mean accuracy's
    per-word terms, so the bootstrap of it is the bootstrap of the mean."""
    return np.mean([p.correct(split, n_words) for p in probes], axis=0)


def curve_intervals(curves: Curves, probes: CurveProbes, test: SentenceBootstrap) -> Curves:
    """``curves`` with test-split bands: top-k and bottom-k bootstrap intervals over sentences
    (of the tie-order mean where there are several), random-k the central 95% of its draws."""
    n = test.n_words
    top_ci = [list(test.interval(_mean_correct(t, "test", n))) for t in probes.top]
    bottom_ci = [list(test.interval(_mean_correct(b, "test", n))) for b in probes.bottom]
    band = [list(interval(np.asarray(v))) for v in curves.random_values["test"]]
    return replace(curves, top_ci=top_ci, bottom_ci=bottom_ci, random_band=band)


def ranking_quality(curves: Curves, percents=(1, 5, 10), split: str = "test") -> dict:
    """Top / random / bottom at the given percents, with intervals and the tests that decide.

    ``beats_random``: top-k lies above the random draws by a one-sided prediction test at
    ``ALPHA`` (``p_top_vs_random``; ``top_percentile`` is its rank among the draws).
    ``random_beats_bottom``: the random draws lie above bottom-k (a Mann-Whitney U test against
    its tie orders, or the prediction test when bottom-k is one set).
    """
    quality: dict = {}
    for p in percents:
        if p not in curves.percents:
            continue
        i = curves.percents.index(p)
        top = curves.top[split][i]
        values = list(curves.random_values[split][i])
        bottoms = list(curves.bottom_values[split][i])
        versus_random = beats_draws(top, values)
        p_bottom = draws_differ(values, bottoms)
        quality[f"{p:g}"] = {
            "size": curves.sizes[i],
            "top": top,
            "top_ci": curves.top_ci[i] if curves.top_ci else None,
            "top_tie_orders": curves.top_draws[i] if curves.top_draws else 1,
            "random_mean": curves.random_mean[split][i],
            "random_std": curves.random_std[split][i],
            "random_draws": values,
            "random_band": curves.random_band[i] if curves.random_band else None,
            "top_percentile": versus_random["percentile"],
            "p_top_vs_random": versus_random["p"],
            "beats_random": bool(versus_random["p"] < ALPHA),
            "bottom": curves.bottom[split][i],
            "bottom_ci": curves.bottom_ci[i] if curves.bottom_ci else None,
            "bottom_draws": bottoms,
            "p_random_vs_bottom": p_bottom,
            "random_beats_bottom": bool(p_bottom < ALPHA),
        }
    return quality


def _thresholds(oracle_dev: np.ndarray, delta: float, relative: bool) -> np.ndarray:
    return np.asarray([minimal_threshold(float(a), delta, relative) for a in oracle_dev])


def minimal_size_draws(
    prefixes: dict[int, Retrained],
    oracle_dev_correct: np.ndarray,
    dev: SentenceBootstrap,
    delta: float,
    relative: bool,
    n_neurons: int,
) -> np.ndarray:
    """The minimal-set size on each dev resample: the smallest measured prefix whose resampled
    dev accuracy reaches the resampled oracle's threshold (all neurons when none does).

    ``prefixes`` maps a prefix size to its retrained probe. On the dev set as it is, this is the
    size the coarse-to-fine search chose (every size it measured below it missed the threshold),
    unless a prefix measured afterwards (the curves, the interval's refinement) reaches the
    threshold below it, which only a non-monotone stretch of the accuracy curve allows.
    """
    sizes = np.array(sorted(prefixes), dtype=np.int64)
    if sizes.size == 0:
        return np.full(dev.counts.shape[0], n_neurons, dtype=np.int64)
    n = dev.n_words
    acc = dev.accuracies(np.stack([prefixes[s].correct("dev", n) for s in sizes]))
    thresholds = _thresholds(dev.accuracies(oracle_dev_correct), delta, relative)
    reach = acc >= thresholds[:, None] - 1e-12
    first = np.where(reach.any(1), sizes[reach.argmax(1)], n_neurons)
    return first.astype(np.int64)


def crossing_share(sizes: Sequence[int], accuracy: np.ndarray, threshold: float, n: int) -> float:
    """Where an accuracy-vs-size curve first reaches ``threshold``, as a share of ``n`` neurons,
    interpolated linearly in log size between the measured sizes (1.0 when it never does: all
    neurons are the oracle; the first size when it already does there)."""
    acc = np.asarray(accuracy, dtype=np.float64)
    hit = np.flatnonzero(acc >= threshold - 1e-12)
    if hit.size == 0:
        return 1.0
    j = int(hit[0])
    if j == 0:
        return sizes[0] / n
    a0, a1 = acc[j - 1], acc[j]
    t = (threshold - a0) / (a1 - a0) if a1 > a0 else 1.0
    log_size = np.log(sizes[j - 1]) + t * (np.log(sizes[j]) - np.log(sizes[j - 1]))
    return float(np.exp(log_size) / n)


def chance_share_draws(
    random_probes: Sequence[Sequence[Retrained]],
    sizes: Sequence[int],
    oracle_dev_correct: np.ndarray,
    dev: SentenceBootstrap,
    delta: float,
    relative: bool,
    n_neurons: int,
) -> tuple[float, np.ndarray]:
    """The share of neurons random sets need to reach the minimal-set threshold: on the dev set
    as it is, and on each dev resample (the chance level of the minimal share).

    The random-k curve ends at all neurons with the oracle's own accuracy (every neuron is then
    chosen), so a threshold above the largest measured random size is interpolated between that
    size and all neurons rather than cut off.
    """
    n = dev.n_words
    means = np.stack([_mean_correct(draws, "dev", n) for draws in random_probes])
    curve_sizes = [*sizes, n_neurons] if sizes[-1] < n_neurons else list(sizes)
    extra = len(curve_sizes) - len(sizes)
    observed = means.mean(1)
    oracle_acc = float(np.mean(oracle_dev_correct))
    point = crossing_share(
        curve_sizes,
        np.concatenate([observed, [oracle_acc] * extra]),
        minimal_threshold(oracle_acc, delta, relative),
        n_neurons,
    )
    oracle_draws = dev.accuracies(oracle_dev_correct)
    acc = dev.accuracies(means)
    if extra:
        acc = np.concatenate([acc, oracle_draws[:, None]], axis=1)
    thresholds = _thresholds(oracle_draws, delta, relative)
    draws = np.array(
        [
            crossing_share(curve_sizes, acc[b], thresholds[b], n_neurons)
            for b in range(len(thresholds))
        ]
    )
    return point, draws


def prefix_sizes(
    minimal: MinimalSet, curve: Curves, ranking: NeuronRanking, retrain: Retrainer
) -> dict[int, Retrained]:
    """Every measured prefix of the ranking (the minimal-set search's sizes and the curves'
    top-k sizes), by size: the retrainings are remembered, so this refits nothing."""
    sizes = {int(s) for s, _, _ in minimal.curve}
    sizes |= {k for k in curve.sizes if k <= ranking.ranked}
    return {k: retrain(ranking.top(k)) for k in sorted(sizes)}


def refine_interval(
    draws: np.ndarray, prefixes: dict[int, Retrained], ranking: NeuronRanking, retrain: Retrainer
) -> bool:
    """Retrain a few more prefixes where the size interval falls between sizes measured far
    apart (the coarse grid steps 2-2.5x), so its ends are not set by the grid alone; returns
    whether any were added."""
    low, high = np.percentile(draws, [2.5, 97.5])
    sizes = sorted(prefixes)
    added = []
    for a, b in itertools.pairwise(sizes):
        if b > low and a < high and b > 1.25 * a:
            for t in (0.25, 0.5, 0.75):
                k = round(math.exp(math.log(a) + t * (math.log(b) - math.log(a))))
                if a < k < b and k not in prefixes:
                    added.append(k)
    for k in added[:9]:
        prefixes[k] = retrain(ranking.top(k))
    return bool(added)


def minimal_uncertainty(
    data: ProbeData,
    settings: AnalysisSettings,
    minimal: MinimalSet,
    curve: Curves,
    probes: CurveProbes,
    ranking: NeuronRanking,
    retrain: Retrainer,
    oracle_correct: dict[str, np.ndarray],
    boots: Bootstraps,
) -> tuple[dict, dict[str, np.ndarray]]:
    """The minimal set's intervals and chance level (see :mod:`neuronviz.stats.intervals`), and the
    bootstrap draws behind them (stored as arrays, for comparisons between analyses)."""
    n = data.n_neurons
    args = (settings.delta, settings.relative_delta, n)
    prefixes = prefix_sizes(minimal, curve, ranking, retrain)
    draws = minimal_size_draws(prefixes, oracle_correct["dev"], boots.dev, *args)
    if refine_interval(draws, prefixes, ranking, retrain):
        draws = minimal_size_draws(prefixes, oracle_correct["dev"], boots.dev, *args)
    chance, chance_draws = chance_share_draws(
        probes.random, curve.sizes, oracle_correct["dev"], boots.dev, *args
    )
    best = retrain(minimal.neurons)
    test_correct = best.correct("test", len(data.test.y))
    low, high = (float(v) for v in np.percentile(draws, [2.5, 97.5]))
    # a prefix retrained later (curves, refinement) may reach the threshold below the searched
    # size where the accuracy curve is not monotone: the interval always holds the reported size
    low, high = min(low, minimal.size), max(high, minimal.size)
    localization = (draws / n) / chance_draws
    info = {
        "size_interval": [low, high],
        "fraction_interval": [low / n, high / n],
        "test_accuracy_ci": as_interval(boots.test.interval(test_correct)),
        "gap_ci": as_interval(
            interval(boots.test.difference(oracle_correct["test"], test_correct))
        ),
        "beyond_ranked": bool(minimal.size > ranking.ranked),
        "chance_share": chance,
        "chance_share_interval": as_interval(interval(chance_draws)),
        # beyond the largest random size measured: interpolated toward all neurons
        "chance_extrapolated": float(np.mean(chance_draws > curve.sizes[-1] / data.n_neurons)),
        "localization": minimal.fraction / chance,
        "localization_interval": as_interval(interval(localization)),
        "prefix_sizes": sorted(prefixes),
        "retrained_converged": float(np.mean([p.converged for p in prefixes.values()])),
    }
    arrays = {
        "minimal_size_draws": draws.astype(np.int64),
        "chance_share_draws": chance_draws.astype(np.float64),
    }
    return info, arrays
