"""Neuron subsets of an analysis: the minimal set's threshold and which curve sizes are kept."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from neuronviz.analyses.subsets import feasible_percents, minimal_threshold


def test_the_threshold_is_the_oracle_minus_delta_points_or_percent():
    assert minimal_threshold(0.95, 1.0) == pytest.approx(0.94)  # 1 point below
    assert minimal_threshold(0.95, 1.0, relative=True) == pytest.approx(0.9405)  # 1% of 0.95
    assert minimal_threshold(0.95, 0.0) == 0.95


def test_curve_sizes_in_memory_are_all_kept():
    data = SimpleNamespace(train=object(), n_neurons=1000)  # not streamed: nothing to skip
    assert feasible_percents(data, [1, 20, 50]) == [1, 20, 50]
