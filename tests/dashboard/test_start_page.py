"""The Start page on a fresh cache: it queues the first run (previews first) once, shows the
queue, and lets a user move or cancel waiting jobs."""

from __future__ import annotations

from apptools import APP, open_page
from streamlit.testing.v1 import AppTest

from neuronviz.dashboard.jobs import JobStore


def queue_table(at: AppTest):
    """The Start page's queue table (the one with a "job" column)."""
    return next(d.value for d in at.dataframe if "job" in d.value.columns)


def fresh_start(tmp_path, monkeypatch) -> tuple[AppTest, JobStore]:
    monkeypatch.setenv("NEURONVIZ_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("NEURONVIZ_AUTOSTART", "1")
    monkeypatch.setenv("NEURONVIZ_FIRST_RUN_MODELS", "minilm,gpt2")
    monkeypatch.setenv("NEURONVIZ_FIRST_RUN_TASKS", "pos,chunk")
    started = []
    # The queue is what is tested here, not the runner: no worker process is started.
    monkeypatch.setattr(JobStore, "ensure_runner", lambda self: started.append(self.cache_dir))
    at = open_page(AppTest.from_file(APP, default_timeout=60), "start")
    return at, JobStore(tmp_path / "cache")


def test_a_fresh_cache_queues_previews_before_full_analyses_once(tmp_path, monkeypatch):
    at, store = fresh_start(tmp_path, monkeypatch)
    queue = store.queued()
    assert [(j.request.model, j.request.tasks, j.request.preview) for j in queue[:4]] == [
        ("minilm", ("pos",), True),
        ("gpt2", ("pos",), True),
        ("minilm", ("chunk",), True),
        ("gpt2", ("chunk",), True),
    ]
    assert len(queue) == 8 and not any(j.request.preview for j in queue[4:])
    table = queue_table(at)
    assert list(table["job"])[:2] == ["preview of minilm x pos", "preview of gpt2 x pos"]
    assert set(table["state"]) == {"queued"}
    assert "Nothing analysed yet: previews are running" in at.info[0].value
    open_page(AppTest.from_file(APP, default_timeout=60), "start")  # a second tab
    assert len(store.all()) == 8  # nothing queued twice


def test_waiting_jobs_can_run_next_or_be_cancelled(tmp_path, monkeypatch):
    at, store = fresh_start(tmp_path, monkeypatch)
    last = store.queued()[-1]
    at.selectbox(key="start_queue_job").set_value(last.job_id).run()
    at.button(key="start_queue_first").click().run()
    assert store.queued()[0].job_id == last.job_id
    at.selectbox(key="start_queue_job").set_value(last.job_id).run()
    at.button(key="start_queue_cancel").click().run()
    assert store.get(last.job_id).state == "cancelled"
    assert last.job_id not in [j.job_id for j in store.queued()]
    table = queue_table(at)
    assert "cancelled" in set(table["state"])


def start(at: AppTest) -> None:
    """Clicks the form's "Start analysis"."""
    next(b for b in at.button if b.label == "Start analysis").click().run()


def test_a_new_analysis_queues_its_preview_first(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURONVIZ_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(JobStore, "ensure_runner", lambda self: None)
    at = open_page(AppTest.from_file(APP, default_timeout=60), "start")
    at.multiselect(key="start_tasks").set_value(["chunk"])
    start(at)
    assert not at.exception
    queue = JobStore(tmp_path / "cache").queued()
    assert [(j.request.model, j.request.tasks, j.request.preview) for j in queue] == [
        ("minilm", ("chunk",), True),
        ("minilm", ("chunk",), False),
    ]
    assert queue[0].request.settings == queue[1].request.settings  # a preview of this analysis
    at.checkbox(key="start_preview_first").uncheck()
    at.multiselect(key="start_tasks").set_value(["pos"])
    start(at)
    added = [j for j in JobStore(tmp_path / "cache").queued() if j.request.tasks == ("pos",)]
    assert [j.request.preview for j in added] == [False]
