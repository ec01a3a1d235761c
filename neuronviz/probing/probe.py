"""Elastic-net linear probes: multinomial logistic regression over neurons.

The probe minimises, over weights ``W`` (features x classes) and an unpenalised bias ``b``::

    mean cross-entropy(Xs @ W + b, y) + lambda1 * sum|W| + lambda2 * sum W**2

on standardised features ``Xs``. Two full-batch solvers reach that optimum with exact zeros:
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
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from neuronviz.errors import ConfigError
from neuronviz.models.device import resolve_device
from neuronviz.probing.design import DenseDesign, Design, StreamedDesign
from neuronviz.progress import beat

__all__ = [
    "KKT_TOL",
    "SOLVERS",
    "ElasticNetProbe",
    "FitResult",
    "fit_elastic_net",
    "fit_owlqn",
    "fit_ridge",
    "fit_sparse",
    "fit_working_set",
    "objective_value",
]

log = logging.getLogger(__name__)

SOLVERS = ("owlqn", "fista", "adam")
Trace = list[tuple[float, int, float]]  # (time.perf_counter(), iteration, objective)
# From this many neurons on, even an in-memory matrix is solved on a working set: with hundreds
# of classes every full product is costly, and the L1 optimum uses a small share of the neurons.
WORKING_SET_FROM = 8192
# A fit counts as converged when no optimality condition is violated by more than this: a zero
# weight whose gradient exceeds lambda1 by less than this is as good as optimal for the ranking.
KKT_TOL = 1e-4


@dataclass
class FitResult:
    """A solved probe in standardised space: ``logits = Xs @ weights + bias``."""

    weights: torch.Tensor  # (features, classes)
    bias: torch.Tensor  # (classes,)
    objective: float
    kkt_max: float
    n_iter: int
    converged: bool  # kkt_max <= kkt_tol, never because the objective stopped moving
    solver: str
    kkt_tol: float = KKT_TOL

    @property
    def zero_fraction(self) -> float:
        return float((self.weights == 0).float().mean())

    def record(self) -> dict:
        """The fit's convergence record, as results and checkpoints store it."""
        return {
            "objective": float(self.objective),
            "kkt_max": float(self.kkt_max),
            "kkt_tol": float(self.kkt_tol),
            "n_iter": int(self.n_iter),
            "converged": bool(self.converged),
            "solver": self.solver,
        }


