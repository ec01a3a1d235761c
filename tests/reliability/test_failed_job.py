"""A failed background analysis shows its error on the Start page and can be run again."""

from __future__ import annotations

import shutil

from apptools import APP, open_page
from streamlit.testing.v1 import AppTest

from neuronviz.dashboard.job_records import JobRequest
from neuronviz.dashboard.jobs import JobStore


def test_failed_job_shows_its_error_and_runs_again(analysed, tmp_path, monkeypatch):
    cache = tmp_path / "cache"  # a copy: the failed job must not show up in other tests
    shutil.copytree(analysed / "results", cache / "results")
    monkeypatch.setenv("NEURONVIZ_CACHE", str(cache))
    app = AppTest.from_file(APP, default_timeout=90)
    store = JobStore(cache)
    record = store.submit(JobRequest("no-such-model", ("pos",)), spawn=False)
    store.run(record.job_id)
    started = []
    monkeypatch.setattr(JobStore, "submit", lambda self, req, **kw: started.append(req))
    at = open_page(app, "start")
    errors = [e.value for e in at.error]
    assert any("no-such-model x pos failed: corpus 'conll2000'" in e for e in errors), errors
    assert "Traceback" not in " ".join(errors)
    at.button(key=f"start_retry_{record.job_id}").click().run()
    assert not at.exception
    assert [r.model for r in started] == ["no-such-model"]
