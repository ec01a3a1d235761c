"""Probe metrics on hand-made labels: reports, confusion matrices, intervals, frequent classes."""

from __future__ import annotations

import numpy as np

from neuronviz.probing.metrics import (
    classification_report,
    confusion_matrix,
    frequent_classes,
    wilson_interval,
)


def test_frequent_classes_by_count_ties_by_id_ignoring_negative_labels():
    labels = np.array([2, 2, 2, 0, 0, 3, 3, 1, -1, -1, -1, -1])
    assert frequent_classes(labels, 5, 2).tolist() == [0, 2]  # 2 (3 words), then 0 before 3
    assert frequent_classes(labels, 5, 3).tolist() == [0, 2, 3]
    assert frequent_classes(labels, 5, 10).tolist() == [0, 1, 2, 3, 4]  # all, sorted by id


def test_report_and_confusion_count_what_was_predicted():
    gold = np.array([0, 0, 1, 1, 2])
    pred = np.array([0, 1, 1, 1, 0])
    report = classification_report(pred, gold, ["a", "b", "c"])
    assert report.accuracy == 0.6 and report.support == {"a": 2, "b": 2, "c": 1}
    assert report.per_class_accuracy == {"a": 0.5, "b": 1.0, "c": 0.0}
    assert confusion_matrix(gold, pred, 3).tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]


def test_wilson_interval_holds_the_share_and_narrows_with_trials():
    low, high = wilson_interval(5, 10)
    assert low < 0.5 < high
    low2, high2 = wilson_interval(50, 100)
    assert high2 - low2 < high - low
