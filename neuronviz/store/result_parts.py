"""The parts of a stored analysis result, as typed records (see :mod:`neuronviz.store.results`).

Each part is a frozen dataclass whose fields are the keys ``result.json`` stores (format version
2, read and written by :mod:`neuronviz.store.record`). Accuracies are fractions in [0, 1]; every
``*_ci`` / ``*_interval`` is a 95% interval ``[low, high]`` (bootstrap over test or dev sentences,
see :mod:`neuronviz.stats.intervals`); mappings keyed by data (a split, a class, a percent) stay
mappings. Fields a preview or a constructed test result may lack default to None; fields are
keyword-only, in the order ``result.json`` has always written them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "Ablation",
    "ControlFit",
    "Curves",
    "GridPoint",
    "LayerCounts",
    "Layers",
    "MinimalSetRecord",
    "OracleFit",
    "Preview",
    "QualityAtSize",
    "RankingRecord",
    "SearchRecord",
    "SolverRecord",
    "Stability",
]

Interval = list[float]  # [low, high]


@dataclass(frozen=True)
class GridPoint:
    """One (lambda1, lambda2) pair of the regularisation search, fitted on the grid subset."""

    lambda1: float
    lambda2: float
    dev_accuracy: float
    objective: float
    kkt_max: float
    zero_weight_fraction: float
    n_iter: int
    separation: float | None = None
    top: dict[str, float] = field(default_factory=dict)
    random: dict[str, float] = field(default_factory=dict)
    bottom: dict[str, float] = field(default_factory=dict)
    candidate: bool = False
    weighting: str = "uniform"
    separation_by_weighting: dict[str, float] = field(default_factory=dict)
    converged: bool = False  # kkt_max <= the search's KKT tolerance


@dataclass(frozen=True, kw_only=True)
class SearchRecord:
    """The regularisation search as stored: every grid point, the rule and the chosen pair;
    ``grid_pairs`` names the rows of the ``grid_orders`` array ("lambda1,lambda2")."""

    points: list[GridPoint]
    rule: str
    tolerance: float = 1.5
    chosen: tuple[float, float] | None = None
    grid_words: int = 0
    weighting: str = "uniform"
    grid_pairs: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class SolverRecord:
    """A fit's convergence record (:meth:`neuronviz.probing.objective.FitResult.record`)."""

    objective: float | None = None
    kkt_max: float | None = None
    kkt_tol: float | None = None
    n_iter: int | None = None
    converged: bool | None = None
    solver: str | None = None


@dataclass(frozen=True, kw_only=True)
class OracleFit:
    """The all-neuron probe: its lambdas, accuracies, sparsity and convergence, and how the
    retrained probes of the analysis converged."""

    lambda1: float
    lambda2: float
    dev_accuracy: float
    test_accuracy: float
    test_accuracy_ci: Interval | None = None
    dev_accuracy_ci: Interval | None = None
    macro_f1: float | None = None
    per_class_accuracy: dict[str, float] = field(default_factory=dict)
    support: dict[str, int] = field(default_factory=dict)
    zero_weight_fraction: float | None = None
    unused_neurons: int | None = None
    objective: float | None = None
    kkt_max: float | None = None
    kkt_tol: float | None = None
    n_iter: int | None = None
    converged: bool | None = None
    solver: str | None = None
    retrained: int | None = None
    retrained_converged: int | None = None
    retrained_grad_max: float | None = None

    def accuracy(self, split: str) -> float:
        """Accuracy on ``split`` (dev or test)."""
        return self.dev_accuracy if split == "dev" else self.test_accuracy

    def accuracy_ci(self, split: str) -> Interval | None:
        return self.dev_accuracy_ci if split == "dev" else self.test_accuracy_ci


@dataclass(frozen=True, kw_only=True)
class RankingRecord:
    """How the ranking was made: method, class weighting, how many neurons it weights (the rest
    tie), per-class top neurons and cut-offs; ``fit`` is the lasso's own fit record."""

    method: str = "lca"
    cutoffs: list[int] = field(default_factory=list)
    n_weighted: int = -1
    weighting: str = "uniform"
    fit: SolverRecord | None = None
    per_class: dict[str, list[int]] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class MinimalSetRecord:
    """The minimal neuron set (its neurons are the ``minimal_neurons`` array), the search's
    curve of (size, dev, test) and the intervals and chance level of its size."""

    size: int
    fraction: float
    dev_accuracy: float | None = None
    test_accuracy: float | None = None
    threshold: float | None = None
    reached: bool = True
    curve: list[tuple[int, float, float]] = field(default_factory=list)
    size_interval: Interval | None = None
    fraction_interval: Interval | None = None
    test_accuracy_ci: Interval | None = None
    gap_ci: Interval | None = None
    beyond_ranked: bool | None = None
    chance_share: float | None = None
    chance_share_interval: Interval | None = None
    chance_extrapolated: float | None = None
    localization: float | None = None
    localization_interval: Interval | None = None
    prefix_sizes: list[int] = field(default_factory=list)
    retrained_converged: float | None = None

    def accuracy(self, split: str) -> float | None:
        """Retrained accuracy of the set on ``split`` (dev or test)."""
        return self.dev_accuracy if split == "dev" else self.test_accuracy


