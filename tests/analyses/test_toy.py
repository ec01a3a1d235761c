"""The teaching toy: stronger L1 keeps fewer neurons, and the right ones."""

from __future__ import annotations

import itertools

import pytest

from neuronviz.analyses.toy import CLASSES, LAMBDA_STEPS, ToyFit, fit_toy, toy_problem
from neuronviz.figures.neurons import toy_weights_figure

pytestmark = pytest.mark.slow  # fits the toy at every penalty of its slider


def test_stronger_penalty_keeps_fewer_neurons_and_the_signals_last():
    used = [len(fit_toy(lam).selected) for lam in LAMBDA_STEPS]
    assert used[0] == 24 and used[-1] == 0
    assert all(a >= b for a, b in itertools.pairwise(used))
    moderate = fit_toy(0.1)
    assert set(toy_problem().signal_neurons.values()) <= set(moderate.selected)
    assert moderate.test_accuracy > 0.85
    assert fit_toy(1.0).test_accuracy < 0.4  # the majority class only


def test_toy_figure_leaves_zero_weights_blank():
    fit = fit_toy(0.1)
    fig = toy_weights_figure(fit, CLASSES, [ToyFit.label(n) for n in range(24)])
    z = fig.data[0].z
    assert sum(v == v for row in z for v in row) == int((fit.weights != 0).sum())
    assert "5 of 24" in fig.layout.title.text or "of 24 neurons used" in fig.layout.title.text
