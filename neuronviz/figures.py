"""Figure builders: pure functions from results to plotly figures (or escaped HTML).

Nothing here imports streamlit; the dashboard pages only call these and display what they return.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

__all__ = ["activation_heatmap", "token_highlight_html"]

# Diverging colours: blue for negative, red for positive activation (colour-blind safe pair).
_NEG = (33, 102, 172)
_POS = (178, 24, 43)


def _colour(value: float, vmax: float) -> str:
    strength = min(abs(value) / vmax, 1.0) if vmax > 0 else 0.0
    r, g, b = _POS if value >= 0 else _NEG
    return f"rgba({r},{g},{b},{0.85 * strength:.3f})"


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
            f'border-radius:0.25em;line-height:2.1">{html.escape(word)}</span>'
        )
    return '<div style="font-size:1.25rem">' + " ".join(spans) + "</div>"


def activation_heatmap(
    words: Sequence[str],
    values: np.ndarray,
    neuron_labels: Sequence[str],
    *,
    title: str = "",
) -> go.Figure:
    """Heatmap of neurons (rows) x words (columns); ``values`` has shape ``(neurons, words)``."""
    values = np.asarray(values, dtype=np.float32)
    if values.shape != (len(neuron_labels), len(words)):
        raise ValueError(
            f"values of shape {values.shape} do not match {len(neuron_labels)} x {len(words)}"
        )
    limit = float(np.abs(values).max()) or 1.0
    fig = go.Figure(
        go.Heatmap(
            z=values,
            x=[f"{i}:{w}" for i, w in enumerate(words)],
            y=list(neuron_labels),
            zmin=-limit,
            zmax=limit,
            colorscale="RdBu_r",
            colorbar={"title": "activation"},
            hovertemplate="neuron %{y}<br>word %{x}<br>activation %{z:.3f}<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        xaxis={
            "title": "word",
            "tickangle": -45 if len(words) > 12 else 0,
            "type": "category",
            "automargin": True,
        },
        yaxis={"title": "neuron (layer:index)", "type": "category", "autorange": "reversed"},
        height=max(260, 28 * len(neuron_labels) + 140),
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
    )
    return fig
