"""Neuron rankings: a full ordering of all neurons, best first, plus top neurons per class.

Methods behind one interface (:func:`rank_neurons`):

- ``lca`` (Linguistic Correlation Analysis, the paper's): from the elastic-net weights, for a
  growing share ``p`` of each class's absolute weight mass (1%, 2%, ... 100%), take the fewest
  neurons carrying that share; the union over classes grows with ``p`` and neurons enter the
  ordering at the step where they first appear. Neurons entering at the same step are ordered by
  their largest share of any class's mass (not by id: a step can add hundreds of neurons, and
  id order would pull small top-k sets toward the embedding layer). Neurons with all-zero
  weights never enter: the method ranks only the ``n_weighted`` neurons it gives weight, and the
  rest tie. They follow in a seeded random order, never by id or by another method's score (by
  id, bottom-k would be the last layer's neurons; by another method, "bottom" would test that
  method). Baselines that reach into the tie (bottom-k, or top-k beyond the weighted neurons)
  are measured over several tie orders: :meth:`NeuronRanking.bottom_sets`.
  With *frequency* class weighting, the classes' mass shares are first averaged with the
  classes' training frequencies as weights, and the steps run on that one averaged share. Every
  class counts the same in the paper's rule, so on a task with hundreds of rare classes (CCG
  supertags) the first steps fill with neurons of classes that hardly occur and the top-1% set
  does no better than random neurons; frequency weighting makes the mass follow what accuracy
  measures. :func:`neuronviz.analyses.lambdas.search_lambdas` picks the weighting on dev by default.
- ``neurox``: the same steps with NeuroX 1.0.9's ordering inside a step (set iteration order),
  for comparison with that toolkit.
- ``lasso``: ``lca`` applied to the weights of an L1-only probe (computed by the caller).
- ``probeless`` (Antverg and Belinkov, 2022): no probe; a neuron's score is the sum over all
  class pairs of the distance between its class-conditional means (standardised activations).
- ``random``: a seeded random ordering, the baseline every ranking must beat.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neuronviz.errors import ConfigError

__all__ = [
    "METHODS",
    "WEIGHTINGS",
    "NeuronRanking",
    "class_mass_shares",
    "lca_ranking",
    "probeless_scores",
    "random_ranking",
]

METHODS = ("lca", "lasso", "probeless", "random", "neurox")
WEIGHTINGS = ("uniform", "frequency")
PER_CLASS_SHARE = 0.5  # per-class top neurons: those carrying half of the class's weight mass


@dataclass(frozen=True)
class NeuronRanking:
    """A full ordering of neurons (global ids), best first.

    Attributes
    ----------
    method : str
    order : ndarray of shape (n_neurons,)
    scores : ndarray of shape (n_neurons,)
        The score behind the order, per neuron id (higher is better; meaning depends on method).
    per_class : dict of str to ndarray
        Top neurons of each class, best first.
    cutoffs : list of int
        For weight-mass methods: the ordering length after each mass step.
    n_weighted : int
        Neurons the method ranks: for probe-based methods those with at least one non-zero
        weight; the rest tie at the bottom, in a seeded random order (-1: every neuron ranked).
    """

    method: str
    order: np.ndarray
    scores: np.ndarray
    per_class: dict[str, np.ndarray] = field(default_factory=dict)
    cutoffs: list[int] = field(default_factory=list)
    n_weighted: int = -1
    weighting: str = "uniform"
    fit: dict = field(default_factory=dict)  # the record of a probe fitted for this ranking

    def top(self, k: int) -> np.ndarray:
        return self.order[:k]

    def bottom(self, k: int) -> np.ndarray:
        return self.order[len(self.order) - k :] if k > 0 else self.order[:0]

    @property
    def ranked(self) -> int:
        """How many neurons the method orders (the rest tie)."""
        return len(self.order) if self.n_weighted < 0 else min(self.n_weighted, len(self.order))

    def top_sets(self, k: int, draws: int, seed: int) -> list[np.ndarray]:
        """The method's top-k: one set inside the ranked neurons; beyond them, the ranked ones
        plus ``draws`` random choices among the tied rest (each a tie order)."""
        ranked = self.ranked
        if k <= ranked:
            return [self.order[:k]]
        tied = self.order[ranked:]
        rng = np.random.default_rng([seed, k, 1])
        return [
            np.concatenate([self.order[:ranked], rng.choice(tied, k - ranked, replace=False)])
            for _ in range(draws)
        ]

    def bottom_sets(self, k: int, draws: int, seed: int) -> list[np.ndarray]:
        """The method's bottom-k: when k neurons fit inside the tie (all-zero weights),
        ``draws`` random choices among the tied neurons, since the method says nothing about
        which of them is lowest; otherwise the whole tie plus the lowest-ranked others (one
        set)."""
        ranked = self.ranked
        tied = self.order[ranked:]
        if k > len(tied) or len(tied) == 0:
            return [self.bottom(k)]
        rng = np.random.default_rng([seed, k, 2])
        return [rng.choice(tied, k, replace=False) for _ in range(draws)]

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "cutoffs": list(map(int, self.cutoffs)),
            "n_weighted": int(self.n_weighted),
            "weighting": self.weighting,
            "fit": dict(self.fit),
            "per_class": {c: v.tolist() for c, v in self.per_class.items()},
        }


def class_mass_shares(weights: np.ndarray) -> np.ndarray:
    """``|W|`` divided by each class's total absolute weight mass; ``weights`` is (classes, neurons)."""
    mass = np.abs(weights)
    totals = mass.sum(1, keepdims=True)
    return np.divide(mass, totals, out=np.zeros_like(mass), where=totals > 0)


