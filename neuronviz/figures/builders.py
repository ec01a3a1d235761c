"""Figure builders: pure functions from results to plotly figures (or escaped HTML).

Nothing here imports streamlit; the dashboard pages only call these and display what they return.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

__all__ = [
    "OKABE_ITO",
    "activation_heatmap",
    "class_distribution_figure",
    "confusion_figure",
    "curves_figure",
    "depth_profile_figure",
    "highlight_legend_html",
    "layer_figure",
    "minimal_share_figure",
    "overlap_matrix_figure",
    "reach_figure",
    "size_slider_figure",
    "stability_figure",
    "token_highlight_html",
    "top_neuron_heatmap",
    "toy_weights_figure",
]

# Colour-blind safe palette (Okabe and Ito).
OKABE_ITO = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
TOP, RANDOM, BOTTOM = "#0072B2", "#7f7f7f", "#D55E00"
FONT = {"size": 15}

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


def _layout(fig: go.Figure, title: str = "", height: int = 420) -> go.Figure:
    fig.update_layout(
        title=title,
        height=height,
        font=FONT,
        template="plotly_white",
        margin={"l": 10, "r": 10, "t": 50 if title else 20, "b": 100},
        legend={"orientation": "h", "yanchor": "top", "y": -0.25, "x": 0},
    )
    return fig


def _band(x, low, high, colour: str, name: str) -> go.Scatter:
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
    tag = f" (PREVIEW, {p['sentences']} sentences a split)" if p else ""
    return f"{result.model} x {result.task}{tag}"


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def curves_figure(result, split: str = "test") -> go.Figure:
    """Retrained accuracy vs % of neurons: top and bottom (bands: 95% bootstrap intervals over
    test sentences), random (band: the central 95% of its draws), oracle with its interval, and
    the minimal set with the interval of its size."""
    c = result.curves
    x = c["percents"]
    fig = go.Figure()
    on_test = split == "test"
    values = c.get("random_values", {}).get(split)
    if values:
        band = [np.percentile(v, [2.5, 97.5]) for v in values]
        fig.add_trace(
            _band(x, [b[0] for b in band], [b[1] for b in band], _rgba(RANDOM, 0.2), "random band")
        )
    if on_test and c.get("top_ci"):
        fig.add_trace(
            _band(
                x, [v[0] for v in c["top_ci"]], [v[1] for v in c["top_ci"]], _rgba(TOP, 0.2), "top"
            )
        )
    if on_test and c.get("bottom_ci"):
        fig.add_trace(
            _band(
                x,
                [v[0] for v in c["bottom_ci"]],
                [v[1] for v in c["bottom_ci"]],
                _rgba(BOTTOM, 0.2),
                "bottom",
            )
        )
    draws = c.get("random_draws", [])
    for name, values, colour, dash in (
        ("top (ranked)", c["top"][split], TOP, "solid"),
        ("random (mean of draws)", c["random_mean"][split], RANDOM, "dash"),
        ("bottom (ranked; over tie orders)", c["bottom"][split], BOTTOM, "solid"),
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
    oracle = 100 * result.oracle[f"{split}_accuracy"]
    ci = result.oracle.get(f"{split}_accuracy_ci")
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
    m = result.minimal
    interval = m.get("fraction_interval")
    fig.add_trace(
        go.Scatter(
            x=[100 * m["fraction"]],
            y=[100 * m[f"{split}_accuracy"]],
            mode="markers",
            name="minimal set (size interval)" if interval else "minimal set",
            marker={"color": "#009E73", "size": 14, "symbol": "star"},
            error_x=None
            if not interval
            else {
                "type": "data",
                "symmetric": False,
                "array": [100 * (interval[1] - m["fraction"])],
                "arrayminus": [100 * (m["fraction"] - interval[0])],
                "color": "#009E73",
                "thickness": 2,
            },
            hovertemplate=f"minimal set: {m['size']} neurons"
            + (
                f" [{m['size_interval'][0]:.0f}, {m['size_interval'][1]:.0f}]"
                if m.get("size_interval")
                else ""
            )
            + "<br>%{y:.2f}%<extra></extra>",
        )
    )
    fig.update_xaxes(
        type="log",
        title="neurons used (% of all, log scale)",
        tickvals=list(x),
        ticktext=[f"{t:g}" for t in x],
        tickangle=0,
    )
    fig.update_yaxes(title=f"{split} accuracy (%)")
    bands = "bands: 95% intervals" if on_test else "band: central 95% of random draws"
    fig = _layout(fig, f"{subject(result)}: accuracy vs neurons ({bands})")
    fig.update_layout(
        legend={"orientation": "h", "yanchor": "top", "y": -0.25, "x": 0}, margin={"b": 100}
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
    return _layout(fig, title, height=max(420, 22 * top + 160))


def layer_figure(results, *, measure: str = "share", which: str = "minimal") -> go.Figure:
    """Per-layer bars (count or share of the minimal set or a top-k set) for one or more tasks,
    with per-layer probe accuracy as lines on a second axis."""
    from plotly.subplots import make_subplots

    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for i, r in enumerate(results):
        dist = r.layers["minimal"] if which == "minimal" else r.layers["top"][which]
        values = [100 * v for v in dist["share"]] if measure == "share" else dist["count"]
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
        if "probe_test_accuracy" in r.layers:
            accuracy = r.layers["probe_test_accuracy"]
            ci = r.layers.get("probe_test_ci")
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
    return _layout(fig, "where the neurons are, layer by layer")


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
    return _layout(
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
    return _layout(fig, "layer distribution, normalised by depth")


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
    return _layout(fig, "how distributed is the information?")


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
    return _layout(
        fig,
        f"{overlap['model']}: minimal-set overlap between tasks, observed / chance Jaccard",
        height=380,
    )


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
    return _layout(fig, f"neuron {neuron_label}: activation by class (test split)")


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
    return _layout(fig, title, height=620)


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
            x=[m["size"], m["size"]],
            y=[low, 100 * result.oracle[f"{split}_accuracy"]],
            mode="lines",
            name=f"minimal set ({m['size']} neurons)",
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
        y=100 * result.oracle[f"{split}_accuracy"],
        line={"color": "black", "dash": "dot"},
        annotation_text="all neurons",
    )
    fig.update_xaxes(type="log", title="neurons (top-k of the ranking, log scale)")
    fig.update_yaxes(title=f"{split} accuracy (%)")
    return _layout(fig, f"{subject(result)}: how many neurons are enough?")


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
    return _layout(fig, title, height=520)


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
    return _layout(fig, "ranking stability of the top neurons" + (f" (k = {k})" if k else ""))


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
    return _layout(fig, title)


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
    return _layout(fig, "extra accuracy drop over random neurons", height=380)
