"""Extraction: word alignment, aggregation, padding invariance and long sentences, per architecture."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_models import assert_same_activations

from neuronviz.errors import ConfigError
from neuronviz.extraction.extract import (
    ExtractionSettings,
    extract_words,
    plan_batches,
    tokenize_words,
)
from neuronviz.models.loading import load_model

SENTENCES = [
    ["The", "cat", "sat", "on", "the", "mat", "."],
    ["A", "dog", "!"],
    ["Über", "naïve", "x", "42"],
    ["quiet"],
]
ARCHS = ["bert", "roberta", "gpt2", "llama", "xlnet"]


@pytest.fixture(scope="module")
def models(tiny_models):
    return {name: load_model(str(path), device="cpu") for name, path in tiny_models.items()}


def reference(model, words, aggregation):
    """Straightforward per-sentence computation: char offsets by hand, no batching, no padding."""
    text = " ".join(words)
    enc = model.tokenizer(text, return_offsets_mapping=True, return_special_tokens_mask=True)
    starts, pos = [], 0
    for w in words:
        starts.append(pos)
        pos += len(w) + 1
    owner = []
    for (a, b), special in zip(enc["offset_mapping"], enc["special_tokens_mask"], strict=True):
        if special:
            owner.append(None)
            continue
        last_char = b - 1 if b > a else a
        # the word whose span holds the last character; a bare space goes to the next word
        owner.append(
            min(
                i
                for i, (s, w) in enumerate(zip(starts, words, strict=True))
                if s + len(w) > last_char
            )
        )
    with torch.no_grad():
        hidden = model.model(
            torch.tensor([enc["input_ids"]]), output_hidden_states=True
        ).hidden_states
    out = np.zeros((len(hidden), len(words), model.hidden_size), dtype=np.float32)
    for w in range(len(words)):
        idx = [t for t, o in enumerate(owner) if o == w]
        pick = {"first": idx[:1], "last": idx[-1:], "mean": idx}[aggregation]
        for layer, h in enumerate(hidden):
            out[layer, w] = h[0, pick].float().mean(0).numpy()
    return out


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("aggregation", ["last", "first", "mean"])
def test_batched_extraction_matches_reference(models, arch, aggregation):
    model = models[arch]
    got = extract_words(model, SENTENCES, ExtractionSettings(aggregation=aggregation))
    expected = np.concatenate([reference(model, s, aggregation) for s in SENTENCES], axis=1)
    assert got.shape == (model.n_layers, sum(map(len, SENTENCES)), model.hidden_size)
    assert got.dtype == np.float16
    np.testing.assert_allclose(got.astype(np.float32), expected, atol=2e-2, rtol=1e-2)


@pytest.mark.parametrize("arch", ARCHS)
def test_padding_and_batch_size_do_not_change_results(models, arch):
    model = models[arch]
    together = extract_words(model, SENTENCES)
    tiny_batches = extract_words(model, SENTENCES, ExtractionSettings(batch_tokens=1))
    assert_same_activations(together, tiny_batches)


def test_multi_subword_words_differ_by_aggregation(models):
    model = models["bert"]
    first = extract_words(model, [["Tiger"]], ExtractionSettings(aggregation="first"))
    last = extract_words(model, [["Tiger"]], ExtractionSettings(aggregation="last"))
    assert not np.allclose(first[-1], last[-1])
    single = [["cat"]]  # one token in the tiny BERT vocabulary
    np.testing.assert_array_equal(
        extract_words(model, single, ExtractionSettings(aggregation="first")),
        extract_words(model, single, ExtractionSettings(aggregation="last")),
    )


@pytest.mark.parametrize("arch", ARCHS)
def test_long_sentences_are_windowed_without_losing_words(models, arch, caplog):
    model = models[arch]
    long = [["word", "cat", "x"][i % 3] + str(i % 7) for i in range(60)]
    settings = ExtractionSettings(max_length=24)
    tok = tokenize_words(model.tokenizer, [long, ["short"]], settings.window(model))
    assert tok.windowed_sentences == 1
    assert tok.n_words == 61 and int(tok.n_keep.sum()) == 61
    assert max(len(i) for i in tok.ids) <= 24
    out = extract_words(model, [long, ["short"]], settings)
    assert out.shape[1] == 61 and np.isfinite(out).all()
    assert "overlapping windows" in caplog.text


def test_causal_first_window_equals_unwindowed_run(models):
    model = models["gpt2"]
    long = [f"w{i}" for i in range(40)]
    full = extract_words(model, [long])
    windowed = extract_words(model, [long], ExtractionSettings(max_length=20))
    # A causal model's first window sees exactly the left context of the full run.
    tok = tokenize_words(model.tokenizer, [long], 20)
    first_window = int(tok.n_keep[0])
    np.testing.assert_array_equal(windowed[:, :first_window], full[:, :first_window])


def test_overlong_single_word_is_truncated_and_counted(models):
    model = models["bert"]
    tok = tokenize_words(model.tokenizer, [["a" * 60, "cat"]], 16)
    assert tok.truncated_words == 1 and tok.n_words == 2


def test_word_without_tokens_is_replaced_and_counted(models):
    model = models["bert"]
    tok = tokenize_words(model.tokenizer, [["cat", "\u200b", "sat"]], 64)  # zero-width space
    assert tok.replaced_words == 1 and int(tok.n_keep.sum()) == 3


def test_plan_batches_respects_budget_and_covers_every_piece():
    lengths = np.array([5, 30, 12, 12, 7, 3, 30])
    batches = plan_batches(lengths, batch_tokens=40)
    seen = np.concatenate([b.pieces for b in batches])
    assert sorted(seen.tolist()) == list(range(len(lengths)))
    for b in batches:
        assert len(b.pieces) == 1 or lengths[b.pieces].max() * len(b.pieces) <= 40
    assert [b.index for b in batches] == list(range(len(batches)))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"aggregation": "max"}, "unknown aggregation"),
        ({"max_length": 2}, "at least 8"),
        ({"batch_tokens": 0}, "positive"),
    ],
)
def test_bad_settings(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        ExtractionSettings(**kwargs)


def test_empty_inputs(models):
    model = models["bert"]
    assert extract_words(model, []).shape == (3, 0, 16)
    with_empty = extract_words(model, [["cat"], [], ["sat", "on"]])
    assert_same_activations(with_empty, extract_words(model, [["cat"], ["sat", "on"]]))
