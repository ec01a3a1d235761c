"""Paper: the reproduction report of Durrani et al. (2020) on the cached results, live."""

from __future__ import annotations

import streamlit as st

from neuronviz.analyses.previews import training_words
from neuronviz.figures.comparison import depth_profile_figure, minimal_share_figure
from neuronviz.reports.compare import compare_models, verdicts
from neuronviz.reports.findings import findings
from neuronviz.reports.reproduce import report_tables
from neuronviz.reports.runs import last_run, results_of_run
from neuronviz.reports.study import PAPER_TASKS
from pages._shared import (
    cache_root,
    chart,
    download_table,
    linked_models,
    overlap_charts,
    page_header,
    require_results,
    show_previews,
    stored_results,
)


def _forget_selection() -> None:
    """Another set of results has other models and tasks: start from all of them again."""
    for key in ("paper_models", "paper_tasks"):
        st.session_state.pop(key, None)
    st.query_params.pop("models", None)


page_header("The paper, reproduced")
st.markdown(
    "Durrani, Sajjad, Dalvi and Belinkov, *Analyzing Individual Neurons in Pre-trained Language "
    "Models* (EMNLP 2020), checked on the analyses in this cache. Each finding is decided by the "
    "rule shown with it, from the numbers shown with it; `neuronviz reproduce` writes the same "
    "report to a folder."
)


results = require_results()
run = last_run(cache_root())
from_report = results_of_run(stored_results(), run) if run else []
if from_report:
    source = st.sidebar.radio(
        "Results",
        ["report", "preferred"],
        format_func={
            "report": "of the last report",
            "preferred": "newest, most words per model x task",
        }.get,
        key="paper_source",
        on_change=_forget_selection,
        help="A cache can hold several analyses of one model x task (other token caps, quick "
        "runs). The last `neuronviz reproduce` noted which ones its report was made of.",
    )
    if source == "report":
        results = from_report
        st.caption(
            f"The results of `{run['command']}` ({run['created'].replace('T', ' ')}), "
            f"the same numbers as its report `{run['report']}`."
        )
models = sorted({r.model for r in results})
wanted = linked_models(models)
chosen = st.sidebar.multiselect("Models", models, default=wanted or models, key="paper_models")
st.query_params["models"] = ",".join(chosen)
tasks = sorted({r.task for r in results if r.model in chosen})
default_tasks = [t for t in PAPER_TASKS if t in tasks] or tasks
picked_tasks = st.sidebar.multiselect("Tasks", tasks, default=default_tasks, key="paper_tasks")
picked = [r for r in results if r.model in chosen and r.task in picked_tasks]
if not picked:
    st.info("Pick at least one model and task.")
    st.stop()
show_previews(picked)
settings = {(r.settings.get("max_train_words"), r.settings.get("relative_delta")) for r in picked}
caps = {m: {r.settings.get("max_train_words") for r in picked if r.model == m} for m in chosen}
if len({relative for _, relative in settings}) > 1 or any(len(c) > 1 for c in caps.values()):
    st.caption(
        "These results were computed with different settings (token cap, delta); "
        "`neuronviz reproduce` runs them all with the study's (`--paper`: the paper's lambda rule)."
    )
else:
    st.caption(
        "Training words per task: "
        + ", ".join(training_words(picked, m, next(iter(c))) for m, c in caps.items() if c)
        + " (the paper: 150000)."
    )

st.header("Findings")
st.caption(
    "Each finding is a set of comparisons, each against its chance level and decided by the "
    "test named with it at the 5% level: yes, no (significantly the other way) or not "
    "significant. Brackets are 95% intervals."
)
badge = {
    "holds": ":green[holds]",
    "does not hold": ":red[does not hold]",
    "mixed": ":orange[mixed]",
    "not significant": ":gray[not significant]",
}
for f in findings(picked):
    with st.expander(f"**{badge.get(f.verdict, f.verdict)}**: {f.claim}"):
        st.markdown(f"*Rule:* {f.rule}")
        st.markdown(f"*Test:* {f.test}.")
        st.markdown("\n".join(f"- {e}" for e in f.evidence) or "_no evidence: not measured_")

tables = report_tables(picked)
st.header("Every model x task")
st.dataframe(tables["main"], hide_index=True, key="paper_main")
download_table(tables["main"], "paper-main", key="paper_main_csv")
st.header("The fits behind them")
st.dataframe(tables["fits"], hide_index=True, key="paper_fits")
st.header("Top, random and bottom neurons")
st.dataframe(tables["quality"], hide_index=True, key="paper_quality")
st.header("Layers")
st.dataframe(tables["layers"], hide_index=True, key="paper_layers")
comparison = compare_models(picked)
chart(depth_profile_figure(comparison["rows"]), key="paper_depth")
st.header("Tasks and models")
chart(minimal_share_figure(comparison["rows"]), key="paper_share")
overlap_charts(picked, chosen, key="paper_overlap")
st.dataframe(tables["overlap"], hide_index=True, key="paper_overlap_table")
for line in verdicts(comparison["rows"], picked):
    st.markdown(f"- {line}")
