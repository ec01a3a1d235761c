"""Every dashboard page through Streamlit's AppTest, on small cached results built in the test."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from apptools import APP, open_page
from streamlit.testing.v1 import AppTest

from neuronviz.figures.highlight import highlight_legend_html, token_highlight_html
from neuronviz.figures.neurons import activation_heatmap


def test_start_lists_cached_analyses(app):
    at = open_page(app, "start")
    assert at.title[0].value == "neuronviz"
    table = at.dataframe[0].value
    assert set(zip(table["model"], table["task"], strict=True)) == {
        ("bert", "pos"),
        ("bert", "chunk"),
        ("gpt2", "pos"),
    }


def test_start_with_nothing_cached_explains_and_offers_a_run(monkeypatch, tmp_path):
    monkeypatch.setenv("NEURONVIZ_CACHE", str(tmp_path / "empty"))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    assert "default analysis" in at.info[0].value
    assert at.selectbox(key="start_model").value == "minilm"


def test_overview_table_and_curves_follow_the_task_choice(app):
    at = open_page(app, "overview", model="bert", task="pos")
    table = at.dataframe[0].value
    assert list(table["task"]) == ["pos"]
    # every headline number with its interval, the fits' convergence and the chance level
    assert all("[" in table[c][0] for c in ("oracle test %", "minimal set", "top 1% acc"))
    assert table["oracle fit"][0].startswith(("converged, KKT", "NOT converged, KKT"))
    assert "chance % of neurons" in table.columns and "ranked neurons" in table.columns
    assert any("95% intervals" in c.value for c in at.caption)
    at.multiselect(key="overview_tasks").set_value(["chunk", "pos"]).run()
    assert not at.exception
    assert sorted(at.dataframe[0].value["task"]) == ["chunk", "pos"]
    assert at.query_params["task"] in ("chunk,pos", ["chunk,pos"])


def test_heatmap_switches_colour_and_class(app):
    at = open_page(app, "heatmap", model="bert", task="pos")
    at.radio(key="heatmap_value").set_value("class-mean activation").run()
    assert not at.exception
    at.selectbox(key="heatmap_sort").set_value("NN").run()
    assert not at.exception


def test_layers_page_shows_a_row_per_layer_and_task(app):
    at = open_page(app, "layers", model="bert", task="pos,chunk")
    table = at.dataframe[0].value
    assert len(table) == 2 * 3
    at.selectbox(key="layers_set").set_value("5").run()
    assert not at.exception


def test_compare_two_models_gives_a_verdict(app):
    at = open_page(app, "compare", models="bert,gpt2")
    lines = [m.value for m in at.markdown if "chance" in m.value and "p = " in m.value]
    assert lines and all(("more localized" in v) != ("not significant" in v) for v in lines)
    table = at.dataframe[0].value
    assert set(table["model"]) == {"bert", "gpt2"}
    assert {"chance % of neurons", "minimal / chance"} <= set(table.columns)
    assert all("[" in v for v in table["minimal % of neurons"])  # with its interval


def test_explorer_highlights_corpus_and_typed_text(app):
    at = open_page(app, "explorer", model="bert", task="pos", neuron="2:5")
    assert any("Neuron 2:5" in m.value for m in at.markdown)
    highlighted = [m.value for m in at.markdown if "<span title=" in m.value]
    assert len(highlighted) >= 2  # corpus sentences and the typed sentence
    at.text_input(key="explorer_text").input("<b>bold</b> cat").run()
    assert not at.exception
    assert any("&#60;b&#62;bold&#60;/b&#62;" in m.value for m in at.markdown), [
        e.value for e in at.error
    ]
    at.text_input(key="explorer_neuron").input("9:99").run()
    assert "outside the model" in at.error[0].value


def test_cached_data_page_lists_entries(app):
    at = open_page(app, "cached_data")
    assert len(at.dataframe[0].value) >= 6


def test_token_highlighting_escapes_markup():
    out = token_highlight_html(["<script>alert(1)</script>", "&"], [1.0, -1.0])
    assert "<script>" not in out and "&#60;script&#62;" in out and "&#38;" in out
    assert "+1.00" in highlight_legend_html(1.0)
    with pytest.raises(ValueError):
        token_highlight_html(["a"], [1.0, 2.0])


def test_activation_heatmap_shape_and_labels():
    fig = activation_heatmap(["a", "b", "c"], np.arange(6).reshape(2, 3), ["0:1", "3:4"])
    assert list(fig.data[0].y) == ["0:1", "3:4"] and fig.data[0].z.shape == (2, 3)


def test_explorer_takes_several_neurons(app):
    at = open_page(app, "explorer", model="bert", task="pos", neuron="2:5,1:3")
    assert sum("Neuron 2:5" in m.value or "Neuron 1:3" in m.value for m in at.markdown) == 2
    assert any("neuron 1:3" in c.value for c in at.caption)


def test_learn_page_lambda_slider_changes_the_selected_neurons(app):
    at = open_page(app, "learn")
    used = {m.label: m.value for m in at.metric}["neurons used"]
    at.select_slider(key="learn_lambda").set_value(0.0).run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["neurons used"] == "24 of 24"
    at.select_slider(key="learn_lambda").set_value(0.1).run()
    fewer = {m.label: m.value for m in at.metric}["neurons used"]
    assert int(fewer.split()[0]) < int(used.split()[0]) < 24
    at.select_slider(key="learn_lambda").set_value(1.0).run()
    assert "zeroes every weight" in at.info[0].value


def test_presentation_mode_from_the_url_and_the_toggle(app):
    at = open_page(app, "overview", model="bert", task="pos", present="1")
    assert at.session_state["present"] is True
    assert any("font-size: 22px" in m.value for m in at.markdown)
    at.toggle(key="present_toggle").set_value(False).run()
    assert not at.exception
    assert at.session_state["present"] is False
    assert not any("font-size: 22px" in m.value for m in at.markdown)


def test_neuron_card_and_search_by_word_class_and_neuron(app):
    at = open_page(app, "neuron", model="bert")
    assert at.dataframe[0].value["task"].tolist() == ["chunk", "pos"]  # the top neuron's card
    at.text_input(key="card_query").set_value("the").run()
    assert not at.exception
    assert "fire most on 'the'" in at.subheader[0].value
    assert len(at.dataframe[0].value) == 10
    at.text_input(key="card_query").set_value("NN").run()
    assert "Top neurons for NN" in at.subheader[0].value
    assert set(at.dataframe[0].value["task"]) == {"pos"}
    at.text_input(key="card_query").set_value("2:5").run()
    assert at.subheader[0].value.startswith("Neuron 2:5 of bert")
    assert at.query_params["neuron"] in ("2:5", ["2:5"])
    at.text_input(key="card_query").set_value("9:9").run()
    assert "outside the model" in at.error[0].value


def test_cached_data_page_writes_a_demo_bundle(app, tmp_path):
    at = open_page(app, "cached_data")
    target = tmp_path / "talk.zip"
    at.text_input(key="bundle_path").set_value(str(target)).run()
    at.button(key="bundle_write").click().run()
    assert not at.exception
    assert "Wrote" in at.success[0].value and target.stat().st_size > 1000
    at.text_input(key="bundle_import_path").set_value(str(target)).run()
    at.button(key="bundle_import").click().run()
    assert "Imported" in at.success[-1].value


def test_deep_dive_slider_confusions_and_stability(app):
    at = open_page(app, "deep_dive", model="bert", task="pos")
    assert {m.label for m in at.metric} >= {"neurons", "test accuracy", "minimal set"}
    sizes = at.select_slider(key="deep_size").options
    at.select_slider(key="deep_size").set_value(sizes[-1]).run()
    assert not at.exception
    assert at.metric[0].value.startswith(str(sizes[-1]).split()[0])
    assert len(at.get("plotly_chart")) == 1  # only the open tab is drawn

    confusions = open_page(app, "deep_dive", model="bert", task="pos", deep_tab="Confusions")
    assert len(confusions.get("plotly_chart")) == 3  # all neurons, minimal set, ablated
    assert not confusions.metric

    stability = open_page(app, "deep_dive", model="bert", task="pos", deep_tab="Ranking stability")
    assert len(stability.get("plotly_chart")) == 1
    assert not stability.info  # results from this version have predictions and grid top sets
    assert len(stability.dataframe[0].value) in (20, 48)


def test_explorer_shades_by_contribution_to_a_class(app):
    at = open_page(app, "explorer", model="bert", task="pos", neuron="2:5")
    before = [m.value for m in at.markdown if "<span title=" in m.value]
    at.radio(key="explorer_mode").set_value("contribution to a class").run()
    assert not at.exception
    assert any("contribution to" in c.value for c in at.caption)
    at.selectbox(key="explorer_class").set_value("NN").run()
    after = [m.value for m in at.markdown if "<span title=" in m.value]
    assert any("Shaded by contribution to NN" in c.value for c in at.caption)
    assert len(after) == len(before) and after != before


def test_paper_page_shows_findings_and_tables(app):
    at = open_page(app, "paper")
    assert len(at.expander) == 5
    assert all(any("*Test:* " in m.value for m in e.markdown) for e in at.expander)
    main_table = at.dataframe[0].value
    assert len(main_table) == 3  # bert x pos, bert x chunk, gpt2 x pos
    assert {"lambda rule", "weighting", "chance % of neurons"} <= set(main_table.columns)
    assert "oracle KKT" in at.dataframe[1].value.columns  # the fits behind the numbers
    at.multiselect(key="paper_models").set_value(["bert"]).run()
    assert not at.exception
    assert len(at.dataframe[0].value) == 2
    labels = [e.label for e in at.expander]
    assert any("not measured" in label for label in labels)  # one model: no architecture verdict


def test_paper_page_shows_the_results_of_the_last_report(app, analysed):
    from neuronviz.reports.runs import record_run
    from neuronviz.reports.study import ReproduceSettings
    from neuronviz.store.result_store import ResultStore

    stored = ResultStore(analysed).all()
    used = [r for r in stored if r.model == "bert" and r.task == "chunk"]
    settings = ReproduceSettings(models=("bert",), tasks=("chunk",))
    record = record_run(used, settings, analysed / "report.md", analysed)
    try:
        at = open_page(app, "paper")
        assert at.sidebar.radio(key="paper_source").value == "report"
        assert len(at.dataframe[0].value) == 1  # the report's one analysis, not all three
        assert any(settings.command() in c.value for c in at.caption)
        at.sidebar.radio(key="paper_source").set_value("preferred").run()
        assert not at.exception
        assert len(at.dataframe[0].value) == 3
    finally:
        record.unlink()


def test_model_and_task_carry_over_when_switching_pages(app):
    open_page(app, "overview", model="gpt2", task="pos")
    app.query_params.clear()  # an in-app page switch starts without the old page's URL
    at = open_page(app, "heatmap")
    assert at.selectbox(key="heatmap_model").value == "gpt2"
    assert at.query_params["model"] in ("gpt2", ["gpt2"])


def test_intervene_measures_probes_against_random_neurons(app, analysed):
    shutil.rmtree(analysed / "effects", ignore_errors=True)  # measured by no earlier test
    at = open_page(app, "intervene", model="bert")
    assert not at.exception
    # Nothing heavy before a click: the page shows its controls and what a measurement costs.
    assert not at.dataframe and "Not measured yet" in at.info[0].value
    at.button(key="iv_measure").click().run()
    assert not at.exception
    table = at.dataframe[0].value
    assert set(table["task"]) == {"chunk", "pos"}
    assert {"before %", "after %", "random after %"} <= set(table.columns)
    assert any("silencing random neurons" in m.value for m in at.markdown)
    at.radio(key="iv_kind").set_value("my own list").run()
    at.text_input(key="iv_neurons").set_value("1:3,2:5").run()
    assert not at.exception and "2 neurons" in at.caption[0].value
    at.text_input(key="iv_neurons").set_value("9:99").run()
    assert "outside the model" in at.error[0].value
    # The measurement is kept on disk: a new session shows it at once, without a click.
    again = open_page(AppTest.from_file(APP, default_timeout=90), "intervene", model="bert")
    assert not again.exception and set(again.dataframe[0].value["task"]) == {"chunk", "pos"}


def test_intervene_sentence_matrix_and_output_tabs(app):
    at = open_page(app, "intervene", model="bert", iv_tab="A sentence")
    assert len(at.dataframe[0].value) == 10  # the default sentence, tags before and after
    at = open_page(app, "intervene", model="bert", iv_tab="Task x task")
    at.button(key="iv_matrix_go").click().run()
    assert not at.exception and len(at.get("plotly_chart")) == 1
    at = open_page(app, "intervene", model="bert", iv_tab="The model's output")
    assert "not a causal language model" in at.info[0].value


def test_intervene_continues_a_prompt_of_a_causal_model(analysed, monkeypatch):
    monkeypatch.setenv("NEURONVIZ_CACHE", str(analysed))
    at = open_page(
        AppTest.from_file(APP, default_timeout=90),
        "intervene",
        model="gpt2",
        iv_tab="The model's output",
    )
    assert any("KL divergence" in m.label for m in at.metric), [e.value for e in at.error]
    assert len(at.text) == 3  # before, after, random: side by side
