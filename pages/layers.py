"""Layers: where the minimal set (or a top-k set) sits, and how well each layer alone does."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from neuronviz.figures.comparison import layer_figure
from pages._shared import (
    analysis_page,
    chart,
    download_table,
)

picked = analysis_page("Layers", "layers", multi=True)
model, chosen = picked.model, picked.analyses
options = ["minimal", *chosen[0].layers.top.keys()]
with st.sidebar:
    which = st.selectbox(
        "Neuron set",
        options,
        format_func=lambda o: "minimal set" if o == "minimal" else f"top {o}%",
        key="layers_set",
    )
    measure = st.radio("Bars show", ["share", "count"], horizontal=True, key="layers_measure")

chart(layer_figure(chosen, measure=measure, which=which), key="layers_chart")
rows = []
for r in chosen:
    dist = r.layers.of(which)
    for i, name in enumerate(r.layer_names):
        rows.append(
            {
                "task": r.task,
                "layer": name,
                "neurons": dist.count[i],
                "share %": round(100 * dist.share[i], 2),
                "layer probe test %": None
                if r.layers.probe_test_accuracy is None
                else round(100 * r.layers.probe_test_accuracy[i], 2),
            }
        )
table = pd.DataFrame(rows)
st.dataframe(table, hide_index=True, key="layers_table")
download_table(table, f"{model}-layers", key="layers_csv")