def _check_lambdas(lambda1: float, lambda2: float) -> None:
    for name, value in (("lambda1", lambda1), ("lambda2", lambda2)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
            raise ConfigError(f"{name} must be a finite number >= 0, got {value!r}")


def _f64(t: torch.Tensor) -> torch.Tensor:
    """``t`` in float64, on the CPU where its device has no float64 (Apple's MPS)."""
    return (t.cpu() if t.device.type == "mps" else t).double()


def _loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # Rows in the logits' precision, their mean in float64: near the optimum the line searches
    # compare objectives that differ by less than a float32 sum of 10^5 rows can resolve.
    return _f64(torch.logsumexp(logits, 1) - logits.gather(1, y[:, None])[:, 0]).mean()


def _residual(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Gradient of the mean cross-entropy with respect to the logits."""
    return _loss_and_residual(logits, y)[1]


def _loss_and_residual(logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`_loss` and :func:`_residual` from one exponential pass over the logits.

    For small neuron sets the per-word softmax, not the matrix product, is most of a solver
    step (190,731 words x 44 tags: about 3x faster than two passes, ``bench/solver_steps.py``);
    the loss is the same number as :func:`_loss` (same max-shifted log-sum-exp, float64 mean).
    """
    rows = torch.arange(len(y), device=y.device)
    top = logits.amax(1, keepdim=True)
    e = torch.sub(logits, top).exp_()
    total = e.sum(1, keepdim=True)
    loss = _f64(top[:, 0] + total[:, 0].log() - logits[rows, y]).mean()
    e.div_(total)
    e[rows, y] -= 1.0
    return loss, e.div_(len(y))


def objective_value(
    design: Design, y: torch.Tensor, weights, bias, lambda1: float, lambda2: float
) -> float:
    """The elastic-net objective at ``(weights, bias)``."""
    logits = design.logits(weights, bias)
    return float(
        _loss(logits, y) + lambda1 * weights.abs().sum() + lambda2 * (weights * weights).sum()
    )


def kkt_violation(
    gradient: torch.Tensor, grad_bias: torch.Tensor, weights: torch.Tensor, lambda1: float
) -> float:
    """Largest violation of the optimality conditions (0 at the optimum).

    For ``w != 0``: ``|g + lambda1 * sign(w)|``; for ``w == 0``: ``max(|g| - lambda1, 0)``;
    for the bias: ``|g_b|``. ``gradient`` is that of the smooth part (loss + L2 term).
    """
    nonzero = weights != 0
    at_nonzero = (gradient + lambda1 * torch.sign(weights)).abs()
    at_zero = (gradient.abs() - lambda1).clamp(min=0)
    worst = (
        torch.where(nonzero, at_nonzero, at_zero).max() if weights.numel() else torch.tensor(0.0)
    )
    return float(max(worst, grad_bias.abs().max()))


def _penalties(w: torch.Tensor, lambda1: float, lambda2: float) -> float:
    """``lambda1 * sum|w| + lambda2 * sum w**2``, summed in float64 (see :func:`_loss`)."""
    l1 = float(_f64(w.abs()).sum()) if lambda1 else 0.0
    l2 = float(_f64(w * w).sum()) if lambda2 else 0.0
    return lambda1 * l1 + lambda2 * l2


def _initial_point(
    y: torch.Tensor,
    n_features: int,
    n_classes: int,
    init: tuple[torch.Tensor, torch.Tensor] | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``init`` (copied), or zero weights with the class priors as bias (the optimum at W = 0)."""
    if init is not None:
        return init[0].to(y.device).clone(), init[1].to(y.device).clone()
    counts = torch.bincount(y, minlength=n_classes).float() + 1e-3
    w = torch.zeros(n_features, n_classes, device=y.device)
    return w, torch.log(counts / counts.sum())


def fit_elastic_net(
    design: Design,
    y: torch.Tensor,
    n_classes: int,
    lambda1: float,
    lambda2: float,
    *,
    init: tuple[torch.Tensor, torch.Tensor] | None = None,
    max_iter: int = 1000,
    tol: float = 1e-6,
    kkt_tol: float = KKT_TOL,
    trace: Trace | None = None,
    callback: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None,
) -> FitResult:
    """Solve the elastic-net probe objective with FISTA (backtracking, adaptive restart).

    Stops when the KKT violation is at most ``kkt_tol`` (checked whenever the relative objective
    change has stayed below ``tol`` for 5 iterations, and every 25 iterations), or after
    ``max_iter`` iterations, not converged. ``trace`` (a list) gets
    ``(time.perf_counter(), iteration, objective)`` after every step taken.
    """
    _check_lambdas(lambda1, lambda2)
    y = y.to(design.device)
    d = design.n_features
    w, b = _initial_point(y, d, n_classes, init)
    if d == 0:
        return _fit_bias_only(y, n_classes, b)

    # Step size: backtracking from a fraction of the Lipschitz bound 0.5 * ||Xs||^2 / n + 2 lambda2.
    lipschitz = 0.5 * design.spectral_norm_sq() / design.n_rows + 2 * lambda2
    step_l = max(lipschitz / 8, 1e-6)
    logits_w = design.logits(w, b)
    obj = float(_loss(logits_w, y)) + _penalties(w, lambda1, lambda2)
    wy, by, logits_y = w, b, logits_w
    t = 1.0
    stall = 0
    n_iter = 0
    kkt = float("inf")
    for n_iter in range(1, max_iter + 1):
        loss_y, r = _loss_and_residual(logits_y, y)
        f_y = float(loss_y) + _penalties(wy, 0.0, lambda2)
        g_w = design.backward(r) + 2 * lambda2 * wy
        g_b = r.sum(0)
        while True:
            w_new = wy - g_w / step_l
            w_new = torch.sign(w_new) * (w_new.abs() - lambda1 / step_l).clamp(min=0)
            b_new = by - g_b / step_l
            logits_new = design.logits(w_new, b_new)
            f_new = float(_loss(logits_new, y)) + _penalties(w_new, 0.0, lambda2)
            dw, db = w_new - wy, b_new - by
            bound = (
                f_y
                + float((g_w * dw).sum() + (g_b * db).sum())
                + 0.5 * step_l * float((dw * dw).sum() + (db * db).sum())
            )
            if f_new <= bound + 1e-12 * abs(f_y) or step_l > 1e12:
                break
            step_l *= 2.0
        obj_new = f_new + _penalties(w_new, lambda1, 0.0)
        if obj_new > obj:  # adaptive restart: drop the momentum, step again from w
            t = 1.0
            wy, by, logits_y = w, b, logits_w
            stall = 0
            continue
        rel = (obj - obj_new) / max(abs(obj_new), 1.0)
        stall = stall + 1 if rel < tol else 0
        t_new = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
        beta = (t - 1.0) / t_new
        wy = w_new + beta * (w_new - w)
        by = b_new + beta * (b_new - b)
        logits_y = logits_new + beta * (logits_new - logits_w)
        w, b, logits_w, obj, t = w_new, b_new, logits_new, obj_new, t_new
        if trace is not None:
            trace.append((time.perf_counter(), n_iter, obj))
        beat(n_iter, max_iter, "iteration")
        if callback is not None:
            callback(n_iter, w, b)
        step_l *= 0.9  # let the step grow again where the surface is flatter
        if stall >= 5 or n_iter % 25 == 0:
            kkt = _kkt_at(design, y, w, b, logits_w, lambda1, lambda2)
            if kkt <= kkt_tol:
                break
            stall = 0
    kkt = _kkt_at(design, y, w, b, logits_w, lambda1, lambda2)
    if kkt > kkt_tol:
        log.debug("FISTA stopped after %d iterations with KKT violation %.2e", n_iter, kkt)
    return FitResult(w, b, obj, kkt, n_iter, kkt <= kkt_tol, "fista", kkt_tol)


def _pseudo_gradient(g: torch.Tensor, w: torch.Tensor, lambda1: float) -> torch.Tensor:
    """Steepest-descent (minimum-norm) subgradient of ``f + lambda1 * |w|`` at ``w``."""
    right = g + lambda1
    left = g - lambda1
    at_zero = torch.where(right < 0, right, torch.where(left > 0, left, torch.zeros_like(g)))
    return torch.where(w > 0, right, torch.where(w < 0, left, at_zero))


def fit_owlqn(
    design: Design,
    y: torch.Tensor,
    n_classes: int,
    lambda1: float,
    lambda2: float,
    *,
    init: tuple[torch.Tensor, torch.Tensor] | None = None,
    max_iter: int = 1000,
    kkt_tol: float = KKT_TOL,
    history: int = 10,
    trace: Trace | None = None,
    callback: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None,
) -> FitResult:
    """Solve the elastic-net objective with OWL-QN (Andrew and Gao, 2007).

    L-BFGS on the smooth part, steered by the L1 pseudo-gradient and kept inside one orthant per
    step, so weights that reach zero stay exactly zero. It needs several times fewer passes over
    the data than FISTA on these problems. Stops when the KKT violation is at most ``kkt_tol``
    (converged) or after ``max_iter`` iterations (not converged); a flat objective does not stop
    it (in the tail the objective moves by 1e-6 per step while zero weights still violate their
    condition by several times ``kkt_tol``). When no descent step is found, even with the
    curvature memory dropped, it hands the rest of its budget to FISTA from the point reached
    (``solver`` then reads ``owlqn+fista``). ``trace`` (a list)
    gets ``(time.perf_counter(), iteration, objective)`` after every step taken: how fast the
    objective falls, which ``bench/peers.py`` compares with where other tools stop. ``callback``
    is called with ``(iteration, weights, bias)`` after every step taken (for diagnostics such
    as held-out accuracy along the path; it must not modify them).
    """
    _check_lambdas(lambda1, lambda2)
    y = y.to(design.device)
    if design.n_features == 0:
        return _fit_bias_only(y, n_classes, torch.zeros(n_classes, device=y.device))
    w, b = _initial_point(y, design.n_features, n_classes, init)

    def smooth(w_, b_):
        """The smooth part at a point, and the logits' residual (for the gradient if the point
        is taken: computed with the loss, one softmax pass for both)."""
        loss, r = _loss_and_residual(design.logits(w_, b_), y)
        return float(loss) + _penalties(w_, 0.0, lambda2), r

    def gradient(w_, r):
        return design.backward(r) + 2 * lambda2 * w_, r.sum(0)

    f, r = smooth(w, b)
    gw, gb = gradient(w, r)
    obj = f + _penalties(w, lambda1, 0.0)
    s_list: list[tuple[torch.Tensor, torch.Tensor]] = []
    y_list: list[tuple[torch.Tensor, torch.Tensor]] = []
    n_iter, kkt = 0, float("inf")
    for n_iter in range(1, max_iter + 1):
        pw = _pseudo_gradient(gw, w, lambda1)
        kkt = float(max(pw.abs().max(), gb.abs().max()))
        if kkt <= kkt_tol:
            break
        step = _owlqn_step(pw, gb, w, b, obj, s_list, y_list, smooth, lambda1)
        if step is None:  # no descent: drop the curvature memory; without any, hand over
            if not s_list:
                return _fista_rescue(
                    design,
                    y,
                    n_classes,
                    lambda1,
                    lambda2,
                    (w, b),
                    n_iter,
                    max_iter,
                    kkt_tol,
                    trace,
                    kkt,
                    callback,
                )
            s_list.clear()
            y_list.clear()
            continue
        w_new, b_new, obj_new, r_new = step
        gw_new, gb_new = gradient(w_new, r_new)
        sw, sb = w_new - w, b_new - b
        yw, yb = gw_new - gw, gb_new - gb
        if float((sw * yw).sum() + (sb * yb).sum()) > 1e-10:
            s_list.append((sw, sb))
            y_list.append((yw, yb))
            if len(s_list) > history:
                s_list.pop(0)
                y_list.pop(0)
        w, b, gw, gb, obj = w_new, b_new, gw_new, gb_new, obj_new
        if trace is not None:
            trace.append((time.perf_counter(), n_iter, obj))
        beat(n_iter, max_iter, "iteration")
        if callback is not None:
            callback(n_iter, w, b)
    pw = _pseudo_gradient(gw, w, lambda1)
    kkt = float(max(pw.abs().max(), gb.abs().max()))
    if kkt > kkt_tol:
        log.debug("OWL-QN stopped after %d iterations with KKT violation %.2e", n_iter, kkt)
    return FitResult(w, b, obj, kkt, n_iter, kkt <= kkt_tol, "owlqn", kkt_tol)


def _owlqn_step(pw, pb, w, b, obj, s_list, y_list, smooth, lambda1):
    """One orthant-projected quasi-Newton step with a backtracking line search.

    Returns ``(w, b, objective, residual)`` at the new point, or None when it finds no descent.
    """
    dw, db = _two_loop(pw, pb, s_list, y_list)
    dw = torch.where(dw * pw < 0, dw, torch.zeros_like(dw))  # keep the descent orthant of -pw
    orthant = torch.where(w != 0, torch.sign(w), -torch.sign(pw))
    step = 1.0 if s_list else 1.0 / max(float(torch.sqrt((pw * pw).sum() + (pb * pb).sum())), 1e-12)
    first_step = step  # at most 14 halvings: a direction needing more is not worth following
    slope = float((pw * dw).sum() + (pb * db).sum())
    while True:
        w_new = w + step * dw
        w_new = torch.where(torch.sign(w_new) == orthant, w_new, torch.zeros_like(w_new))
        b_new = b + step * db
        f_new, r_new = smooth(w_new, b_new)
        obj_new = f_new + _penalties(w_new, lambda1, 0.0)
        decrease = float((pw * (w_new - w)).sum() + (pb * (b_new - b)).sum())
        if obj_new <= obj + 1e-4 * decrease or step < 1e-4 * first_step:
            break
        step *= 0.5
    if slope >= 0 or obj_new > obj:
        return None
    return w_new, b_new, obj_new, r_new


def _fista_rescue(
    design,
    y,
    n_classes,
    lambda1,
    lambda2,
    point,
    n_iter,
    max_iter,
    kkt_tol,
    trace,
    kkt,
    callback=None,
) -> FitResult:
    """OWL-QN found no descent step: FISTA continues from ``point`` with the budget left; its
    steps are numbered after OWL-QN's in ``trace`` and for ``callback``."""
    log.debug("OWL-QN stalled at KKT %.2e after %d iterations; FISTA continues", kkt, n_iter)
    steps: Trace = []
    rest = fit_elastic_net(
        design,
        y,
        n_classes,
        lambda1,
        lambda2,
        init=point,
        max_iter=max(max_iter - n_iter, 1),
        kkt_tol=kkt_tol,
        trace=steps,
        callback=None if callback is None else (lambda it, w, b: callback(n_iter + it, w, b)),
    )
    if trace is not None:
        trace.extend((t, n_iter + it, obj) for t, it, obj in steps)
    return replace(rest, n_iter=n_iter + rest.n_iter, solver="owlqn+fista")


def _two_loop(gw, gb, s_list, y_list):
    """L-BFGS two-loop recursion: ``-H g`` for the stored curvature pairs."""
    qw, qb = gw.clone(), gb.clone()
    alphas = []
    for (sw, sb), (yw, yb) in zip(reversed(s_list), reversed(y_list), strict=True):
        rho = 1.0 / float((yw * sw).sum() + (yb * sb).sum())
        alpha = rho * float((sw * qw).sum() + (sb * qb).sum())
        qw -= alpha * yw
        qb -= alpha * yb
        alphas.append((rho, alpha))
    if s_list:
        (sw, sb), (yw, yb) = s_list[-1], y_list[-1]
        gamma = float((sw * yw).sum() + (sb * yb).sum()) / float((yw * yw).sum() + (yb * yb).sum())
        qw *= gamma
        qb *= gamma
    for ((sw, sb), (yw, yb)), (rho, alpha) in zip(
        zip(s_list, y_list, strict=True), reversed(alphas), strict=True
    ):
        beta = rho * float((yw * qw).sum() + (yb * qb).sum())
        qw += (alpha - beta) * sw
        qb += (alpha - beta) * sb
    return -qw, -qb


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


def _violations(g: torch.Tensor, w: torch.Tensor, lambda1: float) -> torch.Tensor:
    """Per feature, the largest KKT violation over classes (see :func:`kkt_violation`)."""
    at_nonzero = (g + lambda1 * torch.sign(w)).abs()
    at_zero = (g.abs() - lambda1).clamp(min=0)
    return torch.where(w != 0, at_nonzero, at_zero).amax(1)


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
    _check_lambdas(lambda1, lambda2)
    dev = design.device
    y = y.to(dev)
    p = design.n_features
    w, b = _initial_point(y, p, n_classes, init)
    logits = design.logits(w, b) if init is not None else b.expand(len(y), -1)
    r = _residual(logits, y)
    g = design.backward(r) + 2 * lambda2 * w
    n_iter, inner_kkt, rounds = 0, 0.0, 0
    inner_solver = solver
    for rounds in range(1, max_rounds + 1):
        viol = _violations(g, w, lambda1)
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
        r = _residual(logits, y)
        g = design.backward(r) + 2 * lambda2 * w
        log.debug(
            "working set round %d: %d of %d features, inner KKT %.1e",
            rounds,
            len(columns),
            p,
            inner_kkt,
        )
    obj = float(_loss(logits, y)) + _penalties(w, lambda1, lambda2)
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


def _kkt_at(design, y, w, b, logits, lambda1, lambda2) -> float:
    r = _residual(logits, y)
    return kkt_violation(design.backward(r) + 2 * lambda2 * w, r.sum(0), w, lambda1)


def _fit_bias_only(y: torch.Tensor, n_classes: int, b: torch.Tensor) -> FitResult:
    counts = torch.bincount(y, minlength=n_classes).float()
    bias = torch.log(counts.clamp(min=1e-12) / counts.sum())
    loss = float(_loss(bias.expand(len(y), -1), y))
    return FitResult(torch.zeros(0, n_classes, device=y.device), bias, loss, 0.0, 0, True, "fista")


def fit_ridge(
    design: Design,
    y: torch.Tensor,
    n_classes: int,
    lambda2: float,
    *,
    max_iter: int = 100,
    tol: float = 1e-7,
    tol_grad: float = 1e-6,
) -> FitResult:
    """Solve the smooth probe (``lambda1 = 0``) with full-batch L-BFGS and a strong-Wolfe search.

    Stops when the largest gradient entry (the KKT violation of this smooth problem) is below
    ``tol_grad`` (``converged``, with ``kkt_tol = tol_grad``), when the objective stops moving
    (``tol``), or after ``max_iter`` iterations; the last two are reported as not converged.

    Used to *retrain* probes on chosen neurons (top-k, random-k, minimal sets, single layers):
    there the question is how much those neurons know, which an L1 term would blur by dropping
    some of them, and the smooth problem converges in far fewer passes than FISTA needs.
    """
    _check_lambdas(0.0, lambda2)
    dev = design.device
    y = y.to(dev)
    if design.n_features == 0:
        return _fit_bias_only(y, n_classes, torch.zeros(n_classes, device=dev))
    counts = torch.bincount(y, minlength=n_classes).float() + 1e-3
    w = torch.zeros(design.n_features, n_classes, device=dev, requires_grad=True)
    b = torch.log(counts / counts.sum()).requires_grad_(True)
    optimizer = torch.optim.LBFGS(
        [w, b],
        lr=1.0,
        max_iter=max_iter,
        tolerance_grad=tol_grad,
        tolerance_change=tol,
        history_size=20,
        line_search_fn="strong_wolfe",
    )
    evaluations = [0]

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        with torch.no_grad():
            loss, r = _loss_and_residual(design.logits(w, b), y)
            w.grad = design.backward(r) + 2 * lambda2 * w
            b.grad = r.sum(0)
        evaluations[0] += 1
        beat(evaluations[0], max_iter, "step")
        return loss + lambda2 * (w.detach() * w.detach()).sum()

    optimizer.step(closure)
    w, b = w.detach(), b.detach()
    logits = design.logits(w, b)
    obj = float(_loss(logits, y) + lambda2 * (w * w).sum())
    kkt = _kkt_at(design, y, w, b, logits, 0.0, lambda2)
    return FitResult(w, b, obj, kkt, evaluations[0], kkt <= tol_grad, "lbfgs", tol_grad)


def fit_adam(
    design: DenseDesign,
    y: torch.Tensor,
    n_classes: int,
    lambda1: float,
    lambda2: float,
    *,
    epochs: int = 10,
    batch_size: int = 32,
    learning_rate: float = 1e-3,
    seed: int = 0,
) -> FitResult:
    """NeuroX-style training: minibatch Adam on loss + penalties (kept for parity checks)."""
    _check_lambdas(lambda1, lambda2)
    dev = design.device
    y = y.to(dev)
    gen = torch.Generator().manual_seed(seed)
    w = torch.zeros(design.n_features, n_classes, device=dev, requires_grad=True)
    b = torch.zeros(n_classes, device=dev, requires_grad=True)
    torch.nn.init.kaiming_uniform_(w.T, a=math.sqrt(5), generator=gen)
    optimizer = torch.optim.Adam([w, b], lr=learning_rate)
    x = design.data
    for _ in range(epochs):
        order = torch.randperm(design.n_rows, generator=gen).to(dev)
        for start in range(0, design.n_rows, batch_size):
            idx = order[start : start + batch_size]
            optimizer.zero_grad()
            loss = _loss(x[idx] @ w + b, y[idx]) + lambda1 * w.abs().sum() + lambda2 * (w * w).sum()
            loss.backward()
            optimizer.step()
    w, b = w.detach(), b.detach()
    obj = objective_value(design, y, w, b, lambda1, lambda2)
    kkt = _kkt_at(design, y, w, b, design.logits(w, b), lambda1, lambda2)
    return FitResult(w, b, obj, kkt, epochs, False, "adam")


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
        _check_lambdas(self.lambda1, self.lambda2)
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
