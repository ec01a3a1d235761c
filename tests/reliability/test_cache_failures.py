"""The activation cache under failure: damage, interruption, concurrency, a full or read-only disk.

Interruption tests kill a real subprocess with SIGKILL half way through an extraction.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from neuronviz.errors import CacheError
from neuronviz.extraction.extract import ExtractionSettings
from neuronviz.extraction.fill_cache import extract_task
from neuronviz.store.activation_cache import ActivationCache

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def extracted(tiny_bert, data_dir, cache_dir):
    return extract_task(str(tiny_bert), "pos", data_dir=data_dir, cache=cache_dir)


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


def test_unwritable_cache_location_gives_a_clear_error(tiny_bert, data_dir, tmp_path):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    with pytest.raises(CacheError, match="cannot create the cache folder"):
        extract_task(str(tiny_bert), "pos", data_dir=data_dir, cache=not_a_folder)


def test_full_disk_gives_a_clear_error_and_keeps_earlier_entries(
    extracted, tiny_bert, data_dir, cache_dir, monkeypatch
):
    def no_space(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with monkeypatch.context() as patch, pytest.raises(CacheError, match="No space left on device"):
        patch.setattr(os, "pwrite", no_space)
        extract_task(str(tiny_bert), "sem", data_dir=data_dir, cache=cache_dir)
    cache = ActivationCache(cache_dir)
    assert len(cache.entries()) == 3 and all(e.verify() == [] for e in cache.entries())


KILLER = """
import os, signal, sys
from neuronviz.store.entry_writer import EntryWriter
from neuronviz.extraction.extract import ExtractionSettings
from neuronviz.extraction.fill_cache import extract_task
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
from neuronviz.extraction.fill_cache import extract_task
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


def test_read_only_cache_gives_a_clear_error_and_keeps_earlier_entries(
    extracted, tiny_bert, data_dir, cache_dir, monkeypatch
):
    real_mkdir = Path.mkdir

    def read_only(self, *args, **kwargs):  # root ignores chmod, so the file system says no
        if str(self).startswith(str(cache_dir)):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))
        return real_mkdir(self, *args, **kwargs)

    with monkeypatch.context() as patch, pytest.raises(CacheError, match="Read-only file system"):
        patch.setattr(Path, "mkdir", read_only)
        extract_task(str(tiny_bert), "sem", data_dir=data_dir, cache=cache_dir)
    cache = ActivationCache(cache_dir)
    assert len(cache.entries()) == 3 and all(e.verify() == [] for e in cache.entries())
