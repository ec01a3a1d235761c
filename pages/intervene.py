"""Intervene: silence or change neurons inside the model and watch what the probes and the model do."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from neuronviz.errors import NeuronvizError
from neuronviz.extraction.extract import extract_words
from neuronviz.figures.highlight import highlight_legend_html, token_highlight_html
from neuronviz.figures.interventions import effect_matrix_figure, intervention_figure
from neuronviz.interventions.effects import (
    EffectStore,
    build_intervention,
    effect_matrix,
    plan_intervention,
    probe_effects,
    probe_predict,
    random_controls,
)
from neuronviz.interventions.generation import output_effect
from neuronviz.interventions.hooks import MODES, intervene
from pages._shared import (
    activation_cache,
    cache_root,
    chart,
    download_table,
    get_model,
    page_header,
    pick_model,
    pick_tasks,
    require_results,
    show_error,
)

page_header("Intervene")
st.markdown(
    "A top-neuron ranking shows which neurons *correlate* with a property. Here you change those "
    "neurons **inside the model** while it runs, and every later layer sees the change: do the "
    "probes fail, and does the model's own output change? Each change is measured beside the "
    "same change on **random neurons of the same layers**, so a drop means something only if "
    "it is larger than that."
)
results = require_results()
model_name = pick_model(results, key="iv_model")
analysed = sorted((r for r in results if r.model == model_name), key=lambda r: r.task)
# Probes are scored on fresh activations: a result needs its test labels and training statistics.
mine = {r.task: r for r in analysed if {"test_labels", "feature_mean"} <= set(r.arrays)}
older = [r.task for r in analysed if r.task not in mine]
if older:
    st.caption(
        f"Not measured: {', '.join(older)} (computed by an older neuronviz; run the analysis "
        "again to include it)."
    )
if not mine:
    st.info(f"No analysis of {model_name} can be measured here yet; run one on the Start page.")
    st.stop()
tasks = list(mine)
keys = tuple(r.key for r in mine.values())  # cached measurements follow the results they use

source_kind = st.sidebar.radio(
    "Neurons to change",
    ["minimal set of a task", "top-k of a task", "top-k of a class", "my own list"],
    index=3 if st.query_params.get("neuron") else 0,  # a link from the explorer brings one
    key="iv_kind",
)
if source_kind == "my own list":
    spec = st.sidebar.text_input(
        "Neurons (layer:index, comma-separated)",
        st.query_params.get("neuron", ""),
        key="iv_neurons",
        help="The neuron explorer and the neuron card link here with their neuron.",
    )
else:
    task = pick_tasks([mine[t] for t in tasks], model_name, key="iv_task", multi=False)[0]
    if source_kind == "minimal set of a task":
        spec = f"{task}:minimal"
    elif source_kind == "top-k of a task":
        spec = f"{task}:top{st.sidebar.number_input('k', 1, 5000, 50, key='iv_k')}"
    else:
        cls = st.sidebar.selectbox("Class", mine[task].classes, key="iv_class")
        spec = f"{task}:{cls}:top{st.sidebar.number_input('k', 1, 5000, 10, key='iv_class_k')}"
mode = st.sidebar.selectbox(
    "Change",
    MODES,
    key="iv_mode",
    format_func={"zero": "set to zero", "mean": "set to their mean", "scale": "scale"}.get,
    help="Setting a neuron to its mean over the training words removes what it says about this "
    "word while keeping its typical level; zero is harsher.",
)
factor = (
    st.sidebar.slider("factor", -3.0, 5.0, 0.0, 0.25, key="iv_factor") if mode == "scale" else 0.0
)
sentences = st.sidebar.slider("test sentences per task", 20, 1000, 200, 20, key="iv_sentences")

if not spec.strip():
    st.info("Choose the neurons to change in the sidebar.")
    st.stop()
try:
    plan = plan_intervention(spec, mode, mine, factor)
except NeuronvizError as exc:
    show_error(exc)
    st.stop()
neurons, intervention, base = plan.neurons, plan.intervention, plan.means_from
if not neurons:
    st.info("Choose the neurons to change in the sidebar.")
    st.stop()
st.caption(
    f"{model_name}: {len(neurons)} neurons ({spec}), "
    + {"zero": "set to zero", "mean": "set to their training mean", "scale": f"scaled x{factor:g}"}[
        mode
    ]
)


def measure(source: str, n: int, of: str, store: EffectStore, key: str) -> list:
    """Probe effects of the current choice, measured now with a progress bar and kept on disk
    (``of``: the task whose training means ``mean`` uses)."""
    means = mine.get(of, base)
    iv = build_intervention(list(neurons), mode, means, factor)
    bar = st.progress(0.0, text="Loading the model...")
    loaded = get_model(source)

    def progress(stage: str, done: int, total: int) -> None:
        bar.progress(
            done / total,
            text=f"Running the model: {done} of {total} passes over the test sentences",
        )

    cache = activation_cache(str(cache_root()))
    effects = probe_effects(
        loaded,
        iv,
        list(mine.values()),
        cache=cache,
        sentences=n,
        means_from=means,
        callback=progress,
    )
    bar.empty()
    store.save(key, effects)
    return effects


@st.cache_data(show_spinner=False, max_entries=8)
def task_matrix(keys: tuple, source: str, mode: str, n: int):
    """The task x task matrix of extra drops, once per set of results, mode and sample size."""
    cache = activation_cache(str(cache_root()))
    extra, names, _ = effect_matrix(
        get_model(source), list(mine.values()), mode, cache=cache, sentences=n
    )
    return extra, names


source = base.model_source or model_name
probes_tab, text_tab, matrix_tab, output_tab = st.tabs(
    ["Probes", "A sentence", "Task x task", "The model's output"],
    key="iv_tab",
    bind="query-params",
)


def show_effects(effects: list) -> None:
    """The measured effects: chart, table and a sentence per task."""
    chart(intervention_figure(effects, f"probe accuracy, {spec} changed"), key="iv_chart")
    table = pd.DataFrame(
        [
            {
                "task": e.task,
                "words": e.words,
                "before %": round(100 * e.before, 2),
                "after %": round(100 * e.after, 2),
                "drop": round(100 * e.drop, 2),
                "random after %": round(100 * e.random_after, 2),
                "random drop": round(100 * e.random_drop, 2),
            }
            for e in effects
        ]
    )
    st.dataframe(table, hide_index=True, key="iv_table")
    download_table(table, f"{model_name}-intervention", key="iv_csv")
    for e in effects:
        st.markdown(
            f"- **{e.task}**: {100 * e.before:.1f}% -> {100 * e.after:.1f}%, {e.versus_random()} "
            f"silencing random neurons ({100 * e.random_after:.1f}% +- {100 * e.random_std:.1f})."
        )


if probes_tab.open is not False:
    with probes_tab:
        store = EffectStore(cache_root())
        effect_key = store.key(
            results=keys,
            neurons=neurons,
            mode=mode,
            factor=factor,
            sentences=sentences,
            of=base.task,
        )
        effects = store.load(effect_key)
        if effects is None:
            runs = 2 + 3  # as it is, changed, three random controls
            st.info(
                f"Not measured yet: the model runs {runs} times over up to {sentences} test "
                f"sentences of each corpus ({len(tasks)} task(s)); on a CPU that takes from "
                "seconds to a few minutes. The result is kept, so this choice shows at once next "
                "time.",
                icon=":material/science:",
            )
            if st.button("Measure", type="primary", key="iv_measure"):
                try:
                    effects = measure(source, sentences, base.task, store, effect_key)
                except NeuronvizError as exc:
                    show_error(exc)
                    st.stop()
        if effects is not None:
            show_effects(effects)

if text_tab.open is not False:
    with text_tab:
        words = st.text_input(
            "A sentence (words split on spaces)",
            "The old man the boats near the quiet river .",
            key="iv_sentence",
        )[:2000].split()
        probe_task = st.selectbox(
            "Tags from the probe of",
            tasks,
            index=tasks.index(base.task) if base.task in tasks else 0,
            key="iv_probe_task",
        )
        if words:
            loaded = get_model(source)
            before = extract_words(loaded, [words]).astype(np.float32)
            with intervene(loaded, intervention):
                after = extract_words(loaded, [words]).astype(np.float32)
            layer = st.slider("layer", 0, loaded.n_layers - 1, loaded.n_layers - 1, key="iv_layer")
            change = np.linalg.norm(after[layer] - before[layer], axis=1) / (
                np.linalg.norm(before[layer], axis=1) + 1e-9
            )
            st.markdown(
                f"How much each word's layer-{layer} vector moved (relative change):",
            )
            st.markdown(
                token_highlight_html(words, change, vmax=float(change.max()) or 1.0),
                unsafe_allow_html=True,
            )
            st.markdown(
                highlight_legend_html(float(change.max()) or 1.0, "relative change", signed=False),
                unsafe_allow_html=True,
            )
            r = mine[probe_task]

            def tags(vectors):
                return [r.classes[i] for i in probe_predict(r, vectors)]

            st.dataframe(
                pd.DataFrame({"word": words, "before": tags(before), "after": tags(after)}),
                hide_index=True,
                key="iv_tags",
            )

if matrix_tab.open is not False:
    with matrix_tab:
        st.markdown(
            "Silence each task's minimal set in turn and measure every probe: the cell is how "
            "many points more that probe loses than when as many random neurons of the same "
            "layers are silenced. A localized, task-specific set shows as a strong diagonal."
        )
        wanted = (keys, mode, sentences)
        if len(tasks) < 2:
            st.info("Analyse two or more tasks of this model to compare them.")
        elif st.button("Compute the matrix", key="iv_matrix_go"):
            st.session_state["iv_matrix_for"] = wanted
        if len(tasks) >= 2 and st.session_state.get("iv_matrix_for") == wanted:
            with st.spinner(f"{len(tasks)} x {len(tasks)} probes, each with its random control..."):
                extra, names = task_matrix(keys, source, mode, sentences)
            chart(effect_matrix_figure(extra, names, names), key="iv_matrix")

if output_tab.open is not False:
    with output_tab:
        probe_model = get_model(source)
        if not probe_model.is_causal:
            st.info(
                f"{model_name} is not a causal language model: it has no next-token output to "
                "compare. Pick one such as smollm2-135m."
            )
        else:
            prompt = st.text_input("Prompt", "The capital of France is", key="iv_prompt")
            new_tokens = st.slider("new tokens", 5, 60, 20, key="iv_new_tokens")
            try:
                lm = get_model(source, with_head=True)
                [control] = random_controls(lm, intervention, base, 1)
                with st.spinner("Generating with and without the change..."):
                    out = output_effect(
                        lm, intervention, prompt[:2000], new_tokens=new_tokens, control=control
                    )
            except NeuronvizError as exc:
                show_error(exc)
                st.stop()
            c1, c2, c3 = st.columns(3)
            c1.markdown("**as it is**")
            c1.text(prompt + out.continuation_before)
            c2.markdown("**with the change**")
            c2.text(prompt + out.continuation_after)
            c3.markdown("**random neurons, same layers**")
            c3.text(prompt + (out.random_continuation or ""))
            st.metric(
                "next-token KL divergence (before || after)",
                f"{out.kl:.3f} nats",
                f"random neurons: {out.random_kl:.3f}",
                delta_color="off",
            )
            st.dataframe(
                pd.DataFrame(
                    {
                        "before": [f"{t!r} {p:.2f}" for t, p in out.top_before],
                        "after": [f"{t!r} {p:.2f}" for t, p in out.top_after],
                    }
                ),
                hide_index=True,
                key="iv_top",
            )
