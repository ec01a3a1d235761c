"""The probe's objective: the elastic-net loss, its gradient pieces and the optimality (KKT)
conditions every solver is judged by."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from neuronviz.errors import ConfigError
from neuronviz.probing.design import Design

Trace = list[tuple[float, int, float]]  # (time.perf_counter(), iteration, objective)

__all__ = ["KKT_TOL", "FitResult", "kkt_violation", "objective_value"]


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


def check_lambdas(lambda1: float, lambda2: float) -> None:
    for name, value in (("lambda1", lambda1), ("lambda2", lambda2)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
            raise ConfigError(f"{name} must be a finite number >= 0, got {value!r}")


def f64(t: torch.Tensor) -> torch.Tensor:
    """``t`` in float64, on the CPU where its device has no float64 (Apple's MPS)."""
    return (t.cpu() if t.device.type == "mps" else t).double()


def mean_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # Rows in the logits' precision, their mean in float64: near the optimum the line searches
    # compare objectives that differ by less than a float32 sum of 10^5 rows can resolve.
    return f64(torch.logsumexp(logits, 1) - logits.gather(1, y[:, None])[:, 0]).mean()


def residual(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Gradient of the mean cross-entropy with respect to the logits."""
    return loss_and_residual(logits, y)[1]


def loss_and_residual(logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`mean_loss` and :func:`residual` from one exponential pass over the logits.

    For small neuron sets the per-word softmax, not the matrix product, is most of a solver
    step (190,731 words x 44 tags: about 3x faster than two passes, ``bench/solver_steps.py``);
    the loss is the same number as :func:`mean_loss` (same max-shifted log-sum-exp, float64 mean).
    """
    rows = torch.arange(len(y), device=y.device)
    top = logits.amax(1, keepdim=True)
    e = torch.sub(logits, top).exp_()
    total = e.sum(1, keepdim=True)
    loss = f64(top[:, 0] + total[:, 0].log() - logits[rows, y]).mean()
    e.div_(total)
    e[rows, y] -= 1.0
    return loss, e.div_(len(y))


def objective_value(
    design: Design, y: torch.Tensor, weights, bias, lambda1: float, lambda2: float
) -> float:
    """The elastic-net objective at ``(weights, bias)``."""
    logits = design.logits(weights, bias)
    return float(
        mean_loss(logits, y) + lambda1 * weights.abs().sum() + lambda2 * (weights * weights).sum()
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


def penalties(w: torch.Tensor, lambda1: float, lambda2: float) -> float:
    """``lambda1 * sum|w| + lambda2 * sum w**2``, summed in float64 (see :func:`mean_loss`)."""
    l1 = float(f64(w.abs()).sum()) if lambda1 else 0.0
    l2 = float(f64(w * w).sum()) if lambda2 else 0.0
    return lambda1 * l1 + lambda2 * l2


def initial_point(
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


def kkt_at(design, y, w, b, logits, lambda1, lambda2) -> float:
    r = residual(logits, y)
    return kkt_violation(design.backward(r) + 2 * lambda2 * w, r.sum(0), w, lambda1)


def violations(g: torch.Tensor, w: torch.Tensor, lambda1: float) -> torch.Tensor:
    """Per feature, the largest KKT violation over classes (see :func:`kkt_violation`)."""
    at_nonzero = (g + lambda1 * torch.sign(w)).abs()
    at_zero = (g.abs() - lambda1).clamp(min=0)
    return torch.where(w != 0, at_nonzero, at_zero).amax(1)


def pseudo_gradient(g: torch.Tensor, w: torch.Tensor, lambda1: float) -> torch.Tensor:
    """Steepest-descent (minimum-norm) subgradient of ``f + lambda1 * |w|`` at ``w``."""
    right = g + lambda1
    left = g - lambda1
    at_zero = torch.where(right < 0, right, torch.where(left > 0, left, torch.zeros_like(g)))
    return torch.where(w > 0, right, torch.where(w < 0, left, at_zero))
