"""The regularisation search on a problem whose informative neurons are known."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from synthetic import INFORMATIVE, probe_data

from neuronviz.analyses.lambdas import class_means, class_prior, search_lambdas
from neuronviz.errors import ConfigError

pytestmark = pytest.mark.slow  # fits a lambda grid with its separation probes

GRID = ((0.0, 0.0), (1e-3, 1e-3), (3e-2, 1e-3))


@pytest.fixture(scope="module")
def data():
    return probe_data()


@pytest.fixture(scope="module")
def separation(data):
    return search_lambdas(data, GRID, grid_words=1000, max_iter=500)


def test_every_pair_is_fitted_strongest_ridge_first_on_the_grid_prefix(separation):
    search, _ = separation
    assert [(p.lambda1, p.lambda2) for p in search.points] == [
        (3e-2, 1e-3),
        (1e-3, 1e-3),
        (0.0, 0.0),
    ]
    assert search.grid_words == 1000
    assert all(p.converged and p.kkt_max <= 1e-4 for p in search.points)
    # a stronger lasso zeroes more weights
    assert search.points[0].zero_weight_fraction > search.points[1].zero_weight_fraction
    assert search.points[2].zero_weight_fraction < 0.05  # no lasso: (almost) every weight used


def test_the_separation_rule_picks_the_candidate_whose_top_neurons_separate_best(separation):
    search, fit = separation
    best = max(p.dev_accuracy for p in search.points)
    candidates = [p for p in search.points if p.candidate]
    assert candidates and all(best - p.dev_accuracy <= 0.015 + 1e-12 for p in candidates)
    chosen = max(candidates, key=lambda p: (p.separation, p.dev_accuracy))
    assert search.chosen == (chosen.lambda1, chosen.lambda2)
    assert search.weighting == chosen.weighting
    # the returned fit is the chosen pair's, a warm start for the oracle
    assert fit.objective == chosen.objective and fit.kkt_max == chosen.kkt_max
    # on this problem the informative neurons beat random and bottom ones by far
    assert chosen.separation > 0.2
    assert chosen.top["5"] > chosen.random["5"] > chosen.bottom["5"] - 0.05


def test_each_pair_keeps_a_full_ordering_led_by_the_informative_neurons(separation, data):
    search, _ = separation
    assert set(search.pair_orders) == {"0,0", "0.001,0.001", "0.03,0.001"}
    for order in search.pair_orders.values():
        assert sorted(order.tolist()) == list(range(data.n_neurons))
    assert set(search.pair_orders["0.03,0.001"][:4].tolist()) == set(INFORMATIVE)


def test_the_accuracy_rule_takes_the_best_dev_accuracy_with_uniform_weighting(data):
    search, _ = search_lambdas(data, GRID, rule="accuracy", grid_words=1000, max_iter=500)
    best = max(search.points, key=lambda p: (p.dev_accuracy, p.lambda1 + p.lambda2))
    assert search.chosen == (best.lambda1, best.lambda2)
    assert search.weighting == "uniform" and not any(p.candidate for p in search.points)


def test_an_unknown_weighting_is_refused(data):
    with pytest.raises(ConfigError, match="unknown class weighting 'sizes'"):
        search_lambdas(data, GRID, weighting="sizes")


def test_class_prior_and_class_means_are_frequencies_and_conditional_means(data):
    y = torch.tensor([0, 0, 1, 3])
    np.testing.assert_allclose(class_prior(y, 4), [0.5, 0.25, 0.0, 0.25])
    means = class_means(data.train, data.y_train, data.n_classes)
    x = data.train.data.float().numpy()  # the design holds standardised features
    for c in range(4):
        np.testing.assert_allclose(
            means[c], x[data.y_train.numpy() == c].mean(axis=0), rtol=1e-4, atol=1e-4
        )
