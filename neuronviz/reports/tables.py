"""One row per analysis for the tables the report, the dashboard and the CLI show.

Every accuracy comes with its 95% interval (``94.87 [94.61, 95.13]``), every minimal set with
the interval of its size and its chance level, every fit with its convergence; the rows name
the lambda rule and class weighting each analysis used.
"""

from __future__ import annotations

from neuronviz.analyses.previews import is_preview, undecided
from neuronviz.store.result_parts import ControlFit, OracleFit, QualityAtSize
from neuronviz.store.results import AnalysisResult

__all__ = [
    "fit_status",
    "fits_row",
    "main_row",
    "overview_row",
    "quality_row",
    "unconverged",
    "with_ci",
]


def with_ci(value: float | None, ci, scale: float = 100, digits: int = 2) -> str:
    """``94.87 [94.61, 95.13]``: a number with its 95% interval."""
    if value is None:
        return ""
    text = f"{scale * value:.{digits}f}"
    if ci:
        text += f" [{scale * ci[0]:.{digits}f}, {scale * ci[1]:.{digits}f}]"
    return text


def _blank(value: object) -> object:
    return "" if value is None else value


def _sd(q: QualityAtSize) -> str:
    return "-" if q.random_std is None else f"{100 * q.random_std:.2f}"


def fit_status(record: OracleFit | ControlFit | None) -> str:
    """``converged, KKT 9.8e-05 <= 1e-04`` or ``NOT converged, KKT 3.2e-04 > 1e-04``."""
    if not record or record.kkt_max is None:
        return ""
    tol = record.kkt_tol or 1e-4
    if record.converged:
        return f"converged, KKT {record.kkt_max:.1e} <= {tol:.0e}"
    return f"NOT converged, KKT {record.kkt_max:.1e} > {tol:.0e}"


def main_row(r: AnalysisResult) -> dict:
    m, c = r.minimal, r.control
    return {
        "model": r.model,
        "task": r.task,
        "classes": len(r.classes),
        "neurons": r.n_neurons,
        "train words": r.words["train"],
        "lambda rule": r.lambda_search.rule,
        "weighting": r.ranking.weighting if r.method in ("lca", "lasso") else "",
        "lambdas": f"{r.oracle.lambda1:g}, {r.oracle.lambda2:g}",
        "oracle %": with_ci(r.oracle.test_accuracy, r.oracle.test_accuracy_ci),
        "minimal set": with_ci(m.size, m.size_interval, 1, 0),
        "minimal % of neurons": with_ci(m.fraction, m.fraction_interval),
        "chance % of neurons": with_ci(m.chance_share, m.chance_share_interval, 100, 1),
        "minimal / chance": with_ci(m.localization, m.localization_interval, 1, 3),
        "minimal %": with_ci(m.test_accuracy, m.test_accuracy_ci),
        "control %": "" if c is None else with_ci(c.test_accuracy, c.test_accuracy_ci),
        "selectivity": "" if c is None else with_ci(c.selectivity, c.selectivity_ci),
    }


def fits_row(r: AnalysisResult) -> dict:
    o = r.oracle
    grid = r.lambda_search.points
    return {
        "model": r.model,
        "task": r.task,
        "oracle KKT": fit_status(o),
        "oracle iterations": o.n_iter,
        "control KKT": fit_status(r.control),
        "grid fits converged": f"{sum(bool(p.converged) for p in grid)} of {len(grid)}",
        "retrained converged": f"{_blank(o.retrained_converged)} of {_blank(o.retrained)}",
        "ranked neurons": r.neuron_ranking().ranked,
    }


