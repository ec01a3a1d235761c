"""Token-level activation highlighting as escaped HTML: a word's colour says how strongly a neuron fires on it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["escape_text", "highlight_legend_html", "token_highlight_html"]


# Diverging colours: blue for negative, red for positive activation (colour-blind safe pair).
_NEG = (33, 102, 172)


_POS = (178, 24, 43)


def _colour(value: float, vmax: float) -> str:
    strength = min(abs(value) / vmax, 1.0) if vmax > 0 else 0.0
    r, g, b = _POS if value >= 0 else _NEG
    return f"rgba({r},{g},{b},{0.85 * strength:.3f})"


# Characters that Markdown (and Streamlit's extensions: emoji shortcodes, colour directives,
# math) could read as syntax; written as character references they stay plain text.
# One pass over the text, so no reference written here is escaped again.
_ESCAPES = {ord(c): f"&#{ord(c)};" for c in "&<>\"'\\`*_{}[]()#!|:$~^"}


def escape_text(text: str) -> str:
    """``text`` safe inside HTML that Streamlit renders as Markdown: no tags, no Markdown syntax."""
    return text.translate(_ESCAPES)


def token_highlight_html(
    words: Sequence[str], values: Sequence[float], *, vmax: float | None = None
) -> str:
    """Words as HTML spans shaded by ``values`` (red positive, blue negative).

    Every word is HTML-escaped, so text typed by a user can never inject markup. Hovering a word
    shows its value.
    """
    vals = np.asarray(values, dtype=np.float64)
    if len(vals) != len(words):
        raise ValueError(f"{len(words)} words but {len(vals)} values")
    scale = float(np.abs(vals).max()) if vmax is None and len(vals) else float(vmax or 0.0)
    spans = []
    for word, value in zip(words, vals, strict=True):
        dark = abs(value) / scale > 0.6 if scale > 0 else False
        spans.append(
            f'<span title="{value:+.3f}" style="background:{_colour(value, scale)};'
            f"color:{'#fff' if dark else 'inherit'};padding:0.1em 0.25em;margin:0 0.08em;"
            f'border-radius:0.25em;line-height:2.1">{escape_text(word)}</span>'
        )
    return '<div style="font-size:1.25rem">' + " ".join(spans) + "</div>"


def highlight_legend_html(vmax: float, label: str = "activation scale", signed: bool = True) -> str:
    """A small legend for :func:`token_highlight_html`: the colour scale from -vmax to +vmax
    (from 0 to vmax for a measure that is never negative, ``signed=False``)."""
    stops = [-1.0, -0.5, 0.0, 0.5, 1.0] if signed else [0.0, 0.25, 0.5, 0.75, 1.0]
    sign = "+" if signed else ""
    cells = "".join(
        f'<span style="background:{_colour(v * vmax, vmax)};padding:0.1em 0.6em;margin:0 0.1em;'
        f'border-radius:0.2em;font-size:0.85rem">{v * vmax:{sign}.2f}</span>'
        for v in stops
    )
    return f'<div style="margin:0.3em 0 0.6em 0">{escape_text(label)}: {cells}</div>'
