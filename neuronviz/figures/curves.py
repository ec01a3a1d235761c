"""Figures of what ranked neurons can do: accuracy curves of top, random and bottom neurons, the size slider, stability over resamples."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from neuronviz.figures.style import BOTTOM, RANDOM, TOP, band, layout, rgba, subject

__all__ = ["curves_figure", "size_slider_figure", "stability_figure"]


def curves_figure(result, split: str = "test") -> go.Figure:
    """Retrained accuracy vs % of neurons: top and bottom (bands: 95% bootstrap intervals over
    test sentences), random (band: the central 95% of its draws), oracle with its interval, and
    the minimal set with the interval of its size."""
    x = result.curves.percents
    fig = go.Figure()
    on_test = split == "test"
    _add_bands(fig, result.curves, split)
    _add_curves(fig, result.curves, split)
    _add_oracle(fig, result, split)
    _add_minimal_set(fig, result, split)
    fig.update_xaxes(
        type="log",
        title="neurons used (% of all, log scale)",
        tickvals=list(x),
        ticktext=[f"{t:g}" for t in x],
        tickangle=0,
    )
    fig.update_yaxes(title=f"{split} accuracy (%)")
    bands = "bands: 95% intervals" if on_test else "band: central 95% of random draws"
    fig = layout(fig, f"{subject(result)}: accuracy vs neurons ({bands})")
    fig.update_layout(
        legend={"orientation": "h", "yanchor": "top", "y": -0.25, "x": 0}, margin={"b": 100}
    )
    return fig


def _add_bands(fig: go.Figure, c, split: str) -> None:
    """The random draws' central 95%, and (test split) top and bottom bootstrap intervals."""
    x, on_test = c.percents, split == "test"
    values = c.random_values.get(split)
    if values:
        spread = [np.percentile(v, [2.5, 97.5]) for v in values]
        fig.add_trace(
            band(
                x, [s[0] for s in spread], [s[1] for s in spread], rgba(RANDOM, 0.2), "random band"
            )
        )
    if on_test and c.top_ci:
        fig.add_trace(
            band(x, [v[0] for v in c.top_ci], [v[1] for v in c.top_ci], rgba(TOP, 0.2), "top")
        )
    if on_test and c.bottom_ci:
        fig.add_trace(
            band(
                x,
                [v[0] for v in c.bottom_ci],
                [v[1] for v in c.bottom_ci],
                rgba(BOTTOM, 0.2),
                "bottom",
            )
        )


def _add_curves(fig: go.Figure, c, split: str) -> None:
    """Top, random (mean of the draws) and bottom accuracy lines."""
    x = c.percents
    draws = c.random_draws
    for name, values, colour, dash in (
        ("top (ranked)", c.top[split], TOP, "solid"),
        ("random (mean of draws)", c.random_mean[split], RANDOM, "dash"),
        ("bottom (ranked; over tie orders)", c.bottom[split], BOTTOM, "solid"),
    ):
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[100 * v for v in values],
                name=name,
                mode="lines+markers",
                line={"color": colour, "dash": dash, "width": 3},
                customdata=draws if name.startswith("random") and draws else None,
                hovertemplate="%{x}% of neurons: %{y:.2f}%"
                + (" (%{customdata} draws)" if name.startswith("random") and draws else "")
                + "<extra>"
                + name
                + "</extra>",
            )
        )


def _add_oracle(fig: go.Figure, result, split: str) -> None:
    """The all-neuron probe's accuracy as a line, its interval as a shaded band."""
    oracle = 100 * result.oracle.accuracy(split)
    ci = result.oracle.accuracy_ci(split)
    if ci:
        fig.add_hrect(
            y0=100 * ci[0],
            y1=100 * ci[1],
            fillcolor="rgba(0,0,0,0.08)",
            line_width=0,
            layer="below",
        )
    fig.add_hline(
        y=oracle,
        line={"color": "black", "dash": "dot"},
        annotation_text=f"all neurons {oracle:.1f}%"
        + (f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else ""),
    )


