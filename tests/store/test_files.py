"""File helpers: atomic writes leave the old file or the new one, never half; reads refuse what
is not a regular file."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from neuronviz.store.files import (
    atomic_write_bytes,
    atomic_write_json,
    file_digest,
    not_regular,
    read_regular,
    slug,
)


def test_atomic_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "sub" / "f.json"
    atomic_write_json(path, {"a": "é", "b": [1, 2]})
    atomic_write_json(path, {"a": 2})
    assert json.loads(path.read_text(encoding="utf-8")) == {"a": 2}
    assert [p.name for p in path.parent.iterdir()] == ["f.json"]


def test_a_failed_atomic_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "f.bin"
    atomic_write_bytes(path, b"old")

    def broken(*_):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_file_digest_is_the_sha256_of_the_bytes_across_chunks(tmp_path):
    data = os.urandom((1 << 20) + 17)  # more than one read chunk
    path = tmp_path / "f"
    path.write_bytes(data)
    assert file_digest(path) == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("minilm/pos v2", "minilm_pos_v2"), ("../..", "_"), ("", "_"), ("a" * 100, "a" * 80)],
)
def test_slug_is_file_name_safe_and_never_empty(text, expected):
    assert slug(text) == expected


def test_read_regular_reads_small_files_and_refuses_large_ones_and_fifos(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"0123456789")
    assert read_regular(path, limit=10) == b"0123456789"
    assert read_regular(path, limit=10, head=4) == b"0123"
    with pytest.raises(ValueError, match="limit"):
        read_regular(path, limit=9)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="is a FIFO"):
        read_regular(fifo, limit=10)  # would block forever if opened for reading naively
    with pytest.raises(FileNotFoundError):
        read_regular(tmp_path / "missing", limit=10)
    assert not_regular(os.stat(tmp_path).st_mode) == "a folder"
    assert not_regular(os.stat(path).st_mode) is None
