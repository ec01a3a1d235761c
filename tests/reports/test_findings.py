"""Each verdict rule on constructed results: a case that holds, one that does not, one that the
data cannot decide (not significant), and mixed ones."""

from __future__ import annotations

import numpy as np
import pytest
from fakes import fake_result, quality

from neuronviz.reports.findings import (
    _architectures,
    _layers,
    _small_subsets,
    _task_levels,
    _top_random_bottom,
    decide,
    findings,
)


def test_decide_the_verdict_from_the_comparisons():
    assert decide(["yes", "yes"]) == "holds"
    assert decide(["no", "no"]) == "does not hold"
    assert decide(["not significant"] * 3) == "not significant"
    assert decide(["yes", "not significant"]) == "mixed"
    assert decide(["yes", "no"]) == "mixed"
    assert decide([]) == "not measured"


@pytest.mark.parametrize(
    ("size", "spread", "gap", "verdict"),
    [
        (20, 1.0, (0.0, 0.01), "holds"),  # 10% [9, 11] of 200 neurons, within 1 point
        (80, 2.0, (0.0, 0.01), "does not hold"),  # 40% of the neurons
        (20, 1.0, (0.025, 0.04), "does not hold"),  # the gap is surely above 2 points
        (40, 6.0, (0.0, 0.01), "not significant"),  # 20% with an interval across the line
        (20, 1.0, (0.01, 0.03), "not significant"),  # gap interval across 2 points
    ],
)
def test_small_subsets(size, spread, gap, verdict):
    result = fake_result(size=size, spread=spread, gap=gap)
    assert _small_subsets([result]).verdict == verdict


def test_small_subsets_mixed():
    small, large = fake_result(size=20, spread=1), fake_result(task="ccg", size=80, spread=1)
    found = _small_subsets([small, large])
    assert found.verdict == "mixed"
    assert [c.outcome for c in found.comparisons] == ["yes", "no"]


def _levels(pos, chunk, ccg, spread=2.0):
    return [
        fake_result(task="pos", size=pos, spread=spread, seed=1),
        fake_result(task="chunk", size=chunk, spread=spread, seed=2),
        fake_result(task="ccg", size=ccg, spread=spread, seed=3),
    ]


def test_task_levels():
    assert _task_levels(_levels(20, 40, 60)).verdict == "holds"
    assert _task_levels(_levels(60, 30, 20)).verdict == "does not hold"
    assert _task_levels(_levels(30, 31, 29, spread=6.0)).verdict == "not significant"
    found = _task_levels(_levels(30, 60, 10))
    assert found.verdict == "mixed"
    assert [c.outcome for c in found.comparisons] == ["yes", "no"]
    assert all(c.p_value is not None for c in found.comparisons)


def test_task_levels_difference_inside_the_noise_is_not_significant():
    """The issue's case: 491 vs 474 neurons, inside the bisection step, is no evidence."""
    pos = fake_result(task="pos", n_layers=31, hidden=576, size=491, spread=25, seed=4)
    chunk = fake_result(task="chunk", n_layers=31, hidden=576, size=474, spread=25, seed=5)
    found = _task_levels([pos, chunk])
    assert found.verdict == "not significant"


def _model(name, n_layers, size, chance, shared: bool, seed: int):
    """Two tasks of a model whose minimal sets are the same neurons (``shared``) or disjoint."""
    n = n_layers * 40
    chunk_order = np.arange(n) if shared else np.arange(n)[::-1]
    return [
        fake_result(name, "pos", n_layers=n_layers, size=size, chance=chance, seed=seed),
        fake_result(
            name,
            "chunk",
            n_layers=n_layers,
            size=size,
            chance=chance,
            order=chunk_order,
            seed=seed + 1,
        ),
    ]


def test_architectures_holds_when_one_model_is_both_more_localized_and_more_disjoint():
    a = _model("a", 5, 10, 0.3, shared=False, seed=1)  # 5% of 200 vs chance 30%
    b = _model("b", 10, 60, 0.3, shared=True, seed=3)  # 15% of 400 vs chance 30%
    found = _architectures(a + b)
    assert found.verdict == "holds"
    assert any(c.outcome == "more disjoint: a" for c in found.comparisons)
    overlap = next(c for c in found.comparisons if c.label.startswith("task overlap"))
    assert overlap.details["expected_jaccard"]["a"]["chunk/pos"] == pytest.approx(
        0.0256, abs=0.002
    )  # random sets of 10 of 200 neurons


