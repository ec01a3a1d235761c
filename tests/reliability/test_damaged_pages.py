"""The dashboard on a damaged cache: every page shows an error box naming what is damaged and
what to do, never a traceback, and never the damaged numbers."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from apptools import APP, open_page
from streamlit.testing.v1 import AppTest

from neuronviz.store.activation_cache import ActivationCache
from neuronviz.store.integrity import forget

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


def _errors(page: str) -> str:
    at = open_page(AppTest.from_file(APP, default_timeout=90), page, **PAGES[page])
    return " ".join(e.value for e in at.error)


def test_every_page_on_damaged_activations_shows_a_box_not_a_traceback(damaged):
    """A flipped byte is found when a view reads the file (hashing every layer on every view
    would cost seconds); from then on every page of the server names the entry and the fix."""
    forget()
    errors = _errors("explorer")  # reads the test activations
    assert "does not match the SHA-256 sum" in errors and "cache remove" in errors
    for page in PAGES:
        errors = _errors(page)
        assert "Part of the cache is damaged" in errors and "cache remove" in errors, page
        assert _test_entry_folder(damaged).name in errors, page


def _test_entry_folder(cache: Path) -> Path:
    """The bert test entry's folder (read as files: the damage must not go through the cache)."""
    (folder,) = (p for p in (cache / "activations" / "bert").glob("*-test-*") if p.is_dir())
    return folder


def _truncate_layer(cache: Path) -> str:
    folder = _test_entry_folder(cache)
    layer = sorted(folder.glob("*.npy"))[1]
    layer.write_bytes(layer.read_bytes()[:-64])
    return folder.name


def _overclaim(cache: Path) -> str:
    folder = _test_entry_folder(cache)
    m = json.loads((folder / "manifest.json").read_text())
    m["n_words"] += 50
    (folder / "manifest.json").write_text(json.dumps(m))
    return folder.name


def _empty_manifest(cache: Path) -> str:
    folder = _test_entry_folder(cache)
    (folder / "manifest.json").write_text("{}")
    return folder.name


def _bert_pos(cache: Path) -> Path:
    return next(
        p for p in sorted((cache / "results" / "bert").iterdir()) if p.name.startswith("pos-")
    )


def _reverse_order(cache: Path, *, resum: bool = False) -> str:
    folder = _bert_pos(cache)
    with np.load(folder / "arrays.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["order"] = arrays["order"][::-1].copy()
    np.savez(folder / "arrays.npz", **arrays)
    if resum:  # the checksums updated too: the result's own consistency check still sees it
        from neuronviz.store.result_checks import record_checksums

        record_checksums(folder)
    return folder.name


def _broken_result_json(cache: Path) -> str:
    folder = _bert_pos(cache)
    text = (folder / "result.json").read_text()
    (folder / "result.json").write_text(text[: len(text) // 2])
    return folder.name


def _missing_arrays(cache: Path) -> str:
    folder = _bert_pos(cache)
    (folder / "arrays.npz").unlink()
    return folder.name


DAMAGES = {
    "truncated layer": (_truncate_layer, "bytes"),
    "manifest claims more words": (_overclaim, "manifest says"),
    "empty manifest": (_empty_manifest, "manifest.json is unreadable"),
    "reversed ranking": (_reverse_order, "checksum"),
    "reversed ranking, sums updated": (
        lambda c: _reverse_order(c, resum=True),
        "the ranking",
    ),
    "half a result.json": (_broken_result_json, "unreadable"),
    "arrays.npz removed": (_missing_arrays, "arrays.npz"),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_each_kind_of_damage_is_named_with_its_fix_on_the_pages(
    analysed, tmp_path, monkeypatch, damage
):
    """Damage that shows without hashing (sizes, headers, manifests, results) is named on every
    page from the first view: here the overview, the explorer and the Paper page."""
    copy = tmp_path / "damaged"
    shutil.copytree(analysed, copy)
    make, says = DAMAGES[damage]
    name = make(copy)
    monkeypatch.setenv("NEURONVIZ_CACHE", str(copy))
    for page in ("overview", "explorer", "paper"):
        errors = _errors(page)
        assert "Part of the cache is damaged" in errors, (page, errors)
        assert name in errors and says in errors, (page, errors)
        assert "cache remove" in errors or "rm -r" in errors, (page, errors)


def test_an_unexpected_error_is_a_box_with_what_to_do(analysed, monkeypatch):
    """Anything that is not a neuronviz error (a bug, or a cache file edited into a shape the
    checks let through) still ends in a box; the traceback goes to the server log."""
    import neuronviz.figures.comparison

    def broken(*args, **kwargs):
        raise KeyError("layer")

    monkeypatch.delenv("NEURONVIZ_RAISE_ERRORS")
    monkeypatch.setattr(neuronviz.figures.comparison, "layer_figure", broken)
    monkeypatch.setenv("NEURONVIZ_CACHE", str(analysed))
    at = open_page(AppTest.from_file(APP, default_timeout=90), "layers", model="bert", task="pos")
    assert any("could not be shown (KeyError" in e.value for e in at.error)
    assert any("neuronviz cache verify" in e.value for e in at.error)


@pytest.mark.browser
@pytest.mark.slow
def test_every_page_on_a_damaged_cache_in_chromium(analysed, tmp_path):
    """The same in a real browser: a served dashboard on a cache with flipped bytes in bert's
    test activations and a damaged bert x chunk result shows every page with a box naming both,
    and no traceback anywhere (the server runs with unexpected errors raised, so one would show)."""
    from neuronviz.dashboard.serve import CHROMIUM_ARGS, chromium_path, serve_dashboard

    if chromium_path() is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs Debian's chromium for the browser test (see .ci/run)")
        pytest.skip("chromium is not installed")
    from playwright.sync_api import sync_playwright

    copy = tmp_path / "damaged"
    shutil.copytree(analysed, copy)
    folder = _test_entry_folder(copy)
    for layer in sorted(folder.glob("*.npy")):
        data = bytearray(layer.read_bytes())
        data[-5] ^= 0x33
        layer.write_bytes(bytes(data))
    chunk = next(p for p in (copy / "results" / "bert").iterdir() if p.name.startswith("chunk-"))
    (chunk / "result.json").write_text("{")
    order = ["explorer", *(p for p in PAGES if p != "explorer")]  # the explorer reads the layers
    with serve_dashboard({"NEURONVIZ_CACHE": str(copy)}) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for name in order:
            query = "&".join(f"{k}={v}" for k, v in PAGES[name].items())
            page.goto(f"{url}/{name}?{query}")
            page.get_by_text("Part of the cache is damaged").first.wait_for(timeout=60_000)
            page.wait_for_load_state("networkidle")
            text = page.inner_text("body")
            assert chunk.name in text, name
            assert folder.name in text, name
            assert "Traceback" not in text and "StreamlitAPIException" not in text, name
        browser.close()
