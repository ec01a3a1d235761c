"""Neuron explorer: the words a neuron fires on, per class, highlighted in sentences and typed text."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from neuronviz.errors import NeuronvizError
from neuronviz.explore import class_activations, sentence_values, top_firing
from neuronviz.extract import extract_words
from neuronviz.figures import class_distribution_figure, highlight_legend_html, token_highlight_html
from neuronviz.neurons import neuron_label, parse_neuron
from pages._shared import (
    download_table,
    get_model,
    pick_model,
    pick_tasks,
    require_results,
    result_for,
    show_error,
    test_entry,
    use_app_navigation,
)

use_app_navigation()
st.title("Neuron explorer")
results = require_results()
model = pick_model(results, key="explorer_model")
task = pick_tasks(results, model, key="explorer_task", multi=False)[0]
result = result_for(results, model, task)
default = st.query_params.get("neuron") or neuron_label(int(result.order[0]), result.hidden_size)
text = st.sidebar.text_input(
    "Neuron (layer:index)", default, key="explorer_neuron", help="layer 0 = embeddings"
)
try:
    neuron = parse_neuron(text, result.n_layers, result.hidden_size)
except NeuronvizError as exc:
    show_error(exc)
    st.stop()
label = neuron_label(neuron, result.hidden_size)
st.query_params["neuron"] = label
rank = int((result.order == neuron).nonzero()[0][0]) + 1
in_minimal = neuron in set(result.minimal_neurons.tolist())
st.markdown(
    f"**Neuron {label}** of {model}: rank **{rank}** of {result.n_neurons} for {task}"
    + (" (in the minimal set)" if in_minimal else "")
)
classes = sorted(range(len(result.classes)), key=lambda c: -abs(result.weights[c, neuron]))[:5]
st.caption(
    "Largest probe weights: "
    + ", ".join(f"{result.classes[c]} {result.weights[c, neuron]:+.3f}" for c in classes)
)

entry = test_entry(result)
if entry is None:
    st.warning(
        "The cached activations of this analysis were removed; corpus views are unavailable."
    )
else:
    firing = top_firing(entry, neuron, k=15)
    st.subheader("Where it fires most (test split)")
    scale = max(abs(f.activation) for f in firing) or 1.0
    st.markdown(highlight_legend_html(scale), unsafe_allow_html=True)
    for f in firing[:8]:
        words, values = sentence_values(entry, f.sentence, [neuron])
        st.markdown(token_highlight_html(words, values[0], vmax=scale), unsafe_allow_html=True)
    table = pd.DataFrame(
        [
            {"activation": round(f.activation, 3), "left": f.left, "word": f.word, "right": f.right}
            for f in firing
        ]
    )
    st.dataframe(table, hide_index=True, key="explorer_table")
    download_table(table, f"{model}-{label.replace(':', '_')}-top-words", key="explorer_csv")
    st.plotly_chart(
        class_distribution_figure(class_activations(entry, task, neuron), label),
        key="explorer_classes",
    )


@st.cache_data(show_spinner="Running the model...", max_entries=64)
def typed_activations(model_name: str, words: tuple[str, ...]):
    """Word vectors ``(layers, words, hidden)`` of a typed sentence, cached per model and text."""
    return extract_words(get_model(model_name), [list(words)])


st.subheader("Your own text")
typed = st.text_input(
    "Type a sentence (words are split on spaces)",
    "The old man the boats near the quiet river .",
    key="explorer_text",
)
words = typed.split()
if words:
    try:
        acts = typed_activations(result.model_source or result.model, tuple(words))
    except NeuronvizError as exc:
        show_error(exc)
        st.stop()
    layer, index = divmod(neuron, result.hidden_size)
    values = acts[layer, :, index].astype(float)
    st.markdown(token_highlight_html(words, values), unsafe_allow_html=True)
    st.markdown(highlight_legend_html(float(abs(values).max()) or 1.0), unsafe_allow_html=True)
