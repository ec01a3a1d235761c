"""Cached data: every extracted model x corpus split in the activation cache."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from neuronviz.cache import ActivationCache
from pages._shared import use_app_navigation

use_app_navigation()

st.title("Cached activations")
cache = ActivationCache()
entries = cache.entries()
st.caption(f"Cache folder: `{cache.base}`")
if not entries:
    st.info(
        "Nothing extracted yet. Run `neuronviz extract --model minilm --task pos` to fill the cache."
    )
    st.stop()

rows = [
    {
        "model": e.manifest.key.model,
        "corpus": e.manifest.key.corpus,
        "split": e.manifest.key.split,
        "sentences": e.manifest.n_sentences,
        "words": e.manifest.n_words,
        "neurons": e.shape[1],
        "tasks": ", ".join(sorted(e.manifest.labels)),
        "aggregation": e.manifest.key.aggregation,
        "MiB": round(e.nbytes / 2**20, 1),
        "created": e.manifest.created,
        "entry": e.manifest.entry_id,
    }
    for e in entries
]
st.dataframe(pd.DataFrame(rows), hide_index=True, key="cache_table")
partials = cache.partials()
if partials:
    st.warning(
        f"{len(partials)} interrupted extraction(s); running the same extract again resumes them."
    )
