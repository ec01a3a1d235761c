"""One row per analysis for the tables the report, the dashboard and the CLI show.

Every accuracy comes with its 95% interval (``94.87 [94.61, 95.13]``), every minimal set with
the interval of its size and its chance level, every fit with its convergence; the rows name
the lambda rule and class weighting each analysis used.
"""

from __future__ import annotations

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


def fit_status(record: dict | None) -> str:
    """``converged, KKT 9.8e-05 <= 1e-04`` or ``NOT converged, KKT 3.2e-04 > 1e-04``."""
    if not record or record.get("kkt_max") is None:
        return ""
    tol = record.get("kkt_tol", 1e-4)
    if record.get("converged"):
        return f"converged, KKT {record['kkt_max']:.1e} <= {tol:.0e}"
    return f"NOT converged, KKT {record['kkt_max']:.1e} > {tol:.0e}"


def main_row(r: AnalysisResult) -> dict:
    m, c = r.minimal, r.control
    return {
        "model": r.model,
        "task": r.task,
        "classes": len(r.classes),
        "neurons": r.n_neurons,
        "train words": r.words["train"],
        "lambda rule": r.lambda_search["rule"],
        "weighting": r.ranking.get("weighting", "uniform") if r.method in ("lca", "lasso") else "",
        "lambdas": f"{r.oracle['lambda1']:g}, {r.oracle['lambda2']:g}",
        "oracle %": with_ci(r.oracle["test_accuracy"], r.oracle.get("test_accuracy_ci")),
        "minimal set": with_ci(m["size"], m.get("size_interval"), 1, 0),
        "minimal % of neurons": with_ci(m["fraction"], m.get("fraction_interval")),
        "chance % of neurons": with_ci(
            m.get("chance_share"), m.get("chance_share_interval"), 100, 1
        ),
        "minimal / chance": with_ci(m.get("localization"), m.get("localization_interval"), 1, 3),
        "minimal %": with_ci(m["test_accuracy"], m.get("test_accuracy_ci")),
        "control %": "" if c is None else with_ci(c["test_accuracy"], c.get("test_accuracy_ci")),
        "selectivity": "" if c is None else with_ci(c["selectivity"], c.get("selectivity_ci")),
    }


def fits_row(r: AnalysisResult) -> dict:
    o = r.oracle
    grid = r.lambda_search.get("points", [])
    return {
        "model": r.model,
        "task": r.task,
        "oracle KKT": fit_status(o),
        "oracle iterations": o.get("n_iter"),
        "control KKT": fit_status(r.control),
        "grid fits converged": f"{sum(bool(p.get('converged')) for p in grid)} of {len(grid)}",
        "retrained converged": f"{o.get('retrained_converged', '')} of {o.get('retrained', '')}",
        "ranked neurons": r.neuron_ranking().ranked,
    }


def quality_row(r: AnalysisResult, size: str, q: dict) -> dict:
    draws = q.get("random_draws") or []
    return {
        "model": r.model,
        "task": r.task,
        "size": f"{size}%",
        "neurons": q["size"],
        "top %": with_ci(q["top"], q.get("top_ci")),
        "random %": f"{100 * q['random_mean']:.2f} +- {100 * q['random_std']:.2f}",
        "random draws": len(draws),
        "top percentile": "" if q.get("top_percentile") is None else f"{q['top_percentile']:.0f}",
        "p top > random": "" if q.get("p_top_vs_random") is None else f"{q['p_top_vs_random']:.3g}",
        "bottom %": with_ci(q["bottom"], q.get("bottom_ci")),
        "bottom tie orders": len(q.get("bottom_draws") or [0]),
        "p random > bottom": ""
        if q.get("p_random_vs_bottom") is None
        else f"{q['p_random_vs_bottom']:.3g}",
    }


def overview_row(r: AnalysisResult, split: str = "test") -> dict:
    """The dashboard overview's row: headline numbers on ``split`` with intervals (test split)
    and chance levels, the 1% ranking quality with its test, the fits and the settings."""
    m, c, o = r.minimal, r.control, r.oracle
    q = r.ranking_quality.get("1", {})
    on_test = split == "test"
    return {
        "task": r.task,
        "classes": len(r.classes),
        f"oracle {split} %": with_ci(o[f"{split}_accuracy"], o.get(f"{split}_accuracy_ci")),
        "oracle fit": fit_status(o),
        "minimal set": with_ci(m["size"], m.get("size_interval"), 1, 0),
        "minimal % of neurons": with_ci(m["fraction"], m.get("fraction_interval")),
        "chance % of neurons": with_ci(
            m.get("chance_share"), m.get("chance_share_interval"), 100, 1
        ),
        "minimal / chance": with_ci(m.get("localization"), m.get("localization_interval"), 1, 3),
        f"minimal {split} %": with_ci(
            m[f"{split}_accuracy"], m.get("test_accuracy_ci") if on_test else None
        ),
        "top 1% acc": with_ci(q.get("top"), q.get("top_ci")),
        "random 1% acc": ""
        if not q
        else f"{100 * q['random_mean']:.2f} +- {100 * q['random_std']:.2f} "
        f"({len(q.get('random_draws') or [])} draws)",
        "top 1% percentile (p)": ""
        if q.get("p_top_vs_random") is None
        else f"{q['top_percentile']:.0f} (p = {q['p_top_vs_random']:.3g})",
        "bottom 1% acc": with_ci(q.get("bottom"), q.get("bottom_ci")),
        "control %": "" if c is None else with_ci(c["test_accuracy"], c.get("test_accuracy_ci")),
        "control fit": "" if c is None else fit_status(c),
        "selectivity": "" if c is None else with_ci(c["selectivity"], c.get("selectivity_ci")),
        "ranked neurons": f"{r.neuron_ranking().ranked} of {r.n_neurons}",
        "lambda rule": r.lambda_search["rule"],
        "ranking": r.method
        + (f" ({r.ranking.get('weighting', 'uniform')})" if r.method in ("lca", "lasso") else ""),
        "lambda1": o["lambda1"],
        "lambda2": o["lambda2"],
    }


def unconverged(r: AnalysisResult) -> list[str]:
    """The fits of ``r`` that did not reach their KKT tolerance, in words."""
    out = []
    for name, record in (("oracle", r.oracle), ("control", r.control)):
        if record and record.get("converged") is False:
            out.append(f"the {name} fit (KKT {record['kkt_max']:.1e} > {record['kkt_tol']:.0e})")
    grid = [p for p in r.lambda_search.get("points", []) if p.get("converged") is False]
    if grid:
        out.append(f"{len(grid)} of the lambda grid's fits")
    return out
