"""Where neurons live: counts per layer, and probes on one layer's neurons at a time."""

from __future__ import annotations

import numpy as np
from synthetic import probe_data

from neuronviz.analyses.layers import layer_distribution, layer_probes
from neuronviz.probing.retrain import Retrainer


def test_layer_distribution_counts_neurons_by_layer_and_shares_sum_to_one():
    got = layer_distribution(np.array([0, 3, 4, 5, 11]), n_layers=4, hidden_size=4)
    assert got["count"] == [2, 2, 1, 0]
    assert got["share"] == [0.4, 0.4, 0.2, 0.0]
    empty = layer_distribution(np.array([], dtype=np.int64), n_layers=2, hidden_size=4)
    assert empty == {"count": [0, 0], "share": [0.0, 0.0]}


def test_the_layer_holding_most_informative_neurons_probes_best():
    # neurons 5, 17, 30, 44 decide classes A-D: one in layer 0, two in layer 1, one in layer 2
    data = probe_data()
    found = layer_probes(data, Retrainer(data, 1e-3, 200))
    assert len(found.dev) == len(found.test) == len(found.probes) == 3
    assert [p.size for p in found.probes] == [16, 16, 16]
    assert found.dev[1] > max(found.dev[0], found.dev[2]) + 0.1
    assert min(found.dev) > 0.3  # every layer tells its own class apart: above chance (0.25)
