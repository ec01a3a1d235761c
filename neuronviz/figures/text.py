"""Text a user or a link supplied, made safe to show inside Markdown.

Streamlit renders message boxes, captions and headers as Markdown: a URL parameter echoed as it
came (``?model=[click me](https://...)``, ``?task=![x](https://.../t.png)``) would put a live link
or a fetched image in front of an audience. :func:`plain` turns any such value into text that
renders as itself: Markdown and HTML punctuation escaped, web addresses broken so no renderer
turns them into links, control characters dropped, and long values shortened.
"""

from __future__ import annotations

import re

__all__ = ["plain", "quoted"]

# Inline Markdown, HTML, LaTeX ($) and Streamlit's :directive[...] / :emoji: syntax.
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#!|<>~$&:])")
# List and numbering marks only count at the start of a line (a quote's > and a list's * are
# escaped everywhere above).
_LEADING_MARK = re.compile(r"^(\s*)([-+])")
_LEADING_NUMBER = re.compile(r"^(\s*\d+)\.")
_ADDRESS = re.compile(r"(?i)(https?|ftp|file|mailto|javascript|data|www)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2060-\u2064]")
ZERO_WIDTH = "\u200b"


def plain(value: object, limit: int | None = 120) -> str:
    """``value`` as Markdown that displays its characters literally and links nowhere.

    Every character that can start Markdown, HTML or Streamlit syntax is backslash-escaped (list
    and numbering marks only at the start); a zero-width space follows every scheme or ``www`` so
    autolinking renderers see no address; control and invisible characters go; more than
    ``limit`` characters are cut with an ellipsis (None: no limit).
    """
    text = _CONTROL.sub("", str(value))
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)] + "…"
    text = _MARKDOWN.sub(r"\\\1", text)
    text = _LEADING_MARK.sub(r"\1\\\2", text)
    text = _LEADING_NUMBER.sub(r"\1\\.", text)
    return _ADDRESS.sub(lambda m: m.group(0) + ZERO_WIDTH, text)


def quoted(value: object, limit: int | None = 120) -> str:
    """:func:`plain` in single quotes, for a name a user typed or a link asked for."""
    return f"'{plain(value, limit)}'"
