"""Sharded cache entries (the layout the Ray engine writes), without Ray: reading across shards,
the shard plan, resuming only missing shards, and probes that equal the one-piece entry's."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from apptools import FAST
from sameness import assert_same_analysis, extract

from neuronviz.analyses.run import run_analysis
from neuronviz.errors import ConfigError
from neuronviz.extraction.extract import ExtractionSettings
from neuronviz.extraction.fill_cache import extract_task
from neuronviz.extraction.shards import plan_shards
from neuronviz.probing.features import load_probe_data
from neuronviz.probing.retrain import Retrainer, retrain_from_store
from neuronviz.store.activation_cache import ActivationCache
from neuronviz.store.activations import ShardedLayer


@pytest.fixture
def both(tiny_bert, data_dir, tmp_path):
    """The same task extracted in one piece and in shards of about 40 words (same batches)."""
    whole = extract(tiny_bert, data_dir, tmp_path / "whole")
    sharded = extract(tiny_bert, data_dir, tmp_path / "sharded", shard_words=40)
    return whole, sharded


def test_sharded_entry_equals_the_one_piece_entry(both):
    whole, sharded = both
    for split, entry in sharded.entries.items():
        one = whole.entries[split]
        assert entry.sharded and not one.sharded
        assert len(entry.manifest.shards) >= 2
        assert entry.manifest.key == one.manifest.key  # same content, same key
        assert entry.shape == one.shape
        np.testing.assert_array_equal(entry.matrix(dtype=np.float16), one.matrix(dtype=np.float16))
        assert entry.tokens() == one.tokens()
        assert entry.verify() == []
        assert entry.nbytes > 0


def test_row_blocks_of_a_sharded_entry_match_the_one_piece_entry(both):
    whole, sharded = both
    entry, one = sharded.entries["train"], whole.entries["train"]
    n = entry.shape[0]
    a = np.concatenate([rows.copy() for _, _, rows in entry.row_blocks(2, n, 7)])
    b = np.concatenate([rows.copy() for _, _, rows in one.row_blocks(2, n, 7)])
    np.testing.assert_array_equal(a, np.asarray(one.layer(2)))
    np.testing.assert_array_equal(a, b)


def test_default_batching_differs_from_the_one_piece_entry_by_float16_rounding_only(
    tiny_bert, data_dir, tmp_path
):
    """Shards pack their own sentences into batches; a different padded width changes the
    float32 arithmetic's blocking, which moves a few values by one float16 step."""
    whole = extract(tiny_bert, data_dir, tmp_path / "w", ExtractionSettings())
    sharded = extract(tiny_bert, data_dir, tmp_path / "s", ExtractionSettings(), shard_words=40)
    a = whole.entries["train"].matrix(dtype=np.float32)
    b = sharded.entries["train"].matrix(dtype=np.float32)
    np.testing.assert_allclose(a, b, rtol=2**-10, atol=2**-14)
    assert np.mean(a != b) < 1e-3


def test_sharded_layer_indexes_like_an_array(both):
    whole, sharded = both
    entry, one = sharded.entries["train"], whole.entries["train"]
    view, array = entry.layer(1), one.layer(1)
    assert isinstance(view, ShardedLayer)
    assert view.shape == array.shape and len(view) == len(array)
    n = len(array)
    rng = np.random.default_rng(0)
    picks = rng.choice(n, 25, replace=False)
    for index in (
        slice(None),
        slice(3, 60),
        slice(38, 45),  # across a shard boundary
        slice(5, n, 7),
        slice(n - 3, n + 10),
        slice(10, 5),
        picks,
        np.sort(picks),
        np.arange(n) % 3 == 0,
        -1,
        0,
        (slice(2, 50), [0, 5, 7]),
    ):
        np.testing.assert_array_equal(view[index], array[index])
    np.testing.assert_array_equal(np.asarray(view, dtype=np.float32), array.astype(np.float32))
    with pytest.raises(IndexError):
        view[n]
    np.testing.assert_array_equal(entry.neurons([0, 17, 47]), one.neurons([0, 17, 47]))


def test_plan_shards_covers_every_sentence_once():
    sentences = [["w"] * n for n in (5, 30, 2, 2, 50, 1, 7)]
    specs = plan_shards(sentences, 10)
    assert [s.sentences for s in specs] == [(0, 2), (2, 5), (5, 7)]
    assert [s.rows for s in specs] == [(0, 35), (35, 89), (89, 97)]
    assert plan_shards([], 10)[0].rows == (0, 0)
    assert len(plan_shards(sentences, 10**6)) == 1
    with pytest.raises(ConfigError, match="at least one word"):
        plan_shards(sentences, 0)


