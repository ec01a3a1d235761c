"""A small probing problem whose answer is known, for teaching the method live.

Twenty-four neurons in three layers see words of four classes (DET, NOUN, VERB, ADJ). Four
neurons each signal one class strongly; two more carry weaker, noisier copies of a signal; the
rest are noise. Fitting the elastic-net probe at growing ``lambda1`` shows the method at work:
with no penalty every neuron gets some weight, with a moderate one only the signal neurons keep
theirs, and with a very strong one even those drop out and accuracy falls to the majority class.
It fits in milliseconds, so the Learn page refits it as a slider moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from neuronviz.probing.design import DenseDesign
from neuronviz.probing.ranking import lca_ranking
from neuronviz.probing.solvers import fit_owlqn

__all__ = ["CLASSES", "LAMBDA_STEPS", "ToyFit", "ToyProblem", "fit_toy", "toy_problem"]

CLASSES = ["DET", "NOUN", "VERB", "ADJ"]
LAYERS, HIDDEN = 3, 8
SIGNALS = {"DET": (0, 2), "NOUN": (1, 5), "VERB": (2, 1), "ADJ": (2, 6)}  # (layer, unit)
ECHOES = {"DET": (0, 6), "NOUN": (1, 0)}  # weaker, noisier copies
LAMBDA_STEPS = (0.0, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)


@dataclass(frozen=True)
class ToyProblem:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def signal_neurons(self) -> dict[str, int]:
        return {c: layer * HIDDEN + unit for c, (layer, unit) in SIGNALS.items()}

    @property
    def echo_neurons(self) -> dict[str, int]:
        return {c: layer * HIDDEN + unit for c, (layer, unit) in ECHOES.items()}


@dataclass(frozen=True)
class ToyFit:
    """The probe at one ``lambda1``: weights ``(classes, neurons)``, what it uses, how well it does."""

    lambda1: float
    weights: np.ndarray
    test_accuracy: float
    selected: list[int]  # neurons with any non-zero weight
    order: list[int]  # the weight-mass ranking, best first

    @staticmethod
    def label(neuron: int) -> str:
        return f"{neuron // HIDDEN}:{neuron % HIDDEN}"


def _sample(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = rng.choice(len(CLASSES), size=n, p=[0.3, 0.3, 0.25, 0.15])
    x = rng.normal(size=(n, LAYERS * HIDDEN))
    for c, name in enumerate(CLASSES):
        layer, unit = SIGNALS[name]
        x[:, layer * HIDDEN + unit] += 2.5 * (y == c)
        if name in ECHOES:
            layer, unit = ECHOES[name]
            x[:, layer * HIDDEN + unit] += 1.0 * (y == c)
    return x.astype(np.float32), y


@lru_cache(maxsize=4)
def toy_problem(seed: int = 0) -> ToyProblem:
    rng = np.random.default_rng(seed)
    x, y = _sample(600, rng)
    xt, yt = _sample(400, rng)
    return ToyProblem(x, y, xt, yt)


def fit_toy(lambda1: float, lambda2: float = 1e-4, seed: int = 0) -> ToyFit:
    """Fit the toy probe at ``lambda1`` (and a small ``lambda2``) and rank its neurons."""
    problem = toy_problem(seed)
    design = DenseDesign.from_array(problem.x_train)
    fit = fit_owlqn(
        design,
        torch.as_tensor(problem.y_train),
        len(CLASSES),
        lambda1,
        lambda2,
        max_iter=300,
        kkt_tol=1e-6,
    )
    test = (problem.x_test - design.mean) / design.scale
    logits = torch.as_tensor(test, dtype=torch.float32) @ fit.weights + fit.bias
    accuracy = float((logits.argmax(1).numpy() == problem.y_test).mean())
    weights = fit.weights.T.numpy()
    selected = np.flatnonzero(np.abs(weights).sum(0) > 0).tolist()
    ranking = lca_ranking(weights, CLASSES)
    return ToyFit(lambda1, weights, accuracy, selected, ranking.order[: len(selected)].tolist())
