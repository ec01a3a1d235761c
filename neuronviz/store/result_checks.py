"""Checks of stored results before they are shown: every file matches its checksum, the numbers are consistent with each other, and the oracle scores what it claims on the test activations."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from neuronviz.store.files import atomic_write_json, file_digest
from neuronviz.store.results import AnalysisResult

__all__ = ["CHECKSUMS", "consistency_problem", "oracle_problem", "result_problem"]

log = logging.getLogger(__name__)


CHECKSUMS = "checksums.json"


_RESULT_FILES = ("result.json", "arrays.npz")


def record_checksums(folder: Path) -> None:
    atomic_write_json(
        folder / CHECKSUMS, {name: file_digest(folder / name) for name in _RESULT_FILES}
    )


def result_problem(folder: Path) -> str | None:
    """What is wrong with the files of the result in ``folder`` (None when they match the
    checksums written with them). A result written before checksums is checked from here on:
    its checksums are recorded on first read."""
    try:
        recorded = json.loads((folder / CHECKSUMS).read_text(encoding="utf-8"))
    except FileNotFoundError:
        if all((folder / name).is_file() for name in _RESULT_FILES):
            try:
                record_checksums(folder)
                log.info("recorded the checksums of %s (written before checksums)", folder)
            except OSError:
                pass  # a read-only cache: read as it is
        return None
    except (OSError, ValueError) as exc:
        return f"{CHECKSUMS} is unreadable: {exc}"
    if not isinstance(recorded, dict):
        return f"{CHECKSUMS} is not a table of checksums"
    for name in _RESULT_FILES:
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if file_digest(path) != recorded.get(name):
            return f"{name} does not match the checksum written with it"
    return None


def consistency_problem(result: AnalysisResult) -> str | None:
    """What in ``result`` contradicts the rest of it, checked from its own arrays (no trust in
    its checksums): the ranking is a permutation of the neurons, an LCA ranking puts exactly the
    oracle's weighted neurons first, and the minimal set is a prefix of the ranking."""
    order, n = np.asarray(result.order), result.n_neurons
    if order.shape != (n,) or not np.array_equal(np.sort(order), np.arange(n)):
        return f"the ranking is not an order of the {n} neurons"
    weights = np.asarray(result.arrays.get("weights", np.zeros((0, n))))
    n_weighted = result.ranking.n_weighted
    if result.method == "lca" and n_weighted >= 0 and weights.shape[-1] == n:
        weighted = np.flatnonzero(np.abs(weights).sum(0) > 0)
        if n_weighted != weighted.size or set(order[:n_weighted].tolist()) != set(
            weighted.tolist()
        ):
            return "the ranking does not start with the oracle's weighted neurons"
    minimal = np.asarray(result.minimal_neurons)
    if set(minimal.tolist()) != set(order[: minimal.size].tolist()):
        return "the minimal set is not the ranking's first neurons"
    return _number_problem(result)


def _number_problem(result: AnalysisResult) -> str | None:
    """Numbers no analysis writes: an accuracy outside 0..1 (or not a number), a word count
    that is not a positive integer of a corpus' size."""
    if not isinstance(result.words, dict):
        return f"its word counts {str(result.words)[:40]!r} are not a table of splits"
    for split, words in result.words.items():
        if not (isinstance(words, int) and 0 <= words < 10**10):
            return f"words.{split} = {words!r} is not a number of words"
    for part, record in (("oracle", result.oracle), ("minimal", result.minimal)):
        for name in ("dev_accuracy", "test_accuracy"):
            value = getattr(record, name)
            if not (isinstance(value, (int, float)) and 0 <= value <= 1):
                return f"{part}.{name} = {value!r} is not an accuracy (0..1)"
    value = None if result.control is None else result.control.test_accuracy
    if value is not None and not (isinstance(value, (int, float)) and 0 <= value <= 1):
        return f"control.test_accuracy = {value!r} is not an accuracy (0..1)"
    return None


def oracle_problem(result: AnalysisResult, test_entry, tolerance: float = 1e-3) -> str | None:
    """Whether ``result``'s stored oracle test accuracy follows from its own weights applied to
    the test activations (``test_entry``, an ``ActivationEntry``): a check that needs no trust
    in any checksum. None when it does, or when the result lacks what it needs (older results
    hold no feature statistics)."""
    arrays = result.arrays
    stored = result.oracle.test_accuracy
    if stored is None or "feature_mean" not in arrays or not test_entry.has_labels(result.task):
        return None
    ids, vocab = test_entry.labels(result.task)
    index = {c: i for i, c in enumerate(result.classes)}
    gold = np.array([index.get(vocab[i], -1) for i in ids])
    weights, bias = arrays["weights"], arrays["bias"]
    mean, scale = arrays["feature_mean"], arrays["feature_scale"]
    if weights.shape[1] != test_entry.shape[1] or mean.shape != (weights.shape[1],):
        return "its weights do not fit the test activations"
    correct, block = 0, 8192
    for start in range(0, test_entry.manifest.n_words, block):
        x = test_entry.matrix(slice(start, start + block), dtype=np.float32)
        predicted = (((x - mean) / scale) @ weights.T + bias).argmax(1)
        correct += int((predicted == gold[start : start + block]).sum())
    recomputed = correct / max(len(gold), 1)
    if abs(recomputed - float(stored)) > tolerance:
        return (
            f"its oracle test accuracy {100 * float(stored):.2f}% does not follow from its weights "
            f"on its test activations ({100 * recomputed:.2f}%)"
        )
    return None
