"""Deep dive: how many neurons are enough, what the probes confuse, and how stable the ranking is."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from neuronviz.analyses.stability import ranking_stability
from neuronviz.figures.curves import size_slider_figure, stability_figure
from neuronviz.figures.neurons import confusion_figure
from neuronviz.probing.metrics import confusion_matrix, frequent_classes
from pages._shared import (
    analysis_page,
    chart,
    download_table,
)

chosen = analysis_page("Deep dive", "deep")
results, model, r = chosen.results, chosen.model, chosen.analyses[0]
task = r.task
RERUN = "This result was computed by an older neuronviz; run the analysis again to see this view."


def size_view() -> None:
    """Accuracy of the top-k probe at every size it was retrained on, around the minimal set."""
    points = r.prefix_accuracy("test")
    sizes = [s for s, _ in points]
    default = min(sizes, key=lambda s: abs(s - r.minimal.size))
    size = st.select_slider(
        "Top-k neurons of the ranking (every size a probe was retrained on)",
        options=sizes,
        value=default,
        key="deep_size",
    )
    accuracy = dict(points)[size]
    c1, c2, c3 = st.columns(3)
    c1.metric("neurons", f"{size} ({100 * size / r.n_neurons:.2f}%)")
    c2.metric(
        "test accuracy",
        f"{100 * accuracy:.2f}%",
        f"{100 * (accuracy - r.oracle.test_accuracy):+.2f} vs all neurons",
    )
    c3.metric("minimal set", f"{r.minimal.size} neurons")
    chart(size_slider_figure(r, size), key="deep_size_chart")
    st.caption(
        "The minimal set is the smallest k whose retrained *dev* accuracy is within the "
        f"tolerance of the all-neuron probe (threshold {100 * r.minimal.threshold:.2f}% on dev)."
    )


def confusion_view() -> None:
    """Confusion matrices of the all-neuron probe, the minimal set, and the ablated probe."""
    if "test_pred_all" not in r.arrays:
        st.info(RERUN)
    else:
        gold = r.arrays["test_labels"]
        n = len(r.classes)
        shown = st.slider(
            "Most frequent classes shown", 2, n, min(n, 15), key="deep_confusion_classes"
        )
        show = frequent_classes(gold, n, shown)
        cols = st.columns(3)
        for col, key, title in zip(
            cols,
            ("test_pred_all", "test_pred_minimal", "test_pred_ablated"),
            (
                "all neurons",
                f"minimal set ({r.minimal.size} neurons)",
                "all neurons, minimal set zeroed",
            ),
            strict=True,
        ):
            pred = r.arrays[key]
            acc = float(np.mean(pred == gold))
            counts = confusion_matrix(gold, pred, n)
            chart(
                confusion_figure(counts, r.classes, f"{title}: {100 * acc:.1f}%", show=show),
                col,
                key=f"deep_{key}",
            )
        st.caption(
            "Rows: gold class; columns: predicted; each row sums to 100% of its words. Zeroing "
            "the minimal set shows what the rest of the neurons know without it."
        )


def stability_view() -> None:
    """How stable the top neurons are across lambdas, class weightings and resamples."""
    k = st.number_input(
        "Top set size k (default: the minimal set)",
        1,
        r.n_neurons,
        int(r.minimal.size),
        key="deep_stability_k",
    )
    rows = ranking_stability(r, top=20, k=int(k))
    if not rows or "lambda_share" not in rows[0]:
        st.info(RERUN)
    else:
        chart(stability_figure(rows), key="deep_stability")
        table = pd.DataFrame(rows)
        st.dataframe(table, hide_index=True, key="deep_stability_table")
        download_table(table, f"{model}-{task}-stability", key="deep_stability_csv")
        if "seed_share" not in rows[0]:
            st.caption(
                "Run `neuronviz probe --seeds 5` to add the share of training resamples whose "
                "minimal set keeps each neuron."
            )


# Only the open tab runs and is drawn (a page load draws one tab, not every chart); the URL
# keeps which tab is open.
tabs = st.tabs(
    ["How many neurons are enough?", "Confusions", "Ranking stability"],
    key="deep_tab",
    bind="query-params",
)
for tab, view in zip(tabs, (size_view, confusion_view, stability_view), strict=True):
    if tab.open is not False:
        with tab:
            view()
