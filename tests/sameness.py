"""Helpers for tests that check two ways of computing give the same analysis (shards, Ray)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from neuronviz.dashboard.job_records import JobRequest
from neuronviz.extraction.extract import ExtractionSettings
from neuronviz.extraction.fill_cache import extract_task

ALONE = ExtractionSettings(batch_tokens=1)  # every sentence in its own batch, whatever the layout

# A small job: one lambda pair, a short grid, one top-k size, no per-layer probes.
JOB_SETTINGS = {
    "lambdas": [[1e-3, 1e-3]],
    "grid_words": 500,
    "percents": [5],
    "random_draws": 2,
    "layers": False,
}


def extract(model, data_dir, cache, settings=ALONE, **kw):
    """The pos task of ``model`` extracted into ``cache``."""
    return extract_task(str(model), "pos", data_dir=data_dir, cache=cache, settings=settings, **kw)


def job_request(model: str, data_dir, **kw) -> JobRequest:
    """A small pos job for ``model``."""
    return JobRequest(
        model=model, tasks=("pos",), settings=JOB_SETTINGS, data_dir=str(data_dir), **kw
    )


def assert_same_analysis(a, b) -> None:
    """Every number of two analyses agrees (not when or where they ran)."""
    np.testing.assert_array_equal(a.order, b.order)
    np.testing.assert_array_equal(a.minimal_neurons, b.minimal_neurons)
    for field in ("lambda_search", "minimal", "curves", "ranking_quality", "layers"):
        assert getattr(a, field) == getattr(b, field), field
    # How many probes were retrained is bookkeeping of the engine (a parallel one fits some
    # prefixes the serial search never asks for); every number shown must agree.
    bookkeeping = {"retrained": None, "retrained_converged": None, "retrained_grad_max": None}
    assert replace(a.oracle, **bookkeeping) == replace(b.oracle, **bookkeeping)
    assert a.oracle.retrained_converged == a.oracle.retrained
    assert b.oracle.retrained_converged == b.oracle.retrained
    assert a.control == b.control
