"""neuronviz dashboard entry point: ``streamlit run app.py``."""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="neuronviz", page_icon="🔬", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/home.py", title="Home", icon="🏠", default=True),
        st.Page("pages/activations.py", title="Activations", icon="🔦", url_path="activations"),
        st.Page("pages/cache_browser.py", title="Cached data", icon="🗄️", url_path="cache"),
    ]
)
navigation.run()
