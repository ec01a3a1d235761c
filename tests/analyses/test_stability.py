"""Ranking stability across lambda pairs and seeds; the interval and confusion helpers."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import INFORMATIVE, probe_data

from neuronviz.analyses.run import analyse
from neuronviz.analyses.settings import AnalysisSettings
from neuronviz.analyses.stability import ranking_stability
from neuronviz.figures.curves import size_slider_figure, stability_figure
from neuronviz.figures.neurons import confusion_figure
from neuronviz.probing.metrics import confusion_matrix, wilson_interval

pytestmark = pytest.mark.slow  # whole analyses over lambdas and seeds


def test_wilson_interval_and_confusion_matrix():
    low, high = wilson_interval(5, 5)
    assert high == 1.0 and 0.5 < low < 0.6  # 0.566 for 5 of 5
    assert wilson_interval(0, 0) == (0.0, 1.0)
    counts = confusion_matrix(np.array([0, 0, 1, -1]), np.array([0, 1, 1, 0]), 2)
    assert counts.tolist() == [[1, 1], [0, 1]]


def test_informative_neurons_are_stable_across_lambdas_and_seeds():
    settings = AnalysisSettings(
        lambdas=((1e-2, 1e-3), (3e-3, 1e-3), (1e-3, 1e-3)),
        grid_words=1500,
        percents=(5, 20),
        random_draws=2,
        seeds=3,
        control=False,
        layers=False,
    )
    result = analyse(probe_data(), settings)
    rows = ranking_stability(result, top=6)
    stable = {r["neuron"]: r for r in rows}
    for n in INFORMATIVE:
        assert stable[n]["lambda_share"] == 1.0
        assert stable[n]["seed_share"] == 1.0
        assert stable[n]["lambda_low"] < 1.0 == stable[n]["lambda_high"]
    fig = stability_figure(rows)
    assert len(fig.data) == 2
    slider = size_slider_figure(result, result.minimal.size)
    assert slider.data[-1].x[0] == result.minimal.size
    gold, pred = result.arrays["test_labels"], result.arrays["test_pred_minimal"]
    counts = confusion_matrix(gold, pred, 4)
    assert counts.sum() == len(gold)
    fig = confusion_figure(counts, result.classes, "minimal", show=[0, 2])
    assert fig.data[0].z.shape == (2, 2)
    assert float(np.mean(result.arrays["test_pred_ablated"] == gold)) < float(
        np.mean(result.arrays["test_pred_all"] == gold)
    )


@pytest.mark.parametrize("top", [1, 3])
def test_rows_follow_the_ranking_order(top):
    settings = AnalysisSettings(
        lambdas=((1e-2, 1e-3),), grid_words=800, percents=(5,), random_draws=2, control=False
    )
    result = analyse(probe_data(), settings)
    rows = ranking_stability(result, top=top)
    assert [r["neuron"] for r in rows] == result.order[:top].tolist()
    assert "seed_share" not in rows[0]
