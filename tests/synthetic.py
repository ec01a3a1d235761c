"""Synthetic probing problems where the answer is known: a handful of neurons decide the label."""

from __future__ import annotations

import numpy as np
import torch

from neuronviz.probing.design import DenseDesign
from neuronviz.probing.features import EvalSet, ProbeData

INFORMATIVE = (5, 17, 30, 44)  # neurons that carry the label (in layers 0, 1, 1, 2 of 3 x 16)


def make_arrays(
    n: int, seed: int, n_neurons: int = 48, noise: float = 0.3, informative=INFORMATIVE
):
    """Features, labels (4 classes) and words; each class lifts one informative neuron."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_neurons)).astype(np.float32)
    y = rng.integers(0, 4, size=n)
    for c, neuron in enumerate(informative):
        x[:, neuron] += 4.0 * (y == c) + noise * rng.normal(size=n)
    words = [[f"w{i}"] for i in rng.integers(0, 200, size=n)]  # word types unrelated to labels
    return x, y, words


def make_word_task(n: int, seed: int, n_neurons: int = 48):
    """A task that is a function of the word type only, with features that encode the type:
    a probe learns it by memorising types, so a control task is learnt just as well."""
    rng = np.random.default_rng(seed)
    types = rng.integers(0, 30, size=n)
    type_vectors = np.random.default_rng(99).normal(size=(30, n_neurons)).astype(np.float32) * 2
    x = type_vectors[types] + 0.1 * rng.normal(size=(n, n_neurons)).astype(np.float32)
    label_of_type = np.random.default_rng(7).integers(0, 4, size=30)
    return x, label_of_type[types], [[f"t{t}"] for t in types]


def probe_data(
    maker=make_arrays, n_train: int = 1500, n_eval: int = 500, task: str = "toy"
) -> ProbeData:
    x, y, words = maker(n_train, 0)
    xd, yd, wd = maker(n_eval, 1)
    xt, yt, wt = maker(n_eval, 2)
    train = DenseDesign.from_array(x)

    def evalset(a, labels, w):
        xs = torch.from_numpy(((a - train.mean) / train.scale).astype(np.float16))
        return EvalSet(xs, labels.astype(np.int64), w)

    return ProbeData(
        model="synthetic",
        task=task,
        classes=["A", "B", "C", "D"],
        train=train,
        y_train=torch.as_tensor(y.astype(np.int64)),
        dev=evalset(xd, yd, wd),
        test=evalset(xt, yt, wt),
        train_words=words,
        n_layers=3,
        hidden_size=16,
        layer_names=["embeddings", "layer 1", "layer 2"],
    )
