"""Choosing the regularisation for the ranking, not for accuracy alone.

Every (lambda1, lambda2) pair of the grid is fitted on a prefix of the training split, warm
started along the path from the strongest penalties down. The ``accuracy`` rule picks the best
dev accuracy. The default ``separation`` rule considers the pairs whose dev accuracy is within
``rule_tolerance`` points of the best and picks the one whose *ranking separates best* on dev:
for k = 1% and 5% of the neurons, (top-k - random-k) + (top-k - bottom-k) retrained dev
accuracy, averaged. Bottom-k is the method's own: where it falls among the neurons the probe
gives no weight (a tie), it is averaged over random tie orders, as in the final analysis. Near-zero penalties win on accuracy by a hair but give rankings barely better
than chance; a top-neuron chart built on such a ranking would mean nothing.

With ``weighting="auto"`` (the default) the separation of each candidate pair is measured for
both class weightings of the weight-mass ranking (``uniform``, the paper's, and ``frequency``,
see :mod:`neuronviz.probing.ranking`) and the best (pair, weighting) is chosen; the random draws are the
same for both, so the comparison is paired.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from neuronviz.errors import ConfigError
from neuronviz.probing.design import DenseDesign, Design, StreamedDesign
from neuronviz.probing.features import ProbeData
from neuronviz.probing.objective import KKT_TOL, FitResult
from neuronviz.probing.probe import fit_sparse
from neuronviz.probing.ranking import WEIGHTINGS, NeuronRanking, lca_ranking
from neuronviz.probing.retrain import MIN_RIDGE, RETRAIN_TOL, accuracy_of, percent_size
from neuronviz.probing.solvers import fit_ridge
from neuronviz.progress import ProgressCallback
from neuronviz.store.result_parts import GridPoint

__all__ = ["LambdaSearch", "class_means", "class_prior", "search_lambdas"]

log = logging.getLogger(__name__)

GRID_TIE_DRAWS = 2  # tie orders a grid pair's bottom-k (in the all-zero tie) is averaged over


def pair_of(point: GridPoint) -> tuple[float, float]:
    return point.lambda1, point.lambda2


def class_prior(y: torch.Tensor, n_classes: int) -> np.ndarray:
    """Training frequency of each class (sums to 1)."""
    counts = torch.bincount(y.cpu(), minlength=n_classes).double().numpy()
    return counts / max(counts.sum(), 1.0)


def class_means(design: Design, y: torch.Tensor, n_classes: int) -> np.ndarray:
    """Class-conditional means of the standardised features, shape ``(classes, neurons)``."""
    y = y.to(design.device)  # labels live on the CPU; the design may sit on a GPU
    counts = torch.bincount(y, minlength=n_classes).float().clamp(min=1)
    onehot = torch.zeros(design.n_rows, n_classes, device=design.device)
    onehot[torch.arange(design.n_rows, device=design.device), y] = 1.0
    return (design.backward(onehot / counts)).T.cpu().numpy()


def _grid_separation(
    data: ProbeData,
    grid: Design,
    y: torch.Tensor,
    ranking: NeuronRanking,
    lambda2: float,
    seed: int,
    max_iter: int,
    random_cache: dict | None = None,
) -> tuple[float, dict, dict, dict]:
    """Top-k minus random-k and bottom-k dev accuracy at 1% and 5%, probes on the grid subset.

    ``random_cache`` keeps the random-k accuracies per (lambda2, percent) so rankings compared
    on one pair share their random baseline (and its cost). Top-k and bottom-k that reach into
    the ranking's tie are averaged over ``GRID_TIE_DRAWS`` tie orders.
    """
    lam = max(lambda2, MIN_RIDGE)
    cache = {} if random_cache is None else random_cache
    top, rand, bottom = {}, {}, {}
    gaps = []
    for percent in (1, 5):
        k = percent_size(percent, data.n_neurons)

        def score(cols: np.ndarray) -> float:
            fit = fit_ridge(
                grid.subset(cols), y, data.n_classes, lam, max_iter=max_iter, tol_grad=RETRAIN_TOL
            )
            return accuracy_of(data.dev, fit, np.asarray(cols), data.dev.y)

        top[str(percent)] = float(
            np.mean([score(c) for c in ranking.top_sets(k, GRID_TIE_DRAWS, seed)])
        )
        bottom[str(percent)] = float(
            np.mean([score(c) for c in ranking.bottom_sets(k, GRID_TIE_DRAWS, seed)])
        )
        if (lam, percent) not in cache:
            rng = np.random.default_rng([seed, percent])
            cache[(lam, percent)] = float(
                np.mean([score(rng.choice(data.n_neurons, k, replace=False)) for _ in range(3)])
            )
        rand[str(percent)] = cache[(lam, percent)]
        gaps.append(
            (top[str(percent)] - rand[str(percent)]) + (top[str(percent)] - bottom[str(percent)])
        )
    return float(np.mean(gaps)) / 2, top, rand, bottom


@dataclass(frozen=True)
class LambdaSearch:
    """The regularisation search: every grid point, the rule and the chosen pair."""

    points: list[GridPoint]
    rule: str
    tolerance: float
    chosen: tuple[float, float]
    grid_words: int
    weighting: str = "uniform"
    # "l1,l2" -> the full neuron ordering of that pair's grid fit (stored as an array, not JSON)
    pair_orders: dict[str, np.ndarray] = field(default_factory=dict, repr=False)


def grid_design(data: ProbeData, words: int) -> tuple[Design, torch.Tensor]:
    n = min(words, data.train.n_rows)
    if isinstance(data.train, DenseDesign):
        return DenseDesign(data.train.data[:n], data.train.mean, data.train.scale), data.y_train[:n]
    train = data.train
    assert isinstance(train, StreamedDesign)
    sub = StreamedDesign(
        train.entry,
        mean=train.mean,
        scale=train.scale,
        rows=slice(0, n),
        columns=train.columns,
        device=train.device,
        dense_bytes=train.dense_bytes,
    )
    return sub, data.y_train[:n]


def search_lambdas(
    data: ProbeData,
    lambdas,
    *,
    rule: str = "separation",
    tolerance: float = 1.5,
    grid_words: int = 20_000,
    seed: int = 0,
    max_iter: int = 1000,
    kkt_tol: float = KKT_TOL,
    retrain_iter: int = 200,
    solver: str = "owlqn",
    weighting: str = "auto",
    callback: ProgressCallback | None = None,
) -> tuple[LambdaSearch, FitResult]:
    """Fit every grid pair on a training prefix and pick one; returns the search and the chosen
    pair's fit (a warm start for the oracle).

    ``weighting`` is the class weighting of the weight-mass ranking: ``uniform``, ``frequency``
    or ``auto`` (both are scored under the separation rule; the accuracy rule keeps uniform).
    """
    if weighting not in ("auto", *WEIGHTINGS):
        raise ConfigError(
            f"unknown class weighting {weighting!r}", hint="use auto, uniform or frequency"
        )
    grid, y = grid_design(data, grid_words)
    prior = class_prior(y, data.n_classes)
    variants = list(WEIGHTINGS) if weighting == "auto" else [weighting]
    pairs = sorted(set(map(tuple, lambdas)), key=lambda p: (-p[1], -p[0]))
    points, fits = _fit_grid(
        data, grid, y, pairs, max_iter=max_iter, kkt_tol=kkt_tol, solver=solver, callback=callback
    )
    if rule == "accuracy" or len(points) == 1:
        best = max(
            range(len(points)), key=lambda j: (points[j].dev_accuracy, sum(pair_of(points[j])))
        )
        fixed = "uniform" if weighting == "auto" else weighting
        points[best] = chosen_point = replace(points[best], weighting=fixed)
    else:
        points = _score_candidates(
            data, grid, y, points, fits, variants, prior, tolerance, seed, retrain_iter
        )
        chosen_point = max(
            (p for p in points if p.candidate), key=lambda p: (p.separation, p.dev_accuracy)
        )
    chosen = (chosen_point.lambda1, chosen_point.lambda2)
    log.info(
        "lambda search (%s rule): chose lambda1=%g lambda2=%g, %s class weighting",
        rule,
        *chosen,
        chosen_point.weighting,
    )
    prior_used = prior if chosen_point.weighting == "frequency" else None
    orders = {
        f"{l1:g},{l2:g}": lca_ranking(
            fit.weights.T.cpu().numpy(), data.classes, class_weights=prior_used, tie_seed=seed
        ).order
        for (l1, l2), fit in fits.items()
    }
    search = LambdaSearch(
        points, rule, tolerance, chosen, grid.n_rows, chosen_point.weighting, orders
    )
    return search, fits[chosen]


def _fit_grid(
    data: ProbeData,
    grid: Design,
    y: torch.Tensor,
    pairs: list[tuple[float, float]],
    *,
    max_iter: int,
    kkt_tol: float,
    solver: str,
    callback: ProgressCallback | None,
) -> tuple[list[GridPoint], dict[tuple[float, float], FitResult]]:
    """Every pair fitted on the grid prefix, each warm started from the previous (more
    regularised) pair's fit, with its dev accuracy, sparsity and convergence."""
    points: list[GridPoint] = []
    fits: dict[tuple[float, float], FitResult] = {}
    init = None
    for i, (l1, l2) in enumerate(pairs):
        if callback:
            callback("lambda search", i, len(pairs))
        fit = fit_sparse(
            grid,
            y,
            data.n_classes,
            l1,
            l2,
            init=init,
            max_iter=max_iter,
            kkt_tol=kkt_tol,
            solver=solver,
        )
        init = (fit.weights, fit.bias)
        fits[(l1, l2)] = fit
        points.append(
            GridPoint(
                l1,
                l2,
                accuracy_of(data.dev, fit, None, data.dev.y),
                fit.objective,
                fit.kkt_max,
                fit.zero_fraction,
                fit.n_iter,
                converged=fit.converged,
            )
        )
    return points, fits


