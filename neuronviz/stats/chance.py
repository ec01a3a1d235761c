"""Chance levels of comparisons between analyses: what sets of those sizes would give at random.

Two tasks' minimal sets overlap a little even when they have nothing to do with each other, and
the more neurons the sets hold (as a share of the model), the more: raw Jaccard indices of models
of different widths or of sets of different sizes do not compare. Here the overlap of two sets of
sizes ``a`` and ``b`` drawn at random from ``n`` neurons is hypergeometric; :func:`expected_jaccard`
is the Jaccard index such sets have on average, and :func:`overlap_p` the chance of an overlap at
least as large as the one observed.

The minimal sets are prefixes of their rankings, and their sizes carry a bootstrap distribution
(``minimal_size_draws``, see :mod:`neuronviz.stats.intervals`); :func:`prefix_overlap_draws` and
:func:`depth_draws` turn those into distributions of the overlap and of the mean layer depth.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import stats

__all__ = [
    "depth_draws",
    "expected_jaccard",
    "overlap_p",
    "prefix_overlap_draws",
]


@lru_cache(maxsize=65536)
def expected_jaccard(n: int, a: int, b: int) -> float:
    """Mean Jaccard index of two random sets of ``a`` and ``b`` of ``n`` neurons."""
    if a <= 0 or b <= 0:
        return 0.0
    x = np.arange(max(0, a + b - n), min(a, b) + 1)
    pmf = stats.hypergeom.pmf(x, n, a, b)
    return float((pmf * x / (a + b - x)).sum())


def overlap_p(n: int, a: int, b: int, observed: int) -> float:
    """Chance that random sets of ``a`` and ``b`` of ``n`` neurons share at least ``observed``."""
    return float(stats.hypergeom.sf(observed - 1, n, a, b))


def _ranks(order: np.ndarray) -> np.ndarray:
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[np.asarray(order, dtype=np.int64)] = np.arange(len(order))
    return ranks


def prefix_overlap_draws(
    order_a: np.ndarray, sizes_a: np.ndarray, order_b: np.ndarray, sizes_b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Jaccard of the two rankings' prefixes at each pair of drawn sizes, and the Jaccard random
    sets of those sizes would have; ``(observed, expected)``, one value per draw."""
    n = len(order_a)
    # the neurons in a's order, each with its rank in b: a's prefix of sa shares with b's prefix
    # of sb exactly those of its first sa whose rank in b is below sb
    b_of_a = _ranks(order_b)[np.asarray(order_a, dtype=np.int64)]
    count = min(len(sizes_a), len(sizes_b))
    observed, expected = np.empty(count), np.empty(count)
    for i in range(count):
        sa, sb = int(sizes_a[i]), int(sizes_b[i])
        inter = int((b_of_a[:sa] < sb).sum())
        observed[i] = inter / max(sa + sb - inter, 1)
        expected[i] = expected_jaccard(n, sa, sb)
    return observed, expected


def depth_draws(
    order: np.ndarray, sizes: np.ndarray, hidden_size: int, n_layers: int, seed: int = 0
) -> np.ndarray:
    """Mean relative depth (0 = embeddings, 1 = last layer) of the ranking's prefix at each
    drawn size, its neurons resampled with replacement: the distribution behind the interval
    of a minimal set's depth (set size and set membership both vary)."""
    depth = (np.asarray(order, dtype=np.int64) // hidden_size) / max(n_layers - 1, 1)
    rng = np.random.default_rng([seed, 11])
    out = np.empty(len(sizes))
    for i, size in enumerate(np.asarray(sizes, dtype=np.int64)):
        size = max(int(size), 1)
        out[i] = depth[rng.integers(0, size, size)].mean()
    return out