def quality_row(r: AnalysisResult, size: str, q: QualityAtSize) -> dict:
    draws = q.random_draws or []
    return {
        "model": r.model,
        "task": r.task,
        "size": f"{size}%",
        "neurons": q.size,
        "top %": with_ci(q.top, q.top_ci),
        "random %": f"{100 * q.random_mean:.2f} +- {_sd(q)}",
        "random draws": len(draws),
        "top percentile": "" if q.top_percentile is None else f"{q.top_percentile:.0f}",
        "p top > random": "" if q.p_top_vs_random is None else f"{q.p_top_vs_random:.3g}",
        "bottom %": with_ci(q.bottom, q.bottom_ci),
        "bottom tie orders": len(q.bottom_draws or [0]),
        "p random > bottom": "" if q.p_random_vs_bottom is None else f"{q.p_random_vs_bottom:.3g}",
    }


def analysis_row(r: AnalysisResult) -> dict:
    """The Start page's row of one analysis: full or preview, the headline numbers with their
    intervals (a preview's undecided figures say so) and whether the ranking beats random."""
    preview, open_figures = is_preview(r), undecided(r)
    c = r.control
    return {
        "model": r.model,
        "task": r.task,
        "kind": f"preview ({r.preview.sentences} sentences a split)" if r.preview else "full",
        "oracle accuracy %": with_ci(r.oracle.test_accuracy, r.oracle.test_accuracy_ci),
        "minimal set": open_figures.get("minimal set")
        or f"{r.minimal.size} ({100 * r.minimal.fraction:.1f}%)",
        "selectivity": "full analysis only"
        if c is None and preview
        else ("" if c is None else with_ci(c.selectivity, c.selectivity_ci)),
        "ranking beats random": all(v.beats_random for v in r.ranking_quality.values()),
    }


def overview_row(r: AnalysisResult, split: str = "test") -> dict:
    """The dashboard overview's row: headline numbers on ``split`` with intervals (test split)
    and chance levels, the 1% ranking quality with its test, the fits and the settings."""
    m, c, o = r.minimal, r.control, r.oracle
    q = r.ranking_quality.get("1")
    on_test = split == "test"
    return {
        "task": r.task,
        "classes": len(r.classes),
        f"oracle {split} %": with_ci(o.accuracy(split), o.accuracy_ci(split)),
        "oracle fit": fit_status(o),
        "minimal set": with_ci(m.size, m.size_interval, 1, 0),
        "minimal % of neurons": with_ci(m.fraction, m.fraction_interval),
        "chance % of neurons": with_ci(m.chance_share, m.chance_share_interval, 100, 1),
        "minimal / chance": with_ci(m.localization, m.localization_interval, 1, 3),
        f"minimal {split} %": with_ci(m.accuracy(split), m.test_accuracy_ci if on_test else None),
        "top 1% acc": "" if q is None else with_ci(q.top, q.top_ci),
        "random 1% acc": ""
        if q is None
        else f"{100 * q.random_mean:.2f} +- {_sd(q)} ({len(q.random_draws or [])} draws)",
        "top 1% percentile (p)": ""
        if q is None or q.p_top_vs_random is None
        else f"{q.top_percentile:.0f} (p = {q.p_top_vs_random:.3g})",
        "bottom 1% acc": "" if q is None else with_ci(q.bottom, q.bottom_ci),
        "control %": "" if c is None else with_ci(c.test_accuracy, c.test_accuracy_ci),
        "control fit": "" if c is None else fit_status(c),
        "selectivity": "" if c is None else with_ci(c.selectivity, c.selectivity_ci),
        "ranked neurons": f"{r.neuron_ranking().ranked} of {r.n_neurons}",
        "lambda rule": r.lambda_search.rule,
        "ranking": r.method + (f" ({r.ranking.weighting})" if r.method in ("lca", "lasso") else ""),
        "lambda1": o.lambda1,
        "lambda2": o.lambda2,
    }


def unconverged(r: AnalysisResult) -> list[str]:
    """The fits of ``r`` that did not reach their KKT tolerance, in words."""
    out = []
    for name, record in (("oracle", r.oracle), ("control", r.control)):
        if record and record.converged is False:
            out.append(f"the {name} fit (KKT {record.kkt_max:.1e} > {record.kkt_tol:.0e})")
    grid = [p for p in r.lambda_search.points if p.converged is False]
    if grid:
        out.append(f"{len(grid)} of the lambda grid's fits")
    return out
