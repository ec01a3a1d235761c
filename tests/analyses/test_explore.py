"""Single neurons in cached activations: top words, activations by class, a sentence's values."""

from __future__ import annotations

import numpy as np
import pytest
from sameness import extract

from neuronviz.analyses.explore import (
    class_activations,
    sentence_offsets,
    sentence_values,
    top_firing,
)
from neuronviz.errors import ConfigError


@pytest.fixture(scope="module")
def entry(tiny_bert, data_dir, tmp_path_factory):
    return extract(tiny_bert, data_dir, tmp_path_factory.mktemp("cache")).entries["test"]


def test_sentence_offsets_are_the_rows_where_sentences_start():
    assert sentence_offsets([["a", "b"], ["c"], ["d", "e", "f"]]).tolist() == [0, 2, 3, 6]


def test_top_firing_finds_the_highest_and_lowest_words_with_their_context(entry):
    neuron = 7
    column = entry.neurons([neuron])[:, 0].astype(np.float32)
    tokens = entry.tokens()
    top = top_firing(entry, neuron, k=5, context=2)
    assert [f.activation for f in top] == sorted(column, reverse=True)[:5]
    for f in top:
        words = tokens[f.sentence]
        assert f.word == words[f.position]
        assert f.left == " ".join(words[max(0, f.position - 2) : f.position])
        assert f.right == " ".join(words[f.position + 1 : f.position + 3])
        row = sentence_offsets(tokens)[f.sentence] + f.position
        assert column[row] == f.activation
    low = top_firing(entry, neuron, k=3, lowest=True)
    assert [f.activation for f in low] == sorted(column)[:3]


def test_class_activations_group_a_neuron_by_gold_class(entry):
    ids, vocab = entry.labels("pos")
    column = entry.neurons([2])[:, 0].astype(np.float32)
    got = class_activations(entry, "pos", 2)
    assert set(got) == {vocab[i] for i in np.unique(ids)}
    for name, values in got.items():
        np.testing.assert_array_equal(values, column[ids == vocab.index(name)])
    capped = class_activations(entry, "pos", 2, max_per_class=3)
    assert max(len(v) for v in capped.values()) == 3


def test_sentence_values_are_neurons_by_words_and_bad_indices_are_refused(entry):
    words, values = sentence_values(entry, 1, [0, 5])
    assert words == entry.tokens()[1] and values.shape == (2, len(words))
    with pytest.raises(ConfigError, match="sentence 99999 is outside"):
        sentence_values(entry, 99999, [0])
    with pytest.raises(ConfigError, match="neuron -1 is outside"):
        top_firing(entry, -1)
