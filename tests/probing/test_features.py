"""Probe data from cache entries: in memory or streamed, and the memory budget that decides."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuronviz.analyses.run import analyse
from neuronviz.analyses.settings import AnalysisSettings
from neuronviz.errors import ConfigError
from neuronviz.probing.design import DenseDesign, StreamedDesign
from neuronviz.probing.features import load_probe_data, memory_budget

FAST = {"lambdas": ((1e-3, 1e-3),), "grid_words": 300, "percents": (5, 20), "random_draws": 2}


@pytest.fixture(scope="module")
def entries(tiny_bert, data_dir, tmp_path_factory):
    from neuronviz.extraction.fill_cache import extract_task

    cache = tmp_path_factory.mktemp("features-cache")
    return extract_task(str(tiny_bert), "pos", data_dir=data_dir, cache=cache).entries


def test_memory_budget_follows_the_environment(monkeypatch):
    monkeypatch.setenv("NEURONVIZ_MEMORY_GB", "0.5")
    assert memory_budget() == 2**29
    monkeypatch.delenv("NEURONVIZ_MEMORY_GB")
    assert 0 < memory_budget() <= 3 * 2**30
    monkeypatch.setenv("NEURONVIZ_MEMORY_GB", "lots")
    with pytest.raises(ConfigError, match="NEURONVIZ_MEMORY_GB='lots'"):
        memory_budget()


def test_a_streamed_analysis_matches_the_in_memory_one(entries):
    dense = load_probe_data(entries, "pos")
    streamed = load_probe_data(entries, "pos", memory_limit=0)
    assert isinstance(dense.train, DenseDesign) and isinstance(streamed.train, StreamedDesign)
    settings = AnalysisSettings(**FAST, control=False)
    a, b = analyse(dense, settings), analyse(streamed, settings)
    # The tolerance docs/reliability.md states: both fits converged (KKT <= tol) on the same
    # objective, so the objectives agree closely, and each minimal size lies in the other's
    # interval (the sizes come from retrained curves, which rounding can move by a step).
    assert a.oracle.converged and b.oracle.converged
    assert b.oracle.objective == pytest.approx(a.oracle.objective, rel=1e-3)
    assert b.oracle.test_accuracy == pytest.approx(a.oracle.test_accuracy, abs=0.01)
    low, high = a.minimal.size_interval
    assert low <= b.minimal.size <= high
    low, high = b.minimal.size_interval
    assert low <= a.minimal.size <= high


def test_streamed_curves_skip_sizes_that_do_not_fit_in_memory(entries, caplog):
    data = load_probe_data(entries, "pos", memory_limit=0)
    data.train.dense_bytes = data.train.n_rows * 4 * 9  # nine of the 48 columns fit
    settings = AnalysisSettings(**{**FAST, "percents": (5, 20, 50)}, control=False, layers=False)
    with caplog.at_level("WARNING"):
        result = analyse(data, settings)
    assert result.curves.percents == [1, 5, 10]  # the quality sizes are always kept
    assert "curves at 20, 50% of the neurons skipped" in caplog.text


def test_loading_is_bit_for_bit_the_same_on_any_number_of_threads(entries):
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = load_probe_data(entries, "pos")
        torch.set_num_threads(3)  # layers spread over three threads
        many = load_probe_data(entries, "pos")
    finally:
        torch.set_num_threads(threads)
    assert np.array_equal(one.train.mean, many.train.mean)
    assert np.array_equal(one.train.scale, many.train.scale)
    assert torch.equal(one.train.data, many.train.data)
    assert torch.equal(one.dev.x, many.dev.x) and torch.equal(one.test.x, many.test.x)
    # and equal to the plain formula: float32 (x - mean) / scale, rounded to float16 for dev
    raw = entries["dev"].layer(1)[:, :]
    h = entries["dev"].hidden_size
    mean = one.train.mean[h : 2 * h].astype(np.float32)
    scale = one.train.scale[h : 2 * h].astype(np.float32)
    expected = ((raw.astype(np.float32) - mean) / scale).astype(np.float16)
    assert np.array_equal(one.dev.x[:, h : 2 * h].numpy(), expected)
