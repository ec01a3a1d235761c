"""Cached data: every extracted model x corpus split in the activation cache."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from neuronviz.errors import NeuronvizError
from neuronviz.store.activation_cache import ActivationCache, entry_rows
from neuronviz.store.bundle_import import import_bundle
from neuronviz.store.bundles import export_bundle
from pages._shared import all_results, cache_root, page_header, show_error

DOWNLOAD_LIMIT = 200 * 2**20  # larger bundles are copied by path, not through the browser

page_header("Cached activations")
cache = ActivationCache()
entries = cache.entries()
st.caption(f"Cache folder: `{cache.base}`")
if not entries:
    st.info(
        "Nothing extracted yet. Run `neuronviz extract --model minilm --task pos` to fill the "
        "cache, or import a demo bundle below."
    )

rows = [{**row, "tasks": ", ".join(row["tasks"])} for row in entry_rows(entries)]
if rows:
    st.dataframe(pd.DataFrame(rows).drop(columns="shape"), hide_index=True, key="cache_table")
partials = cache.partials()
if partials:
    st.warning(
        f"{len(partials)} interrupted extraction(s); running the same extract again resumes them."
    )

st.header("Demo bundles")
st.markdown(
    "Carry analyses to another machine (a talk on an offline laptop): export chosen model x "
    "task results, with the test sentences the explorer shows, into one file; import it there "
    "and every view works without extraction."
)
results = all_results()
export_tab, import_tab = st.tabs(["Export", "Import"])
with export_tab:
    if not results:
        st.info("No analysis to bundle yet.")
    else:
        labels = {f"{r.model} x {r.task}": (r.model, r.task) for r in results}
        chosen = st.multiselect(
            "Analyses", list(labels), default=list(labels)[:1], key="bundle_pairs"
        )
        with_acts = st.checkbox(
            "Include test-split activations (needed by the explorer's sentences and word search)",
            value=True,
            key="bundle_acts",
        )
        target = st.text_input(
            "Write to", str(cache_root() / "bundles" / "talk.zip"), key="bundle_path"
        )
        if st.button("Write bundle", key="bundle_write", disabled=not chosen):
            try:
                info = export_bundle(
                    [labels[c] for c in chosen],
                    target,
                    cache_dir=cache_root(),
                    activations=with_acts,
                )
                size = Path(target).stat().st_size
                st.success(f"Wrote {target}: {len(info.pairs)} analyses, {size / 2**20:.1f} MiB.")
                if size <= DOWNLOAD_LIMIT:
                    st.download_button(
                        "Download the bundle",
                        Path(target).read_bytes(),
                        Path(target).name,
                        "application/zip",
                        key="bundle_download",
                    )
            except NeuronvizError as exc:
                show_error(exc)
with import_tab:
    upload = st.file_uploader("Bundle file (.zip)", type=["zip"], key="bundle_upload")
    path = st.text_input("...or its path on this machine", key="bundle_import_path").strip()
    if st.button("Import", key="bundle_import", disabled=not (upload or path)):
        try:
            if upload is not None:
                folder = cache_root() / "bundles"
                folder.mkdir(parents=True, exist_ok=True)
                saved = folder / Path(upload.name).name
                saved.write_bytes(upload.getvalue())
                path = str(saved)
            info = import_bundle(path, cache_dir=cache_root())
            st.cache_data.clear()
            st.success("Imported " + ", ".join(f"{m} x {t}" for m, t in info.pairs) + ".")
        except NeuronvizError as exc:
            show_error(exc)
