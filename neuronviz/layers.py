"""Where the neurons live: distribution of selected neurons over layers, and per-layer probes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuronviz.features import ProbeData
from neuronviz.retrain import Retrainer

__all__ = ["LayerProbes", "layer_distribution", "layer_probes"]


def layer_distribution(neurons: np.ndarray, n_layers: int, hidden_size: int) -> dict:
    """Count and share of ``neurons`` in each layer (0 = embeddings)."""
    counts = np.bincount(np.asarray(neurons, dtype=np.int64) // hidden_size, minlength=n_layers)
    total = max(int(counts.sum()), 1)
    return {"count": counts.tolist(), "share": (counts / total).tolist()}


@dataclass(frozen=True)
class LayerProbes:
    """Retrained accuracy of a probe on each single layer's neurons."""

    dev: list[float]
    test: list[float]


def layer_probes(data: ProbeData, retrain: Retrainer) -> LayerProbes:
    dev, test = [], []
    h = data.hidden_size
    retrain.prefetch(np.arange(layer * h, (layer + 1) * h) for layer in range(data.n_layers))
    for layer in range(data.n_layers):
        result = retrain(np.arange(layer * h, (layer + 1) * h))
        dev.append(result.dev)
        test.append(result.test)
    return LayerProbes(dev, test)
