"""Background jobs: records on disk, shared identical requests, failures, cancellation."""

from __future__ import annotations

import os
import time

import pytest

from neuronviz.errors import ConfigError
from neuronviz.jobs import JobRecord, JobRequest, JobStore

SETTINGS = {
    "lambdas": [[1e-3, 1e-3]],
    "grid_words": 500,
    "percents": [5],
    "random_draws": 2,
    "layers": False,
}


def request(model: str, data_dir, **kw) -> JobRequest:
    return JobRequest(model=model, tasks=("pos",), settings=SETTINGS, data_dir=str(data_dir), **kw)


def test_job_runs_and_records_progress_and_results(tiny_bert, data_dir, cache_dir):
    store = JobStore(cache_dir)
    seen = []
    record = store.submit(request(str(tiny_bert), data_dir), spawn=False)
    assert record.state == "queued" and store.get(record.job_id).state == "queued"
    original = store.write
    store.write = lambda r: (seen.append((r.stage, r.percent)), original(r))[1]
    done = store.run(record.job_id)
    assert done.state == "done" and done.percent == 100.0 and "pos" in done.result_keys
    assert any(stage.startswith("extract") for stage, _ in seen)
    assert any(stage == "curves" for stage, _ in seen)
    percents = [p for _, p in seen]
    assert percents == sorted(percents)
    assert JobStore(cache_dir).get(record.job_id).state == "done"


def test_identical_requests_share_one_job(tiny_bert, data_dir, cache_dir):
    store = JobStore(cache_dir)
    a = store.submit(request(str(tiny_bert), data_dir), spawn=False)
    b = store.submit(request(str(tiny_bert), data_dir), spawn=False)
    assert a.job_id == b.job_id and len(store.all()) == 1
    other = store.submit(
        JobRequest(str(tiny_bert), ("chunk",), SETTINGS, data_dir=str(data_dir)), spawn=False
    )
    assert other.job_id != a.job_id


def test_failures_keep_a_clear_message(data_dir, cache_dir):
    store = JobStore(cache_dir)
    record = store.submit(request("no-such-model", data_dir), spawn=False)
    failed = store.run(record.job_id)
    assert failed.state == "failed" and "unknown model 'no-such-model'" in failed.error
    assert "Traceback" not in failed.error


def test_a_dead_worker_is_reported_as_failed(tiny_bert, data_dir, cache_dir):
    store = JobStore(cache_dir)
    record = store.submit(request(str(tiny_bert), data_dir), spawn=False)
    from dataclasses import replace

    store.write(replace(record, state="running", pid=2**22 + 12345))  # no such process
    assert store.get(record.job_id).state == "failed"
    assert "stopped unexpectedly" in store.get(record.job_id).error


@pytest.mark.slow
def test_spawned_worker_survives_and_can_be_cancelled(tiny_bert, data_dir, cache_dir, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.getcwd())
    store = JobStore(cache_dir)
    record = store.submit(request(str(tiny_bert), data_dir, max_sentences=40))
    assert record.pid is not None
    deadline = time.time() + 120
    while store.get(record.job_id).state == "queued" and time.time() < deadline:
        time.sleep(0.2)
    cancelled = store.cancel(record.job_id)
    assert cancelled.state in ("cancelled", "done")
    time.sleep(0.5)
    assert store.get(record.job_id).state in ("cancelled", "done")


def test_bad_requests():
    with pytest.raises(ConfigError, match="choose a model"):
        JobRequest(" ", ("pos",))
    with pytest.raises(ConfigError, match="at least one task"):
        JobRequest("minilm", ())
    with pytest.raises(ConfigError, match="unknown engine"):
        JobRequest("minilm", ("pos",), engine="spark")
    # Jobs stored before engines existed keep their ids.
    assert (
        JobRequest("minilm", ("pos",)).job_id != JobRequest("minilm", ("pos",), engine="ray").job_id
    )
    record = JobRecord("x", JobRequest("minilm", ("pos",)))
    assert JobRecord.from_dict(record.to_dict()) == record