def _add_minimal_set(fig: go.Figure, result, split: str) -> None:
    """The minimal set as a star, with the interval of its size as horizontal error bars."""
    m = result.minimal
    interval = m.fraction_interval
    fig.add_trace(
        go.Scatter(
            x=[100 * m.fraction],
            y=[100 * (m.accuracy(split) or 0.0)],
            mode="markers",
            name="minimal set (size interval)" if interval else "minimal set",
            marker={"color": "#009E73", "size": 14, "symbol": "star"},
            error_x=None
            if not interval
            else {
                "type": "data",
                "symmetric": False,
                "array": [100 * (interval[1] - m.fraction)],
                "arrayminus": [100 * (m.fraction - interval[0])],
                "color": "#009E73",
                "thickness": 2,
            },
            hovertemplate=f"minimal set: {m.size} neurons"
            + (f" [{m.size_interval[0]:.0f}, {m.size_interval[1]:.0f}]" if m.size_interval else "")
            + "<br>%{y:.2f}%<extra></extra>",
        )
    )


def size_slider_figure(result, size: int, split: str = "test") -> go.Figure:
    """Accuracy of the top-k prefix vs k, with the chosen ``size`` and the minimal set marked."""
    points = result.prefix_accuracy(split)
    sizes = [s for s, _ in points]
    fig = go.Figure(
        go.Scatter(
            x=sizes,
            y=[100 * a for _, a in points],
            mode="lines+markers",
            name="top-k retrained",
            line={"color": TOP, "width": 3},
            hovertemplate="%{x} neurons: %{y:.2f}%<extra></extra>",
        )
    )
    m = result.minimal
    # A vertical line drawn as a trace: shapes on a log axis take log10 coordinates.
    low = min(100 * a for _, a in points)
    fig.add_trace(
        go.Scatter(
            x=[m.size, m.size],
            y=[low, 100 * result.oracle.accuracy(split)],
            mode="lines",
            name=f"minimal set ({m.size} neurons)",
            line={"color": "#009E73", "width": 3, "dash": "dash"},
            hoverinfo="skip",
        )
    )
    chosen = dict(points).get(size)
    if chosen is not None:
        fig.add_trace(
            go.Scatter(
                x=[size],
                y=[100 * chosen],
                mode="markers",
                name="chosen size",
                marker={"color": "#D55E00", "size": 16, "symbol": "diamond"},
            )
        )
    fig.add_hline(
        y=100 * result.oracle.accuracy(split),
        line={"color": "black", "dash": "dot"},
        annotation_text="all neurons",
    )
    fig.update_xaxes(type="log", title="neurons (top-k of the ranking, log scale)")
    fig.update_yaxes(title=f"{split} accuracy (%)")
    return layout(fig, f"{subject(result)}: how many neurons are enough?")


def stability_figure(rows: Sequence[dict]) -> go.Figure:
    """How often each top neuron stays in the top set: across lambda pairs and across seeds.

    ``rows``: dicts with ``label``, ``lambda_share`` (and ``lambda_low``/``lambda_high``), and
    optionally ``seed_share`` (and ``seed_low``/``seed_high``).
    """
    labels = [r["label"] for r in rows]
    fig = go.Figure()
    names = {
        "lambda": "share of lambda pairs with it in their top k",
        "seed": "share of seed resamples with it in the minimal set",
    }
    for key, colour in (("lambda", TOP), ("seed", BOTTOM)):
        if not rows or f"{key}_share" not in rows[0]:
            continue
        share = np.array([100 * r[f"{key}_share"] for r in rows])
        fig.add_trace(
            go.Bar(
                x=labels,
                y=share,
                name=names[key],
                marker_color=colour,
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [100 * r[f"{key}_high"] - s for r, s in zip(rows, share, strict=True)],
                    "arrayminus": [
                        s - 100 * r[f"{key}_low"] for r, s in zip(rows, share, strict=True)
                    ],
                },
            )
        )
    fig.update_xaxes(title="neuron (in ranking order)", type="category")
    fig.update_yaxes(title="% (95% Wilson interval)", range=[0, 105])
    fig.update_layout(barmode="group")
    k = rows[0].get("k") if rows else None
    return layout(fig, "ranking stability of the top neurons" + (f" (k = {k})" if k else ""))
