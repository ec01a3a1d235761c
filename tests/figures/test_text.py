"""Text from links and typed queries, rendered by a CommonMark parser, shows as itself."""

import html
import re

import pytest
from markdown_it import MarkdownIt

from neuronviz.figures.text import ZERO_WIDTH, plain, quoted

HOSTILE = [
    "[click me](https://evil.example/login)",
    "![x](https://evil.example/t.png)",
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "**bold** _em_ ~~gone~~ `code`",
    ":red[alarm] :material/warning:",
    "$x^2$",
    "# heading",
    "- a list item",
    "3. a numbered item",
    "> a quote",
    "<https://evil.example>",
    "a\\b\\[c",
]


def _render(markdown: str) -> str:
    return MarkdownIt("commonmark").render(f"Asked for {markdown}, sorry.")


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_render_as_their_own_text(value):
    rendered = _render(plain(value, limit=None))
    assert "<a " not in rendered and "<img" not in rendered and "<script" not in rendered
    for tag in ("strong", "em", "code", "s", "h1", "li", "blockquote"):
        assert f"<{tag}>" not in rendered
    text = html.unescape(re.sub(r"<[^>]+>", "", rendered)).replace(ZERO_WIDTH, "").strip()
    assert text == f"Asked for {value}, sorry."


@pytest.mark.parametrize("value", ["- a list item", "3. a numbered item"])
def test_block_syntax_at_the_start_of_a_message_stays_text(value):
    rendered = MarkdownIt("commonmark").render(plain(value))
    assert "<li>" not in rendered and "<ul>" not in rendered and "<ol>" not in rendered


def test_ordinary_names_read_as_they_are():
    assert plain("no-such-task") == "no-such-task"
    assert plain("smollm2-135m") == "smollm2-135m"
    assert plain("it's 1.5") == "it's 1.5"


def test_addresses_are_broken_and_control_characters_dropped():
    shown = plain("see https://evil.example\nnow\u202e")
    assert "https" + ZERO_WIDTH in shown
    assert "\n" not in shown and "\u202e" not in shown


def test_long_values_are_cut_with_an_ellipsis():
    assert plain("x" * 500, limit=20) == "x" * 19 + "…"
    assert len(plain("x" * 500, limit=None)) == 500


def test_quoted_names_keep_their_quotes_and_stay_text():
    assert quoted("ghost") == "'ghost'"
    assert quoted("[x](https://e.example)").startswith("'\\[x\\]")
