"""Where the neurons live: distribution of selected neurons over layers, and per-layer probes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neuronviz.probing.features import ProbeData
from neuronviz.probing.retrain import Retrained, Retrainer

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
    probes: list[Retrained] = field(default_factory=list, repr=False)


def layer_probes(data: ProbeData, retrain: Retrainer) -> LayerProbes:
    h = data.hidden_size
    retrain.prefetch(np.arange(layer * h, (layer + 1) * h) for layer in range(data.n_layers))
    probes = [retrain(np.arange(layer * h, (layer + 1) * h)) for layer in range(data.n_layers)]
    return LayerProbes([p.dev for p in probes], [p.test for p in probes], probes)
