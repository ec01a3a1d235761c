"""Control tasks (Hewitt and Liang, 2019) and selectivity.

A control task gives every word *type* a random label, drawn from the real task's training label
distribution and fixed by a seed. A probe can only learn it by memorising word identities, so
selectivity = task accuracy - control accuracy says how much of a probe's accuracy reflects the
linguistic property rather than the probe's capacity to memorise.
"""

from __future__ import annotations

import numpy as np
import torch

from neuronviz.probing.features import ProbeData, flatten

__all__ = ["control_labels"]


def control_labels(data: ProbeData, seed: int) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """Hewitt and Liang control task: every word type gets a random label, drawn from the task's
    training label distribution and fixed by ``seed``; returns train, dev and test label ids."""
    train_words = flatten(data.train_words)[: data.train.n_rows]
    dev_words, test_words = flatten(data.dev.words), flatten(data.test.words)
    types = sorted(set(train_words) | set(dev_words) | set(test_words))
    prior = np.bincount(data.y_train.numpy(), minlength=data.n_classes).astype(np.float64)
    rng = np.random.default_rng(seed)
    drawn = rng.choice(data.n_classes, size=len(types), p=prior / prior.sum())
    label = dict(zip(types, drawn.tolist(), strict=True))

    def ids(words: list[str]) -> np.ndarray:
        return np.fromiter((label[w] for w in words), dtype=np.int64, count=len(words))

    return torch.as_tensor(ids(train_words)), ids(dev_words), ids(test_words)
