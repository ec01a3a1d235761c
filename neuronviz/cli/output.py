"""Text the CLI prints: aligned tables and the summary of one analysis, every number with its interval and every fit with its convergence."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from neuronviz.errors import visible
from neuronviz.store.result_parts import ControlFit, GridPoint, OracleFit, QualityAtSize

__all__ = ["format_summary"]


def text_table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    """Plain aligned text table."""
    cells = [[visible(str(c)) for c in header]] + [[visible(str(c)) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def say(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}"


def _weighting(result) -> str:
    if result.method not in ("lca", "lasso"):
        return ""
    return f", {result.ranking.weighting} class weighting"


def _separations(point: GridPoint) -> str:
    by = point.separation_by_weighting
    if not by:
        return "-" if point.separation is None else f"{100 * point.separation:.2f}"
    return " ".join(f"{v[0]}:{100 * s:.2f}" for v, s in by.items())


def ci_text(value: float | None, ci, scale: float = 100, digits: int = 2) -> str:
    """``94.87 [94.61, 95.13]``: a value with its 95% interval ("-" when there is none)."""
    from neuronviz.reports.tables import with_ci

    return with_ci(value, ci, scale, digits) or "-"


def _fit(record: OracleFit | ControlFit | None) -> str:
    if not record or record.kkt_max is None:
        return ""
    state = "converged" if record.converged else "NOT CONVERGED"
    return (
        f"KKT {record.kkt_max:.1e} ({state}, tol {record.kkt_tol or 1e-4:.0e}, {record.n_iter} it)"
    )


def _quality_rows(q: dict[str, QualityAtSize]) -> list[list[object]]:
    return [
        [
            f"{p}%",
            v.size,
            ci_text(v.top, v.top_ci, digits=1),
            f"{pct(v.random_mean)} +- {pct(v.random_std)} ({len(v.random_draws or [])})",
            "-" if v.top_percentile is None else f"{v.top_percentile:.0f}",
            "-" if v.p_top_vs_random is None else f"{v.p_top_vs_random:.3g}",
            ci_text(v.bottom, v.bottom_ci, digits=1),
            "-" if v.p_random_vs_bottom is None else f"{v.p_random_vs_bottom:.3g}",
            "yes" if v.beats_random else "NO",
        ]
        for p, v in q.items()
    ]


def format_summary(result) -> str:
    """A short text report of one analysis (what ``neuronviz probe`` prints): every accuracy
    with its 95% interval (bootstrap over sentences), every fit with its convergence."""
    ranked = result.neuron_ranking().ranked
    lines = [
        f"{result.model} x {result.task}  ({result.n_neurons} neurons, {result.words['train']} training words, ranking: {result.method}{_weighting(result)}; the ranking orders {ranked} neurons, the rest tie)",
        "",
    ]
    lines += _search_lines(result)
    lines += _fit_lines(result, ranked)
    lines += _quality_lines(result)
    lines += _layer_lines(result)
    return "\n".join(lines)


def _search_lines(result) -> list[str]:
    """The lambda grid: every pair's dev accuracy, separation, sparsity and convergence."""
    lines = [
        f"lambda search ({result.lambda_search.rule} rule, tolerance {result.lambda_search.tolerance} points; dev accuracy on a {result.lambda_search.grid_words}-word prefix):",
    ]
    rows = [
        [
            f"{p.lambda1:g}",
            f"{p.lambda2:g}",
            pct(p.dev_accuracy),
            _separations(p),
            f"{p.zero_weight_fraction:.3f}",
            f"{p.kkt_max:.1e}" + ("" if p.converged else " NOT converged"),
            "<- chosen" if (p.lambda1, p.lambda2) == tuple(result.lambda_search.chosen) else "",
        ]
        for p in result.lambda_search.points
    ]
    lines += [
        "  " + line
        for line in text_table(
            rows,
            [
                "lambda1",
                "lambda2",
                "dev %",
                "separation (u: uniform, f: frequency)",
                "zero w",
                "KKT",
                "",
            ],
        ).splitlines()
    ]
    return lines


