"""Links cannot inject content: Markdown and HTML in every URL parameter of every page come out
as plain text, never as a link, an image or an element (``neuronviz.figures.text`` itself: test_text.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from apptools import APP
from streamlit.testing.v1 import AppTest

PAGES = sorted(p.stem for p in (Path(APP).parent / "pages").glob("*.py") if p.stem != "_shared")
PAYLOADS = [
    "[click me](https://evil.example/x)",
    "![pixel](https://evil.example/t.png)",
    "<img src=https://evil.example/t.png>",
    "<a href='https://evil.example'>x</a> www.evil.example",
    ":red[alarm] **bold** $x$ `code` # heading",
]
PARAMS = ("model", "task", "models", "q", "neuron", "iv_tab")
EVERYTHING = " ".join(PAYLOADS)  # one link carrying every kind at once, in every parameter

# What would render as a link, an image or an element if it reached the page's Markdown.
INJECTED = [
    re.compile(r"(?<!\\)\]\("),  # [text](address) or ![alt](address), unescaped
    re.compile(r"(?i)(https?|ftp)\\?:\\?/|www\\?\."),  # an address a renderer would autolink
    re.compile(r"(?i)(?<!\\)<\s*(img|a|script|iframe)\b"),  # raw HTML
    re.compile(r"(?<!\\):red\["),  # Streamlit's coloured-text directive
]


def _shown_text(at: AppTest) -> list[str]:
    shown = []
    for kind in ("markdown", "caption", "warning", "error", "info", "success", "title"):
        shown += [e.value for e in getattr(at, kind)]
    for kind in ("header", "subheader"):
        shown += [e.value for e in getattr(at, kind)]
    return [str(v) for v in shown]


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_every_page_shows_link_parameters_as_plain_text(app, page):
    for name in PARAMS:
        app.query_params[name] = EVERYTHING
    app.switch_page(f"pages/{page}.py").run()
    assert not app.exception, (page, app.exception)
    shown = _shown_text(app)
    assert shown
    for text in shown:
        for pattern in INJECTED:
            assert not pattern.search(text), (page, text)
