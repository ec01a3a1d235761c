"""Model and task comparisons against their chance levels, on constructed results."""

from __future__ import annotations

import numpy as np
import pytest
from fakes import fake_result

from neuronviz.reports.compare import compare_models, compare_tasks, verdicts
from neuronviz.stats.chance import expected_jaccard


def test_task_overlap_against_random_sets_of_the_same_sizes():
    same = fake_result(task="pos", size=20, seed=1)
    other = fake_result(task="chunk", size=20, order=np.arange(200)[::-1], seed=2)
    third = fake_result(task="ccg", size=20, seed=3)
    report = compare_tasks([same, other, third])
    pairs = {tuple(p["tasks"]): p for p in report["pairs"]}
    disjoint, shared = pairs[("ccg", "chunk")], pairs[("ccg", "pos")]
    assert disjoint["jaccard"] == 0 and disjoint["ratio"] == 0
    assert shared["jaccard"] == 1 and shared["p_value"] < 1e-20
    assert shared["expected_jaccard"] == pytest.approx(expected_jaccard(200, 20, 20))
    assert shared["ratio"] == pytest.approx(1 / shared["expected_jaccard"])
    low, high = shared["ratio_interval"]
    assert low <= shared["ratio"] * 1.01 and high > 1
    assert (
        report["mean_ratio_interval"][0] <= report["mean_ratio"] <= report["mean_ratio_interval"][1]
    )


def test_model_verdicts_are_relative_to_chance_and_tested():
    a = fake_result("a", "pos", size=10, chance=0.3)  # 5% of 200 vs chance 30%
    b = fake_result("b", "pos", n_layers=10, size=60, chance=0.3)  # 15% of 400
    rows = compare_models([a, b])["rows"]
    (line,) = verdicts(rows, [a, b])
    assert "**a is more localized** relative to chance" in line and "p = 0.000" in line
    twin = fake_result("c", "pos", size=10, chance=0.3, seed=9)
    (line,) = verdicts(compare_models([a, twin])["rows"], [a, twin])
    assert "**not significant**" in line


def test_raw_shares_and_chance_corrected_shares_can_disagree():
    """b needs the smaller raw share (2% vs 5%) but random neurons of b reach the accuracy with
    4%: relative to chance a is the more localized model."""
    a = fake_result("a", "pos", size=10, chance=0.30)
    b = fake_result("b", "pos", n_layers=10, size=8, chance=0.04)
    rows = compare_models([a, b])["rows"]
    by = {r["model"]: r for r in rows}
    assert by["b"]["minimal_share"] < by["a"]["minimal_share"]
    assert by["a"]["localization"] < by["b"]["localization"]
    (line,) = verdicts(rows, [a, b])
    assert "**a is more localized**" in line
