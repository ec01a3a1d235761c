"""Start: analyses that are ready, starting new ones in the background, and their live progress."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from neuronviz.analysis import AnalysisSettings
from neuronviz.data.tasks import TASKS
from neuronviz.engine import ENGINES, ray_installed
from neuronviz.errors import NeuronvizError
from neuronviz.jobs import JobRequest, JobStore
from neuronviz.models import MODELS
from neuronviz.ranking import METHODS
from neuronviz.settings import autostart_enabled
from pages._shared import all_results, cache_root, download_table, show_error, use_app_navigation

use_app_navigation()

st.title("neuronviz")
st.markdown(
    "Look inside language models **one neuron at a time**: which neurons encode parts of speech, "
    "semantic tags, syntax? Following Durrani et al., *Analyzing Individual Neurons in Pre-trained "
    "Language Models* (EMNLP 2020)."
)

jobs = JobStore(cache_root())
results = all_results()
if not results and not jobs.all() and autostart_enabled():
    # A fresh machine: start the default analysis so the first results appear without a click.
    try:
        jobs.submit(JobRequest("minilm", ("pos",)))
    except NeuronvizError as exc:
        show_error(exc)


@st.fragment(run_every=1.0)
def job_progress() -> None:
    """Live progress of running and recent jobs; polls the job records on disk."""
    shown = [
        j for j in jobs.all() if j.state in ("queued", "running") or time.time() - j.updated < 600
    ]
    if not shown:
        return
    st.subheader("Analyses in progress")
    for job in shown:
        label = f"{job.request.model} x {', '.join(job.request.tasks)}"
        if job.state in ("queued", "running"):
            eta = f", about {job.eta_seconds / 60:.0f} min left" if job.eta_seconds else ""
            st.progress(
                min(job.percent / 100, 1.0),
                text=f"{label}: {job.task} {job.stage} ({job.percent:.0f}%{eta})",
            )
            if st.button("Cancel", key=f"start_cancel_{job.job_id}"):
                jobs.cancel(job.job_id)
                st.rerun()
        elif job.state in ("failed", "cancelled"):
            if job.state == "failed":
                st.error(f"{label} failed: {job.error}", icon=":material/error:")
            else:
                st.warning(f"{label} was cancelled.")
            if st.button("Run it again", key=f"start_retry_{job.job_id}"):
                try:
                    jobs.submit(job.request)
                except NeuronvizError as exc:
                    show_error(exc)
                st.rerun()
        else:
            st.success(f"{label} finished.", icon=":material/check_circle:")
    if any(j.state == "done" and time.time() - j.updated < 3 for j in shown):
        st.rerun(scope="app")  # new results: refresh the lists on this page


job_progress()

st.subheader("Ready to explore")
if results:
    rows = [
        {
            "model": r.model,
            "task": r.task,
            "oracle accuracy %": round(100 * r.oracle["test_accuracy"], 2),
            "minimal set": f"{r.minimal['size']} ({100 * r.minimal['fraction']:.1f}%)",
            "selectivity": None if r.control is None else round(100 * r.control["selectivity"], 1),
            "ranking beats random": all(v["beats_random"] for v in r.ranking_quality.values()),
        }
        for r in results
    ]
    table = pd.DataFrame(rows)
    st.dataframe(table, hide_index=True, key="start_results")
    download_table(table, "analyses", key="start_download")
    cols = st.columns(min(len(results), 4))
    for i, r in enumerate(results):
        cols[i % len(cols)].page_link(
            "pages/overview.py",
            label=f"Open {r.model} x {r.task}",
            icon=":material/open_in_new:",
            query_params={"model": r.model, "task": r.task},
        )
else:
    st.info(
        "Nothing analysed yet: the default analysis (minilm x pos) is running; results appear here when it finishes."
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
            jobs.submit(request)
            st.rerun()
        except NeuronvizError as exc:
            show_error(exc)
