"""The whole analysis on synthetic data where a known handful of neurons decide the label."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import INFORMATIVE, make_word_task, probe_data

from neuronviz.analysis import AnalysisSettings, analyse
from neuronviz.errors import ConfigError

FAST = {
    "grid_words": 1500,
    "retrain_iter": 30,
    "oracle_iter": 300,
    "percents": (2, 10, 50),
    "random_draws": 4,
}


@pytest.fixture(scope="module")
def result():
    settings = AnalysisSettings(lambdas=((0.0, 0.0), (1e-2, 1e-3)), **FAST)
    return analyse(probe_data(), settings)


def test_informative_neurons_rank_first(result):
    assert set(result.order[:4].tolist()) == set(INFORMATIVE)


def test_minimal_set_contains_them(result):
    assert set(INFORMATIVE) <= set(result.minimal_neurons.tolist())
    assert result.minimal["size"] <= 10 and result.minimal["reached"]
    assert result.minimal["dev_accuracy"] >= result.minimal["threshold"]
    sizes = [s for s, _, _ in result.minimal["curve"]]
    assert sizes == sorted(sizes) and result.minimal["size"] in sizes


def test_top_beats_random_beats_bottom(result):
    q = result.ranking_quality["10"]
    assert q["top"] > q["random_mean"] + 0.2 > q["bottom"] + 0.2
    assert q["beats_random"]


def test_separation_rule_prefers_the_regularised_pair(result):
    assert result.lambda_search["chosen"] == [1e-2, 1e-3]
    assert result.lambda_search["rule"] == "separation"
    points = {(p["lambda1"], p["lambda2"]): p for p in result.lambda_search["points"]}
    assert points[(1e-2, 1e-3)]["separation"] > points[(0.0, 0.0)]["separation"]


def test_auto_weighting_scores_both_and_records_the_choice(result):
    candidates = [p for p in result.lambda_search["points"] if p["candidate"]]
    assert candidates
    for p in candidates:
        by = p["separation_by_weighting"]
        assert set(by) == {"uniform", "frequency"}
        assert p["weighting"] == max(by, key=by.get)
        assert p["separation"] == by[p["weighting"]]
    assert result.lambda_search["weighting"] == result.ranking["weighting"]
    assert result.summary()["weighting"] == result.ranking["weighting"]


def test_fixed_weighting_is_used_for_the_ranking():
    settings = AnalysisSettings(
        lambdas=((1e-2, 1e-3),), weighting="frequency", control=False, layers=False, **FAST
    )
    res = analyse(probe_data(), settings)
    assert res.ranking["weighting"] == "frequency"
    assert set(res.order[:4].tolist()) == set(INFORMATIVE)


def test_solver_zeros_fall_on_noise_neurons(result):
    used = np.flatnonzero(np.abs(result.weights).max(0) > 0)
    assert set(INFORMATIVE) <= set(used.tolist())
    assert result.oracle["zero_weight_fraction"] > 0.5


def test_selectivity_is_high_when_words_do_not_decide_the_label(result):
    assert result.control["selectivity"] > 0.4
    assert result.control["test_accuracy"] < 0.45


def test_layer_distribution_and_per_layer_probes(result):
    counts = result.layers["minimal"]["count"]
    assert len(counts) == 3 and sum(counts) == result.minimal["size"]
    assert len(result.layers["probe_test_accuracy"]) == 3


def test_ablating_top_neurons_hurts_more_than_random(result):
    ab = result.ablation
    assert ab["top"][0] < ab["random"][0] and ab["full"] > 0.9


def test_summary_schema(result):
    s = result.summary()
    for key in (
        "lambdas",
        "oracle",
        "minimal",
        "control",
        "selectivity",
        "ranking_quality",
        "layer_distribution",
    ):
        assert key in s
    for key in ("test_accuracy", "objective", "zero_weight_fraction", "kkt_max"):
        assert s["oracle"][key] >= 0 or key == "objective"
    assert 0 <= s["oracle"]["test_accuracy"] <= 1
    assert {"top", "random_mean", "random_std", "bottom"} <= set(s["ranking_quality"]["1"])


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
    assert res.oracle["test_accuracy"] > 0.9
    assert abs(res.control["selectivity"]) < 0.1


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
    assert st["seeds"] == 3 and len(st["sizes"]) == 3 and len(st["jaccard"]) == 3
    assert 0 <= st["jaccard_mean"] <= 1 and st["size_std"] >= 0
    for neuron in INFORMATIVE:  # the informative neurons are in every resample's minimal set
        assert st["membership"][str(neuron)] == 1.0


def test_seeds_on_a_streamed_matrix_is_a_clear_error_before_any_work(monkeypatch):
    data = probe_data()
    monkeypatch.setattr(data, "train", object())  # anything that is not in memory
    with pytest.raises(ConfigError, match="--seeds 3 resamples"):
        analyse(data, AnalysisSettings(seeds=3))
