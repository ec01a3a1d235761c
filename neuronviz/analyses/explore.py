"""Looking at single neurons in cached activations: where they fire, on which words and classes.

Everything reads memory-mapped cache entries column by column, so exploring a neuron of a large
entry costs one column read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuronviz.errors import ConfigError
from neuronviz.store.activations import ActivationEntry

__all__ = ["Firing", "class_activations", "sentence_offsets", "sentence_values", "top_firing"]


@dataclass(frozen=True)
class Firing:
    """One word where a neuron fires strongly, with its sentence context."""

    activation: float
    word: str
    sentence: int
    position: int
    left: str
    right: str


def sentence_offsets(tokens: list[list[str]]) -> np.ndarray:
    """Row of the first word of every sentence (plus the total at the end)."""
    return np.concatenate([[0], np.cumsum([len(s) for s in tokens])]).astype(np.int64)


def _column(entry: ActivationEntry, neuron: int) -> np.ndarray:
    if not 0 <= neuron < entry.shape[1]:
        raise ConfigError(f"neuron {neuron} is outside 0..{entry.shape[1] - 1}")
    return np.asarray(entry.neurons([neuron])[:, 0], dtype=np.float32)


def top_firing(
    entry: ActivationEntry, neuron: int, k: int = 20, *, context: int = 6, lowest: bool = False
) -> list[Firing]:
    """The ``k`` words with the highest (or lowest) activation of ``neuron``, with context."""
    values = _column(entry, neuron)
    tokens = entry.tokens()
    offsets = sentence_offsets(tokens)
    order = np.argsort(values if lowest else -values, kind="stable")[:k]
    found = []
    for row in order:
        s = int(np.searchsorted(offsets, row, side="right") - 1)
        p = int(row - offsets[s])
        words = tokens[s]
        found.append(
            Firing(
                activation=float(values[row]),
                word=words[p],
                sentence=s,
                position=p,
                left=" ".join(words[max(0, p - context) : p]),
                right=" ".join(words[p + 1 : p + 1 + context]),
            )
        )
    return found


def class_activations(
    entry: ActivationEntry, task: str, neuron: int, *, max_per_class: int = 2000, seed: int = 0
) -> dict[str, np.ndarray]:
    """Activations of ``neuron`` grouped by gold class (sampled to ``max_per_class`` per class)."""
    values = _column(entry, neuron)
    ids, vocab = entry.labels(task)
    rng = np.random.default_rng(seed)
    out = {}
    for c, name in enumerate(vocab):
        rows = np.flatnonzero(ids == c)
        if len(rows) > max_per_class:
            rows = np.sort(rng.choice(rows, max_per_class, replace=False))
        if len(rows):
            out[name] = values[rows]
    return out


def sentence_values(
    entry: ActivationEntry, sentence: int, neurons: list[int]
) -> tuple[list[str], np.ndarray]:
    """Words of one corpus sentence and the activations of ``neurons`` on them, ``(neurons, words)``."""
    tokens = entry.tokens()
    if not 0 <= sentence < len(tokens):
        raise ConfigError(f"sentence {sentence} is outside 0..{len(tokens) - 1}")
    offsets = sentence_offsets(tokens)
    rows = slice(int(offsets[sentence]), int(offsets[sentence + 1]))
    return tokens[sentence], entry.neurons(neurons, rows=rows).astype(np.float32).T
