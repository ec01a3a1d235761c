"""Neuron card and search: every task and class a neuron ranks for; find neurons by word or class."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from neuronviz.analyses.cards import NeuronCard, entry_stats, search
from neuronviz.errors import NeuronvizError
from neuronviz.figures.text import plain, quoted
from neuronviz.store.files import slug
from pages._shared import (
    download_table,
    page_header,
    pick_model,
    require_results,
    result_for,
    show_error,
    show_previews,
    test_entry,
)

page_header("Neuron card and search")
results = require_results()
model = pick_model(results, key="card_model")
mine = [r for r in results if r.model == model]
show_previews(mine)
first = result_for(results, model, sorted(r.task for r in mine)[0])


@st.cache_data(show_spinner="Reading the activations once...", max_entries=8)
def stats_for(entry_id: str, _entry):
    return entry_stats(_entry)


def entry_for_search():
    """The test-split activations of any of the model's tasks (a word is searched there)."""
    for r in mine:
        entry = test_entry(r)
        if entry is not None:
            return entry
    return None


def open_card_of(table: pd.DataFrame, key: str) -> None:
    """A picker over the table's neurons, and the card of the one picked."""
    pick = st.selectbox("Open the card of", list(table["neuron"]), key=key)
    show_card(search(pick, results, model).card)


def show_card(card: NeuronCard) -> None:
    st.subheader(f"Neuron {card.label} of {card.model} ({card.layer_name})")
    st.page_link(
        "pages/explorer.py",
        label=f"Open {card.label} in the neuron explorer",
        icon=":material/neurology:",
        query_params={"model": card.model, "neuron": card.label, "task": card.roles[0].task},
    )
    st.page_link(
        "pages/intervene.py",
        label=f"Silence {card.label} inside the model",
        icon=":material/tune:",
        query_params={"model": card.model, "neuron": card.label},
    )
    rows = [
        {
            "task": role.task,
            "rank": role.rank_text(),
            "top %": None if role.tied else round(role.top_percent, 2),
            "in minimal set": "yes" if role.in_minimal else "no",
            "top neuron of classes": ", ".join(f"{c} ({100 * s:.1f}%)" for c, s in role.top_of)
            or "-",
            "largest weights": ", ".join(f"{c} {w:+.3f}" for c, w in role.weights) or "all zero",
        }
        for role in card.roles
    ]
    table = pd.DataFrame(rows)
    st.dataframe(table, hide_index=True, key="card_table")
    download_table(table, f"{card.model}-{card.label.replace(':', '_')}-card", key="card_csv")
    ranked = [r for r in card.roles if r.top_of]
    if ranked:
        st.markdown(
            f"**{card.label}** is a top neuron for "
            + "; ".join(f"{r.task}: {', '.join(f'`{c}`' for c, _ in r.top_of[:6])}" for r in ranked)
            + "."
        )
    else:
        st.markdown(f"**{card.label}** is not among the top neurons of any class.")


query = st.text_input(
    "Search: a word (the), a class (VBD) or a neuron (3:127)",
    st.query_params.get("q", ""),
    key="card_query",
    placeholder="the",
)
neuron_param = st.query_params.get("neuron", "")
if query:
    st.query_params["q"] = query
elif "q" in st.query_params:
    del st.query_params["q"]
try:
    if query:
        entry = entry_for_search()
        stats = stats_for(entry.manifest.entry_id, entry) if entry is not None else None
        found = search(query, results, model, entry, stats=stats)
    elif neuron_param:
        found = search(neuron_param.split(",")[0], results, model)
    else:
        found = search(
            f"{first.order[0] // first.hidden_size}:{first.order[0] % first.hidden_size}",
            results,
            model,
        )
except NeuronvizError as exc:
    show_error(exc)
    st.stop()

if found.kind == "neuron":
    show_card(found.card)
    st.query_params["neuron"] = found.card.label
elif found.kind == "class":
    st.subheader(f"Top neurons for {plain(query)}")
    table = pd.DataFrame(
        [
            {
                "task": h.task,
                "neuron": h.label,
                "share of the class's weight": round(100 * h.share, 2),
                "weight": round(h.weight, 4),
            }
            for h in found.classes
        ]
    )
    st.dataframe(table, hide_index=True, key="card_class_table")
    download_table(table, f"{model}-{slug(query)}-neurons", key="card_class_csv")
    open_card_of(table, "card_pick_class")
else:
    if not found.words:
        st.info(f"{quoted(query)} does not occur in the cached test sentences of {plain(model)}.")
        st.stop()
    st.subheader(f"Neurons that fire most on {quoted(query)}")
    st.caption(
        f"{found.words[0].occurrences} occurrences in the test split; score = mean activation "
        "on the word, in standard deviations above the neuron's usual level."
    )
    table = pd.DataFrame(
        [
            {
                "neuron": h.label,
                "score (sd)": round(h.mean_z, 2),
                "mean activation": round(h.mean_activation, 3),
            }
            for h in found.words
        ]
    )
    st.dataframe(table, hide_index=True, key="card_word_table")
    download_table(table, f"{model}-{slug(query)}-word-neurons", key="card_word_csv")
    open_card_of(table, "card_pick_word")
