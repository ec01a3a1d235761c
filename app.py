"""neuronviz dashboard entry point: ``streamlit run app.py``."""

from __future__ import annotations

import streamlit as st

from pages._shared import run_page

# Presentation mode (large type, pages in a top bar, sidebar folded away) follows ?present=1 and
# then stays on for the session while pages change.
if "present" in st.query_params:
    st.session_state["present"] = st.query_params["present"] == "1"
present = bool(st.session_state.get("present", False))

st.set_page_config(
    page_title="neuronviz",
    page_icon=":material/biotech:",
    layout="wide",
    initial_sidebar_state="collapsed" if present else "auto",
)

st.session_state["_neuronviz_frame"] = True  # pages check this to know app.py framed them

PRESENT_CSS = """
<style>
html, body, [data-testid="stAppViewContainer"] { font-size: 22px; }
[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li { font-size: 1.3rem; }
h1 { font-size: 3rem !important; }
h2 { font-size: 2.2rem !important; }
[data-testid="stMetricValue"] { font-size: 2.6rem; }
[data-testid="stAppDeployButton"], [data-testid="stDecoration"], footer { display: none !important; }
[data-testid="stTopNavLink"] p { font-size: 1.15rem; }
</style>
"""


def _set_present() -> None:
    on = bool(st.session_state["present_toggle"])
    st.session_state["present"] = on
    st.query_params["present"] = "1" if on else "0"


# URL paths stay the file names: a deep link then means the same page before and after
# Streamlit leaves its legacy pages/-folder mode on a fresh server (see pages/_shared.py).
navigation = st.navigation(
    [
        st.Page("pages/start.py", title="Start", icon=":material/play_arrow:", default=True),
        st.Page("pages/overview.py", title="Overview", icon=":material/summarize:"),
        st.Page("pages/heatmap.py", title="Top neurons", icon=":material/grid_on:"),
        st.Page("pages/layers.py", title="Layers", icon=":material/stacked_bar_chart:"),
        st.Page("pages/compare.py", title="Compare models", icon=":material/compare_arrows:"),
        st.Page("pages/deep_dive.py", title="Deep dive", icon=":material/troubleshoot:"),
        st.Page("pages/paper.py", title="Paper", icon=":material/article:"),
        st.Page("pages/explorer.py", title="Neuron explorer", icon=":material/neurology:"),
        st.Page("pages/neuron.py", title="Neuron card", icon=":material/search:"),
        st.Page("pages/intervene.py", title="Intervene", icon=":material/tune:"),
        st.Page("pages/learn.py", title="Learn", icon=":material/school:"),
        st.Page("pages/cached_data.py", title="Cached data", icon=":material/storage:"),
    ],
    position="top" if present else "sidebar",
)
st.sidebar.toggle(
    "Presentation mode",
    value=present,
    key="present_toggle",
    on_change=_set_present,
    help="Large type for projectors, pages in a top bar, this sidebar folded away.",
)
if present:
    st.markdown(PRESENT_CSS, unsafe_allow_html=True)
    st.query_params["present"] = "1"
run_page(navigation)
