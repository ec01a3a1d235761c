"""Elastic-net linear probes: multinomial logistic regression over neurons.

The probe minimises, over weights ``W`` (features x classes) and an unpenalised bias ``b``::

    mean cross-entropy(Xs @ W + b, y) + lambda1 * sum|W| + lambda2 * sum W**2

on standardised features ``Xs`` (the objective and its optimality conditions:
:mod:`neuronviz.probing.objective`). Two full-batch solvers (:mod:`neuronviz.probing.solvers`)
reach that optimum with exact zeros:
OWL-QN (the default: L-BFGS steered by the L1 pseudo-gradient and kept inside one orthant per
step) and FISTA (accelerated proximal gradient with backtracking and adaptive restart; about 1.7x
slower here). On a matrix streamed from the cache (too large for memory), :func:`fit_sparse`
solves on a *working set* of neurons held in memory and checks the optimality conditions of all
neurons with one pass over the cache per round (see :func:`fit_working_set`). Every fit reports its objective and the largest violation of the optimality (KKT)
conditions, a convergence measure that is zero at the optimum. A fit is *converged* only when that
violation is at most ``kkt_tol`` (default :data:`KKT_TOL`): a flat objective is not convergence
(a fit that stopped on it kept neurons at zero that the optimum uses). ``solver="adam"`` trains as
NeuroX does (minibatch Adam with the penalties added to the loss), for comparison only: it leaves
almost no weight at exactly zero.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

from neuronviz.errors import ConfigError
from neuronviz.models.device import resolve_device
from neuronviz.probing.design import DenseDesign, Design, StreamedDesign
from neuronviz.probing.objective import (
    KKT_TOL,
    FitResult,
    Trace,
    check_lambdas,
    initial_point,
    kkt_violation,
    mean_loss,
    penalties,
    residual,
    violations,
)
from neuronviz.probing.solvers import fit_adam, fit_elastic_net, fit_owlqn

__all__ = ["SOLVERS", "ElasticNetProbe", "fit_sparse", "fit_working_set"]

log = logging.getLogger(__name__)

SOLVERS = ("owlqn", "fista", "adam")
# From this many neurons on, even an in-memory matrix is solved on a working set: with hundreds
# of classes every full product is costly, and the L1 optimum uses a small share of the neurons.
WORKING_SET_FROM = 8192


def fit_sparse(
    design: Design,
    y: torch.Tensor,
    n_classes: int,
    lambda1: float,
    lambda2: float,
    *,
    solver: str = "owlqn",
    init: tuple[torch.Tensor, torch.Tensor] | None = None,
    max_iter: int = 1000,
    kkt_tol: float = KKT_TOL,
    working_set: bool | None = None,
    trace: Trace | None = None,
) -> FitResult:
    """Solve the elastic-net objective with ``solver`` ("owlqn" or "fista"); both give exact zeros.

    Runs until the KKT violation is at most ``kkt_tol`` (``converged``) or ``max_iter``
    iterations are spent. ``working_set`` (default: for streamed designs and designs of
    ``WORKING_SET_FROM`` or more neurons) solves through :func:`fit_working_set`.
    """
    if solver not in ("owlqn", "fista"):
        raise ConfigError(f"unknown solver {solver!r}", hint="use owlqn or fista")
    if working_set is None:
        working_set = isinstance(design, StreamedDesign) or design.n_features >= WORKING_SET_FROM
    if working_set:
        return fit_working_set(
            design,
            y,
            n_classes,
            lambda1,
            lambda2,
            solver=solver,
            init=init,
            max_iter=max_iter,
            kkt_tol=kkt_tol,
            trace=trace,
        )
    return _solve(solver, design, y, n_classes, lambda1, lambda2, init, max_iter, kkt_tol, trace)


def _solve(solver, design, y, n_classes, lambda1, lambda2, init, max_iter, kkt_tol, trace):
    """One in-memory solve with ``solver`` (the two solvers' shared arguments)."""
    fit = fit_owlqn if solver == "owlqn" else fit_elastic_net
    return fit(
        design,
        y,
        n_classes,
        lambda1,
        lambda2,
        init=init,
        max_iter=max_iter,
        kkt_tol=kkt_tol,
        trace=trace,
    )


def fit_working_set(
    design: Design,
    y: torch.Tensor,
    n_classes: int,
    lambda1: float,
    lambda2: float,
    *,
    solver: str = "owlqn",
    init: tuple[torch.Tensor, torch.Tensor] | None = None,
    max_iter: int = 1000,
    kkt_tol: float = KKT_TOL,
    max_rounds: int = 10,
    min_add: int = 512,
    trace: Trace | None = None,
) -> FitResult:
    """The elastic-net optimum over all features, solved on a growing working set.

    With the L1 term most weights are exactly zero at the optimum, and a zero weight is optimal
    exactly when its gradient is within ``lambda1`` of zero (the KKT condition). So: solve on the
    features in use plus the worst violators (a column subset small enough to sit in memory),
    then compute the gradient of *all* features with one pass over the matrix, add the features
    that now violate their condition, and repeat until none outside the set does (to the inner
    solver's own accuracy). The result is the same optimum as a solve over all features; the
    reported KKT violation is measured over all of them, and the fit is converged only when that
    violation is at most ``kkt_tol``. ``max_iter`` bounds each inner solve.
    """
    # Long on purpose: the working-set rounds share the active set, the warm start and the
    # KKT check of the full problem; each round is a call to the inner solver.
    check_lambdas(lambda1, lambda2)
    dev = design.device
    y = y.to(dev)
    p = design.n_features
    w, b = initial_point(y, p, n_classes, init)
    logits = design.logits(w, b) if init is not None else b.expand(len(y), -1)
    r = residual(logits, y)
    g = design.backward(r) + 2 * lambda2 * w
    n_iter, inner_kkt, rounds = 0, 0.0, 0
    inner_solver = solver
    for rounds in range(1, max_rounds + 1):
        viol = violations(g, w, lambda1)
        active = (w != 0).any(1)
        threshold = max(kkt_tol, inner_kkt)
        outside = (~active) & (viol > threshold)
        if rounds > 1 and not bool(outside.any()):
            break
        grow = max(min_add, int(active.sum()))
        candidates = torch.nonzero(outside).flatten()
        if len(candidates) > grow:
            candidates = candidates[torch.topk(viol[candidates], grow).indices]
        chosen = torch.zeros(p, dtype=torch.bool, device=dev)
        chosen[active] = True
        chosen[candidates] = True
        columns = torch.nonzero(chosen).flatten()
        if len(columns) > 0.9 * p:  # nearly every feature matters (weak L1): solve over all
            whole = design.subset(np.arange(p)) if isinstance(design, StreamedDesign) else design
            return _solve(
                solver, whole, y, n_classes, lambda1, lambda2, (w, b), max_iter, kkt_tol, trace
            )
        sub = design.subset(columns.cpu().numpy())
        # its objective is the whole one: the features outside are zero
        fit = _solve(
            solver, sub, y, n_classes, lambda1, lambda2, (w[columns], b), max_iter, kkt_tol, trace
        )
        n_iter += fit.n_iter
        inner_solver = fit.solver
        inner_kkt = fit.kkt_max
        w = torch.zeros_like(w)
        w[columns] = fit.weights
        b = fit.bias
        logits = sub.forward(fit.weights) + b  # the features outside the set are all zero
        r = residual(logits, y)
        g = design.backward(r) + 2 * lambda2 * w
        log.debug(
            "working set round %d: %d of %d features, inner KKT %.1e",
            rounds,
            len(columns),
            p,
            inner_kkt,
        )
    obj = float(mean_loss(logits, y)) + penalties(w, lambda1, lambda2)
    kkt = kkt_violation(g, r.sum(0), w, lambda1)
    log.info(
        "working-set %s: %d rounds, %d of %d features in use, KKT %.1e",
        solver,
        rounds,
        int((w != 0).any(1).sum()),
        p,
        kkt,
    )
    return FitResult(w, b, obj, kkt, n_iter, kkt <= kkt_tol, inner_solver, kkt_tol)


class ElasticNetProbe:
    """A scikit-learn-like elastic-net probe.

    Parameters
    ----------
    lambda1 : float, default=1e-3
        L1 penalty on the weights (sum of absolute values).
    lambda2 : float, default=1e-3
        L2 penalty on the weights (sum of squares). The bias is not penalised.
    solver : {"owlqn", "fista", "adam"}, default="owlqn"
        ``"owlqn"`` and ``"fista"`` solve the objective (sparse weights with exact zeros);
        ``"adam"`` trains like NeuroX (for comparison).
    max_iter : int, default=1000
        Most solver iterations.
    kkt_tol : float, default=1e-4
        Largest violation of the optimality conditions at which the fit counts as converged
        (the solver runs until it gets there or ``max_iter`` is spent).
    device : str, default="auto"
        Where to train: ``"auto"``, ``"cpu"``, ``"cuda"``...
    seed : int, default=0
        Seed for the Adam solver's shuffling and initialisation (FISTA is deterministic).

    Attributes
    ----------
    coef_ : ndarray of shape (n_classes, n_features)
        Weights in standardised feature space (what neuron rankings read).
    intercept_ : ndarray of shape (n_classes,)
    classes_ : ndarray of shape (n_classes,)
    mean_, scale_ : ndarray of shape (n_features,)
        Standardisation statistics of the training data.
    objective_, kkt_max_, n_iter_, converged_ : the solver's report (``converged_`` means
        ``kkt_max_ <= kkt_tol``).
    """

    def __init__(
        self,
        lambda1: float = 1e-3,
        lambda2: float = 1e-3,
        *,
        solver: str = "owlqn",
        max_iter: int = 1000,
        kkt_tol: float = KKT_TOL,
        device: str = "auto",
        seed: int = 0,
    ) -> None:
        self.lambda1 = lambda1
        self.lambda2 = lambda2
        self.solver = solver
        self.max_iter = max_iter
        self.kkt_tol = kkt_tol
        self.device = device
        self.seed = seed

    def get_params(self) -> dict[str, Any]:
        return {
            k: getattr(self, k)
            for k in ("lambda1", "lambda2", "solver", "max_iter", "kkt_tol", "device", "seed")
        }

    def fit(self, X: np.ndarray | Design, y: np.ndarray) -> ElasticNetProbe:
        """Fit on ``X`` (array ``(n_samples, n_features)`` or a :class:`Design`) and labels ``y``."""
        check_lambdas(self.lambda1, self.lambda2)
        if self.solver not in SOLVERS:
            raise ConfigError(
                f"unknown solver {self.solver!r}", hint=f"use one of {', '.join(SOLVERS)}"
            )
        y = np.asarray(y)
        design = (
            X
            if isinstance(X, Design)
            else DenseDesign.from_array(np.asarray(X), device=resolve_device(self.device))
        )
        if design.n_rows != len(y):
            raise ConfigError(f"X has {design.n_rows} rows but y has {len(y)} labels")
        if len(y) == 0:
            raise ConfigError("cannot fit a probe on zero examples")
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ConfigError(f"a probe needs at least 2 classes, found {len(self.classes_)}")
        y_t = torch.as_tensor(y_idx, dtype=torch.int64)
        if self.solver in ("owlqn", "fista"):
            result = fit_sparse(
                design,
                y_t,
                len(self.classes_),
                self.lambda1,
                self.lambda2,
                solver=self.solver,
                max_iter=self.max_iter,
                kkt_tol=self.kkt_tol,
            )
        else:
            if not isinstance(design, DenseDesign):
                raise ConfigError("the adam solver needs the features in memory")
            result = fit_adam(
                design, y_t, len(self.classes_), self.lambda1, self.lambda2, seed=self.seed
            )
        self._set_result(result, design)
        return self

    def _set_result(self, result: FitResult, design: Design) -> None:
        self.result_ = result
        self.coef_ = result.weights.T.cpu().numpy()
        self.intercept_ = result.bias.cpu().numpy()
        self.mean_ = np.asarray(design.mean)
        self.scale_ = np.asarray(design.scale)
        self.objective_ = result.objective
        self.kkt_max_ = result.kkt_max
        self.n_iter_ = result.n_iter
        self.converged_ = result.converged

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Logits ``(n_samples, n_classes)`` for raw (unstandardised) features."""
        xs = (np.asarray(X, dtype=np.float32) - self.mean_) / self.scale_
        return xs.astype(np.float32) @ self.coef_.T + self.intercept_

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        z = self.decision_function(X)
        z -= z.max(1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(1, keepdims=True)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]

    def score(self, X: np.ndarray, y: np.ndarray) -> float:
        """Accuracy on ``(X, y)``; labels unseen in training count as errors."""
        return float(np.mean(self.predict(X) == np.asarray(y)))