def test_architectures_does_not_hold_when_the_criteria_name_different_models():
    a = _model("a", 5, 10, 0.3, shared=True, seed=1)  # more localized, but its tasks share
    b = _model("b", 10, 60, 0.3, shared=False, seed=3)
    assert _architectures(a + b).verdict == "does not hold"


def test_architectures_compares_shares_against_their_chance_levels():
    """Raw shares say b (2% vs 5%); relative to the share random neurons need (b: 4%, a: 30%)
    a is far more localized: the verdict follows the chance-corrected ratio."""
    a = _model("a", 5, 10, 0.30, shared=False, seed=1)  # 5% of 200, chance 30%: ratio 0.17
    b = _model("b", 10, 8, 0.04, shared=True, seed=3)  # 2% of 400, chance 4%: ratio 0.5
    found = _architectures(a + b)
    localization = [c for c in found.comparisons if "localization" in c.label]
    assert all(c.outcome == "more localized: a" for c in localization)


def test_architectures_not_significant_when_the_models_look_alike():
    a = _model("a", 5, 20, 0.3, shared=True, seed=1)
    b = _model("b", 5, 20, 0.3, shared=True, seed=7)
    assert _architectures(a + b).verdict == "not significant"


def test_top_random_bottom():
    draws, bottoms = [0.80, 0.81, 0.79, 0.8], [0.6, 0.61]
    clear = fake_result(ranking_quality={"1": quality(0.9, draws, bottoms, 0.001, 0.001)})
    assert _top_random_bottom([clear]).verdict == "holds"
    below = fake_result(ranking_quality={"1": quality(0.7, draws, bottoms, 0.995, 0.001)})
    assert _top_random_bottom([below]).verdict == "does not hold"
    inside = fake_result(ranking_quality={"1": quality(0.805, draws, bottoms, 0.3, 0.001)})
    assert _top_random_bottom([inside]).verdict == "not significant"
    assert _top_random_bottom([clear, inside]).verdict == "mixed"


def _layered(task, first_layer_first: bool, seed: int):
    order = np.arange(200) if first_layer_first else np.arange(200)[::-1]
    return fake_result(task=task, size=30, spread=3, order=order, seed=seed)


def test_layers():
    low, high = _layered("pos", True, 1), _layered("chunk", False, 2)
    assert _layers([low, high]).verdict == "holds"
    assert _layers([_layered("pos", False, 1), _layered("chunk", True, 2)]).verdict == (
        "does not hold"
    )
    assert _layers([_layered("pos", True, 1), _layered("chunk", True, 2)]).verdict == (
        "not significant"
    )


def test_every_finding_names_its_test_level_and_comparisons():
    decided = {f.key: f.to_dict() for f in findings(_levels(20, 40, 60))}
    for d in decided.values():
        assert d["level"] == 0.05
    levels = decided["task-levels"]
    assert levels["test"].startswith("one-sided bootstrap")
    assert [c["outcome"] for c in levels["comparisons"]] == ["yes", "yes"]
    assert all(0 <= c["p_value"] < 0.05 for c in levels["comparisons"])
    assert decided["architectures"]["verdict"] == "not measured"  # one model only


@pytest.mark.parametrize(
    ("local", "disjoint", "verdict"),
    [
        (["a", "a"], "a", "holds"),
        (["a", None], None, "mixed"),  # one task decided: not "not significant"
        (["a", None], "a", "mixed"),
        ([None, None], None, "not significant"),
        (["a", "b"], None, "does not hold"),  # the models split the tasks
        (["a", "a"], "b", "does not hold"),  # the criteria name different models
        ([None, None], "a", "mixed"),
    ],
)
def test_architecture_verdict_rule(local, disjoint, verdict):
    from neuronviz.reports.findings import _architecture_verdict

    assert _architecture_verdict(local, disjoint, "a", "b") == verdict


def test_architectures_compare_overlap_on_the_tasks_both_models_have():
    a = _model("a", 5, 10, 0.3, shared=False, seed=1)
    a.append(fake_result("a", "ccg", size=10, chance=0.3, seed=9))  # a third task only a has
    b = _model("b", 10, 60, 0.3, shared=True, seed=3)
    overlap = next(c for c in _architectures(a + b).comparisons if "overlap" in c.label)
    assert set(overlap.details["expected_jaccard"]["a"]) == {"chunk/pos"}
