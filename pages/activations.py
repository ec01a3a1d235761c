"""Activations: type a sentence, pick neurons, see them light up word by word."""

from __future__ import annotations

import streamlit as st

from neuronviz.errors import NeuronvizError
from neuronviz.extract import ExtractionSettings, extract_words
from neuronviz.figures import activation_heatmap, token_highlight_html
from neuronviz.models import MODELS
from neuronviz.neurons import neuron_label, parse_neuron, top_active_neurons
from pages._shared import get_model, show_error, use_app_navigation

use_app_navigation()

st.title("Neuron activations")

with st.sidebar:
    model_name = st.selectbox(
        "Model",
        [*MODELS, "other..."],
        index=0,
        key="act_model",
        help="registry name; 'other' for a hub id or folder",
    )
    if model_name == "other...":
        model_name = st.text_input("Hugging Face id or local folder", key="act_model_path").strip()
    aggregation = st.radio(
        "Subword aggregation", ["last", "first", "mean"], key="act_aggregation", horizontal=True
    )

if not model_name:
    st.info("Enter a model id or folder in the sidebar.")
    st.stop()

sentence = st.text_input(
    "Sentence (words are split on spaces)",
    "The old man the boats near the quiet river .",
    key="act_sentence",
)
words = sentence.split()
if not words:
    st.info("Type a sentence to see its activations.")
    st.stop()

try:
    model = get_model(model_name)
    acts = extract_words(
        model, [words], ExtractionSettings(aggregation=aggregation)
    )  # (layers, words, hidden)
except NeuronvizError as exc:
    show_error(exc)
    st.stop()

st.caption(
    f"{model.name}: {model.n_layers} layers (embeddings included) x {model.hidden_size} = {model.n_neurons:,} neurons"
)

word_index = st.selectbox(
    "Most distinctive neurons for word",
    range(len(words)),
    format_func=lambda i: f"{i}: {words[i]}",
    key="act_word",
)
top = top_active_neurons(acts, word_index, k=12)
labels = [neuron_label(int(n), model.hidden_size) for n in top]
neuron_text = st.text_input("Neuron to highlight (layer:index)", labels[0], key="act_neuron")
try:
    neuron = parse_neuron(neuron_text, model.n_layers, model.hidden_size)
except NeuronvizError as exc:
    show_error(exc)
    st.stop()

layer, index = divmod(neuron, model.hidden_size)
st.subheader(f"Neuron {layer}:{index} on each word")
st.markdown(token_highlight_html(words, acts[layer, :, index]), unsafe_allow_html=True)

st.subheader(f"The 12 neurons that stand out most on “{words[word_index]}”")
st.caption(
    "Neurons chosen by how far their activation on this word lies from their mean over the "
    "sentence (in standard deviations); colours show the raw activations, red positive, blue negative."
)
values = acts[top // model.hidden_size, :, top % model.hidden_size]
st.plotly_chart(activation_heatmap(words, values, labels), key="act_heatmap")