def _fit_lines(result, ranked: int) -> list[str]:
    """The oracle, the minimal set with its chance level, the control task, retrained probes."""
    o, m = result.oracle, result.minimal
    lines: list[str] = []
    lines += [
        "",
        "95% intervals in brackets (bootstrap over sentences)",
        f"oracle (all neurons): test {ci_text(o.test_accuracy, o.test_accuracy_ci)}%  dev {pct(o.dev_accuracy)}%  macro-F1 {pct(o.macro_f1)}  "
        f"objective {o.objective:.4f}  {_fit(o)}  zero weights {100 * o.zero_weight_fraction:.1f}%  "
        f"unused neurons {o.unused_neurons}",
        f"minimal set: {ci_text(m.size, m.size_interval, 1, 0)} neurons ({ci_text(m.fraction, m.fraction_interval)}%)  "
        f"test {ci_text(m.test_accuracy, m.test_accuracy_ci)}%  dev {pct(m.dev_accuracy)}% "
        f"(threshold {pct(m.threshold)}%{'' if m.reached else ', NOT reached'})",
    ]
    if m.chance_share is not None:
        lines.append(
            f"  chance level: random neurons need {ci_text(m.chance_share, m.chance_share_interval, digits=1)}% "
            f"of the neurons for the same dev accuracy; minimal / chance {ci_text(m.localization, m.localization_interval, 1, 3)}"
        )
        if m.chance_extrapolated:
            lines.append(
                f"  (in {100 * m.chance_extrapolated:.0f}% of the resamples random sets stay "
                "below the threshold at every measured size: the crossing is interpolated toward "
                "all neurons, which reach the oracle's accuracy)"
            )
    if m.beyond_ranked:
        lines.append(
            f"  note: the minimal set is larger than the {ranked} neurons the ranking orders; "
            "its last neurons are a random choice among the tied rest"
        )
    if result.control:
        c = result.control
        lines.append(
            f"control task: test {ci_text(c.test_accuracy, c.test_accuracy_ci)}%  {_fit(c)}; "
            f"selectivity {ci_text(c.selectivity, c.selectivity_ci)} points; "
            f"minimal set control {pct(c.minimal_test_accuracy)}%  selectivity {ci_text(c.minimal_selectivity, c.minimal_selectivity_ci)}"
        )
    if o.retrained:
        lines.append(
            f"retrained probes: {o.retrained_converged} of {o.retrained} reached their "
            f"gradient tolerance (largest gradient {o.retrained_grad_max:.1e})"
        )
    return lines


def _quality_lines(result) -> list[str]:
    """Top vs random vs bottom neurons at each size, with the test behind "beats random"."""
    q = result.ranking_quality
    lines: list[str] = []
    lines += [
        "",
        "ranking quality (retrained, test %; random: mean +- sd (draws); top percentile among "
        "the random draws and one-sided p; bottom: the method's lowest, over tie orders):",
    ]
    lines += [
        "  " + line
        for line in text_table(
            _quality_rows(q),
            [
                "neurons",
                "size",
                "top",
                "random",
                "top pct",
                "p",
                "bottom",
                "p random>bottom",
                "beats random",
            ],
        ).splitlines()
    ]
    if not all(v.beats_random for v in q.values()):
        lines.append(
            "  WARNING: the ranking does not beat random neurons (p < 0.05) at every size; "
            "top-neuron charts are not meaningful there."
        )
    return lines


def _layer_lines(result) -> list[str]:
    """The minimal set by layer, per-layer probes, warnings and stage times."""
    lines: list[str] = []
    counts = result.layers.minimal.count
    lines += [
        "",
        "minimal set by layer: "
        + "  ".join(f"{name}: {c}" for name, c in zip(result.layer_names, counts, strict=True)),
    ]
    if result.layers.probe_test_accuracy is not None:
        lines.append(
            "per-layer probes (test %): "
            + "  ".join(f"{pct(a)}" for a in result.layers.probe_test_accuracy)
        )
    lines += [f"note: {w}" for w in result.warnings]
    lines.append("time (s): " + ", ".join(f"{k} {v:.0f}" for k, v in result.timings.items()))
    return lines
