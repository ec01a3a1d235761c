"""Control tasks: one random label per word type, fixed by a seed, drawn from the task's prior."""

from __future__ import annotations

import numpy as np
from synthetic import make_word_task, probe_data

from neuronviz.probing.control import control_labels
from neuronviz.probing.features import flatten


def _label_of_type(words, labels) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for w, y in zip(words, labels, strict=True):
        out.setdefault(w, set()).add(int(y))
    return out


def test_every_word_type_gets_one_label_in_every_split():
    data = probe_data(make_word_task)
    train, dev, test = control_labels(data, seed=3)
    words = flatten(data.train_words) + flatten(data.dev.words) + flatten(data.test.words)
    labels = np.concatenate([train.numpy(), dev, test])
    assert all(len(s) == 1 for s in _label_of_type(words, labels).values())
    assert len(train) == data.train.n_rows and len(dev) == len(data.dev.y)


def test_the_seed_fixes_the_labels_and_another_seed_changes_them():
    data = probe_data()
    a, b = control_labels(data, seed=0), control_labels(data, seed=0)
    c = control_labels(data, seed=1)
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[1], c[1])


def test_control_labels_follow_the_training_label_distribution():
    data = probe_data()  # 200 word types, 4 classes about equally frequent
    train, _, _ = control_labels(data, seed=0)
    shares = np.bincount(train.numpy(), minlength=4) / len(train)
    assert np.all(np.abs(shares - 0.25) < 0.12)
    assert len(set(train.tolist())) == 4
