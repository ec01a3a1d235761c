"""The solvers of the probe's objective: OWL-QN and FISTA for the elastic net, L-BFGS for
retrained (smooth) probes, and NeuroX-style Adam for parity checks."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import replace

import torch

from neuronviz.probing.design import DenseDesign, Design
from neuronviz.probing.objective import (
    KKT_TOL,
    FitResult,
    Trace,
    check_lambdas,
    initial_point,
    kkt_at,
    loss_and_residual,
    mean_loss,
    objective_value,
    penalties,
    pseudo_gradient,
)
from neuronviz.progress import beat

__all__ = ["fit_adam", "fit_elastic_net", "fit_owlqn", "fit_ridge"]

log = logging.getLogger(__name__)


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
    # Long on purpose: one OWL-QN loop whose state (iterate, curvature pairs, step, restarts)
    # every step reads and updates; split up, that state would travel through a dozen arguments.
    check_lambdas(lambda1, lambda2)
    y = y.to(design.device)
    if design.n_features == 0:
        return _fit_bias_only(y, n_classes, torch.zeros(n_classes, device=y.device))
    w, b = initial_point(y, design.n_features, n_classes, init)

    def smooth(w_, b_):
        """The smooth part at a point, and the logits' residual (for the gradient if the point
        is taken: computed with the loss, one softmax pass for both)."""
        loss, r = loss_and_residual(design.logits(w_, b_), y)
        return float(loss) + penalties(w_, 0.0, lambda2), r

    def gradient(w_, r):
        return design.backward(r) + 2 * lambda2 * w_, r.sum(0)

    f, r = smooth(w, b)
    gw, gb = gradient(w, r)
    obj = f + penalties(w, lambda1, 0.0)
    s_list: list[tuple[torch.Tensor, torch.Tensor]] = []
    y_list: list[tuple[torch.Tensor, torch.Tensor]] = []
    n_iter, kkt = 0, float("inf")
    for n_iter in range(1, max_iter + 1):
        pw = pseudo_gradient(gw, w, lambda1)
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
    pw = pseudo_gradient(gw, w, lambda1)
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
        obj_new = f_new + penalties(w_new, lambda1, 0.0)
        decrease = float((pw * (w_new - w)).sum() + (pb * (b_new - b)).sum())
        if obj_new <= obj + 1e-4 * decrease or step < 1e-4 * first_step:
            break
        step *= 0.5
    if slope >= 0 or obj_new > obj:
        return None
    return w_new, b_new, obj_new, r_new


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
    # Long on purpose: one FISTA loop whose state (iterate, momentum, step size, restarts) every
    # step reads and updates; split up, that state would travel through a dozen arguments.
    check_lambdas(lambda1, lambda2)
    y = y.to(design.device)
    d = design.n_features
    w, b = initial_point(y, d, n_classes, init)
    if d == 0:
        return _fit_bias_only(y, n_classes, b)

    # Step size: backtracking from a fraction of the Lipschitz bound 0.5 * ||Xs||^2 / n + 2 lambda2.
    lipschitz = 0.5 * design.spectral_norm_sq() / design.n_rows + 2 * lambda2
    step_l = max(lipschitz / 8, 1e-6)
    logits_w = design.logits(w, b)
    obj = float(mean_loss(logits_w, y)) + penalties(w, lambda1, lambda2)
    wy, by, logits_y = w, b, logits_w
    t = 1.0
    stall = 0
    n_iter = 0
    kkt = float("inf")
    for n_iter in range(1, max_iter + 1):
        loss_y, r = loss_and_residual(logits_y, y)
        f_y = float(loss_y) + penalties(wy, 0.0, lambda2)
        g_w = design.backward(r) + 2 * lambda2 * wy
        g_b = r.sum(0)
        while True:
            w_new = wy - g_w / step_l
            w_new = torch.sign(w_new) * (w_new.abs() - lambda1 / step_l).clamp(min=0)
            b_new = by - g_b / step_l
            logits_new = design.logits(w_new, b_new)
            f_new = float(mean_loss(logits_new, y)) + penalties(w_new, 0.0, lambda2)
            dw, db = w_new - wy, b_new - by
            bound = (
                f_y
                + float((g_w * dw).sum() + (g_b * db).sum())
                + 0.5 * step_l * float((dw * dw).sum() + (db * db).sum())
            )
            if f_new <= bound + 1e-12 * abs(f_y) or step_l > 1e12:
                break
            step_l *= 2.0
        obj_new = f_new + penalties(w_new, lambda1, 0.0)
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
            kkt = kkt_at(design, y, w, b, logits_w, lambda1, lambda2)
            if kkt <= kkt_tol:
                break
            stall = 0
    kkt = kkt_at(design, y, w, b, logits_w, lambda1, lambda2)
    if kkt > kkt_tol:
        log.debug("FISTA stopped after %d iterations with KKT violation %.2e", n_iter, kkt)
    return FitResult(w, b, obj, kkt, n_iter, kkt <= kkt_tol, "fista", kkt_tol)


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
    check_lambdas(0.0, lambda2)
    dev = design.device
    y = y.to(dev)
    if design.n_features == 0:
        return _fit_bias_only(y, n_classes, torch.zeros(n_classes, device=dev))
    w0, b0 = initial_point(y, design.n_features, n_classes, None)
    w, b = w0.requires_grad_(True), b0.requires_grad_(True)
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
            loss, r = loss_and_residual(design.logits(w, b), y)
            w.grad = design.backward(r) + 2 * lambda2 * w
            b.grad = r.sum(0)
        evaluations[0] += 1
        beat(evaluations[0], max_iter, "step")
        return loss + lambda2 * (w.detach() * w.detach()).sum()

    optimizer.step(closure)
    w, b = w.detach(), b.detach()
    logits = design.logits(w, b)
    obj = float(mean_loss(logits, y) + lambda2 * (w * w).sum())
    kkt = kkt_at(design, y, w, b, logits, 0.0, lambda2)
    return FitResult(w, b, obj, kkt, evaluations[0], kkt <= tol_grad, "lbfgs", tol_grad)


def _fit_bias_only(y: torch.Tensor, n_classes: int, b: torch.Tensor) -> FitResult:
    counts = torch.bincount(y, minlength=n_classes).float()
    bias = torch.log(counts.clamp(min=1e-12) / counts.sum())
    loss = float(mean_loss(bias.expand(len(y), -1), y))
    return FitResult(torch.zeros(0, n_classes, device=y.device), bias, loss, 0.0, 0, True, "fista")


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
    check_lambdas(lambda1, lambda2)
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
            loss = (
                mean_loss(x[idx] @ w + b, y[idx])
                + lambda1 * w.abs().sum()
                + lambda2 * (w * w).sum()
            )
            loss.backward()
            optimizer.step()
    w, b = w.detach(), b.detach()
    obj = objective_value(design, y, w, b, lambda1, lambda2)
    kkt = kkt_at(design, y, w, b, design.logits(w, b), lambda1, lambda2)
    return FitResult(w, b, obj, kkt, epochs, False, "adam")