def _step_sets(shares: np.ndarray, stride: int) -> list[np.ndarray]:
    """For p = 0, 1/stride, ..., 1: the union over classes of the fewest neurons holding share p.

    Mirrors NeuroX's ``get_top_neurons``: per class, neurons sorted by weight (descending) up to
    and including the first whose cumulative share reaches p.
    """
    order = np.argsort(-shares, axis=1, kind="stable")
    cum = np.take_along_axis(shares, order, axis=1).cumsum(1)
    steps = []
    for p in range(stride + 1):
        frac = p / stride
        union: set[int] = set()
        for c in range(shares.shape[0]):
            if cum[c, -1] <= 0:
                continue
            reached = np.flatnonzero(cum[c] >= frac - 1e-12 * (frac > 0))
            count = reached[0] + 1 if len(reached) else shares.shape[1]
            union.update(order[c, :count].tolist())
        steps.append(np.fromiter(union, dtype=np.int64, count=len(union)))
    return steps


def _neurox_step_sets(weights: np.ndarray, stride: int) -> list[np.ndarray]:
    """NeuroX 1.0.9's per-step neuron sets, with its arithmetic (float32 weights, descending
    order as a reversed ascending sort, ``cumsum >= total * p``; when float rounding keeps the
    cumulative sum below the total, all neurons of the class count as selected)."""
    mass = np.abs(np.asarray(weights, dtype=np.float32))
    order = np.argsort(mass, axis=1)[:, ::-1]
    cum = np.cumsum(np.take_along_axis(mass, order, axis=1), axis=1)
    totals = mass.sum(1)
    steps = []
    for p in range(stride + 1):
        union: set[int] = set()
        for c in range(mass.shape[0]):
            reached = np.where(cum[c] >= totals[c] * (p / stride))[0]
            count = mass.shape[1] if reached.shape[0] == 0 else reached[0] + 1
            union.update(order[c, :count].tolist())
        steps.append(np.array(list(union), dtype=np.int64))
    return steps