def test_interrupted_sharded_build_produces_only_the_missing_shards(
    tiny_bert, data_dir, tmp_path, monkeypatch
):
    import neuronviz.extraction.fill_cache as pipeline

    calls = []
    stopped = []
    real = pipeline.build_shard

    def flaky(model, split, spec, folder, settings, **kw):
        calls.append((split.split, spec.index))
        if split.split == "train" and spec.index == 2 and not stopped:
            stopped.append(True)
            raise KeyboardInterrupt  # the run stops here
        return real(model, split, spec, folder, settings, **kw)

    monkeypatch.setattr(pipeline, "build_shard", flaky)
    cache = tmp_path / "c"
    with pytest.raises(KeyboardInterrupt):
        extract(tiny_bert, data_dir, cache, shard_words=40)
    partial = next((cache / "activations").glob("*/*train*.partial"))
    assert sorted(p.name for p in (partial / "shards").iterdir())[:2] == ["00000", "00001"]
    calls.clear()
    result = extract(tiny_bert, data_dir, cache, shard_words=40)
    train_calls = [i for s, i in calls if s == "train"]
    assert train_calls and min(train_calls) == 2  # shards 0 and 1 were not extracted again
    whole = extract(tiny_bert, data_dir, tmp_path / "w")
    np.testing.assert_array_equal(
        result.entries["train"].matrix(dtype=np.float16),
        whole.entries["train"].matrix(dtype=np.float16),
    )


def test_a_damaged_shard_makes_the_entry_rebuild(both, tmp_path):
    _, sharded = both
    entry = sharded.entries["dev"]
    shard = entry.manifest.shards[1]
    (entry.path / shard.folder / shard.layers[0].file).unlink()
    assert ActivationCache(tmp_path / "sharded").lookup(entry.manifest.key) is None
    manifest = json.loads((entry.path / "manifest.json").read_text())
    manifest["shards"][1]["rows"][0] += 1
    shutil.copytree(entry.path, tmp_path / "copy")
    (tmp_path / "copy" / "manifest.json").write_text(json.dumps(manifest))
    from neuronviz.store.activation_cache import open_entry

    with pytest.raises(Exception, match="no complete cache entry"):
        open_entry(tmp_path / "copy")


def test_analysis_of_a_sharded_entry_equals_the_one_piece_analysis(tiny_bert, data_dir, tmp_path):
    extract(tiny_bert, data_dir, tmp_path / "a")
    a = run_analysis(str(tiny_bert), "pos", settings=FAST, data_dir=data_dir, cache=tmp_path / "a")
    extract(tiny_bert, data_dir, tmp_path / "b", shard_words=40)
    b = run_analysis(str(tiny_bert), "pos", settings=FAST, data_dir=data_dir, cache=tmp_path / "b")
    assert_same_analysis(a, b)


@pytest.mark.parametrize("streamed", [False, True])
def test_retraining_from_the_store_equals_the_local_retraining(
    tiny_bert, data_dir, cache_dir, streamed
):
    entries = extract_task(str(tiny_bert), "pos", data_dir=data_dir, cache=cache_dir).entries
    data = load_probe_data(entries, "pos", memory_limit=0 if streamed else None)
    retrain = Retrainer(data, 1e-3, 100)
    n = data.n_neurons
    for cols in (np.array([3, 40, 7]), np.arange(16, 32), np.arange(n - 1)):  # copied, masked
        local = retrain(cols)
        remote, fit = retrain_from_store(data.source, cols, retrain.lambda2, 100)
        assert remote == local
        _, local_fit = retrain.fit_for(cols)
        assert np.array_equal(fit.weights.numpy(), local_fit.weights.numpy())


def test_streamed_training_reads_blocks_across_shards(both):
    """Out-of-core training on a sharded entry: row blocks that straddle shards."""
    import torch

    from neuronviz.probing.design import StreamedDesign
    from neuronviz.probing.features import entry_stats

    whole, sharded = both
    one, parts = whole.entries["train"], sharded.entries["train"]
    mean, scale = entry_stats(one)
    a = StreamedDesign(one, mean=mean, scale=scale, block_rows=37)
    b = StreamedDesign(parts, mean=mean, scale=scale, block_rows=37)
    w = torch.randn(one.shape[1], 5, generator=torch.Generator().manual_seed(0))
    r = torch.randn(one.shape[0], 5, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a.forward(w), b.forward(w))
    assert torch.equal(a.backward(r), b.backward(r))
    assert torch.equal(a.subset([1, 9, 30]).forward(w[:3]), b.subset([1, 9, 30]).forward(w[:3]))
