"""The settings of an analysis: the lambda grid and rule, the minimal-set threshold, how many random draws, resamples and solver iterations, each checked when given."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from neuronviz.errors import ConfigError
from neuronviz.probing.objective import KKT_TOL
from neuronviz.probing.probe import SOLVERS
from neuronviz.probing.ranking import (
    METHODS,
    WEIGHTINGS,
)
from neuronviz.stats.uncertainty import N_BOOT

__all__ = ["DEFAULT_LAMBDAS", "QUALITY_PERCENTS", "RULES", "AnalysisSettings"]


DEFAULT_LAMBDAS: tuple[tuple[float, float], ...] = (
    (0.0, 0.0),
    (1e-5, 1e-5),
    (1e-4, 1e-4),
    (1e-3, 1e-3),
)


RULES = ("separation", "accuracy")


QUALITY_PERCENTS = (1, 5, 10)  # ranking quality is always reported at these sizes


@dataclass(frozen=True)
class AnalysisSettings:
    """Settings of one analysis run.

    Attributes
    ----------
    lambdas : tuple of (lambda1, lambda2) pairs
        The regularisation grid.
    rule : {"separation", "accuracy"}, default="separation"
        How the pair is chosen (see :mod:`neuronviz.analyses.lambdas`).
    rule_tolerance : float, default=1.5
        Accuracy points below the best dev accuracy a pair may be and still be considered.
    grid_words : int, default=40000
        Training words (a prefix of the split) the grid is fitted on.
    method : str, default="lca"
        Ranking method: lca, lasso, probeless, random or neurox.
    weighting : {"auto", "uniform", "frequency"}, default="auto"
        Class weighting of the weight-mass ranking (lca, lasso): every class alike (the
        paper's), by training frequency, or whichever separates better on dev (chosen with the
        lambdas; the accuracy rule keeps uniform). See :mod:`neuronviz.probing.ranking`.
    delta : float, default=1.0
        Minimal set: retrained dev accuracy within ``delta`` points of the oracle (0..100).
    relative_delta : bool, default=False
        Use ``oracle * (1 - delta / 100)`` instead of ``oracle - delta`` points.
    percents : tuple of float
        Sizes (percent of all neurons) of the top/random/bottom curves and ablations.
    random_draws : int, default=20
        Random neuron sets per size up to 5% (half of them at 10%, fewer above, where they are
        costly and vary little).
    tie_draws : int, default=3
        Tie orders a bottom-k (or top-k) that reaches into the neurons the method leaves tied
        (all-zero weights) is averaged over, at the ranking-quality sizes (2 elsewhere).
    kkt_tol : float, default=1e-4
        Every elastic-net fit (grid, oracle, lasso, control, resamples) runs until its largest
        KKT violation is at most this, or its budget ``oracle_iter`` is spent (then it is
        reported as not converged).
    bootstrap : int, default=1000
        Resamples of dev and test sentences behind every interval.
    seed : int, default=0
    seeds : int, default=1
        With more than one, the oracle and minimal set are recomputed on training resamples
        (90% of the words, drawn per seed) and their spread and overlap reported.
    max_train_words : int, optional
        Cap on training words (a prefix); the paper used 150,000.
    """

    lambdas: tuple[tuple[float, float], ...] = DEFAULT_LAMBDAS
    rule: str = "separation"
    rule_tolerance: float = 1.5
    grid_words: int = 20_000
    method: str = "lca"
    weighting: str = "auto"
    delta: float = 1.0
    relative_delta: bool = False
    percents: tuple[float, ...] = (1, 2, 5, 10, 20, 50)
    random_draws: int = 20
    seed: int = 0
    seeds: int = 1
    max_train_words: int | None = None
    oracle_iter: int = 1000  # a budget: fits stop at kkt_tol
    retrain_iter: int = 200  # a cap: retrains stop at convergence (see neuronviz.probing.retrain)
    kkt_tol: float = KKT_TOL
    tie_draws: int = 3
    bootstrap: int = N_BOOT
    control: bool = True
    layers: bool = True
    solver: str = "owlqn"

    def __post_init__(self) -> None:
        if self.solver not in SOLVERS[:2]:
            raise ConfigError(f"unknown solver {self.solver!r}", hint="use owlqn or fista")
        if not (isinstance(self.delta, (int, float)) and 0 <= self.delta <= 100):
            raise ConfigError(f"tolerance (delta) must lie in 0..100, got {self.delta}")
        if self.rule not in RULES:
            raise ConfigError(
                f"unknown lambda rule {self.rule!r}", hint=f"use {' or '.join(RULES)}"
            )
        if self.method not in METHODS:
            raise ConfigError(
                f"unknown ranking method {self.method!r}", hint=f"use one of {', '.join(METHODS)}"
            )
        if self.weighting not in ("auto", *WEIGHTINGS):
            raise ConfigError(
                f"unknown class weighting {self.weighting!r}",
                hint="use auto, uniform or frequency",
            )
        if not self.lambdas:
            raise ConfigError("the lambda grid is empty")
        for pair in self.lambdas:
            if len(pair) != 2 or not all(math.isfinite(v) and v >= 0 for v in pair):
                raise ConfigError(f"lambda pairs must be two finite numbers >= 0, got {pair}")
        if not self.percents or any(not 0 < p <= 100 for p in self.percents):
            raise ConfigError(f"percents must lie in (0, 100], got {self.percents}")
        if self.random_draws < 2 or self.seeds < 1 or self.tie_draws < 1:
            raise ConfigError(
                "random_draws must be at least 2 (their spread is the test), seeds and "
                "tie_draws at least 1"
            )
        for name, most in MOST.items():
            if getattr(self, name) > most:
                raise ConfigError(
                    f"{name} = {getattr(self, name)} is more than this analysis allows ({most}): "
                    "each one is a fit over the data, so the run would not end in useful time",
                    hint=f"use at most {most}",
                )
        if not (0 < self.kkt_tol < 1) or self.oracle_iter < 1:
            raise ConfigError(
                f"kkt_tol must lie in (0, 1) and oracle_iter be positive, got {self.kkt_tol} "
                f"and {self.oracle_iter}"
            )
        if self.bootstrap < 100:
            raise ConfigError(f"bootstrap needs at least 100 resamples, got {self.bootstrap}")
        if not 0 <= self.rule_tolerance <= 100:
            raise ConfigError(
                f"rule tolerance must lie in 0..100 points, got {self.rule_tolerance}"
            )
        if self.max_train_words is not None and self.max_train_words < 2:
            raise ConfigError(f"max_train_words must be at least 2, got {self.max_train_words}")

    def fit_terms(self) -> dict:
        """The terms every all-neuron elastic-net fit runs on (grid, oracle, lasso, control,
        resamples): the solver, its iteration budget and the KKT tolerance it must reach."""
        return {"max_iter": self.oracle_iter, "kkt_tol": self.kkt_tol, "solver": self.solver}

    def to_dict(self) -> dict:
        d = asdict(self)
        d["lambdas"] = [list(map(float, p)) for p in self.lambdas]
        d["percents"] = [float(p) for p in self.percents]
        return d


# Upper bounds on the counts a user sets: beyond them the run does not end in useful time (a
# random draw or a seed is a retrained probe, a bootstrap resample a pass over the predictions).
MOST = {
    "random_draws": 1000,
    "tie_draws": 100,
    "seeds": 100,
    "bootstrap": 100_000,
    "oracle_iter": 100_000,
    "retrain_iter": 100_000,
}
