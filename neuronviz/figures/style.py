"""The look every figure shares: the colour-blind-safe palette, fonts, layout and interval bands."""

from __future__ import annotations

import plotly.graph_objects as go

__all__ = ["FONT", "OKABE_ITO", "subject"]


# Colour-blind safe palette (Okabe and Ito).
OKABE_ITO = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]


# Top, random and bottom neurons: the same colours in every figure.
TOP, RANDOM, BOTTOM = "#0072B2", "#7f7f7f", "#D55E00"
FONT = {"size": 15}


def layout(fig: go.Figure, title: str = "", height: int = 420) -> go.Figure:
    fig.update_layout(
        title=title,
        height=height,
        font=FONT,
        template="plotly_white",
        margin={"l": 10, "r": 10, "t": 50 if title else 20, "b": 100},
        legend={"orientation": "h", "yanchor": "top", "y": -0.25, "x": 0},
    )
    return fig


def band(x, low, high, colour: str, name: str) -> go.Scatter:
    """A filled band between ``low`` and ``high`` (percent), drawn under its line."""
    return go.Scatter(
        x=list(x) + list(x)[::-1],
        y=[100 * v for v in low] + [100 * v for v in high][::-1],
        fill="toself",
        fillcolor=colour,
        line={"width": 0},
        mode="lines",
        hoverinfo="skip",
        name=name,
        showlegend=False,
    )


def subject(result) -> str:
    """``minilm x pos``, or ``minilm x pos (PREVIEW, 150 sentences a split)`` for a preview:
    every figure of one result names it so, since a screenshot travels without its page."""
    p = getattr(result, "preview", None)
    tag = f" (PREVIEW, {p.sentences} sentences a split)" if p else ""
    return f"{result.model} x {result.task}{tag}"


def rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"
