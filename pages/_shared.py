"""Helpers shared by the dashboard pages: cached model loading and error display."""

from __future__ import annotations

import streamlit as st

from neuronviz.errors import NeuronvizError
from neuronviz.models import LoadedModel, load_model


@st.cache_resource(show_spinner="Loading model...")
def get_model(name: str, device: str = "auto") -> LoadedModel:
    """One loaded model per (name, device) for the whole server."""
    return load_model(name, device=device)


def use_app_navigation() -> None:
    """Make sure the page runs inside ``app.py``'s navigation, even on a fresh server.

    Streamlit treats an app with a ``pages/`` folder as a legacy multipage app until
    ``st.navigation`` has run once; a deep link (``/activations``) opened first on a fresh
    server would then run the page alone, with the legacy sidebar. Switching the flag and
    rerunning sends the same URL through ``app.py``. Uses a Streamlit internal, so it is
    guarded: if the internal moves, only that first deep link looks different.
    """
    if st.session_state.get("_neuronviz_frame"):
        return
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # pragma: no cover - a future Streamlit without it
        return
    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()


def show_error(exc: NeuronvizError) -> None:
    """A neuronviz error as a readable box, never a traceback."""
    st.error(str(exc), icon="⚠️")
