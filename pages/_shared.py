"""Helpers shared by the dashboard pages: cached model loading and error display."""

from __future__ import annotations

import streamlit as st

from neuronviz.errors import NeuronvizError
from neuronviz.models import LoadedModel, load_model


@st.cache_resource(show_spinner="Loading model...")
def get_model(name: str, device: str = "auto") -> LoadedModel:
    """One loaded model per (name, device) for the whole server."""
    return load_model(name, device=device)


def show_error(exc: NeuronvizError) -> None:
    """A neuronviz error as a readable box, never a traceback."""
    st.error(str(exc), icon="⚠️")
