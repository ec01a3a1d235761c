"""Naming and picking neurons: ``layer:index`` labels and the most active neurons of a word."""

from __future__ import annotations

import re

import numpy as np

from neuronviz.errors import ConfigError

__all__ = ["MAX_LISTED", "neuron_label", "parse_neuron", "parse_neurons", "top_active_neurons"]

MAX_LISTED = 32  # neurons one explorer view describes and highlights at once


def neuron_label(neuron: int, hidden_size: int) -> str:
    """``layer:index`` for a global neuron id (``layer * hidden_size + index``)."""
    return f"{neuron // hidden_size}:{neuron % hidden_size}"


_NEURON = re.compile(r"(?P<layer>[0-9]{1,9})(?::(?P<index>[0-9]{1,9}))?", re.ASCII)


def parse_neuron(text: str, n_layers: int, hidden_size: int) -> int:
    """Global neuron id of ``"layer:index"`` (or a plain global id), checked against the model."""
    text = text.strip()
    # ASCII digits only: int() would also take "1_5", "+1", " 03" and other scripts' digits,
    # and open another neuron than the one written.
    match = _NEURON.fullmatch(text)
    if match is None:
        raise ConfigError(
            f"cannot read neuron {text!r}",
            hint="write layer:index with digits 0-9, e.g. 3:127 (or a plain neuron number)",
        )
    if match["index"] is not None:
        layer, index = int(match["layer"]), int(match["index"])
    else:
        layer, index = divmod(int(match["layer"]), hidden_size)
    if not (0 <= layer < n_layers and 0 <= index < hidden_size):
        raise ConfigError(
            f"neuron {text!r} is outside the model",
            hint=f"layers 0..{n_layers - 1}, indices 0..{hidden_size - 1}",
        )
    return layer * hidden_size + index


def parse_neurons(text: str, n_layers: int, hidden_size: int, limit: int = MAX_LISTED) -> list[int]:
    """The neurons of a comma-separated list, in order, duplicates dropped; at most ``limit``
    (each is described and highlighted, so a pasted list of thousands would run for minutes)."""
    items = [t for t in text.split(",") if t.strip()]
    if len(items) > limit:
        raise ConfigError(
            f"{len(items)} neurons listed; one view shows at most {limit}",
            hint=f"list the {limit} you want to compare, or use the heatmap page for many",
        )
    return list(dict.fromkeys(parse_neuron(t, n_layers, hidden_size) for t in items))


def top_active_neurons(activations: np.ndarray, word: int, k: int = 10) -> np.ndarray:
    """Global ids of the ``k`` neurons whose activation on ``word`` stands out most.

    ``activations`` has shape ``(layers, words, hidden)``. Each neuron's value is standardised
    over the words given (so a neuron that is large everywhere does not win by default).
    """
    layers, n_words, hidden = activations.shape
    flat = activations.astype(np.float32).transpose(1, 0, 2).reshape(n_words, layers * hidden)
    centred = flat - flat.mean(axis=0)
    scale = flat.std(axis=0) + 1e-6
    score = np.abs(centred[word] / scale) if n_words > 1 else np.abs(flat[word])
    return np.argsort(-score, kind="stable")[:k]
