"""neuronviz dashboard entry point: ``streamlit run app.py``."""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="neuronviz", page_icon=":material/biotech:", layout="wide")

st.session_state["_neuronviz_frame"] = True  # pages check this to know app.py framed them

navigation = st.navigation(
    [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page(
            "pages/activations.py",
            title="Activations",
            icon=":material/highlight:",
            url_path="activations",
        ),
        st.Page(
            "pages/cache_browser.py",
            title="Cached data",
            icon=":material/storage:",
            url_path="cache",
        ),
    ]
)
navigation.run()
