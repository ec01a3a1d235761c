"""The all-neuron fits of an analysis and the rankings read from them, on a problem whose
informative neurons are known."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import INFORMATIVE, probe_data

from neuronviz.analyses.oracle import fit_like_oracle, fit_once, rank
from neuronviz.analyses.settings import AnalysisSettings

pytestmark = pytest.mark.slow  # fits the oracle and a lasso to convergence

SETTINGS = AnalysisSettings(lambdas=((1e-3, 1e-3),), grid_words=1000)


@pytest.fixture(scope="module")
def data():
    return probe_data()


@pytest.fixture(scope="module")
def oracle(data):
    return fit_like_oracle(data, data.y_train, (1e-3, 1e-3), SETTINGS)


def test_the_oracle_fit_converges_on_its_terms(oracle, data):
    assert oracle.converged and oracle.kkt_max <= SETTINGS.kkt_tol
    assert oracle.weights.shape == (data.n_neurons, data.n_classes)


def test_fit_once_computes_without_a_checkpoint(oracle):
    calls = []
    fit = fit_once(None, "oracle", "cpu", lambda: calls.append(1) or oracle)
    assert fit is oracle and calls == [1]


@pytest.mark.parametrize("method", ["lca", "lasso", "neurox", "probeless"])
def test_every_method_puts_the_informative_neurons_first(method, data, oracle):
    ranking = rank(data, oracle, method, 1e-3, seed=0)
    assert sorted(ranking.order.tolist()) == list(range(data.n_neurons))
    assert set(ranking.order[:4].tolist()) == set(INFORMATIVE), method
    if method == "lasso":  # its own L1-only fit, recorded with the ranking
        assert ranking.fit["converged"] and ranking.fit["kkt_max"] <= 1e-4


def test_a_random_ranking_ignores_the_fit_and_follows_its_seed(data, oracle):
    a, b = rank(data, oracle, "random", 0.0, seed=1), rank(data, oracle, "random", 0.0, seed=1)
    np.testing.assert_array_equal(a.order, b.order)
    assert not np.array_equal(a.order, rank(data, oracle, "random", 0.0, seed=2).order)
