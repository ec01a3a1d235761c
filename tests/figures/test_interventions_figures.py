"""Intervention figures: bars before, after and after the random control; the task x task map."""

from __future__ import annotations

import numpy as np

from neuronviz.figures.interventions import effect_matrix_figure, intervention_figure
from neuronviz.interventions.effects import ProbeEffect

EFFECTS = [
    ProbeEffect("pos", 500, before=0.95, after=0.40, random_after=0.93, random_std=0.01),
    ProbeEffect("chunk", 480, before=0.90, after=0.85, random_after=0.88, random_std=0.02),
]


def test_the_intervention_figure_shows_each_probe_before_after_and_random():
    fig = intervention_figure(EFFECTS, "pos:minimal changed")
    bars = {trace.name: trace for trace in fig.data}
    assert set(bars) == {
        "before",
        "after the intervention",
        "after silencing random neurons (same layers)",
    }
    np.testing.assert_allclose(bars["before"].y, [95.0, 90.0])
    np.testing.assert_allclose(bars["after the intervention"].y, [40.0, 85.0])
    random = bars["after silencing random neurons (same layers)"]
    np.testing.assert_allclose(random.y, [93.0, 88.0])
    np.testing.assert_allclose(random.error_y.array, [1.0, 2.0])
    assert list(bars["before"].x) == ["pos", "chunk"]


def test_the_effect_matrix_is_symmetric_in_colour_around_zero():
    matrix = np.array([[40.0, -2.0], [np.nan, 5.0]])
    fig = effect_matrix_figure(matrix, ["pos", "chunk"], ["pos", "chunk"])
    heat = fig.data[0]
    assert heat.zmin == -40.0 and heat.zmax == 40.0
    assert list(heat.x) == ["pos", "chunk"]
    assert list(heat.y) == ["silence pos", "silence chunk"]
