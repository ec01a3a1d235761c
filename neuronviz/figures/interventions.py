"""Figures of interventions: probe accuracy before and after a change, and the task x task matrix of extra drops."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from neuronviz.figures.style import BOTTOM, RANDOM, layout

__all__ = ["effect_matrix_figure", "intervention_figure"]


def intervention_figure(effects: Sequence, title: str) -> go.Figure:
    """Each probe's test accuracy before, after the intervention, and after the random control."""
    tasks = [e.task for e in effects]
    fig = go.Figure()
    bars = (
        ("before", [100 * e.before for e in effects], None, "#009E73"),
        ("after the intervention", [100 * e.after for e in effects], None, BOTTOM),
        (
            "after silencing random neurons (same layers)",
            [100 * e.random_after for e in effects],
            [100 * e.random_std for e in effects],
            RANDOM,
        ),
    )
    for name, values, spread, colour in bars:
        fig.add_trace(
            go.Bar(
                x=tasks,
                y=values,
                name=name,
                marker_color=colour,
                error_y=None if spread is None else {"type": "data", "array": spread},
                hovertemplate="%{x}: %{y:.2f}%<extra>" + name + "</extra>",
            )
        )
    fig.update_layout(barmode="group")
    fig.update_yaxes(title="test accuracy %", range=[0, 100])
    return layout(fig, title)


def effect_matrix_figure(
    matrix: np.ndarray, sources: Sequence[str], targets: Sequence[str]
) -> go.Figure:
    """Task x task: accuracy drop of each target probe beyond the random control (points), when
    the minimal set of each source task is silenced."""
    limit = float(np.nanmax(np.abs(matrix))) if np.isfinite(matrix).any() else 1.0
    fig = go.Figure(
        go.Heatmap(
            z=matrix,
            x=list(targets),
            y=[f"silence {s}" for s in sources],
            zmid=0,
            zmin=-limit,
            zmax=limit,
            colorscale="RdBu_r",
            colorbar={"title": "points"},
            text=np.round(matrix, 1),
            texttemplate="%{text}",
            hovertemplate="%{y}, %{x} probe: %{z:.2f} points beyond random<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title="probe measured")
    return layout(fig, "extra accuracy drop over random neurons", height=380)