@dataclass(frozen=True)
class Curves:
    """Retrained accuracy on the top-k, random-k and bottom-k neurons, per size and split.

    ``top`` and ``bottom`` are the method's own sets, averaged over tie orders where they reach
    into the neurons the method leaves tied (``top_draws`` / ``bottom_draws`` sets each);
    ``random_values`` holds every random draw (``random_std`` with ddof 1). The ``*_ci`` and
    ``random_band`` entries are test-split intervals (bootstrap over sentences; for random, the
    central 95% of the draws), filled by :func:`neuronviz.stats.intervals.curve_intervals`.
    """

    percents: list[float]
    sizes: list[int]
    top: dict[str, list[float]]  # split -> accuracy per percent
    random_mean: dict[str, list[float]] = field(default_factory=dict)
    random_std: dict[str, list[float]] = field(default_factory=dict)
    bottom: dict[str, list[float]] = field(default_factory=dict)
    random_draws: list[int] = field(default_factory=list)
    random_values: dict[str, list[list[float]]] = field(default_factory=dict)
    bottom_values: dict[str, list[list[float]]] = field(default_factory=dict)
    top_draws: list[int] = field(default_factory=list)
    bottom_draws: list[int] = field(default_factory=list)
    top_ci: list[list[float]] = field(default_factory=list)
    bottom_ci: list[list[float]] = field(default_factory=list)
    random_band: list[list[float]] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class QualityAtSize:
    """Top / random / bottom at one size, with intervals and the tests that decide
    (:func:`neuronviz.stats.intervals.ranking_quality`)."""

    size: int
    top: float
    top_ci: Interval | None = None
    top_tie_orders: int = 1
    random_mean: float
    random_std: float | None = None
    random_draws: list[float] = field(default_factory=list)
    random_band: Interval | None = None
    top_percentile: float | None = None
    p_top_vs_random: float | None = None
    beats_random: bool
    bottom: float | None = None
    bottom_ci: Interval | None = None
    bottom_draws: list[float] = field(default_factory=list)
    p_random_vs_bottom: float | None = None
    random_beats_bottom: bool | None = None


@dataclass(frozen=True)
class Ablation:
    """Test accuracy of the oracle with the top-k or random-k neurons set to zero."""

    percents: list[float]
    top: list[float]
    random: list[float]
    full: float


@dataclass(frozen=True, kw_only=True)
class LayerCounts:
    """How many of a neuron set lie in each layer (0 = embeddings), and their share."""

    count: list[int]
    share: list[float] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Layers:
    """Layer distribution of the minimal set and of each top-k percent, and single-layer probes'
    accuracy (when the analysis trained them)."""

    minimal: LayerCounts
    top: dict[str, LayerCounts] = field(default_factory=dict)  # percent ("1", "5") -> counts
    probe_dev_accuracy: list[float] | None = None
    probe_test_accuracy: list[float] | None = None
    probe_test_ci: list[Interval] | None = None

    def of(self, which: str) -> LayerCounts:
        """The distribution of ``which`` set: "minimal" or a top-k percent ("1", "5", ...)."""
        return self.minimal if which == "minimal" else self.top[which]


@dataclass(frozen=True, kw_only=True)
class ControlFit:
    """The control task (Hewitt and Liang) on the oracle's terms, and selectivity with paired
    intervals; the solver fields are the control probe's own fit record."""

    seed: int = 0
    test_accuracy: float
    test_accuracy_ci: Interval | None = None
    dev_accuracy: float | None = None
    minimal_test_accuracy: float | None = None
    selectivity: float
    selectivity_ci: Interval | None = None
    minimal_selectivity: float
    minimal_selectivity_ci: Interval | None = None
    objective: float | None = None
    kkt_max: float | None = None
    kkt_tol: float | None = None
    n_iter: int | None = None
    converged: bool | None = None
    solver: str | None = None


@dataclass(frozen=True, kw_only=True)
class Stability:
    """The minimal set over training resamples (``--seeds``): sizes, pairwise Jaccard and how
    often each neuron is in the set."""

    seeds: int
    sizes: list[int]
    test_accuracies: list[float]
    size_mean: float
    size_std: float
    size_interval: Interval
    jaccard: list[float]
    jaccard_mean: float
    membership: dict[int, float]  # neuron -> share of resamples whose set holds it
    fits: list[SolverRecord] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Preview:
    """A preview's sample: the first ``sentences`` sentences of each split."""

    sentences: int
