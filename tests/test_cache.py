"""Activation cache: layout, partial reads, labels, damage detection, resume after kill -9, locking."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from neuronviz.cache import ActivationCache
from neuronviz.errors import CacheError, ConfigError, DataError, ModelError
from neuronviz.extract import ExtractionSettings
from neuronviz.pipeline import extract_task

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def extracted(tiny_bert, data_dir, cache_dir):
    return extract_task(str(tiny_bert), "pos", data_dir=data_dir, cache=cache_dir)


def test_entries_cover_every_split_with_all_neurons(extracted, data_dir):
    from neuronviz.data import load_task

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
    import neuronviz.pipeline as pipeline

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


def test_reading_neurons_opens_only_their_layers(extracted, monkeypatch):
    entry = extracted.entries["train"]
    opened = []
    original = entry.layer
    monkeypatch.setattr(entry, "layer", lambda i: opened.append(i) or original(i))
    entry.neurons([16, 20])
    assert opened == [1]


def test_damaged_entry_is_detected_and_rebuilt(extracted, tiny_bert, data_dir, cache_dir, caplog):
    entry = extracted.entries["dev"]
    layer_file = entry.path / "layer_001.npy"
    with layer_file.open("r+b") as fh:
        fh.truncate(layer_file.stat().st_size - 10)
    assert ActivationCache(cache_dir).lookup(entry.manifest.key) is None
    assert "damaged" in caplog.text
    rebuilt = extract_task(str(tiny_bert), "pos", data_dir=data_dir, cache=cache_dir)
    assert rebuilt.cached == {"train": True, "dev": False, "test": True}
    assert rebuilt.entries["dev"].verify() == []


def test_altered_bytes_fail_verification(extracted):
    entry = extracted.entries["test"]
    path = entry.path / "layer_002.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    assert entry.verify() == ["layer_002.npy does not match its SHA-256 sum"]


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


def test_unwritable_cache_location_gives_a_clear_error(tiny_bert, data_dir, tmp_path):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    with pytest.raises(CacheError, match="cannot create the cache folder"):
        extract_task(str(tiny_bert), "pos", data_dir=data_dir, cache=not_a_folder)


def test_full_disk_gives_a_clear_error_and_keeps_earlier_entries(
    extracted, tiny_bert, data_dir, cache_dir, monkeypatch
):
    import errno
    import os

    def no_space(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with monkeypatch.context() as patch, pytest.raises(CacheError, match="No space left on device"):
        patch.setattr(os, "pwrite", no_space)
        extract_task(str(tiny_bert), "sem", data_dir=data_dir, cache=cache_dir)
    cache = ActivationCache(cache_dir)
    assert len(cache.entries()) == 3 and all(e.verify() == [] for e in cache.entries())


KILLER = """
import os, signal, sys
from neuronviz.cache import EntryWriter
from neuronviz.extract import ExtractionSettings
from neuronviz.pipeline import extract_task
from neuronviz.progress import set_bars_enabled

set_bars_enabled(False)
original, seen = EntryWriter.mark_done, []
def mark_done(self, index):
    original(self, index)
    seen.append(index)
    if len(seen) == int(sys.argv[4]):
        os.kill(os.getpid(), signal.SIGKILL)
EntryWriter.mark_done = mark_done
extract_task(sys.argv[1], "pos", data_dir=sys.argv[2], cache=sys.argv[3], splits=["train"],
             settings=ExtractionSettings(batch_tokens=64))
"""


def _run(script: str, *args: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


@pytest.mark.slow
def test_kill_9_half_way_then_resume_gives_the_same_entry(tiny_bert, data_dir, tmp_path, caplog):
    killed_cache, clean_cache = tmp_path / "killed", tmp_path / "clean"
    result = _run(KILLER, tiny_bert, data_dir, killed_cache, 3)
    assert result.returncode == -9, result.stderr
    cache = ActivationCache(killed_cache)
    assert cache.entries() == []  # no half-written entry is visible
    [partial] = cache.partials()
    assert (partial / "done.log").read_text().split() == ["0", "1", "2"]

    settings = ExtractionSettings(batch_tokens=64)
    with caplog.at_level("INFO"):
        resumed = extract_task(
            str(tiny_bert),
            "pos",
            data_dir=data_dir,
            cache=killed_cache,
            splits=["train"],
            settings=settings,
        )
    assert "3 batches already done" in caplog.text
    clean = extract_task(
        str(tiny_bert),
        "pos",
        data_dir=data_dir,
        cache=clean_cache,
        splits=["train"],
        settings=settings,
    )
    np.testing.assert_array_equal(
        resumed.entries["train"].matrix(), clean.entries["train"].matrix()
    )
    assert cache.partials() == []
    assert resumed.entries["train"].verify() == []


BUILDER = """
import sys
from neuronviz.pipeline import extract_task
from neuronviz.progress import set_bars_enabled
set_bars_enabled(False)
r = extract_task(sys.argv[1], "pos", data_dir=sys.argv[2], cache=sys.argv[3])
print(r.entries["train"].manifest.layers[0].sha256)
"""


@pytest.mark.slow
def test_two_processes_requesting_one_entry_build_it_once(tiny_bert, data_dir, tmp_path):
    cache_dir = tmp_path / "shared"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", BUILDER, str(tiny_bert), str(data_dir), str(cache_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert outputs[0][0] == outputs[1][0]
    cache = ActivationCache(cache_dir)
    assert len(cache.entries()) == 3 and cache.partials() == []
    assert all(e.verify() == [] for e in cache.entries())
