"""Figures of single neurons and probes: activation and top-neuron heatmaps, a neuron's activations by class, the teaching toy's weights, confusion matrices."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from neuronviz.figures.style import TOP, layout

__all__ = [
    "activation_heatmap",
    "class_distribution_figure",
    "confusion_figure",
    "top_neuron_heatmap",
    "toy_weights_figure",
]


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


def top_neuron_heatmap(
    result, *, top: int = 30, value: str = "weight", sort_class: str | None = None
) -> go.Figure:
    """Top neurons (rows, ``layer:index``) x classes; colour = probe weight or class-mean activation."""
    matrix = result.weights if value == "weight" else result.class_means
    if sort_class is not None:
        if sort_class not in result.classes:
            raise ValueError(f"unknown class {sort_class!r}")
        c = result.classes.index(sort_class)
        neurons = np.argsort(-matrix[c], kind="stable")[:top]
    else:
        neurons = result.order[:top]
    z = matrix[:, neurons].T
    labels = [f"{n // result.hidden_size}:{n % result.hidden_size}" for n in neurons]
    limit = float(np.abs(z).max()) or 1.0
    name = "probe weight" if value == "weight" else "class-mean activation (standardised)"
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=result.classes,
            y=labels,
            zmin=-limit,
            zmax=limit,
            colorscale="RdBu_r",
            colorbar={"title": name},
            customdata=np.repeat(np.asarray(neurons)[:, None], len(result.classes), 1),
            hovertemplate="neuron %{y}<br>class %{x}<br>" + name + " %{z:.3f}<extra></extra>",
        )
    )
    fig.update_xaxes(
        title="class", type="category", tickangle=-45 if len(result.classes) > 15 else 0
    )
    fig.update_yaxes(title="neuron (layer:index)", type="category", autorange="reversed")
    title = f"top {top} neurons" + (f" for {sort_class}" if sort_class else " (global ranking)")
    return layout(fig, title, height=max(420, 22 * top + 160))


def class_distribution_figure(
    values_by_class: dict[str, np.ndarray], neuron_label: str, *, top: int = 15
) -> go.Figure:
    """Box plots of one neuron's activation per class (the ``top`` classes by |median|)."""
    ranked = sorted(values_by_class.items(), key=lambda kv: -abs(float(np.median(kv[1]))))[:top]
    fig = go.Figure()
    for name, values in ranked:
        fig.add_trace(go.Box(y=values, name=name, boxmean=True, marker_color=TOP, showlegend=False))
    fig.add_hline(y=0, line={"color": "black", "width": 1})
    fig.update_yaxes(title="activation")
    fig.update_xaxes(title="class", type="category")
    return layout(fig, f"neuron {neuron_label}: activation by class (test split)")


def toy_weights_figure(fit, classes: Sequence[str], labels: Sequence[str]) -> go.Figure:
    """The toy probe's weights, neurons (rows) x classes; exact zeros left blank."""
    z = np.asarray(fit.weights, dtype=np.float64).T.copy()
    z[z == 0] = np.nan
    limit = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 1.0
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=list(classes),
            y=list(labels),
            zmin=-limit,
            zmax=limit,
            colorscale="RdBu_r",
            colorbar={"title": "weight"},
            hoverongaps=False,
            hovertemplate="neuron %{y}<br>class %{x}<br>weight %{z:.3f}<extra></extra>",
        )
    )
    fig.update_xaxes(title="class", type="category", side="top")
    fig.update_yaxes(title="neuron (layer:index)", type="category", autorange="reversed")
    used = len(fit.selected)
    title = f"lambda1 = {fit.lambda1:g}: {used} of {len(labels)} neurons used, test accuracy {100 * fit.test_accuracy:.1f}%"
    return layout(fig, title, height=620)


def confusion_figure(
    counts: np.ndarray, classes: Sequence[str], title: str, *, show: Sequence[int] | None = None
) -> go.Figure:
    """Row-normalised confusion matrix (gold rows, predicted columns) of the classes ``show``."""
    idx = np.arange(len(classes)) if show is None else np.asarray(show)
    sub = counts[np.ix_(idx, idx)].astype(np.float64)
    totals = counts[idx].sum(1, keepdims=True).astype(np.float64)
    share = np.divide(sub, totals, out=np.zeros_like(sub), where=totals > 0)
    names = [classes[int(i)] for i in idx]
    fig = go.Figure(
        go.Heatmap(
            z=100 * share,
            x=names,
            y=names,
            zmin=0,
            zmax=100,
            colorscale="Blues",
            colorbar={"title": "% of gold"},
            customdata=sub,
            hovertemplate="gold %{y}<br>predicted %{x}<br>%{z:.1f}% (%{customdata:.0f} words)<extra></extra>",
        )
    )
    fig.update_xaxes(title="predicted", type="category", tickangle=-45)
    fig.update_yaxes(title="gold", type="category", autorange="reversed")
    return layout(fig, title, height=520)
