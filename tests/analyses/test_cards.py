"""Neuron cards and search on small analyses built in the test."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from fakes import fake_result

from neuronviz.analyses.cards import (
    class_search,
    contribution,
    entry_stats,
    has_contributions,
    neuron_card,
    search,
    strongest_class,
    task_role,
    word_search,
)
from neuronviz.analyses.run import run_analysis
from neuronviz.analyses.settings import AnalysisSettings
from neuronviz.errors import ConfigError

FAST = AnalysisSettings(lambdas=((1e-3, 1e-3),), grid_words=500, percents=(5, 20), random_draws=2)


@pytest.fixture(scope="module")
def analysed(tiny_bert, data_dir, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cards-cache")
    results = [
        run_analysis(str(tiny_bert), task, settings=FAST, cache=cache, data_dir=data_dir)
        for task in ("pos", "chunk")
    ]
    return results


def test_card_lists_every_task_with_rank_and_classes(analysed):
    pos = analysed[0]
    top = int(pos.order[0])
    card = neuron_card(analysed, pos.model, top)
    assert [r.task for r in card.roles] == ["chunk", "pos"]
    role = next(r for r in card.roles if r.task == "pos")
    assert role.rank == 1
    assert role.in_minimal == bool(np.isin(top, pos.minimal_neurons))
    per_class = pos.ranking.per_class
    assert {c for c, _ in role.top_of} == {c for c, ns in per_class.items() if top in ns}
    assert role.weights and abs(role.weights[0][1]) == np.abs(pos.weights[:, top]).max()
    assert card.label == f"{top // pos.hidden_size}:{top % pos.hidden_size}"
    assert not role.tied and role.rank_text() == "1"


def test_a_neuron_without_weight_is_shown_as_tied_not_ranked(analysed):
    pos = analysed[0]
    ranked = pos.neuron_ranking().ranked
    assert ranked < pos.n_neurons  # the elastic net leaves some neurons at zero
    last = int(pos.order[-1])
    role = next(r for r in neuron_card(analysed, pos.model, last).roles if r.task == "pos")
    assert role.tied and role.rank_text() == f"tied (after {ranked})"
    assert not np.abs(pos.weights[:, last]).any()


def test_class_search_returns_the_heaviest_neurons_of_the_class(analysed):
    pos = analysed[0]
    hits = class_search(analysed, pos.model, "nn")
    assert hits and {h.task for h in hits} == {"pos"}
    c = pos.classes.index("NN")
    assert hits[0].neuron == int(np.argmax(np.abs(pos.weights[c])))
    shares = [h.share for h in hits]
    assert shares == sorted(shares, reverse=True)


def test_search_reads_neurons_classes_and_words(analysed, tiny_bert, data_dir, tmp_path):
    from neuronviz.extraction.fill_cache import extract_task

    entry = extract_task(str(tiny_bert), "pos", data_dir=data_dir, cache=tmp_path).entries["test"]
    model = analysed[0].model
    assert search("1:3", analysed, model).kind == "neuron"
    assert search("VBD", analysed, model).kind == "class"
    found = search("The", analysed, model, entry, stats=entry_stats(entry))
    assert found.kind == "word" and found.words
    hits = word_search(entry, "the", k=5)
    assert [h.neuron for h in hits] == [h.neuron for h in found.words[:5]]
    rows = [i for i, w in enumerate(w for s in entry.tokens() for w in s) if w.lower() == "the"]
    assert hits[0].occurrences == len(rows)
    assert hits[0].mean_z >= hits[-1].mean_z
    assert word_search(entry, "zebra") == []
    with pytest.raises(ConfigError, match="outside"):
        search("99:0", analysed, model)
    with pytest.raises(ConfigError, match="no cached activations"):
        search("zebra", analysed, model)
    with pytest.raises(ConfigError, match="no analysed task"):
        search("1:3", analysed, "other-model")


def _weighted_fake():
    """A fake result whose neuron 3 weighs class B most and neuron 5 has no weight at all."""
    r = fake_result(n_layers=2, hidden=4, size=2)
    weights = np.zeros((2, 8), dtype=np.float32)
    weights[:, 3] = [0.5, -2.0]
    weights[0, 0] = 1.0
    arrays = {
        **r.arrays,
        "order": np.array([3, 0, 1, 2, 4, 5, 6, 7]),
        "weights": weights,
        "scores": np.array([1.0, 0, 0, 2.0, 0, 0, 0, 0]),
        "feature_mean": np.full(8, 1.0, dtype=np.float32),
        "feature_scale": np.full(8, 2.0, dtype=np.float32),
    }
    return replace(r, arrays=arrays, ranking=replace(r.ranking, n_weighted=2))


def test_task_role_strongest_class_and_contribution_of_one_neuron():
    r = _weighted_fake()
    role = task_role(r, 3)
    assert role.rank == 1 and not role.tied and role.weights == [("B", -2.0), ("A", 0.5)]
    unweighted = task_role(r, 5)
    assert unweighted.tied and unweighted.weights == []  # no weight: nothing to list
    assert strongest_class(r, 3) == 1 and has_contributions(r)
    # weight x standardised activation: -2 * (raw - 1) / 2
    assert contribution(r, 3, 1, np.array([1.0, 3.0, -1.0])).tolist() == [0.0, -2.0, 2.0]
    assert not has_contributions(fake_result())  # an older result: no standardisation stored
