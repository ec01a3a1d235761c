"""The whole analysis on synthetic data where a known handful of neurons decide the label."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import INFORMATIVE, make_word_task, probe_data

from neuronviz.analyses.run import analyse
from neuronviz.analyses.settings import AnalysisSettings
from neuronviz.errors import ConfigError

pytestmark = pytest.mark.slow  # whole analyses of synthetic problems

FAST = {
    "grid_words": 1500,
    "retrain_iter": 30,
    "oracle_iter": 300,
    "percents": (2, 10, 50),
}


@pytest.fixture(scope="module")
def result():
    settings = AnalysisSettings(lambdas=((0.0, 0.0), (1e-2, 1e-3)), **FAST)
    return analyse(probe_data(), settings)


def test_informative_neurons_rank_first(result):
    assert set(result.order[:4].tolist()) == set(INFORMATIVE)


def test_minimal_set_contains_them(result):
    assert set(INFORMATIVE) <= set(result.minimal_neurons.tolist())
    assert result.minimal.size <= 10 and result.minimal.reached
    assert result.minimal.dev_accuracy >= result.minimal.threshold
    # the smallest measured prefix that reaches the threshold: every smaller one missed it
    below = [dev for s, dev, _ in result.minimal.curve if s < result.minimal.size]
    assert below and max(below) < result.minimal.threshold


def test_minimal_set_size_interval_and_chance_level(result):
    m = result.minimal
    low, high = m.size_interval
    assert low <= m.size <= high and high <= 10
    assert len(result.size_draws) == 1000
    # 4 informative neurons of 48: random sets need far more neurons for the same accuracy
    assert m.chance_share > 4 * m.fraction and m.localization < 0.25
    assert m.localization_interval[1] < 0.5
    low, high = m.test_accuracy_ci
    assert low < m.test_accuracy < high and high - low < 0.05


def test_top_beats_random_beats_bottom(result):
    q = result.ranking_quality["10"]
    assert q.top > q.random_mean + 0.2
    assert q.beats_random and q.top_percentile == 100 and q.p_top_vs_random < 0.001
    assert q.top_ci[0] < q.top < q.top_ci[1]
    # 5 random neurons of 48 rarely include one of the 4 informative ones: most draws score
    # like the bottom (tied, uninformative) sets, and the test says the gap is not significant
    assert q.random_mean > q.bottom and not q.random_beats_bottom
    assert np.median(q.random_draws) < max(q.bottom_draws) + 0.05


def test_bottom_is_the_methods_own_over_tie_orders(result):
    """44 of 48 neurons have no weight: bottom-k is drawn among them, never by id, and it is
    averaged over tie orders (the synthetic data put no signal in the last ids: the by-id bottom
    and the tie average would agree here, so the sets are checked directly)."""
    ranking = result.neuron_ranking()
    assert ranking.ranked == result.summary()["ranking"]["n_weighted"] < 10
    q = result.ranking_quality["10"]
    assert len(q.bottom_draws) == result.settings["tie_draws"] == 3
    sets = ranking.bottom_sets(q.size, 3, result.settings["seed"])
    assert all(not set(s.tolist()) & set(INFORMATIVE) for s in sets)
    assert len({tuple(sorted(s.tolist())) for s in sets}) > 1


def test_separation_rule_prefers_the_regularised_pair(result):
    assert result.lambda_search.chosen == (1e-2, 1e-3)
    assert result.lambda_search.rule == "separation"
    points = {(p.lambda1, p.lambda2): p for p in result.lambda_search.points}
    assert points[(1e-2, 1e-3)].separation > points[(0.0, 0.0)].separation


def test_auto_weighting_scores_both_and_records_the_choice(result):
    candidates = [p for p in result.lambda_search.points if p.candidate]
    assert candidates
    for p in candidates:
        by = p.separation_by_weighting
        assert set(by) == {"uniform", "frequency"}
        assert p.weighting == max(by, key=by.get)
        assert p.separation == by[p.weighting]
    assert result.lambda_search.weighting == result.ranking.weighting
    assert result.summary()["weighting"] == result.ranking.weighting


def test_fixed_weighting_is_used_for_the_ranking():
    settings = AnalysisSettings(
        lambdas=((1e-2, 1e-3),), weighting="frequency", control=False, layers=False, **FAST
    )
    res = analyse(probe_data(), settings)
    assert res.ranking.weighting == "frequency"
    assert set(res.order[:4].tolist()) == set(INFORMATIVE)


def test_solver_zeros_fall_on_noise_neurons(result):
    used = np.flatnonzero(np.abs(result.weights).max(0) > 0)
    assert set(INFORMATIVE) <= set(used.tolist())
    assert result.oracle.zero_weight_fraction > 0.5


def test_selectivity_is_high_when_words_do_not_decide_the_label(result):
    assert result.control.selectivity > 0.4
    assert result.control.test_accuracy < 0.45


def test_layer_distribution_and_per_layer_probes(result):
    counts = result.layers.minimal.count
    assert len(counts) == 3 and sum(counts) == result.minimal.size
    assert len(result.layers.probe_test_accuracy) == 3


def test_ablating_top_neurons_hurts_more_than_random(result):
    ab = result.ablation
    assert ab.top[0] < ab.random[0] and ab.full > 0.9


def test_summary_carries_intervals_chance_and_convergence(result):
    s = result.summary()
    gold, pred = result.arrays["test_labels"], result.arrays["test_pred_all"]
    assert s["oracle"]["test_accuracy"] == pytest.approx(float(np.mean(pred == gold)))
    low, high = s["oracle"]["test_accuracy_ci"]
    assert low < s["oracle"]["test_accuracy"] < high
    assert s["oracle"]["converged"] and s["oracle"]["kkt_max"] <= s["oracle"]["kkt_tol"] == 1e-4
    assert s["control"]["converged"] and s["control"]["kkt_max"] <= 1e-4
    low, high = s["selectivity_ci"]
    assert low < s["selectivity"] < high
    assert s["ranking"]["n_weighted"] == result.neuron_ranking().ranked
    for size in ("1", "5", "10"):
        q = s["ranking_quality"][size]
        assert len(q["random_draws"]) >= (20 if size != "10" else 10)
        assert 0 <= q["top_percentile"] <= 100 and len(q["top_ci"]) == 2
    assert s["minimal"]["size_interval"][0] <= s["minimal"]["size"]


def test_converged_means_kkt_within_tolerance_at_the_default_settings():
    """With AnalysisSettings() as shipped, every elastic-net fit converges, and converged is
    never claimed above the tolerance."""
    res = analyse(probe_data(), AnalysisSettings(percents=(1, 5, 10), layers=False))
    fits = [res.oracle, res.control, *res.lambda_search.points]
    assert all(f.converged for f in fits)
    for f in fits:
        assert f.converged == (f.kkt_max <= res.settings["kkt_tol"])
    assert res.oracle.retrained_converged == res.oracle.retrained


@pytest.mark.parametrize("method", ["lasso", "probeless"])
def test_other_rankings_find_the_informative_neurons(method):
    settings = AnalysisSettings(
        lambdas=((1e-2, 1e-3),), method=method, control=False, layers=False, **FAST
    )
    res = analyse(probe_data(), settings)
    assert set(res.order[:4].tolist()) == set(INFORMATIVE)


def test_control_only_problem_has_near_zero_selectivity():
    settings = AnalysisSettings(lambdas=((1e-3, 1e-3),), layers=False, **FAST)
    res = analyse(probe_data(make_word_task), settings)
    assert res.oracle.test_accuracy > 0.9
    assert abs(res.control.selectivity) < 0.1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"delta": 150}, "0..100"),
        ({"delta": -1}, "0..100"),
        ({"rule": "best"}, "unknown lambda rule"),
        ({"method": "magic"}, "unknown ranking method"),
        ({"lambdas": ()}, "empty"),
        ({"lambdas": ((-1.0, 0.0),)}, "finite"),
        ({"percents": (0,)}, "percents"),
        ({"weighting": "tf-idf"}, "unknown class weighting"),
    ],
)
def test_bad_settings(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        AnalysisSettings(**kwargs)


def test_seeds_report_the_spread_and_overlap_of_minimal_sets():
    settings = AnalysisSettings(
        lambdas=((1e-2, 1e-3),), seeds=3, control=False, layers=False, **FAST
    )
    res = analyse(probe_data(), settings)
    st = res.stability
    assert st.seeds == 3 and len(st.sizes) == 3 and len(st.jaccard) == 3
    assert all(f.converged and f.kkt_max <= 1e-4 for f in st.fits)
    for neuron in INFORMATIVE:  # the informative neurons are in every resample's minimal set
        assert st.membership[neuron] == 1.0


def test_seeds_on_a_streamed_matrix_is_a_clear_error_before_any_work(monkeypatch):
    data = probe_data()
    monkeypatch.setattr(data, "train", object())  # anything that is not in memory
    with pytest.raises(ConfigError, match="--seeds 3 resamples"):
        analyse(data, AnalysisSettings(seeds=3))
