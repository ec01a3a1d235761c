"""Top neurons: a neuron x class heatmap of probe weights or class-mean activations."""

from __future__ import annotations

import streamlit as st

from neuronviz.figures.neurons import top_neuron_heatmap
from pages._shared import (
    analysis_page,
    chart,
)

chosen = analysis_page("Top neurons", "heatmap")
results, model, result = chosen.results, chosen.model, chosen.analyses[0]
task = result.task

with st.sidebar:
    top = st.slider("Neurons", 5, 100, 30, 5, key="heatmap_top")
    value = st.radio("Colour", ["probe weight", "class-mean activation"], key="heatmap_value")
    sort_class = st.selectbox(
        "Rank for class", ["(global ranking)", *result.classes], key="heatmap_sort"
    )

sort = None if sort_class == "(global ranking)" else sort_class
fig = top_neuron_heatmap(
    result, top=top, value="weight" if value == "probe weight" else "mean", sort_class=sort
)
st.caption(
    "Rows are neurons (layer:index, layer 0 = embeddings); click a cell to open that neuron in the explorer."
)
event = chart(fig, key="heatmap_chart", on_select="rerun", selection_mode="points")
points = event.selection.get("points", []) if event else []
if points:
    label = points[0]["y"]
    st.query_params["neuron"] = label
    st.page_link(
        "pages/explorer.py",
        label=f"Open neuron {label} in the explorer",
        icon=":material/neurology:",
        query_params={"model": model, "task": task, "neuron": label},
    )
