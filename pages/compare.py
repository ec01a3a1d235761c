"""Compare models: how localized and how shared their task neurons are (the paper's XLNet vs BERT view)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from neuronviz.figures.comparison import depth_profile_figure, minimal_share_figure, reach_figure
from neuronviz.reports.compare import compare_models, verdicts
from neuronviz.reports.tables import with_ci
from pages._shared import (
    chart,
    download_table,
    linked_models,
    overlap_charts,
    page_header,
    require_results,
    show_previews,
)

page_header("Compare models")
results = require_results()
models = sorted({r.model for r in results})
wanted = linked_models(models)
chosen = st.sidebar.multiselect(
    "Models", models, default=wanted or models[:2], key="compare_models"
)
st.query_params["models"] = ",".join(chosen)
if len(chosen) < 2:
    st.info(
        "Pick two or more analysed models in the sidebar. Only "
        f"{', '.join(models)} {'has' if len(models) == 1 else 'have'} results so far: start another model on the Start page."
    )
    if len(chosen) != 1:
        st.stop()
common = sorted(set.intersection(*({r.task for r in results if r.model == m} for m in chosen)))
tasks = st.sidebar.multiselect("Tasks", common, default=common, key="compare_tasks")
picked = [r for r in results if r.model in chosen and r.task in tasks]
if not picked:
    st.info("The chosen models have no analysed task in common.")
    st.stop()
show_previews(picked)
report = compare_models(picked)

st.caption(
    "Models of different widths compare through their **chance level**: the share of neurons "
    "random sets need for the same accuracy (a wider model has more redundant neurons, so its "
    "raw share is smaller anyway). Verdicts use a one-sided bootstrap test at the 5% level; "
    "brackets are 95% intervals."
)
for line in verdicts(report["rows"], picked):
    st.markdown(f"- {line}")

left, right = st.columns(2)
chart(minimal_share_figure(report["rows"]), left, key="compare_minimal")
chart(reach_figure(report["rows"]), right, key="compare_reach")
chart(depth_profile_figure(report["rows"]), key="compare_depth")
overlap_charts(picked, chosen, key="compare_overlap")
table = pd.DataFrame(
    [
        {
            "model": r["model"],
            "task": r["task"],
            "neurons": r["neurons"],
            "oracle %": with_ci(r["oracle_test_accuracy"], r["oracle_test_accuracy_ci"]),
            "minimal % of neurons": with_ci(r["minimal_share"], r["minimal_share_interval"]),
            "chance % of neurons": with_ci(r["chance_share"], r["chance_share_interval"], 100, 1),
            "minimal / chance": with_ci(r["localization"], r["localization_interval"], 1, 3),
            **{
                f"{float(k) * 100:g}% of oracle at % neurons": None
                if v is None
                else round(100 * v, 2)
                for k, v in r["reach"].items()
            },
        }
        for r in report["rows"]
    ]
)
st.dataframe(table, hide_index=True, key="compare_table")
download_table(table, "model-comparison", key="compare_csv")
