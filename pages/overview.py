"""Overview: the headline numbers of each analysis and its accuracy-vs-neurons curves."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from neuronviz.figures.curves import curves_figure
from neuronviz.reports.tables import overview_row, unconverged
from pages._shared import (
    analysis_page,
    chart,
    download_table,
)

chosen = analysis_page("Overview", "overview", multi=True)
model, shown = chosen.model, chosen.analyses
split = st.sidebar.radio("Accuracy on", ["test", "dev"], horizontal=True, key="overview_split")


rows = [overview_row(r, split) for r in shown]
table = pd.DataFrame(rows)
st.caption(
    "Brackets: 95% intervals (accuracies: bootstrap over test sentences; minimal set: bootstrap "
    "over dev sentences). Chance: the share of neurons random sets need for the same accuracy; "
    "minimal / chance below 1 means the ranking's neurons do better than random ones. Top 1% "
    "percentile: its rank among the random draws, with the one-sided p of a prediction test."
)
st.dataframe(table, hide_index=True, key="overview_table")
download_table(table, f"{model}-overview", key="overview_csv")

for r in shown:
    task = r.task
    bad = [p for p, v in r.ranking_quality.items() if not v.beats_random]
    if bad:
        st.warning(
            f"{task}: the ranking does not beat random neurons (p < 0.05) at "
            f"{', '.join(bad)}% of neurons; read its top-neuron charts with care.",
            icon=":material/warning:",
        )
    loose = unconverged(r)
    if loose:
        st.warning(
            f"{task}: not converged: {'; '.join(loose)}. Its numbers may move with a longer fit.",
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
