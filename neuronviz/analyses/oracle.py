"""The all-neuron fits of an analysis: the lambda search, the oracle probe and the control task's probe on the same terms, the ranking read from them, each taken from the checkpoint when a killed run saved it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import torch

from neuronviz.analyses.lambdas import class_means, class_prior, grid_design, search_lambdas
from neuronviz.analyses.settings import AnalysisSettings
from neuronviz.probing.control import control_labels
from neuronviz.probing.features import ProbeData
from neuronviz.probing.metrics import classification_report
from neuronviz.probing.objective import KKT_TOL, FitResult
from neuronviz.probing.probe import fit_sparse
from neuronviz.probing.ranking import (
    NeuronRanking,
    lca_ranking,
    probeless_ranking,
    random_ranking,
)
from neuronviz.probing.retrain import (
    Retrained,
    Retrainer,
    accuracy_of,
    correct_of,
)
from neuronviz.stats.uncertainty import (
    Bootstraps,
    as_interval,
    interval,
)
from neuronviz.store.checkpoints import Checkpoint

__all__ = ["rank"]

log = logging.getLogger(__name__)


def search_and_fit_grid(data: ProbeData, settings: AnalysisSettings):
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


def fit_once(
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


def fit_like_oracle(
    data: ProbeData, y_train: torch.Tensor, pair: tuple[float, float], settings: AnalysisSettings
) -> FitResult:
    """An all-neuron fit on the oracle's terms: the same solver, budget and KKT tolerance, warm
    started the same way (from the same pair's fit on the grid's training prefix)."""
    grid, _ = grid_design(data, settings.grid_words)
    terms = settings.fit_terms()
    start = fit_sparse(grid, y_train[: grid.n_rows], data.n_classes, *pair, **terms)
    return fit_sparse(
        data.train, y_train, data.n_classes, *pair, init=(start.weights, start.bias), **terms
    )


def oracle_summary(
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
        "test_accuracy_ci": as_interval(boots.test.interval(correct["test"])),
        "dev_accuracy_ci": as_interval(boots.dev.interval(correct["dev"])),
        "macro_f1": report.macro_f1,
        "per_class_accuracy": report.per_class_accuracy,
        "support": report.support,
        "zero_weight_fraction": fit.zero_fraction,
        "unused_neurons": int((fit.weights == 0).all(1).sum()),
        **fit.record(),
    }


def predictions_on_test(
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


def control_task(
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
    fit = fit_once(
        checkpoint,
        "control",
        data.train.device,
        lambda: fit_like_oracle(data, y_train, pair, settings),
    )
    all_correct = correct_of(data.test, fit, None, y_test)
    minimal_control = retrain(task_correct["minimal_neurons"], control=(y_train, y_dev, y_test))
    n = len(y_test)
    minimal_control_correct = minimal_control.correct("test", n)
    return {
        "seed": settings.seed,
        "test_accuracy": float(all_correct.mean()) if n else 0.0,
        "test_accuracy_ci": as_interval(boots.test.interval(all_correct)),
        "dev_accuracy": accuracy_of(data.dev, fit, None, y_dev),
        "minimal_test_accuracy": minimal_control.test,
        "selectivity": float(np.mean(task_correct["all"]) - np.mean(all_correct)),
        "selectivity_ci": as_interval(
            interval(boots.test.difference(task_correct["all"], all_correct))
        ),
        "minimal_selectivity": minimal.test - minimal_control.test,
        "minimal_selectivity_ci": as_interval(
            interval(boots.test.difference(minimal.correct("test", n), minimal_control_correct))
        ),
        **fit.record(),
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
