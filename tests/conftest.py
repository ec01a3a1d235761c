"""Shared fixtures: offline settings, a fixture data folder and tiny models of each architecture."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fixtures import write_data_dir
from tiny_models import BUILDERS

from neuronviz.progress import set_bars_enabled

SHARED_DATA = Path(
    os.environ.get("NEURONVIZ_DATA")
    or Path(__file__).resolve().parents[1].parent / "shared" / "data"
)


# Tests that build or run a model, run whole analyses, drive the dashboard or read the real
# corpora are slow by what they do: they are marked here, so the fast tier (`make test-fast`)
# is the unit tests and no test can forget its mark.
SLOW_FIXTURES = frozenset({"tiny_models", "tiny_bert", "analysed", "app", "shared_data"})


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    """No test touches the network or the repository's cache folder."""
    monkeypatch.setenv("NEURONVIZ_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("NEURONVIZ_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("NEURONVIZ_DATA", raising=False)
    monkeypatch.setenv("NEURONVIZ_AUTOSTART", "0")
    monkeypatch.setenv(
        "NEURONVIZ_RAISE_ERRORS", "1"
    )  # the dashboard's error box must not hide bugs
    set_bars_enabled(False)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    return write_data_dir(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {name: build(root / name) for name, build in BUILDERS.items()}


@pytest.fixture(scope="session")
def tiny_bert(tiny_models) -> Path:
    return tiny_models["bert"]


@pytest.fixture
def cache_dir(tmp_path) -> Path:
    return tmp_path / "cache"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real corpora beside the checkout (CI has them); integration tests skip without."""
    if not (SHARED_DATA / "conll2000" / "train.txt").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the real corpora at {SHARED_DATA} (set NEURONVIZ_DATA)")
        pytest.skip(f"real corpora not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def analysed(tiny_models, data_dir, tmp_path_factory) -> Path:
    """A cache with small analyses for the dashboard: tiny BERT on pos and chunk, GPT-2 on pos."""
    from apptools import FAST

    from neuronviz.analyses.run import run_analysis

    cache = tmp_path_factory.mktemp("appcache")
    for model, task in (("bert", "pos"), ("bert", "chunk"), ("gpt2", "pos")):
        run_analysis(str(tiny_models[model]), task, settings=FAST, cache=cache, data_dir=data_dir)
    return cache


@pytest.fixture
def app(analysed, monkeypatch):
    """The dashboard (``app.py``) under AppTest, reading the ``analysed`` cache."""
    from apptools import APP
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("NEURONVIZ_CACHE", str(analysed))
    return AppTest.from_file(APP, default_timeout=90)
