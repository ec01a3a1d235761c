"""Start: analyses that are ready, starting new ones in the background, and their live progress."""

from __future__ import annotations

import time
from dataclasses import replace

import pandas as pd
import streamlit as st

from neuronviz.analyses.previews import preview_sentences
from neuronviz.analyses.settings import AnalysisSettings
from neuronviz.corpora.tasks import TASKS
from neuronviz.dashboard.first_run import first_run_plan
from neuronviz.dashboard.job_records import ACTIVE, JobRequest
from neuronviz.dashboard.jobs import JobStore
from neuronviz.engines.choose import ENGINES, ray_installed
from neuronviz.errors import NeuronvizError
from neuronviz.models.registry import MODELS
from neuronviz.probing.ranking import METHODS
from neuronviz.reports.tables import analysis_row
from neuronviz.settings import autostart_enabled, first_run_choice
from pages._shared import all_results, cache_root, download_table, page_header, show_error

page_header("neuronviz")
st.markdown(
    "Look inside language models **one neuron at a time**: which neurons encode parts of speech, "
    "semantic tags, syntax? Following Durrani et al., *Analyzing Individual Neurons in Pre-trained "
    "Language Models* (EMNLP 2020)."
)

jobs = JobStore(cache_root())
results = all_results()
if not results and not jobs.all() and autostart_enabled():
    # A fresh machine: queue previews of the default models x tasks, then their full analyses,
    # so that every page shows real (preview) results within minutes, without a click.
    try:
        jobs.submit_all(first_run_plan(*first_run_choice()))
    except NeuronvizError as exc:
        show_error(exc)
elif jobs.queued():
    jobs.ensure_runner()  # queued work left by a stopped server goes on


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"


def _queue_rows(shown: list) -> list[dict]:
    now = time.time()
    rows = []
    for j in shown:
        if j.state == "running":
            when = f"running for {_minutes(now - j.started)}"
        elif j.state == "queued":
            when = f"waiting for {_minutes(now - (j.submitted or j.updated))}"
        else:
            took = (j.finished or j.updated) - j.started if j.started else 0
            when = f"took {_minutes(took)}" if j.state == "done" else j.state
        rows.append({"job": j.label, "state": j.state, "time": when, "stage": j.stage})
    return rows


@st.fragment(run_every=1.0)
def job_progress() -> None:
    """The queue: running job with live progress, waiting jobs (reorder, cancel), and jobs that
    ended in the last hour; polls the job records on disk."""
    now = time.time()
    every = jobs.all()
    running = [j for j in every if j.state == "running"]
    waiting = jobs.queued()
    ended = [
        j for j in every if j.state in ("done", "failed", "cancelled") and now - j.updated < 3600
    ]
    if not (running or waiting or ended):
        return
    st.subheader("Analyses: queue")
    for job in running:
        eta = f", about {_minutes(job.eta_seconds)} left" if job.eta_seconds else ""
        detail = f": {job.detail}" if job.detail else ""
        st.progress(
            min(job.percent / 100, 1.0),
            text=f"{job.label}: {job.task} {job.stage}{detail} ({job.percent:.0f}%{eta})",
        )
        if st.button("Cancel", key=f"start_cancel_{job.job_id}"):
            jobs.cancel(job.job_id)
            st.rerun()
    for job in ended:
        if job.state == "failed":
            st.error(f"{job.label} failed: {job.error}", icon=":material/error:")
            if st.button("Run it again", key=f"start_retry_{job.job_id}"):
                try:
                    jobs.submit(job.request, first=True)
                except NeuronvizError as exc:
                    show_error(exc)
                st.rerun()
    order = running + waiting + ended
    st.dataframe(pd.DataFrame(_queue_rows(order)), hide_index=True, key="start_queue")
    if waiting:
        labels = {j.job_id: f"{i + 1}. {j.label}" for i, j in enumerate(waiting)}
        c1, c2, c3, c4 = st.columns([3, 1, 1, 1], vertical_alignment="bottom")
        chosen = c1.selectbox(
            "Waiting job", list(labels), format_func=labels.get, key="start_queue_job"
        )
        if c2.button("Run next", key="start_queue_first"):
            jobs.move(chosen, -len(waiting))
            st.rerun()
        if c3.button("Later", key="start_queue_later"):
            jobs.move(chosen, 1)
            st.rerun()
        if c4.button("Cancel", key="start_queue_cancel"):
            jobs.cancel(chosen)
            st.rerun()
    if any(j.state == "done" and now - j.updated < 3 for j in ended):
        st.rerun(scope="app")  # new results: refresh the lists on this page


