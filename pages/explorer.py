"""Neuron explorer: the words a neuron fires on, per class, highlighted in sentences and typed text."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from neuronviz.analyses.cards import contribution, has_contributions, strongest_class, task_role
from neuronviz.analyses.explore import class_activations, sentence_values, top_firing
from neuronviz.analyses.neurons import neuron_label, parse_neurons
from neuronviz.errors import NeuronvizError
from neuronviz.extraction.extract import extract_words
from neuronviz.figures.highlight import highlight_legend_html, token_highlight_html
from neuronviz.figures.neurons import class_distribution_figure
from pages._shared import (
    analysis_page,
    chart,
    download_table,
    get_model,
    show_error,
    test_entry,
)

chosen = analysis_page("Neuron explorer", "explorer")
results, model, result = chosen.results, chosen.model, chosen.analyses[0]
task = result.task
default = st.query_params.get("neuron") or neuron_label(int(result.order[0]), result.hidden_size)
text = st.sidebar.text_input(
    "Neuron(s) (layer:index, comma-separated)",
    default,
    key="explorer_neuron",
    help="layer 0 = embeddings",
)
try:
    neurons = parse_neurons(text, result.n_layers, result.hidden_size)
except NeuronvizError as exc:
    show_error(exc)
    st.stop()
if not neurons:
    st.info("Enter a neuron as layer:index in the sidebar, e.g. the top one of the ranking.")
    st.stop()
labels = [neuron_label(n, result.hidden_size) for n in neurons]
st.query_params["neuron"] = ",".join(labels)
neuron, label = neurons[0], labels[0]
for n, lab in zip(neurons, labels, strict=True):
    role = task_role(result, n)
    weights = ", ".join(f"`{c}` {w:+.3f}" for c, w in role.weights) or "none (all zero)"
    where = (
        f"**unranked**: the probe gives it no weight (tied with the last "
        f"{result.n_neurons - role.ranked} neurons)"
        if role.tied
        else f"rank **{role.rank}** of {result.n_neurons}"
    )
    st.markdown(
        f"**Neuron {lab}** of {model}: {where} for {task}"
        + (" (in the minimal set)" if role.in_minimal else "")
        + f"; largest probe weights: {weights}"
    )
if len(neurons) > 1:
    st.caption(f"Corpus views follow the first neuron, {label}; typed text shows all of them.")
st.page_link(
    "pages/intervene.py",
    label="Silence these neurons inside the model and see what changes",
    icon=":material/tune:",
    query_params={"model": model, "neuron": ",".join(labels)},
)

has_stats = has_contributions(result)
mode = st.sidebar.radio(
    "Colour words by",
    ["activation", "contribution to a class"],
    key="explorer_mode",
    help="Contribution = probe weight x standardised activation: how much this neuron pushes "
    "the probe toward the class on that word (red: toward, blue: away).",
    disabled=not has_stats,
)
contribution_class = None
if mode == "contribution to a class" and has_stats:
    contribution_class = st.sidebar.selectbox(
        "Class", result.classes, index=strongest_class(result, neuron), key="explorer_class"
    )
elif not has_stats:
    st.sidebar.caption("Contributions need a result from this neuronviz version; re-run it.")


def colour_values(n: int, values):
    """What the words are shaded by: raw activation, or weight x standardised activation."""
    if contribution_class is None:
        return values
    return contribution(result, n, result.classes.index(contribution_class), values)


entry = test_entry(result)
if entry is None:
    st.warning(
        "The cached activations of this analysis were removed; corpus views are unavailable."
    )
else:
    firing = top_firing(entry, neuron, k=15)
    st.subheader("Where it fires most (test split)")
    shown = [sentence_values(entry, f.sentence, [neuron]) for f in firing[:8]]
    shaded = [colour_values(neuron, values[0]) for _, values in shown]
    scale = max(float(abs(v).max()) for v in shaded) or 1.0
    if contribution_class is not None:
        st.caption(f"Shaded by contribution to {contribution_class}.")
    st.markdown(highlight_legend_html(scale), unsafe_allow_html=True)
    for (words, _), values in zip(shown, shaded, strict=True):
        st.markdown(token_highlight_html(words, values, vmax=scale), unsafe_allow_html=True)
    table = pd.DataFrame(
        [
            {"activation": round(f.activation, 3), "left": f.left, "word": f.word, "right": f.right}
            for f in firing
        ]
    )
    st.dataframe(table, hide_index=True, key="explorer_table")
    download_table(table, f"{model}-{label.replace(':', '_')}-top-words", key="explorer_csv")
    chart(
        class_distribution_figure(class_activations(entry, task, neuron), label),
        key="explorer_classes",
    )


@st.cache_data(show_spinner="Running the model...", max_entries=64)
def typed_activations(model_name: str, words: tuple[str, ...]):
    """Word vectors ``(layers, words, hidden)`` of a typed sentence, cached per model and text."""
    return extract_words(get_model(model_name), [list(words)])


MAX_TYPED_CHARS = 2000  # a paragraph: enough to explore, small enough to stay instant
st.subheader("Your own text")
typed = st.text_input(
    "Type a sentence (words are split on spaces)",
    "The old man the boats near the quiet river .",
    key="explorer_text",
)
if len(typed) > MAX_TYPED_CHARS:
    st.warning(
        f"That text has {len(typed):,} characters; the first {MAX_TYPED_CHARS:,} are shown. "
        "Paste a shorter passage to see all of it."
    )
    typed = typed[:MAX_TYPED_CHARS]
words = typed.split()
if words:
    try:
        acts = typed_activations(result.model_source or result.model, tuple(words))
    except NeuronvizError as exc:
        show_error(exc)
        st.stop()
    scale = 0.0
    rows = []
    for n, lab in zip(neurons, labels, strict=True):
        layer, index = divmod(n, result.hidden_size)
        values = colour_values(n, acts[layer, :, index].astype(float))
        scale = max(scale, float(abs(values).max()))
        rows.append((lab, values))
    for lab, values in rows:
        if len(rows) > 1:
            st.caption(f"neuron {lab}")
        st.markdown(token_highlight_html(words, values, vmax=scale or 1.0), unsafe_allow_html=True)
    st.markdown(highlight_legend_html(scale or 1.0), unsafe_allow_html=True)