def lca_ranking(
    weights: np.ndarray,
    classes: list[str],
    *,
    tie_seed: int = 0,
    stride: int = 100,
    neurox_order: bool = False,
    method: str | None = None,
    class_weights: np.ndarray | None = None,
) -> NeuronRanking:
    """Weight-mass ordering of neurons from probe weights of shape ``(classes, neurons)``.

    The neurons that no mass step selects (those with all-zero weights) tie; they follow in a
    random order drawn with ``tie_seed``. With ``neurox_order`` the steps are computed exactly as NeuroX 1.0.9's
    ``get_neuron_ordering`` does, and neurons entering at one step keep its order (iteration
    order of a Python set of ids) instead of being sorted by weight. ``class_weights`` (one
    non-negative weight per class, e.g. its training frequency) switches to frequency-weighted
    mass: the steps run on the weighted average of the classes' shares.
    """
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 2 or weights.shape[0] != len(classes):
        raise ConfigError(f"weights of shape {weights.shape} do not match {len(classes)} classes")
    if stride < 1:
        raise ConfigError(f"stride must be at least 1, got {stride}")
    if class_weights is not None and neurox_order:
        raise ConfigError("NeuroX's ordering has no class weighting", hint="drop class_weights")
    n = weights.shape[1]
    shares = class_mass_shares(weights)
    best_share = shares.max(0) if len(classes) else np.zeros(n)
    if class_weights is None:
        priority = best_share
        step_shares = shares
    else:
        prior = np.asarray(class_weights, dtype=np.float64)
        if prior.shape != (len(classes),) or (prior < 0).any() or prior.sum() <= 0:
            raise ConfigError(
                f"class_weights must be {len(classes)} non-negative numbers, not all zero"
            )
        priority = (prior / prior.sum()) @ shares
        step_shares = class_mass_shares(priority[None, :])
    steps = _neurox_step_sets(weights, stride) if neurox_order else _step_sets(step_shares, stride)
    seen = np.zeros(n, dtype=bool)
    considered: set[int] = set()  # NeuroX's own bookkeeping, whose set order it inherits
    order: list[int] = []
    cutoffs = []
    for step in steps:
        if neurox_order:
            fresh = set(step.tolist()).difference(considered)
            considered = considered.union(fresh)
            new = np.array(list(fresh), dtype=np.int64)
        else:
            new = step[~seen[step]] if len(step) else step
            new = new[priority[new] > 0]  # all-zero neurons are never selected by weight
            new = new[np.lexsort((new, -priority[new]))]
        seen[new] = True
        order.extend(new.tolist())
        cutoffs.append(len(order))
    rest = np.random.default_rng(tie_seed).permutation(np.flatnonzero(~seen))
    full = np.concatenate([np.asarray(order, dtype=np.int64), rest])
    per_class = {}
    for c, name in enumerate(classes):
        idx = np.argsort(-shares[c], kind="stable")
        cum = shares[c, idx].cumsum()
        count = int(np.searchsorted(cum, PER_CLASS_SHARE - 1e-12) + 1) if cum[-1] > 0 else 0
        per_class[name] = idx[:count]
    return NeuronRanking(
        method=method or ("neurox" if neurox_order else "lca"),
        order=full,
        scores=priority.copy(),
        per_class=per_class,
        cutoffs=cutoffs,
        n_weighted=_ranked_prefix(np.asarray(order, dtype=np.int64), priority),
        weighting="uniform" if class_weights is None else "frequency",
    )


def _ranked_prefix(order: np.ndarray, priority: np.ndarray) -> int:
    """How many leading neurons of ``order`` carry weight. NeuroX's steps can select
    zero-weight neurons (float rounding keeps a class's running sum below its total); from the
    first of them on, the order is arbitrary and counts as the tie."""
    zero = np.flatnonzero(priority[order] <= 0)
    return int(zero[0]) if len(zero) else len(order)


def probeless_scores(class_means: np.ndarray) -> np.ndarray:
    """Sum over class pairs of ``|mean_a - mean_b|`` per neuron; ``class_means`` is (classes, neurons).

    Computed from the sorted means in O(C log C) per neuron instead of over all C^2 pairs.
    """
    m = np.sort(np.asarray(class_means, dtype=np.float64), axis=0)
    c = m.shape[0]
    coef = 2 * np.arange(c) - c + 1
    return (coef[:, None] * m).sum(0)


def probeless_ranking(class_means: np.ndarray, classes: list[str]) -> NeuronRanking:
    """Rank neurons by :func:`probeless_scores`; per class by distance to the other classes."""
    scores = probeless_scores(class_means)
    order = np.lexsort((np.arange(len(scores)), -scores))
    means = np.asarray(class_means, dtype=np.float64)
    per_class = {}
    for c, name in enumerate(classes):
        distance = np.abs(means[c][None, :] - means).sum(0)
        per_class[name] = np.argsort(-distance, kind="stable")[:10]
    return NeuronRanking("probeless", order, scores, per_class)


def random_ranking(n_neurons: int, seed: int) -> NeuronRanking:
    rng = np.random.default_rng(seed)
    order = rng.permutation(n_neurons)
    scores = np.empty(n_neurons)
    scores[order] = np.arange(n_neurons, 0, -1, dtype=np.float64)
    return NeuronRanking("random", order, scores)