job_progress()

st.subheader("Ready to explore")
if results:
    rows = [analysis_row(r) for r in results]
    table = pd.DataFrame(rows)
    st.dataframe(table, hide_index=True, key="start_results")
    download_table(table, "analyses", key="start_download")
    with st.container(horizontal=True):
        for r in results:
            st.page_link(
                "pages/overview.py",
                label=f"Open {r.model} x {r.task}",
                icon=":material/open_in_new:",
                query_params={"model": r.model, "task": r.task},
            )
elif active := [j for j in jobs.all() if j.state in ACTIVE]:
    st.info(
        "Nothing analysed yet: previews are running (the first within about a minute); the "
        "full analyses follow on their own."
        if any(j.request.preview for j in active)
        else "Nothing analysed yet: the queued analyses are running (progress above)."
    )
else:
    st.info(
        "Nothing analysed yet: start the default analysis (minilm x pos) below, or pick "
        "another model and task."
    )

with st.expander("Run a new analysis", expanded=not results):
    with st.form("start_form"):
        model = st.selectbox("Model", list(MODELS), key="start_model")
        other = st.text_input("...or a Hugging Face id / local folder", key="start_other").strip()
        builtin = [t for t, spec in TASKS.items() if not spec.needs_path]
        tasks = st.multiselect("Tasks", builtin, default=["pos"], key="start_tasks")
        custom = st.text_input(
            "Extra task on your own file (e.g. upos:/data/en_ewt)", key="start_custom"
        ).strip()
        c1, c2, c3, c4, *c5 = st.columns(5 if ray_installed() else 4)
        method = c1.selectbox("Ranking", METHODS, key="start_method")
        weighting = c2.selectbox(
            "Class weighting",
            ["auto", "uniform", "frequency"],
            key="start_weighting",
            help="How classes count in the weight-mass ranking: alike (the paper's), by "
            "frequency, or whichever separates top from random neurons better on dev.",
        )
        delta = c3.number_input(
            "Tolerance (points)",
            0.0,
            100.0,
            1.0,
            0.5,
            key="start_delta",
            help="The minimal neuron set keeps dev accuracy within this many points of the "
            "probe on all neurons.",
        )
        device = c4.selectbox("Device", ["auto", "cpu", "cuda", "mps"], key="start_device")
        engine = "local"
        if c5:
            engine = c5[0].selectbox(
                "Engine",
                ENGINES,
                key="start_engine",
                help="local: this machine. ray: the Ray cluster at $RAY_ADDRESS (or a local "
                "one): extraction in shards on its workers, probe fits in parallel.",
            )
        preview_first = st.checkbox(
            "Preview first",
            value=True,
            key="start_preview_first",
            help="Queue a preview before the full analysis: the same analysis on the first "
            f"{preview_sentences()} sentences of each split, ready in a minute or two and "
            "labelled as a preview until the full analysis replaces it.",
        )
        submitted = st.form_submit_button("Start analysis", type="primary")
    if submitted:
        try:
            settings = AnalysisSettings(
                method=method, weighting=weighting, delta=float(delta)
            ).to_dict()
            request = JobRequest(
                other or model,
                tuple(tasks + ([custom] if custom else [])),
                settings,
                device=device,
                engine=engine,
            )
            jobs.submit_all(
                [replace(request, preview=True), request] if preview_first else [request]
            )
            st.rerun()
        except NeuronvizError as exc:
            show_error(exc)
