"""Figures that compare analyses: neurons per layer, minimal-set shares against chance, depth profiles, how many neurons reach the oracle, overlap between tasks."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from neuronviz.figures.style import OKABE_ITO, layout

__all__ = [
    "depth_profile_figure",
    "layer_figure",
    "minimal_share_figure",
    "overlap_matrix_figure",
    "reach_figure",
]


def layer_figure(results, *, measure: str = "share", which: str = "minimal") -> go.Figure:
    """Per-layer bars (count or share of the minimal set or a top-k set) for one or more tasks,
    with per-layer probe accuracy as lines on a second axis."""
    from plotly.subplots import make_subplots

    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for i, r in enumerate(results):
        dist = r.layers.of(which)
        values = [100 * v for v in dist.share] if measure == "share" else dist.count
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        fig.add_trace(
            go.Bar(
                x=r.layer_names,
                y=values,
                name=f"{r.task} ({which})",
                marker_color=colour,
                opacity=0.85,
            ),
            secondary_y=False,
        )
        if r.layers.probe_test_accuracy is not None:
            accuracy = r.layers.probe_test_accuracy
            ci = r.layers.probe_test_ci
            fig.add_trace(
                go.Scatter(
                    x=r.layer_names,
                    y=[100 * a for a in accuracy],
                    name=f"{r.task}: layer probe" + (" (95% interval)" if ci else ""),
                    mode="lines+markers",
                    line={"color": colour, "width": 3, "dash": "dot"},
                    error_y=None
                    if not ci
                    else {
                        "type": "data",
                        "symmetric": False,
                        "array": [100 * (c[1] - a) for c, a in zip(ci, accuracy, strict=True)],
                        "arrayminus": [100 * (a - c[0]) for c, a in zip(ci, accuracy, strict=True)],
                    },
                ),
                secondary_y=True,
            )
    fig.update_layout(barmode="group")
    fig.update_yaxes(
        title_text="share of neurons (%)" if measure == "share" else "neurons", secondary_y=False
    )
    fig.update_yaxes(title_text="single-layer probe accuracy (%)", secondary_y=True)
    return layout(fig, "where the neurons are, layer by layer")


def minimal_share_figure(rows) -> go.Figure:
    """Minimal-set size as % of all neurons, per model and task, with its 95% interval, beside
    its chance level: the share random neurons need for the same accuracy (from
    ``compare_models``). A bar far below its chance marker is a localized task."""
    fig = go.Figure()
    models = sorted({r["model"] for r in rows})
    for i, model in enumerate(models):
        mine = [r for r in rows if r["model"] == model]
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        intervals = [r.get("minimal_share_interval") for r in mine]
        fig.add_trace(
            go.Bar(
                x=[r["task"] for r in mine],
                y=[100 * r["minimal_share"] for r in mine],
                name=model,
                offsetgroup=model,
                marker_color=colour,
                error_y=None
                if not all(intervals)
                else {
                    "type": "data",
                    "symmetric": False,
                    "array": [
                        100 * (v[1] - r["minimal_share"])
                        for v, r in zip(intervals, mine, strict=True)
                    ],
                    "arrayminus": [
                        100 * (r["minimal_share"] - v[0])
                        for v, r in zip(intervals, mine, strict=True)
                    ],
                },
                hovertemplate="%{x}: %{y:.2f}% of neurons<extra>" + model + "</extra>",
            )
        )
        chance = [r.get("chance_share") for r in mine]
        if all(v is not None for v in chance):
            fig.add_trace(
                go.Scatter(
                    x=[r["task"] for r in mine],
                    y=[100 * v for v in chance],
                    name=f"{model}: chance level",
                    offsetgroup=model,
                    mode="markers",
                    marker={
                        "symbol": "line-ew-open",
                        "size": 28,
                        "color": colour,
                        "line": {"width": 3},
                    },
                    customdata=[r.get("localization") for r in mine],
                    hovertemplate="%{x}: random neurons need %{y:.1f}%<br>minimal / chance "
                    "%{customdata:.3f}<extra>" + model + "</extra>",
                )
            )
    fig.update_layout(barmode="group", scattermode="group")
    fig.update_yaxes(title="minimal set (% of all neurons, log)", type="log")
    return layout(
        fig, "minimal set (bars, 95% interval) vs chance: the share random neurons need (lines)"
    )


def depth_profile_figure(rows) -> go.Figure:
    """Minimal-set share by relative depth (0 = embeddings, 1 = last layer), per model x task."""
    fig = go.Figure()
    for i, r in enumerate(rows):
        bins = len(r["depth_profile"])
        x = [(b + 0.5) / bins for b in range(bins)]
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[100 * v for v in r["depth_profile"]],
                name=f"{r['model']} / {r['task']}",
                mode="lines+markers",
                line={"color": OKABE_ITO[i % len(OKABE_ITO)], "width": 3},
            )
        )
    fig.update_xaxes(title="relative depth (0 = embeddings, 1 = last layer)", range=[0, 1])
    fig.update_yaxes(title="share of the minimal set (%)")
    return layout(fig, "layer distribution, normalised by depth")


def reach_figure(rows) -> go.Figure:
    """Share of neurons needed to reach 90 / 95 / 99% of the oracle, per model x task."""
    fig = go.Figure()
    for i, r in enumerate(rows):
        levels = list(r["reach"])
        fig.add_trace(
            go.Bar(
                x=[f"{float(k) * 100:g}%" for k in levels],
                y=[None if r["reach"][k] is None else 100 * r["reach"][k] for k in levels],
                name=f"{r['model']} / {r['task']}",
                marker_color=OKABE_ITO[i % len(OKABE_ITO)],
            )
        )
    fig.update_layout(barmode="group")
    fig.update_xaxes(title="share of the oracle's accuracy reached")
    fig.update_yaxes(title="neurons needed (% of all)")
    return layout(fig, "how distributed is the information?")


def overlap_matrix_figure(overlap: dict, tasks: list[str]) -> go.Figure:
    """Overlap of minimal sets between tasks of one model as observed / chance Jaccard (1 = what
    random sets of those sizes share; from ``compare_tasks``); cells show both Jaccards."""
    index = {t: i for i, t in enumerate(tasks)}
    z = np.full((len(tasks), len(tasks)), np.nan)
    text = np.full((len(tasks), len(tasks)), "", dtype=object)
    for p in overlap["pairs"]:
        a, b = (index[t] for t in p["tasks"])
        z[a, b] = z[b, a] = p["ratio"] if p.get("ratio") is not None else np.nan
        text[a, b] = text[b, a] = (
            f"{p['ratio']:.1f}x<br>J {p['jaccard']:.3f} vs {p['expected_jaccard']:.3f}"
            if p.get("ratio") is not None
            else f"J {p['jaccard']:.3f}"
        )
    top = max(float(np.nanmax(z)) if np.isfinite(z).any() else 2.0, 2.0)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=tasks,
            y=tasks,
            zmin=0,
            zmax=top,
            colorscale="Blues",
            colorbar={"title": "observed /<br>chance"},
            text=text,
            texttemplate="%{text}",
            hovertemplate="%{x} & %{y}: %{z:.2f}x the Jaccard of random sets<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    return layout(
        fig,
        f"{overlap['model']}: minimal-set overlap between tasks, observed / chance Jaccard",
        height=380,
    )
