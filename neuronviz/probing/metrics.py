"""Classification metrics for probes: accuracy, macro-F1, per-class accuracy and support."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "ClassificationReport",
    "classification_report",
    "confusion_matrix",
    "frequent_classes",
    "wilson_interval",
]


@dataclass(frozen=True)
class ClassificationReport:
    """Scores of predictions against gold label ids (-1 = a label unseen in training)."""

    accuracy: float
    macro_f1: float
    per_class_accuracy: dict[str, float]
    support: dict[str, int]

    def to_dict(self) -> dict:
        return {
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "per_class_accuracy": self.per_class_accuracy,
            "support": self.support,
        }


def classification_report(
    pred: np.ndarray, gold: np.ndarray, classes: list[str]
) -> ClassificationReport:
    """Accuracy over all words; macro-F1 and per-class accuracy (recall) over the gold classes present."""
    pred = np.asarray(pred)
    gold = np.asarray(gold)
    n = len(classes)
    accuracy = float(np.mean(pred == gold)) if len(gold) else 0.0
    seen = gold >= 0
    support = np.bincount(gold[seen], minlength=n)
    hits = np.bincount(gold[seen & (pred == gold)], minlength=n)
    predicted = np.bincount(pred[pred >= 0], minlength=n)
    present = np.flatnonzero(support > 0)
    recall = hits[present] / support[present]
    precision = np.divide(
        hits[present], predicted[present], out=np.zeros(len(present)), where=predicted[present] > 0
    )
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(len(present)), where=denom > 0)
    return ClassificationReport(
        accuracy=accuracy,
        macro_f1=float(f1.mean()) if len(present) else 0.0,
        per_class_accuracy={classes[c]: float(r) for c, r in zip(present, recall, strict=True)},
        support={classes[c]: int(support[c]) for c in present},
    )


def confusion_matrix(gold: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts ``(gold, predicted)``; gold ids below 0 (labels unseen in training) are left out."""
    gold, pred = np.asarray(gold), np.asarray(pred)
    keep = gold >= 0
    flat = gold[keep] * n_classes + pred[keep]
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion (sensible for small ``trials`` and 0 or 1)."""
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * np.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def frequent_classes(labels: np.ndarray, n_classes: int, k: int) -> np.ndarray:
    """The ``k`` most frequent classes among ``labels`` (ties: the lower id), sorted by id;
    negative labels (words the probe ignores) do not count."""
    labels = np.asarray(labels)
    counts = np.bincount(labels[labels >= 0], minlength=n_classes)
    return np.sort(np.argsort(-counts, kind="stable")[:k])
