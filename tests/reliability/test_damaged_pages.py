"""The dashboard on a damaged cache: every page shows an error box naming what is damaged and
what to do, never a traceback, and never the damaged numbers."""

from __future__ import annotations

import os
import shutil

import pytest
from apptools import APP, open_page
from streamlit.testing.v1 import AppTest

from neuronviz.cache import ActivationCache

PAGES = {
    "overview": {"model": "bert", "task": "pos"},
    "heatmap": {"model": "bert", "task": "pos"},
    "layers": {"model": "bert", "task": "pos"},
    "deep_dive": {"model": "bert", "task": "pos"},
    "explorer": {"model": "bert", "task": "pos", "neuron": "1:3"},
    "neuron": {"model": "bert", "q": "the"},
    "paper": {},
    "cached_data": {},
}


@pytest.fixture
def damaged(analysed, tmp_path, monkeypatch):
    """A copy of the dashboard's cache whose test activations of bert have one byte changed in
    every layer file (modification times kept, as a careful tool would leave them)."""
    copy = tmp_path / "damaged"
    shutil.copytree(analysed, copy)
    for entry in ActivationCache(copy).entries("bert"):
        if entry.manifest.key.split != "test":
            continue
        for f in entry.manifest.layers:
            path = entry.path / f.file
            st = path.stat()
            data = bytearray(path.read_bytes())
            data[-5] ^= 0x33
            path.write_bytes(bytes(data))
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    monkeypatch.setenv("NEURONVIZ_CACHE", str(copy))
    return copy


@pytest.mark.parametrize("page", PAGES)
def test_every_page_on_damaged_activations_shows_a_box_not_a_traceback(damaged, page):
    at = open_page(AppTest.from_file(APP, default_timeout=90), page, **PAGES[page])
    errors = " ".join(e.value for e in at.error)
    if page in ("explorer", "neuron"):  # the pages that read the test activations
        assert "does not match the SHA-256 sum" in errors and "cache remove" in errors


def test_an_unexpected_error_is_a_box_with_what_to_do(analysed, monkeypatch):
    """Anything that is not a neuronviz error (a bug, or a cache file edited into a shape the
    checks let through) still ends in a box; the traceback goes to the server log."""
    import neuronviz.figures

    def broken(*args, **kwargs):
        raise KeyError("layer")

    monkeypatch.delenv("NEURONVIZ_RAISE_ERRORS")
    monkeypatch.setattr(neuronviz.figures, "layer_figure", broken)
    monkeypatch.setenv("NEURONVIZ_CACHE", str(analysed))
    at = open_page(AppTest.from_file(APP, default_timeout=90), "layers", model="bert", task="pos")
    assert any("could not be shown (KeyError" in e.value for e in at.error)
    assert any("neuronviz cache verify" in e.value for e in at.error)
