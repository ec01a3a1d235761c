"""Background jobs: records on disk, shared identical requests, failures, cancellation."""

from __future__ import annotations

import os
import time
from dataclasses import replace

import pytest
from sameness import JOB_SETTINGS as SETTINGS
from sameness import job_request as request

from neuronviz.dashboard.first_run import first_run_plan
from neuronviz.dashboard.job_records import JobRecord, JobRequest
from neuronviz.dashboard.jobs import JobStore
from neuronviz.errors import ConfigError


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
def test_the_runner_serves_the_queue_in_order_reaps_workers_and_cancels(
    tiny_bert, data_dir, cache_dir, monkeypatch
):
    monkeypatch.setenv("PYTHONPATH", os.getcwd())
    store = JobStore(cache_dir)
    first = store.submit(request(str(tiny_bert), data_dir, max_sentences=40), spawn=False)
    second = store.submit(
        JobRequest(str(tiny_bert), ("chunk",), SETTINGS, data_dir=str(data_dir), max_sentences=30),
        spawn=False,
    )
    store.ensure_runner()
    deadline = time.time() + 120
    while store.get(first.job_id).state == "queued" and time.time() < deadline:
        time.sleep(0.1)
    running = store.get(first.job_id)
    assert running.state in ("running", "done")
    assert store.get(second.job_id).state == "queued"  # one job at a time
    assert store.runner_alive()
    cancelled = store.cancel(first.job_id)
    assert cancelled.state in ("cancelled", "done")
    while store.get(second.job_id).state in ("queued", "running") and time.time() < deadline:
        time.sleep(0.2)
    assert store.get(second.job_id).state == "done"
    assert store.get(first.job_id).state in ("cancelled", "done")
    while store.runner_alive() and time.time() < deadline:
        time.sleep(0.2)
    assert not store.runner_alive()  # the queue is empty: the runner left
    for pid in (running.pid, store.get(second.job_id).pid):
        assert pid is not None and not os.path.exists(f"/proc/{pid}")  # reaped, no zombie


def test_queue_order_moves_and_cancelling_a_waiting_job(tiny_bert, data_dir, cache_dir):
    store = JobStore(cache_dir)
    jobs = [
        store.submit(JobRequest("minilm", (t,), data_dir=str(data_dir)), spawn=False)
        for t in ("pos", "chunk", "sem")
    ]
    ids = [j.job_id for j in jobs]
    assert [r.job_id for r in store.queued()] == ids
    store.move(ids[2], -5)  # to the front
    assert [r.job_id for r in store.queued()] == [ids[2], ids[0], ids[1]]
    store.move(ids[2], 1)
    assert [r.job_id for r in store.queued()] == [ids[0], ids[2], ids[1]]
    urgent = store.submit(JobRequest("minilm", ("ccg",)), spawn=False, first=True)
    assert store.queued()[0].job_id == urgent.job_id
    store.write(replace(store.get(ids[0]), stage="starting", detail="iteration 3"))
    store.cancel(ids[0])
    assert ids[0] not in [r.job_id for r in store.queued()]
    assert (store.get(ids[0]).stage, store.get(ids[0]).detail) == ("", "")  # no stale stage
    assert store.run(ids[0]).state == "cancelled"  # a worker started late does nothing


def test_only_one_runner_serves_a_cache(cache_dir):
    import fcntl

    store = JobStore(cache_dir)
    store.submit(JobRequest("no-such-model", ("pos",)), spawn=False)
    with store._lock() as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another runner holds the lock
        assert store.runner_alive()
        assert store.serve(idle=0) == 0
        assert store.queued()  # left for the runner that holds the lock
    assert not store.runner_alive()


def test_first_run_plan_previews_every_model_before_any_full_analysis():
    plan = first_run_plan(("minilm", "smollm2-135m"), ("pos", "chunk", "sem", "ccg"))
    kinds = [(r.model, r.tasks, r.preview) for r in plan]
    assert kinds[:4] == [
        ("minilm", ("pos",), True),
        ("smollm2-135m", ("pos",), True),
        ("minilm", ("chunk", "sem", "ccg"), True),
        ("smollm2-135m", ("chunk", "sem", "ccg"), True),
    ]
    full = plan[4:]
    assert [(r.model, r.tasks[0]) for r in full] == [
        (m, t) for m in ("minilm", "smollm2-135m") for t in ("pos", "chunk", "sem", "ccg")
    ]
    assert not any(r.preview for r in full)
    assert all(r.settings == {"max_train_words": 30_000} for r in full if r.model != "minilm")
    assert len({r.job_id for r in plan}) == len(plan)
    # A preview is another job than the full analysis of the same request.
    assert (
        JobRequest("minilm", ("pos",)).job_id != JobRequest("minilm", ("pos",), preview=True).job_id
    )


def test_progress_moves_inside_stages(tiny_bert, data_dir, cache_dir, monkeypatch):
    from neuronviz.dashboard.job_progress import JobTracker

    monkeypatch.setattr(JobTracker, "interval", 0.0)  # record every report
    store = JobStore(cache_dir)
    record = store.submit(request(str(tiny_bert), data_dir), spawn=False)
    seen = []
    original = store.write
    store.write = lambda r: (seen.append((r.stage, r.detail, r.percent)), original(r))[1]
    assert store.run(record.job_id).state == "done"
    details = [d for _, d, _ in seen if d]
    assert any("retrained probes" in d for d in details)
    assert any(d.startswith("iteration") for d in details)
    assert any("retrained probes (next: step" in d for d in details)  # moves within a probe
    percents = [p for _, _, p in seen]
    assert percents == sorted(percents)


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
