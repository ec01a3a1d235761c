"""The paper's analysis of one model x task, end to end (``neuronviz probe``).

:func:`analyse` chains the steps on :class:`~neuronviz.probing.features.ProbeData`:

1. choose the regularisation (:mod:`neuronviz.analyses.lambdas`), by default for the ranking's quality;
2. train the oracle probe on all neurons on the full training split, to convergence (KKT
   violation at most ``kkt_tol``; every fit records whether it got there);
3. rank neurons (``lca`` by default, :mod:`neuronviz.probing.ranking`);
4. find the minimal neuron set and the top/random/bottom curves, ablation (:mod:`neuronviz.analyses.subsets`);
5. intervals and chance levels of those numbers (:mod:`neuronviz.stats.intervals`);
6. control task and selectivity (:mod:`neuronviz.probing.control`), fitted on the oracle's terms;
7. layer distribution and per-layer probes (:mod:`neuronviz.analyses.layers`);
8. with ``seeds > 1``, stability of the minimal set over training resamples.

:func:`run_analysis` adds the cache around it: activations are extracted if needed, and a result
with the same inputs and settings is loaded instead of recomputed.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuronviz.analyses.lambdas import _grid_design, class_means, class_prior, search_lambdas
from neuronviz.analyses.layers import layer_distribution, layer_probes
from neuronviz.analyses.subsets import (
    CurveProbes,
    Curves,
    MinimalSet,
    ablation,
    curves,
    minimal_set,
    minimal_threshold,
)
from neuronviz.engines.choose import check_engine
from neuronviz.errors import ConfigError
from neuronviz.models.registry import MODELS
from neuronviz.probing.allocator import reuse_freed_memory
from neuronviz.probing.control import control_labels
from neuronviz.probing.design import DenseDesign, StreamedDesign
from neuronviz.probing.features import ProbeData, load_probe_data
from neuronviz.probing.metrics import classification_report
from neuronviz.probing.objective import KKT_TOL, FitResult
from neuronviz.probing.probe import SOLVERS, fit_sparse
from neuronviz.probing.ranking import (
    METHODS,
    WEIGHTINGS,
    NeuronRanking,
    lca_ranking,
    probeless_ranking,
    random_ranking,
)
from neuronviz.probing.retrain import (
    FitPool,
    Retrained,
    Retrainer,
    accuracy_of,
    correct_of,
    percent_size,
)
from neuronviz.progress import ProgressCallback
from neuronviz.stats.intervals import (
    chance_share_draws,
    curve_intervals,
    minimal_size_draws,
    ranking_quality,
)
from neuronviz.stats.uncertainty import N_BOOT, SentenceBootstrap, interval, sentence_lengths
from neuronviz.store.activation_cache import ActivationCache
from neuronviz.store.checkpoints import Checkpoint
from neuronviz.store.results import AnalysisResult, ResultStore

__all__ = ["DEFAULT_LAMBDAS", "AnalysisSettings", "analyse", "rank", "run_analysis"]

log = logging.getLogger(__name__)

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
        for name, most in _MOST.items():
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

    def to_dict(self) -> dict:
        d = asdict(self)
        d["lambdas"] = [list(map(float, p)) for p in self.lambdas]
        d["percents"] = [float(p) for p in self.percents]
        return d


# Upper bounds on the counts a user sets: beyond them the run does not end in useful time (a
# random draw or a seed is a retrained probe, a bootstrap resample a pass over the predictions).
_MOST = {
    "random_draws": 1000,
    "tie_draws": 100,
    "seeds": 100,
    "bootstrap": 100_000,
    "oracle_iter": 100_000,
    "retrain_iter": 100_000,
}


def rank(
    data: ProbeData,
    oracle: FitResult,
    method: str,
    lambda1: float,
    seed: int,
    weighting: str = "uniform",
    *,
    max_iter: int = 1000,
    kkt_tol: float = KKT_TOL,
) -> NeuronRanking:
    """The ranking of ``method``; probe-based rankings leave all-zero neurons tied, in a random
    order drawn with ``seed`` (see :mod:`neuronviz.probing.ranking`).

    ``weighting`` (uniform or frequency) is the class weighting of the weight-mass methods.
    ``lasso`` fits its L1-only probe (warm started from the oracle) to ``kkt_tol`` within
    ``max_iter`` iterations; its record is the ranking's ``fit``.
    """
    if method == "probeless":
        return probeless_ranking(
            class_means(data.train, data.y_train, data.n_classes), data.classes
        )
    if method == "random":
        return random_ranking(data.n_neurons, seed)
    weights, record = oracle.weights, {}
    if method == "lasso":
        lasso = fit_sparse(
            data.train,
            data.y_train,
            data.n_classes,
            lambda1 or 1e-4,
            0.0,
            init=(oracle.weights, oracle.bias),
            max_iter=max_iter,
            kkt_tol=kkt_tol,
        )
        weights, record = lasso.weights, lasso.record()
    ranking = lca_ranking(
        weights.T.cpu().numpy(),
        data.classes,
        tie_seed=seed,
        neurox_order=method == "neurox",
        method=method,
        class_weights=(
            class_prior(data.y_train, data.n_classes)
            if weighting == "frequency" and method != "neurox"
            else None
        ),
    )
    return replace(ranking, fit=record)


@dataclass(frozen=True)
class Bootstraps:
    """The dev and test sentence resamples every interval of one analysis shares."""

    dev: SentenceBootstrap
    test: SentenceBootstrap

    @classmethod
    def of(cls, data: ProbeData, n_boot: int, seed: int) -> Bootstraps:
        return cls(
            SentenceBootstrap.build(
                sentence_lengths(data.dev.words, len(data.dev.y)), n_boot, seed
            ),
            SentenceBootstrap.build(
                sentence_lengths(data.test.words, len(data.test.y)), n_boot, seed + 1
            ),
        )


def _ci(values: tuple[float, float]) -> list[float]:
    return [float(values[0]), float(values[1])]


def _oracle_summary(
    data: ProbeData,
    fit: FitResult,
    lambdas: tuple[float, float],
    correct: dict[str, np.ndarray],
    boots: Bootstraps,
) -> dict:
    pred = data.test.logits(fit.weights, fit.bias).argmax(1).numpy()
    report = classification_report(pred, data.test.y, data.classes)
    return {
        "lambda1": lambdas[0],
        "lambda2": lambdas[1],
        "dev_accuracy": float(np.mean(correct["dev"])) if len(correct["dev"]) else 0.0,
        "test_accuracy": report.accuracy,
        "test_accuracy_ci": _ci(boots.test.interval(correct["test"])),
        "dev_accuracy_ci": _ci(boots.dev.interval(correct["dev"])),
        "macro_f1": report.macro_f1,
        "per_class_accuracy": report.per_class_accuracy,
        "support": report.support,
        "zero_weight_fraction": fit.zero_fraction,
        "unused_neurons": int((fit.weights == 0).all(1).sum()),
        **fit.record(),
    }


def _fit_once(
    checkpoint: Checkpoint | None, name: str, device, compute: Callable[[], FitResult]
) -> FitResult:
    """``compute()``, or the fit a killed run of the same analysis saved under ``name``."""
    if checkpoint is not None:
        saved = checkpoint.load_fit(name, device)
        if saved is not None:
            log.info("%s fit: taken from the checkpoint in %s", name, checkpoint.folder)
            return saved
    fit = compute()
    if checkpoint is not None:
        checkpoint.save_fit(name, fit)
    if not fit.converged:
        log.warning(
            "%s fit not converged: KKT %.1e > %.0e after %d iterations (raise oracle_iter)",
            name,
            fit.kkt_max,
            fit.kkt_tol,
            fit.n_iter,
        )
    return fit


def _fit_like_oracle(
    data: ProbeData, y_train: torch.Tensor, pair: tuple[float, float], settings: AnalysisSettings
) -> FitResult:
    """An all-neuron fit on the oracle's terms: the same solver, budget and KKT tolerance, warm
    started the same way (from the same pair's fit on the grid's training prefix)."""
    grid, _ = _grid_design(data, settings.grid_words)
    terms: dict[str, Any] = {
        "max_iter": settings.oracle_iter,
        "kkt_tol": settings.kkt_tol,
        "solver": settings.solver,
    }
    start = fit_sparse(grid, y_train[: grid.n_rows], data.n_classes, *pair, **terms)
    return fit_sparse(
        data.train, y_train, data.n_classes, *pair, init=(start.weights, start.bias), **terms
    )


def _control(
    data: ProbeData,
    pair: tuple[float, float],
    minimal: Retrained,
    retrain: Retrainer,
    settings: AnalysisSettings,
    task_correct: dict[str, np.ndarray],
    boots: Bootstraps,
    checkpoint: Checkpoint | None = None,
) -> dict:
    """Control task accuracy (all neurons: the oracle's elastic net on the oracle's terms;
    minimal set: the same retraining) and selectivity with paired intervals."""
    y_train, y_dev, y_test = control_labels(data, settings.seed)
    fit = _fit_once(
        checkpoint,
        "control",
        data.train.device,
        lambda: _fit_like_oracle(data, y_train, pair, settings),
    )
    all_correct = correct_of(data.test, fit, None, y_test)
    minimal_control = retrain(task_correct["minimal_neurons"], control=(y_train, y_dev, y_test))
    n = len(y_test)
    minimal_control_correct = minimal_control.correct("test", n)
    return {
        "seed": settings.seed,
        "test_accuracy": float(all_correct.mean()) if n else 0.0,
        "test_accuracy_ci": _ci(boots.test.interval(all_correct)),
        "dev_accuracy": accuracy_of(data.dev, fit, None, y_dev),
        "minimal_test_accuracy": minimal_control.test,
        "selectivity": float(np.mean(task_correct["all"]) - np.mean(all_correct)),
        "selectivity_ci": _ci(interval(boots.test.difference(task_correct["all"], all_correct))),
        "minimal_selectivity": minimal.test - minimal_control.test,
        "minimal_selectivity_ci": _ci(
            interval(boots.test.difference(minimal.correct("test", n), minimal_control_correct))
        ),
        **fit.record(),
    }


def _stability(
    data: ProbeData,
    settings: AnalysisSettings,
    pair,
    init: FitResult,
    retrain: Retrainer,
    threshold: float,
    first,
    weighting: str = "uniform",
) -> dict:
    """Minimal sets from training resamples: spread of sizes/accuracies and pairwise Jaccard."""
    sets, sizes, accs, fits = [first.neurons], [first.size], [first.test_accuracy], []
    dense = data.train
    assert isinstance(dense, DenseDesign)  # analyse() refuses seeds > 1 on a streamed design
    for s in range(1, settings.seeds):
        rng = np.random.default_rng(settings.seed + 1000 * s)
        rows = np.sort(rng.choice(data.train.n_rows, int(0.9 * data.train.n_rows), replace=False))
        sub = ProbeData(
            **{
                **data.__dict__,
                "train": dense.rows(rows),
                "y_train": data.y_train[torch.as_tensor(rows)],
            }
        )
        fit = fit_sparse(
            sub.train,
            sub.y_train,
            data.n_classes,
            *pair,
            init=(init.weights, init.bias),
            max_iter=settings.oracle_iter,
            kkt_tol=settings.kkt_tol,
            solver=settings.solver,
        )
        fits.append(fit.record())
        ranking = rank(
            sub,
            fit,
            settings.method,
            pair[0],
            settings.seed + s,
            weighting,
            max_iter=settings.oracle_iter,
            kkt_tol=settings.kkt_tol,
        )
        result = minimal_set(
            sub, ranking, Retrainer(sub, pair[1], settings.retrain_iter), threshold
        )
        sets.append(result.neurons)
        sizes.append(result.size)
        accs.append(result.test_accuracy)
    jaccard = [
        len(np.intersect1d(a, b)) / max(len(np.union1d(a, b)), 1)
        for i, a in enumerate(sets)
        for b in sets[i + 1 :]
    ]
    membership = np.bincount(np.concatenate(sets), minlength=data.n_neurons) / len(sets)
    return {
        "seeds": settings.seeds,
        "sizes": sizes,
        "test_accuracies": accs,
        "size_mean": float(np.mean(sizes)),
        "size_std": float(np.std(sizes, ddof=1)) if len(sizes) > 1 else 0.0,
        "size_interval": [float(v) for v in np.percentile(sizes, [2.5, 97.5])],
        "jaccard": jaccard,
        "jaccard_mean": float(np.mean(jaccard)) if jaccard else 1.0,
        "membership": {int(n): float(membership[n]) for n in np.flatnonzero(membership)},
        "fits": fits,
    }


def _feasible_percents(data: ProbeData, percents: list[float]) -> list[float]:
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


def _test_predictions(
    data: ProbeData, oracle: FitResult, retrain: Retrainer, minimal: np.ndarray
) -> dict[str, np.ndarray]:
    """Test-split predictions of the all-neuron probe, the minimal-set probe and the all-neuron
    probe with the minimal set zeroed (for confusion matrices side by side)."""
    cols, fit = retrain.fit_for(minimal)
    ablated = oracle.weights.clone()
    ablated[torch.as_tensor(cols)] = 0.0
    return {
        "test_pred_all": data.test.logits(oracle.weights, oracle.bias).argmax(1).numpy(),
        "test_pred_minimal": data.test.logits(fit.weights, fit.bias, cols).argmax(1).numpy(),
        "test_pred_ablated": data.test.logits(ablated, oracle.bias).argmax(1).numpy(),
    }


def _search(data: ProbeData, settings: AnalysisSettings):
    """The regularisation search of ``settings`` (see :func:`search_lambdas`)."""
    return search_lambdas(
        data,
        settings.lambdas,
        rule=settings.rule,
        tolerance=settings.rule_tolerance,
        grid_words=settings.grid_words,
        seed=settings.seed,
        max_iter=settings.oracle_iter,
        kkt_tol=settings.kkt_tol,
        retrain_iter=settings.retrain_iter,
        solver=settings.solver,
        weighting=settings.weighting if settings.method in ("lca", "lasso") else "uniform",
    )


def _prefixes(
    minimal: MinimalSet, curve: Curves, ranking: NeuronRanking, retrain: Retrainer
) -> dict[int, Retrained]:
    """Every measured prefix of the ranking (the minimal-set search's sizes and the curves'
    top-k sizes), by size: the retrainings are remembered, so this refits nothing."""
    sizes = {int(s) for s, _, _ in minimal.curve}
    sizes |= {k for k in curve.sizes if k <= ranking.ranked}
    return {k: retrain(ranking.top(k)) for k in sorted(sizes)}


def _refine_interval(
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


def _minimal_uncertainty(
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
    prefixes = _prefixes(minimal, curve, ranking, retrain)
    draws = minimal_size_draws(prefixes, oracle_correct["dev"], boots.dev, *args)
    if _refine_interval(draws, prefixes, ranking, retrain):
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
        "test_accuracy_ci": _ci(boots.test.interval(test_correct)),
        "gap_ci": _ci(interval(boots.test.difference(oracle_correct["test"], test_correct))),
        "beyond_ranked": bool(minimal.size > ranking.ranked),
        "chance_share": chance,
        "chance_share_interval": _ci(interval(chance_draws)),
        # beyond the largest random size measured: interpolated toward all neurons
        "chance_extrapolated": float(np.mean(chance_draws > curve.sizes[-1] / data.n_neurons)),
        "localization": minimal.fraction / chance,
        "localization_interval": _ci(interval(localization)),
        "prefix_sizes": sorted(prefixes),
        "retrained_converged": float(np.mean([p.converged for p in prefixes.values()])),
    }
    arrays = {
        "minimal_size_draws": draws.astype(np.int64),
        "chance_share_draws": chance_draws.astype(np.float64),
    }
    return info, arrays


def _retrain_record(retrain: Retrainer) -> dict:
    """How many retrained probes reached their gradient tolerance, and the worst gradient."""
    done = retrain.all_retrained()
    grads = [r.grad_max for r in done if np.isfinite(r.grad_max)]
    return {
        "retrained": len(done),
        "retrained_converged": int(sum(r.converged for r in done)),
        "retrained_grad_max": float(max(grads)) if grads else None,
    }


def analyse(
    data: ProbeData,
    settings: AnalysisSettings | None = None,
    callback: ProgressCallback | None = None,
    pool: FitPool | None = None,
    checkpoint: Checkpoint | None = None,
) -> AnalysisResult:
    """Run every step of the analysis on loaded probe data and return the result.

    With a ``pool`` (the Ray engine) the independent retrainings of each step (the coarse
    minimal-set sizes, the top/random/bottom curves, the per-layer probes) run as parallel
    tasks; the lambda search and the oracle, a chain of warm-started fits, run here. With a
    ``checkpoint`` the search, the all-neuron fits and every retrained probe are written there
    as they finish, and whatever an earlier (killed) run of the same analysis wrote is reused.
    """
    settings = settings or AnalysisSettings()
    reuse_freed_memory()
    if settings.seeds > 1 and not isinstance(data.train, DenseDesign):
        raise ConfigError(
            f"--seeds {settings.seeds} resamples the training matrix in memory, but "
            f"{data.model} x {data.task} is streamed from the cache (too large for memory)",
            hint="lower --max-train-words until it fits, or run with --seeds 1",
        )
    timings: dict[str, float] = {}

    def stage(name: str) -> None:
        timings[name] = time.perf_counter()
        if callback:
            callback(name, 0, 1)  # a stage starts; extraction reports within-stage progress itself
        log.info("%s %s: %s", data.model, data.task, name)

    device = data.train.device
    stage("lambda search")
    restored = checkpoint.load_search(device) if checkpoint is not None else None
    if checkpoint is not None and restored is not None:
        search, grid_fit = restored
        log.info("lambda search: taken from the checkpoint in %s", checkpoint.folder)
    else:
        search, grid_fit = _search(data, settings)
        if checkpoint is not None:
            checkpoint.save_search(search, grid_fit)
    pair = search.chosen
    stage("oracle")
    oracle = _fit_once(
        checkpoint,
        "oracle",
        device,
        lambda: fit_sparse(
            data.train,
            data.y_train,
            data.n_classes,
            *pair,
            init=(grid_fit.weights, grid_fit.bias),
            max_iter=settings.oracle_iter,
            kkt_tol=settings.kkt_tol,
            solver=settings.solver,
        ),
    )
    boots = Bootstraps.of(data, settings.bootstrap, settings.seed)
    oracle_correct = {
        "dev": correct_of(data.dev, oracle, None, data.dev.y),
        "test": correct_of(data.test, oracle, None, data.test.y),
    }
    oracle_info = _oracle_summary(data, oracle, pair, oracle_correct, boots)
    stage("ranking")
    ranking = rank(
        data,
        oracle,
        settings.method,
        pair[0],
        settings.seed,
        search.weighting,
        max_iter=settings.oracle_iter,
        kkt_tol=settings.kkt_tol,
    )
    retrain = Retrainer(data, pair[1], settings.retrain_iter, pool, checkpoint)
    if retrain.recorded:
        log.info("%d retrained probes taken from the checkpoint", retrain.recorded)
    stage("minimal set")
    threshold = minimal_threshold(
        oracle_info["dev_accuracy"], settings.delta, settings.relative_delta
    )
    minimal = minimal_set(data, ranking, retrain, threshold)
    stage("curves")
    percents = _feasible_percents(data, sorted(set(settings.percents) | set(QUALITY_PERCENTS)))
    curve, probes = curves(
        data,
        ranking,
        retrain,
        percents,
        settings.random_draws,
        settings.seed,
        settings.tie_draws,
        QUALITY_PERCENTS,
    )
    curve = curve_intervals(curve, probes, boots.test)
    quality = ranking_quality(curve, percents=QUALITY_PERCENTS)
    stage("intervals")
    minimal_info, draw_arrays = _minimal_uncertainty(
        data, settings, minimal, curve, probes, ranking, retrain, oracle_correct, boots
    )
    ablated = ablation(data, oracle, ranking, settings.percents, settings.seed)
    control = None
    if settings.control:
        stage("control")
        control = _control(
            data,
            pair,
            retrain(minimal.neurons),
            retrain,
            settings,
            {"all": oracle_correct["test"], "minimal_neurons": minimal.neurons},
            boots,
            checkpoint,
        )
    layers: dict = {
        "minimal": layer_distribution(minimal.neurons, data.n_layers, data.hidden_size),
        "top": {
            f"{p:g}": layer_distribution(
                ranking.top(percent_size(p, data.n_neurons)), data.n_layers, data.hidden_size
            )
            for p in settings.percents
        },
    }
    if settings.layers:
        stage("layers")
        probes_by_layer = layer_probes(data, retrain)
        layers["probe_dev_accuracy"] = probes_by_layer.dev
        layers["probe_test_accuracy"] = probes_by_layer.test
        layers["probe_test_ci"] = [
            _ci(boots.test.interval(r.correct("test", len(data.test.y))))
            for r in probes_by_layer.probes
        ]
    stability = None
    if settings.seeds > 1:
        stage("stability")
        stability = _stability(
            data, settings, pair, oracle, retrain, threshold, minimal, search.weighting
        )
    predictions = _test_predictions(data, oracle, retrain, minimal.neurons)
    timings["end"] = time.perf_counter()
    names = list(timings)
    durations = {n: round(timings[names[i + 1]] - timings[n], 2) for i, n in enumerate(names[:-1])}
    return AnalysisResult.build(
        data=data,
        settings=settings,
        search=search,
        oracle=oracle,
        oracle_info={**oracle_info, **_retrain_record(retrain)},
        ranking=ranking,
        minimal=minimal,
        minimal_extra=minimal_info,
        curves=curve,
        quality=quality,
        ablation=ablated,
        control=control,
        layers=layers,
        stability=stability,
        class_means=class_means(data.train, data.y_train, data.n_classes),
        timings=durations,
        extra_arrays={
            "feature_mean": np.asarray(data.train.mean, dtype=np.float32),
            "feature_scale": np.asarray(data.train.scale, dtype=np.float32),
            "test_labels": np.asarray(data.test.y, dtype=np.int64),
            **draw_arrays,
            **predictions,
        },
    )


def run_analysis(
    model: str,
    task: str,
    *,
    settings: AnalysisSettings | None = None,
    cache: ActivationCache | str | Path | None = None,
    data_dir: str | Path | None = None,
    max_sentences: int | None = None,
    extract: bool = True,
    device: str = "auto",
    force: bool = False,
    aggregation: str = "last",
    callback: ProgressCallback | None = None,
    engine: str = "local",
    workers: int | None = None,
    preview: bool = False,
) -> AnalysisResult:
    """Analyse ``model`` x ``task``: cached result if the inputs and settings match, else compute.

    ``preview`` marks the result as a preview of the analysis on ``max_sentences`` sentences a
    split (see :mod:`neuronviz.analyses.previews`), which views label and a full analysis replaces.

    ``aggregation`` chooses the word vectors (last, first or mean subword). With
    ``extract=False`` missing activations are an error instead of being extracted.
    ``engine="ray"`` extracts on Ray workers and runs the independent probe fits as Ray tasks
    (``workers`` at a time); the result is the same as the local engine's.
    """
    engine = check_engine(engine)
    from neuronviz.extraction.extract import ExtractionSettings
    from neuronviz.extraction.fill_cache import cached_entries, extract_task
    from neuronviz.models.device import resolve_device

    settings = settings or AnalysisSettings()
    cache = cache if isinstance(cache, ActivationCache) else ActivationCache(cache)
    if extract:
        entries = extract_task(
            model,
            task,
            cache=cache,
            data_dir=data_dir,
            max_sentences=max_sentences,
            device=device,
            settings=ExtractionSettings(aggregation=aggregation),
            callback=callback,
            engine=engine,
            workers=workers,
        ).entries
    else:
        entries = cached_entries(
            model,
            task,
            cache=cache,
            data_dir=data_dir,
            max_sentences=max_sentences,
            settings=ExtractionSettings(aggregation=aggregation),
        )
    store = ResultStore(cache.root)
    if preview and not max_sentences:
        raise ConfigError("a preview needs a sentence sample (max_sentences)")
    key = store.key(entries, task, settings, preview=preview)
    stored_model = entries["train"].manifest.key.model
    if not force:
        found = store.load(stored_model, key)
        if found is not None:
            return found
    checkpoint = Checkpoint.for_result(store.base, stored_model, task, settings.method, key)
    if force:
        checkpoint.remove()
    elif checkpoint.exists():
        log.info("%s x %s: continuing the interrupted run in %s", model, task, checkpoint.folder)
    data = load_probe_data(
        entries, task, max_train_words=settings.max_train_words, device=resolve_device(device)
    )
    pool = None
    if engine == "ray":
        from neuronviz.engines.ray_engine import RayFitPool

        pool = RayFitPool(data, workers=workers)
    result = analyse(data, settings, callback, pool, checkpoint)
    source = model if model in MODELS else entries["train"].manifest.model.get("source", model)
    result = result.with_inputs(
        key=key, entries={s: e.manifest.entry_id for s, e in entries.items()}, model_source=source
    )
    if preview:
        result = replace(result, preview={"sentences": int(max_sentences or 0)})
    store.save(result)
    checkpoint.remove()
    return result
