"""neuronviz dashboard entry point: ``streamlit run app.py``."""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="neuronviz", page_icon=":material/biotech:", layout="wide")

st.session_state["_neuronviz_frame"] = True  # pages check this to know app.py framed them

# URL paths stay the file names: a deep link then means the same page before and after
# Streamlit leaves its legacy pages/-folder mode on a fresh server (see pages/_shared.py).
navigation = st.navigation(
    [
        st.Page("pages/start.py", title="Start", icon=":material/play_arrow:", default=True),
        st.Page("pages/overview.py", title="Overview", icon=":material/summarize:"),
        st.Page("pages/heatmap.py", title="Top neurons", icon=":material/grid_on:"),
        st.Page("pages/layers.py", title="Layers", icon=":material/stacked_bar_chart:"),
        st.Page("pages/compare.py", title="Compare models", icon=":material/compare_arrows:"),
        st.Page("pages/explorer.py", title="Neuron explorer", icon=":material/neurology:"),
        st.Page("pages/cached_data.py", title="Cached data", icon=":material/storage:"),
    ]
)
navigation.run()