def _score_candidates(
    data: ProbeData,
    grid: Design,
    y: torch.Tensor,
    points: list[GridPoint],
    fits: dict[tuple[float, float], FitResult],
    variants: list[str],
    prior: np.ndarray,
    tolerance: float,
    seed: int,
    retrain_iter: int,
) -> list[GridPoint]:
    """The separation rule's candidates (dev accuracy within ``tolerance`` points of the best)
    scored under each class weighting; each keeps the weighting that separates best."""
    best = max(p.dev_accuracy for p in points)
    scored = []
    random_cache: dict = {}
    for p in points:
        if best - p.dev_accuracy <= tolerance / 100 + 1e-12:
            w = fits[(p.lambda1, p.lambda2)].weights.T.cpu().numpy()
            by_weighting = {}
            for variant in variants:
                ranking = lca_ranking(
                    w,
                    data.classes,
                    class_weights=prior if variant == "frequency" else None,
                    tie_seed=seed,
                )
                by_weighting[variant] = _grid_separation(
                    data, grid, y, ranking, p.lambda2, seed, retrain_iter, random_cache
                )
            variant = max(variants, key=lambda v: by_weighting[v][0])
            sep, top, rand, bottom = by_weighting[variant]
            p = replace(
                p,
                separation=sep,
                top=top,
                random=rand,
                bottom=bottom,
                candidate=True,
                weighting=variant,
                separation_by_weighting={v: r[0] for v, r in by_weighting.items()},
            )
        scored.append(p)
    return scored
