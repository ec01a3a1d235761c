"""Extraction that the disk cannot hold is refused before anything is written, with the options."""

from __future__ import annotations

import shutil
from collections import namedtuple

import pytest

import neuronviz.extraction.fill_cache as pipeline
from neuronviz.errors import CacheError
from neuronviz.extraction.fill_cache import extract_task
from neuronviz.store.activation_cache import ActivationCache

Usage = namedtuple("Usage", "total used free")


def test_too_little_disk_is_refused_with_the_estimate(tiny_bert, data_dir, tmp_path, monkeypatch):
    real = shutil.disk_usage
    monkeypatch.setattr(
        pipeline.shutil, "disk_usage", lambda p: Usage(real(p).total, real(p).total, 1000)
    )
    with pytest.raises(CacheError) as err:
        extract_task(str(tiny_bert), "pos", data_dir=data_dir, cache=tmp_path, splits=["train"])
    message = str(err.value)
    assert "GiB free" in message and "--max-sentences" in message and "NEURONVIZ_CACHE" in message
    assert ActivationCache(tmp_path).entries() == []
    assert all(p.stat().st_size == 0 for p in tmp_path.rglob("layer_*.npy"))
