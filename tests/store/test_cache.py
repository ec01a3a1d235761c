"""Activation cache: layout, partial reads, labels, damage detection, resume after kill -9, locking."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from neuronviz.errors import CacheError, ConfigError, DataError, ModelError
from neuronviz.extraction.fill_cache import extract_task
from neuronviz.store.activation_cache import ActivationCache

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def extracted(tiny_bert, data_dir, cache_dir):
    return extract_task(str(tiny_bert), "pos", data_dir=data_dir, cache=cache_dir)


def test_entries_cover_every_split_with_all_neurons(extracted, data_dir):
    from neuronviz.corpora import load_task

    task = load_task("pos", data_dir=data_dir)
    for split, entry in extracted.entries.items():
        assert entry.shape == (task[split].n_words, 3 * 16)
        assert entry.tokens() == task[split].tokens
        ids, vocab = entry.labels("pos")
        assert [vocab[i] for i in ids] == [t for s in task[split].labels for t in s]
        assert entry.verify() == []
    manifest = json.loads((extracted.entries["train"].path / "manifest.json").read_text())
    assert manifest["shape"] == [task["train"].n_words, 48]
    assert manifest["dtype"] == "float16"
    assert manifest["labels"]["pos"]["vocab"] == sorted(
        {t for s in task["train"].labels for t in s}
    )
    assert {"neuronviz", "torch", "transformers"} <= set(manifest["versions"])


def test_second_run_is_a_cache_hit_without_loading_the_model(
    extracted, tiny_bert, data_dir, cache_dir, monkeypatch
):
    import neuronviz.extraction.fill_cache as pipeline

    monkeypatch.setattr(
        pipeline, "load_model", lambda *a, **k: pytest.fail("model loaded on a cache hit")
    )
    again = extract_task(str(tiny_bert), "pos", data_dir=data_dir, cache=cache_dir)
    assert all(again.cached.values())
    assert {s: e.path for s, e in again.entries.items()} == {
        s: e.path for s, e in extracted.entries.items()
    }


def test_tasks_on_one_corpus_share_an_entry_and_add_labels(
    extracted, tiny_bert, data_dir, cache_dir
):
    chunk = extract_task(str(tiny_bert), "chunk", data_dir=data_dir, cache=cache_dir)
    assert all(chunk.cached.values())
    entry = chunk.entries["test"]
    assert set(entry.manifest.labels) == {"pos", "chunk"}
    assert "B-NP" in entry.labels("chunk")[1]


def test_reading_layers_and_neurons(extracted):
    entry = extracted.entries["train"]
    full = entry.matrix()
    assert full.dtype == np.float32 and full.shape == entry.shape
    np.testing.assert_array_equal(entry.layer(1), full[:, 16:32].astype(np.float16))
    ids = [0, 17, 47, 5]
    np.testing.assert_array_equal(entry.neurons(ids), full[:, ids].astype(np.float16))
    np.testing.assert_array_equal(
        entry.neurons(ids, rows=slice(3, 9)), full[3:9, ids].astype(np.float16)
    )
    blocks = list(entry.iter_rows(7))
    np.testing.assert_array_equal(np.concatenate(blocks), full)
    with pytest.raises(ConfigError, match="neuron ids"):
        entry.neurons([48])
    with pytest.raises(ConfigError, match="layer 3 out of range"):
        entry.layer(3)
    with pytest.raises(CacheError, match="no labels for task 'ccg'"):
        entry.labels("ccg")


def test_row_blocks_read_layers_without_mapping_them(extracted):
    entry = extracted.entries["train"]
    layer = np.array(entry.layer(1))  # a copy: the memmap is gone
    n = len(layer) - 3
    path = str(entry.path / entry.manifest.layers[1].file)
    seen = []
    for start, stop, rows in entry.row_blocks(1, n, 5):
        np.testing.assert_array_equal(rows, layer[start:stop])
        with open("/proc/self/maps") as maps:
            assert path not in maps.read()
        seen.append((start, stop))
    assert seen[0] == (0, 5) and seen[-1][1] == n
    assert all(a[1] == b[0] for a, b in pairwise(seen))
    assert list(entry.row_blocks(1, 0, 5)) == []


def test_row_blocks_of_a_truncated_layer_file_name_the_file(extracted):
    entry = extracted.entries["train"]
    path = entry.path / entry.manifest.layers[2].file
    blocks = entry.row_blocks(2, len(entry.layer(2)), 4)
    next(blocks)  # header parsed, file open
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CacheError, match="ends before row") as err:
        list(blocks)
    assert str(path) in str(err.value)


def test_reading_neurons_opens_only_their_layers(extracted, monkeypatch):
    entry = extracted.entries["train"]
    opened = []
    original = entry.layer
    monkeypatch.setattr(entry, "layer", lambda i: opened.append(i) or original(i))
    entry.neurons([16, 20])
    assert opened == [1]


def test_list_find_and_remove(extracted, cache_dir):
    cache = ActivationCache(cache_dir)
    assert len(cache.entries()) == 3
    assert len(cache.entries(model="nobody")) == 0
    entry = cache.find(extracted.entries["dev"].manifest.entry_id[:20])
    cache.remove(entry)
    assert len(cache.entries()) == 2 and not entry.path.exists()
    with pytest.raises(CacheError, match="no entry"):
        cache.find("zzz")


def test_bad_corpus_writes_nothing(tiny_bert, tmp_path, cache_dir):
    data = tmp_path / "data"
    (data / "conll2000").mkdir(parents=True)
    (data / "conll2000" / "train.txt").write_text("The DT B-NP\ncat NN\n")
    (data / "conll2000" / "test.txt").write_text("The DT B-NP\n")
    with pytest.raises(DataError, match=r"train\.txt:2"):
        extract_task(str(tiny_bert), "pos", data_dir=data, cache=cache_dir)
    assert not cache_dir.exists()


def test_unknown_model_writes_nothing(data_dir, cache_dir):
    with pytest.raises(ModelError, match="unknown model 'nope'"):
        extract_task("nope", "pos", data_dir=data_dir, cache=cache_dir)
    assert not (cache_dir / "activations").exists()
