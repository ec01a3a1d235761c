"""Intervals of one analysis: the minimal-set size distribution, its chance level and the
ranking-quality tests, on constructed probes whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from neuronviz.probing.retrain import Retrained
from neuronviz.stats.intervals import (
    chance_share_draws,
    crossing_share,
    minimal_size_draws,
    ranking_quality,
)
from neuronviz.stats.uncertainty import SentenceBootstrap, pack
from neuronviz.store.result_parts import Curves

LENGTHS = np.full(400, 10)  # 400 dev sentences of 10 words
N_WORDS = 4000


def probe(accuracy: float, seed: int, size: int = 1) -> Retrained:
    """A probe right on ``accuracy`` of the dev words (whole sentences right or wrong)."""
    rng = np.random.default_rng(seed)
    right = np.repeat(rng.random(400) < accuracy, 10)
    return Retrained(size, float(right.mean()), 0.0, pack(right), pack(right), 1e-4, True)


def test_minimal_size_on_the_dev_set_as_it_is_is_the_searched_size():
    oracle = probe(0.95, 0)
    prefixes = {5: probe(0.5, 1), 10: probe(0.8, 2), 20: probe(0.94, 3), 40: probe(0.95, 4)}
    threshold = oracle.dev * 0.99
    expected = min(s for s, p in prefixes.items() if p.dev >= threshold)
    boot = SentenceBootstrap.build(LENGTHS, 500, seed=0)
    identity = SentenceBootstrap(LENGTHS, np.ones((1, 400), dtype=np.float32))
    oracle_correct = oracle.correct("dev", N_WORDS)
    (size,) = minimal_size_draws(prefixes, oracle_correct, identity, 1.0, True, 100)
    assert size == expected
    draws = minimal_size_draws(prefixes, oracle_correct, boot, 1.0, True, 100)
    assert set(np.unique(draws)) <= {5, 10, 20, 40, 100}
    assert np.percentile(draws, 2.5) <= expected <= np.percentile(draws, 97.5)


def test_a_prefix_close_to_the_threshold_widens_the_size_interval():
    oracle = probe(0.95, 0)
    clear = {10: probe(0.6, 1), 20: probe(0.99, 2), 40: probe(0.99, 3)}
    close = {10: probe(0.6, 1), 20: probe(0.94, 2), 40: probe(0.99, 3)}
    boot = SentenceBootstrap.build(LENGTHS, 500, seed=0)
    oracle_correct = oracle.correct("dev", N_WORDS)
    clear_draws = minimal_size_draws(clear, oracle_correct, boot, 1.0, True, 100)
    close_draws = minimal_size_draws(close, oracle_correct, boot, 1.0, True, 100)
    assert np.ptp(np.percentile(clear_draws, [2.5, 97.5])) == 0
    assert np.ptp(np.percentile(close_draws, [2.5, 97.5])) == 20


def test_crossing_share_interpolates_in_log_size():
    sizes = [10, 100, 1000]
    assert crossing_share(sizes, np.array([0.5, 0.7, 0.9]), 0.8, 10_000) == pytest.approx(
        np.sqrt(100 * 1000) / 10_000
    )
    assert crossing_share(sizes, np.array([0.85, 0.9, 0.95]), 0.8, 10_000) == 10 / 10_000
    assert crossing_share(sizes, np.array([0.5, 0.6, 0.7]), 0.8, 10_000) == 1.0


def test_chance_share_is_where_the_random_curve_meets_the_threshold():
    oracle = probe(0.95, 0)
    random = [[probe(a, 10 * i + j) for j in range(3)] for i, a in enumerate((0.6, 0.8, 0.99))]
    boot = SentenceBootstrap.build(LENGTHS, 300, seed=0)
    point, draws = chance_share_draws(
        random, [10, 100, 1000], oracle.correct("dev", N_WORDS), boot, 1.0, True, 10_000
    )
    assert 100 / 10_000 < point < 1000 / 10_000
    assert np.percentile(draws, 2.5) < point < np.percentile(draws, 97.5)


def _curves(top: float, draws: list[float], bottoms: list[float]) -> Curves:
    return Curves(
        percents=[1],
        sizes=[10],
        top={"test": [top], "dev": [top]},
        random_mean={"test": [float(np.mean(draws))], "dev": [0.0]},
        random_std={"test": [float(np.std(draws, ddof=1))], "dev": [0.0]},
        bottom={"test": [float(np.mean(bottoms))], "dev": [0.0]},
        random_draws=[len(draws)],
        random_values={"test": [draws], "dev": [draws]},
        bottom_values={"test": [bottoms], "dev": [bottoms]},
        top_draws=[1],
        bottom_draws=[len(bottoms)],
    )


def test_ranking_quality_decides_by_the_tests():
    rng = np.random.default_rng(0)
    draws = list(0.8 + 0.01 * rng.standard_normal(20))
    clear = ranking_quality(_curves(0.9, draws, [0.6, 0.62, 0.61]), percents=(1,))["1"]
    assert clear["beats_random"] and clear["random_beats_bottom"]
    assert clear["top_percentile"] == 100 and len(clear["random_draws"]) == 20
    mean, sd = np.mean(draws), np.std(draws, ddof=1)
    t = (0.9 - mean) / (sd * np.sqrt(1 + 1 / 20))
    assert clear["p_top_vs_random"] == pytest.approx(stats.t.sf(t, 19))
    inside = ranking_quality(_curves(mean + sd, draws, [0.79, 0.81]), percents=(1,))["1"]
    assert not inside["beats_random"] and not inside["random_beats_bottom"]


def test_chance_share_beyond_the_largest_random_size_heads_for_all_neurons():
    """All neurons reach the oracle's accuracy: a random curve still below the threshold at
    its largest size crosses between that size and all neurons, not at 'all neurons'."""
    oracle = probe(0.95, 0)
    random = [[probe(a, 10 * i + j) for j in range(3)] for i, a in enumerate((0.5, 0.7, 0.9))]
    boot = SentenceBootstrap.build(LENGTHS, 200, seed=0)
    point, draws = chance_share_draws(
        random, [10, 100, 1000], oracle.correct("dev", N_WORDS), boot, 1.0, True, 10_000
    )
    assert 1000 / 10_000 < point < 1.0
    assert (draws > 0.1).mean() > 0.9 and (draws < 1.0).all()
