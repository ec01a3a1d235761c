"""Overview: the headline numbers of each analysis and its accuracy-vs-neurons curves."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from neuronviz.figures import curves_figure
from pages._shared import (
    chart,
    download_table,
    pick_model,
    pick_tasks,
    require_results,
    result_for,
    use_app_navigation,
)

use_app_navigation()
st.title("Overview")
results = require_results()
model = pick_model(results, key="overview_model")
tasks = pick_tasks(results, model, key="overview_tasks", multi=True)
if not tasks:
    st.info("Pick at least one task in the sidebar.")
    st.stop()
split = st.sidebar.radio("Accuracy on", ["test", "dev"], horizontal=True, key="overview_split")


def pct(x: float | None) -> float | None:
    return None if x is None else round(100 * x, 2)


rows = []
for task in tasks:
    r = result_for(results, model, task)
    q1 = r.ranking_quality.get("1", {})
    rows.append(
        {
            "task": task,
            "classes": len(r.classes),
            "oracle %": pct(r.oracle[f"{split}_accuracy"]),
            "minimal set": r.minimal["size"],
            "minimal %neurons": round(100 * r.minimal["fraction"], 2),
            "minimal acc %": pct(r.minimal[f"{split}_accuracy"]),
            "top 1% acc": pct(q1.get("top")),
            "random 1% acc": pct(q1.get("random_mean")),
            "bottom 1% acc": pct(q1.get("bottom")),
            "control %": pct(r.control["test_accuracy"]) if r.control else None,
            "selectivity": pct(r.control["selectivity"]) if r.control else None,
            "lambda1": r.oracle["lambda1"],
            "lambda2": r.oracle["lambda2"],
            "ranking": r.method
            + (
                f" ({r.ranking.get('weighting', 'uniform')})"
                if r.method in ("lca", "lasso")
                else ""
            ),
        }
    )
table = pd.DataFrame(rows)
st.dataframe(table, hide_index=True, key="overview_table")
download_table(table, f"{model}-overview", key="overview_csv")

for task in tasks:
    r = result_for(results, model, task)
    bad = [p for p, v in r.ranking_quality.items() if not v["beats_random"]]
    if bad:
        st.warning(
            f"{task}: the ranking does not beat random neurons at {', '.join(bad)}% of neurons; "
            "read its top-neuron charts with care.",
            icon=":material/warning:",
        )
    for note in r.warnings:
        st.info(f"{task}: {note}", icon=":material/info:")
    chart(curves_figure(r, split), key=f"overview_curve_{task}")
    st.download_button(
        f"Download the {task} result as JSON",
        json.dumps(r.to_dict(), indent=1).encode(),
        f"{model}-{task}.json",
        "application/json",
        key=f"overview_json_{task}",
    )
