"""Demo bundles: export on one cache, import into an empty one, every view shows the same numbers."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from neuronviz.analyses.run import run_analysis
from neuronviz.analyses.settings import AnalysisSettings
from neuronviz.cli.main import main
from neuronviz.errors import CacheError, ConfigError
from neuronviz.store.activation_cache import ActivationCache
from neuronviz.store.bundle_import import import_bundle
from neuronviz.store.bundles import export_bundle, read_bundle_info
from neuronviz.store.result_store import ResultStore

APP = str(Path(__file__).resolve().parents[2] / "app.py")
FAST = AnalysisSettings(lambdas=((1e-3, 1e-3),), grid_words=500, percents=(5, 20), random_draws=2)


@pytest.fixture(scope="module")
def source(tiny_bert, data_dir, tmp_path_factory):
    cache = tmp_path_factory.mktemp("bundle-source")
    for task in ("pos", "chunk"):
        run_analysis(str(tiny_bert), task, settings=FAST, cache=cache, data_dir=data_dir)
    return cache


@pytest.fixture(scope="module")
def bundle(source, tmp_path_factory):
    path = tmp_path_factory.mktemp("bundles") / "talk.zip"
    model = ResultStore(source).all()[0].model
    export_bundle([(model, "pos"), (model, "chunk")], path, cache_dir=source)
    return path


def overview_table(cache: Path, monkeypatch, model: str):
    monkeypatch.setenv("NEURONVIZ_CACHE", str(cache))
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params["model"] = model
    at.query_params["task"] = "chunk,pos"
    at.switch_page("pages/overview.py").run()
    assert not at.exception
    return at.dataframe[0].value


def view_numbers(cache: Path, monkeypatch, page: str, model: str) -> list:
    """What a page shows: its charts' data, tables and metrics, as comparable values."""
    monkeypatch.setenv("NEURONVIZ_CACHE", str(cache))
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params.update({"model": model, "task": "pos"})
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception
    charts = [c.proto.spec for c in at.get("plotly_chart")]
    tables = [d.value.to_json() for d in at.dataframe]
    metrics = [(m.label, m.value) for m in at.metric]
    assert charts or tables, page
    return [charts, tables, metrics]


def test_round_trip_keeps_every_number_and_view(source, bundle, tmp_path, monkeypatch):
    target = tmp_path / "empty-cache"
    info = import_bundle(bundle, cache_dir=target)
    assert len(info.pairs) == 2
    before = {r.task: r for r in ResultStore(source).all()}
    after = {r.task: r for r in ResultStore(target).all()}
    assert set(after) == {"pos", "chunk"}
    for task, r in before.items():
        assert after[task].to_dict() == r.to_dict()
        for k, v in r.arrays.items():
            np.testing.assert_array_equal(after[task].arrays[k], v)
    test_ids = {r.entries["test"] for r in before.values()}
    assert {e.manifest.entry_id for e in ActivationCache(target).entries()} == test_ids
    model = before["pos"].model
    a = overview_table(source, monkeypatch, model)
    b = overview_table(target, monkeypatch, model)
    assert a.equals(b)
    for page in ("heatmap", "layers", "deep_dive", "neuron"):
        shown = [view_numbers(cache, monkeypatch, page, model) for cache in (source, target)]
        assert shown[0] == shown[1], page
    monkeypatch.setenv("NEURONVIZ_CACHE", str(target))
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params.update({"model": model, "task": "pos", "neuron": "2:5"})
    at.switch_page("pages/explorer.py").run()
    assert not at.exception and not at.warning  # corpus views work from the bundle
    assert import_bundle(bundle, cache_dir=target).pairs == info.pairs  # again: a no-op


def test_cli_export_and_import(source, tmp_path, capsys):
    model = ResultStore(source).all()[0].model
    out = tmp_path / "b.zip"
    argv = ["--cache-dir", str(source), "--model", model, "--task", "pos", "-o", str(out)]
    assert main(["bundle", "export", *argv, "--no-activations"]) == 0
    assert "1 analyses" in capsys.readouterr().out
    info = read_bundle_info(out)
    assert not info.activations and all(n.startswith("results/") for n in info.files)
    assert main(["bundle", "import", "--cache-dir", str(tmp_path / "c"), str(out)]) == 0
    assert f"{model} x pos" in capsys.readouterr().out
    assert main(["bundle", "export", *argv[:4], "--task", "ccg", "-o", str(out)]) == 2
    assert "no analysis of" in capsys.readouterr().err


def _rewrite(src: Path, dst: Path, change) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            name, data = change(item.filename, data)
            zout.writestr(name, data)


def test_damaged_or_hostile_bundles_are_refused_before_writing(bundle, tmp_path):
    target = tmp_path / "cache"
    flipped = tmp_path / "flipped.zip"
    _rewrite(
        bundle,
        flipped,
        lambda n, d: (n, d[:-1] + bytes([d[-1] ^ 1]) if n.endswith("result.json") else d),
    )
    with pytest.raises(CacheError, match="checksum mismatch"):
        import_bundle(flipped, cache_dir=target)
    assert not (target / "results").exists()

    def escape(name, data):
        if name == "bundle.json":
            info = json.loads(data)
            info["files"]["../evil.txt"] = "0" * 64
            return name, json.dumps(info).encode()
        return name, data

    hostile = tmp_path / "hostile.zip"
    _rewrite(bundle, hostile, escape)
    with zipfile.ZipFile(hostile, "a") as zf:
        zf.writestr("../evil.txt", "x")
    with pytest.raises(CacheError, match="outside results/ and activations/"):
        import_bundle(hostile, cache_dir=target)
    assert not (tmp_path / "evil.txt").exists()
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(CacheError, match="not a neuronviz bundle"):
        import_bundle(tmp_path / "junk.zip", cache_dir=target)
    with pytest.raises(ConfigError, match="at least one"):
        export_bundle([], tmp_path / "x.zip")
