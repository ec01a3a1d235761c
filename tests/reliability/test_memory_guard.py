"""An analysis the machine cannot hold is refused before loading, with the estimate."""

from __future__ import annotations

from collections import namedtuple

import psutil
import pytest

from neuronviz.errors import ConfigError
from neuronviz.extraction.fill_cache import extract_task
from neuronviz.probing.features import load_probe_data

Memory = namedtuple("Memory", "total available")


@pytest.fixture
def entries(tiny_bert, data_dir, cache_dir):
    return extract_task(str(tiny_bert), "pos", data_dir=data_dir, cache=cache_dir).entries


def test_more_than_the_machine_has_is_refused(entries, monkeypatch):
    monkeypatch.setattr(psutil, "virtual_memory", lambda: Memory(256 << 20, 200 << 20))
    with pytest.raises(
        ConfigError, match=r"needs about .* GiB of memory .* this machine has 0\.2 GiB"
    ):
        load_probe_data(entries, "pos")


def test_more_than_is_free_now_is_a_warning(entries, monkeypatch, caplog):
    monkeypatch.setattr(psutil, "virtual_memory", lambda: Memory(64 << 30, 100 << 20))
    data = load_probe_data(entries, "pos")
    assert data.train.n_rows > 0
    assert "it may swap" in caplog.text
