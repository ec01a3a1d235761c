"""Home: what neuronviz does, and the models and tasks it knows."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from neuronviz.data.tasks import TASKS
from neuronviz.models import MODELS
from pages._shared import use_app_navigation

use_app_navigation()

st.title("neuronviz")
st.markdown(
    "Look inside language models **one neuron at a time**. neuronviz extracts every neuron's "
    "activation for every word of an annotated corpus, trains elastic-net probes for linguistic "
    "tasks and ranks neurons, following Durrani et al., *Analyzing Individual Neurons in "
    "Pre-trained Language Models* (EMNLP 2020)."
)
st.page_link(
    "pages/activations.py",
    label="Type a sentence and watch single neurons fire",
    icon=":material/highlight:",
)
st.page_link(
    "pages/cached_data.py",
    label="Browse extracted corpora in the cache",
    icon=":material/storage:",
)

left, right = st.columns(2)
with left:
    st.subheader("Models")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "name": s.name,
                    "kind": s.kind,
                    "layers": s.layers,
                    "neurons": s.neurons,
                    "about": s.description,
                }
                for s in MODELS.values()
            ]
        ),
        hide_index=True,
        key="home_models",
    )
with right:
    st.subheader("Tasks")
    st.dataframe(
        pd.DataFrame(
            [{"task": s.name, "corpus": s.corpus, "labels": s.description} for s in TASKS.values()]
        ),
        hide_index=True,
        key="home_tasks",
    )
