"""Results written by another neuronviz version are refused with a clear message, never misread."""

from __future__ import annotations

import json

import pytest
from synthetic import probe_data

from neuronviz.analyses.run import analyse
from neuronviz.analyses.settings import AnalysisSettings
from neuronviz.store.result_store import ResultStore
from neuronviz.store.results import RESULT_VERSION

pytestmark = pytest.mark.slow  # runs a whole analysis to store

FAST = {"lambdas": ((1e-3, 1e-3),), "grid_words": 1500, "percents": (5, 20), "random_draws": 2}


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (RESULT_VERSION + 1, "newer neuronviz"),
        (RESULT_VERSION - 1, "older neuronviz"),
        (None, "older"),
    ],
)
def test_other_versions_are_refused_with_a_message(tmp_path, caplog, version, message):
    result = analyse(probe_data(), AnalysisSettings(**FAST)).with_inputs(key="ab" * 32, entries={})
    store = ResultStore(tmp_path)
    folder = store.save(result)
    meta = json.loads((folder / "result.json").read_text())
    meta["version"] = version
    (folder / "result.json").write_text(json.dumps(meta))
    assert store.load("synthetic", result.key) is None
    assert store.all() == []
    assert message in caplog.text and str(folder) in caplog.text
    assert (folder / "result.json").is_file()  # left as it is
