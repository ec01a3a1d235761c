"""Previews: marked as such, stored apart from the full analysis, replaced by it, and silent
about what their sample cannot decide."""

from __future__ import annotations

from dataclasses import replace

import pytest

from neuronviz.analyses.previews import (
    is_preview,
    preview_label,
    preview_sentences,
    preview_settings,
    training_words,
    undecided,
)
from neuronviz.analyses.run import run_analysis
from neuronviz.analyses.settings import AnalysisSettings
from neuronviz.errors import ConfigError
from neuronviz.figures.curves import curves_figure
from neuronviz.figures.style import subject
from neuronviz.store.result_parts import Preview
from neuronviz.store.result_store import ResultStore
from neuronviz.store.results import preferred

FAST = AnalysisSettings(
    lambdas=((1e-3, 1e-3),), grid_words=500, percents=(5,), random_draws=2, layers=False
)


@pytest.fixture(scope="module")
def pair(tiny_models, data_dir, tmp_path_factory):
    """A preview (10 sentences a split) and a full analysis of tiny BERT x pos in one cache."""
    cache = tmp_path_factory.mktemp("previews")
    model = str(tiny_models["bert"])
    preview = run_analysis(
        model,
        "pos",
        settings=preview_settings(FAST),
        cache=cache,
        data_dir=data_dir,
        max_sentences=10,
        preview=True,
    )
    full = run_analysis(model, "pos", settings=FAST, cache=cache, data_dir=data_dir)
    return cache, preview, full


def test_a_preview_is_marked_stored_apart_and_replaced_by_the_full_analysis(pair):
    cache, preview, full = pair
    assert is_preview(preview) and preview.preview == Preview(sentences=10)
    assert not is_preview(full) and full.preview is None
    assert preview.key != full.key
    assert preview.words["train"] < full.words["train"]
    assert preview.control is None and preview.lambda_search.points  # light, but searched
    stored = ResultStore(cache).all()
    assert {is_preview(r) for r in stored} == {True, False}
    assert preferred(stored).key == full.key  # views show the full analysis once it exists
    assert preferred([r for r in stored if is_preview(r)]).key == preview.key
    assert ResultStore(cache).load(preview.model, preview.key).preview == Preview(sentences=10)
    assert preview.summary()["preview"] == {"sentences": 10} and full.summary()["preview"] is None


def test_views_and_figures_name_a_preview(pair):
    _, preview, full = pair
    assert "PREVIEW, 10 sentences a split" in subject(preview)
    assert "PREVIEW" in curves_figure(preview).layout.title.text
    assert "PREVIEW" not in curves_figure(full).layout.title.text
    assert "first 10 sentences" in preview_label(preview) and preview_label(full) == ""


def test_what_a_preview_cannot_decide_is_said_instead_of_shown(pair):
    _, preview, full = pair
    n = preview.n_neurons
    not_reached = replace(preview, minimal=replace(preview.minimal, reached=False))
    assert "no top-ranked prefix reaches" in undecided(not_reached)["minimal set"]
    wide = replace(preview, minimal=replace(preview.minimal, reached=True, size_interval=[3, n]))
    assert "reaches all neurons" in undecided(wide)["minimal set"]
    tight = replace(preview, minimal=replace(preview.minimal, reached=True, size_interval=[3, 5]))
    assert undecided(tight) == {}
    # A full analysis shows its numbers with their intervals, however wide.
    assert undecided(replace(full, minimal=replace(full.minimal, reached=False))) == {}


def test_a_preview_needs_a_sample_and_its_size_is_settable(
    tiny_bert, data_dir, tmp_path, monkeypatch
):
    with pytest.raises(ConfigError, match="sentence sample"):
        run_analysis(
            str(tiny_bert), "pos", settings=FAST, cache=tmp_path, data_dir=data_dir, preview=True
        )
    monkeypatch.setenv("NEURONVIZ_PREVIEW_SENTENCES", "25")
    assert preview_sentences() == 25
    monkeypatch.setenv("NEURONVIZ_PREVIEW_SENTENCES", "-3")
    assert preview_sentences() == 150
    settings = preview_settings(AnalysisSettings(delta=2.0))
    assert settings.delta == 2.0 and not settings.control and not settings.layers
    assert settings.percents == (1, 5, 10)
    assert settings.kkt_tol == AnalysisSettings().kkt_tol  # previews converge like full fits


def test_training_words_name_full_analyses_and_previews_apart(pair):
    _, preview, full = pair
    chunk = replace(full, task="chunk")
    assert training_words([full], full.model, None) == f"{full.model} all"
    assert training_words([full], full.model, 30000) == f"{full.model} 30000"
    assert training_words([chunk, preview], full.model, None) == (
        f"{full.model} all (chunk); previews on 10 sentences a split (pos)"
    )
    assert training_words([preview], full.model, None) == (
        f"{full.model} previews on 10 sentences a split (pos)"
    )
