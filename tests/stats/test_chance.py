"""Chance levels of overlaps and depths against simulation and direct set arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from neuronviz.stats.chance import depth_draws, expected_jaccard, overlap_p, prefix_overlap_draws


@pytest.mark.parametrize(("n", "a", "b"), [(2688, 293, 356), (17856, 491, 474), (50, 10, 40)])
def test_expected_jaccard_matches_simulation(n, a, b):
    rng = np.random.default_rng(0)
    values = []
    for _ in range(3000):
        x = rng.choice(n, a, replace=False)
        y = rng.choice(n, b, replace=False)
        inter = len(np.intersect1d(x, y))
        values.append(inter / (a + b - inter))
    assert expected_jaccard(n, a, b) == pytest.approx(np.mean(values), rel=0.03, abs=1e-4)


def test_overlap_p():
    # 10 of 100 and 10 of 100 share 1 on average: sharing 8 is very unlikely, sharing 0 is not
    assert overlap_p(100, 10, 10, 8) < 1e-6
    assert overlap_p(100, 10, 10, 0) == pytest.approx(1.0)
    assert 0.2 < overlap_p(100, 10, 10, 2) < 0.5


def test_prefix_overlap_draws_equal_set_arithmetic():
    rng = np.random.default_rng(1)
    a, b = rng.permutation(300), rng.permutation(300)
    sizes_a, sizes_b = np.array([10, 50, 120]), np.array([30, 50, 7])
    observed, expected = prefix_overlap_draws(a, sizes_a, b, sizes_b)
    for i in range(3):
        sa, sb = set(a[: sizes_a[i]].tolist()), set(b[: sizes_b[i]].tolist())
        assert observed[i] == pytest.approx(len(sa & sb) / len(sa | sb))
        assert expected[i] == pytest.approx(expected_jaccard(300, sizes_a[i], sizes_b[i]))


def test_depth_draws():
    order = np.arange(100)  # 5 layers of 20: the first 20 neurons are the embeddings
    low = depth_draws(order, np.full(200, 20), 20, 5)
    assert np.allclose(low, 0.0)
    high = depth_draws(order[::-1], np.full(200, 20), 20, 5)
    assert np.allclose(high, 1.0)
    mixed = depth_draws(order, np.full(500, 100), 20, 5)
    assert 0.4 < mixed.mean() < 0.6 and mixed.std() > 0
