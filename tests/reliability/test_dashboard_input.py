"""Dashboard input the page cannot trust: typed text, links with unknown names, many sessions."""

from __future__ import annotations

import html
import re

import pytest
from apptools import open_page
from streamlit.testing.v1 import AppTest

from neuronviz.figures.highlight import escape_text, token_highlight_html

HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "&lt;b&gt; &amp; &#60;",
    "[click](javascript:alert(1)) **bold** `code` $x^2$ :smile: :red[red]",
    "שלום עולם مرحبا",  # right to left
    "e\u0301 a\u0308\u0323 \u200b\u200d",  # combining marks, zero-width characters
    "👩‍👩‍👧 🇩🇪 🤖",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_words_round_trip_and_carry_no_markup(text):
    escaped = escape_text(text)
    assert html.unescape(escaped) == text
    assert not re.search(r"[<>\[\]`*$:]", escaped)
    words = text.split()
    rendered = token_highlight_html(words, [1.0] * len(words))
    assert "<script" not in rendered and "<img" not in rendered
    assert rendered.count("<span") == len(words)


def _typed_markdown(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if "<span title=" in m.value]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_typed_text_renders_escaped(app, text):
    at = open_page(app, "explorer", model="bert", task="pos", neuron="1:3")
    at.text_input(key="explorer_text").set_value(text).run()
    assert not at.exception
    shown = _typed_markdown(at)[-1]  # the typed sentence comes last
    assert "<script" not in shown and "<img" not in shown and "](javascript" not in shown
    assert html.unescape(re.sub(r"<[^>]+>", " ", shown)).split() == text.split()


def test_a_huge_paste_is_cut_with_a_message(app):
    at = open_page(app, "explorer", model="bert", task="pos", neuron="1:3")
    at.text_input(key="explorer_text").set_value("word " * 20_000).run()  # 100,000 characters
    assert not at.exception
    assert "100,000 characters" in at.warning[0].value
    assert len(re.findall("<span title=", _typed_markdown(at)[-1])) == 400


@pytest.mark.parametrize(
    ("page", "params", "message"),
    [
        ("overview", {"model": "no-such-model"}, "no analysis in this cache"),
        ("heatmap", {"model": "bert", "task": "no-such-task"}, "no analysis of 'no-such-task'"),
        ("compare", {"models": "bert,ghost"}, "'ghost'"),
        ("paper", {"models": "ghost"}, "'ghost'"),
    ],
)
def test_links_with_unknown_names_fall_back_with_a_message(app, page, params, message):
    at = open_page(app, page, **params)
    assert any(message in w.value for w in at.warning), [w.value for w in at.warning]


@pytest.mark.parametrize("neuron", ["99:1", "1:99999", "abc", "1:-3", "1:2:3"])
def test_explorer_neuron_out_of_range_or_malformed(app, neuron):
    at = open_page(app, "explorer", model="bert", task="pos", neuron=neuron)
    assert at.error and not at.exception


def test_a_list_of_thousands_of_neurons_is_refused_with_a_message(app):
    """A pasted list is capped like typed text: a clear error at once, not minutes of work."""
    many = ",".join(f"1:{i % 8}" for i in range(5000))
    at = open_page(app, "explorer", model="bert", task="pos", neuron=many)
    assert not at.exception
    assert any("5000 neurons listed" in e.value for e in at.error), [e.value for e in at.error]


def test_a_short_list_with_repeats_shows_each_neuron_once(app):
    at = open_page(app, "explorer", model="bert", task="pos", neuron="1:3,1:3,2:5")
    assert not at.exception and not at.error
    assert at.query_params["neuron"] == "1:3,2:5"
