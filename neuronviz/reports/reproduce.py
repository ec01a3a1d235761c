"""Reproducing the paper's study: the grid model x task with its settings, and a report.

``run_reproduction`` analyses every model x task with the study's settings (last-subword
vectors, probes on the first 150,000 training tokens, minimal set within 1% of the oracle,
relative, as in the paper), reusing cached activations and results. The lambdas are chosen on
dev by neuronviz's separation rule with the class weighting chosen on dev (the default), or by
the paper's own rule, best dev accuracy with every class weighted alike (``paper=True``,
``neuronviz reproduce --paper``); every row of the report says which rule and weighting it used.
``write_report`` turns the results into ``report.md`` with figures (PNG and SVG) and the
numbers behind them (JSON, CSV), every number with its 95% interval and every comparison with
its chance level and test; when the other settings' results are cached too, the report shows
where their verdicts differ. The dashboard's Paper page shows the same tables and verdicts from
the same functions.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from neuronviz.analyses.run import run_analysis
from neuronviz.errors import NeuronvizError
from neuronviz.progress import Progress, ProgressCallback
from neuronviz.reports.compare import compare_models, compare_tasks, verdicts
from neuronviz.reports.findings import Finding, depth_interval, findings, mean_depth
from neuronviz.reports.runs import record_run, result_references
from neuronviz.reports.study import ReproduceSettings
from neuronviz.reports.tables import fits_row, main_row, quality_row, with_ci
from neuronviz.settings import resolve_cache_dir
from neuronviz.store.results import AnalysisResult

__all__ = ["report_tables", "reproduce", "run_reproduction", "write_report"]

log = logging.getLogger(__name__)


def cached_reproduction(
    settings: ReproduceSettings,
    *,
    cache: str | Path | None = None,
    data_dir: str | Path | None = None,
) -> list[AnalysisResult] | None:
    """The study's results if every one of them is in the cache already, else None (computes
    and extracts nothing)."""
    from neuronviz.extraction.extract import ExtractionSettings
    from neuronviz.extraction.fill_cache import cached_entries
    from neuronviz.store.result_store import ResultStore

    store = ResultStore(resolve_cache_dir(cache))
    found = []
    for model in settings.models:
        for task in settings.tasks:
            try:
                entries = cached_entries(
                    model,
                    task,
                    cache=cache,
                    data_dir=data_dir,
                    max_sentences=settings.max_sentences,
                    settings=ExtractionSettings(),
                )
            except NeuronvizError:
                return None
            key = store.key(entries, task, settings.analysis(model))
            result = store.load(entries["train"].manifest.key.model, key)
            if result is None:
                return None
            found.append(result)
    return found


def run_reproduction(
    settings: ReproduceSettings,
    *,
    cache: str | Path | None = None,
    data_dir: str | Path | None = None,
    device: str = "auto",
    callback: ProgressCallback | None = None,
) -> list[AnalysisResult]:
    """Analyse every model x task (cached ones load instantly); returns the results in order."""
    pairs = [(m, t) for m in settings.models for t in settings.tasks]
    results = []
    with Progress("reproduce", len(pairs), unit="analysis", callback=callback) as progress:
        for i, (model, task) in enumerate(pairs):
            log.info("reproduce %d/%d: %s x %s", i + 1, len(pairs), model, task)
            results.append(
                run_analysis(
                    model,
                    task,
                    settings=settings.analysis(model),
                    cache=cache,
                    data_dir=data_dir,
                    max_sentences=settings.max_sentences,
                    device=device,
                )
            )
            progress.update()
    return results


def report_tables(results: Sequence[AnalysisResult]) -> dict[str, pd.DataFrame]:
    """The report's tables: per model x task (numbers with 95% intervals and chance levels),
    the fits behind them, ranking quality, layers and task overlap."""
    main = pd.DataFrame([main_row(r) for r in results])
    fits = pd.DataFrame([fits_row(r) for r in results])
    quality = pd.DataFrame(
        [quality_row(r, size, q) for r in results for size, q in r.ranking_quality.items()]
    )
    layers = pd.DataFrame(
        [
            {
                "model": r.model,
                "task": r.task,
                "mean relative depth": with_ci(mean_depth(r), depth_interval(r)[1], 1, 3),
                **{name: c for name, c in zip(r.layer_names, r.layers.minimal.count, strict=True)},
            }
            for r in results
        ]
    )
    overlap_rows = []
    by_model: dict[str, list[AnalysisResult]] = {}
    for r in results:
        by_model.setdefault(r.model, []).append(r)
    for model, mine in by_model.items():
        if len(mine) < 2:
            continue
        summary = compare_tasks(mine)
        for p in summary["pairs"]:
            overlap_rows.append(
                {
                    "model": model,
                    "tasks": " / ".join(p["tasks"]),
                    "shared neurons": p["intersection"],
                    "jaccard": round(p["jaccard"], 3),
                    "expected jaccard (chance)": round(p["expected_jaccard"], 3),
                    "observed / chance": with_ci(p["ratio"], p["ratio_interval"], 1, 2),
                    "p (overlap > chance)": f"{p['p_value']:.2g}",
                }
            )
    return {
        "main": main,
        "fits": fits,
        "quality": quality,
        "layers": _counts_as_integers(layers, skip=("model", "task", "mean relative depth")),
        "overlap": pd.DataFrame(overlap_rows),
    }


def _figures(results: Sequence[AnalysisResult]) -> dict[str, object]:
    from neuronviz.figures.comparison import (
        depth_profile_figure,
        layer_figure,
        minimal_share_figure,
        overlap_matrix_figure,
        reach_figure,
    )
    from neuronviz.figures.curves import curves_figure

    report = compare_models(results)
    figs: dict[str, object] = {
        "minimal-share": minimal_share_figure(report["rows"]),
        "depth-profile": depth_profile_figure(report["rows"]),
        "reach": reach_figure(report["rows"]),
    }
    by_model: dict[str, list[AnalysisResult]] = {}
    for r in results:
        by_model.setdefault(r.model, []).append(r)
    for model, mine in by_model.items():
        figs[f"layers-{model}"] = layer_figure(mine)
        if len(mine) > 1:
            figs[f"overlap-{model}"] = overlap_matrix_figure(
                compare_tasks(mine), sorted(r.task for r in mine)
            )
        for r in mine:
            figs[f"curves-{model}-{r.task}"] = curves_figure(r)
    return figs


def _counts_as_integers(df: pd.DataFrame, skip: Sequence[str]) -> pd.DataFrame:
    """Count columns as nullable integers: models of different depths leave some layers empty,
    which would otherwise turn every deeper layer's counts into floats (``12.0``)."""
    counts = [c for c in df.columns if c not in skip]
    return df.astype(dict.fromkeys(counts, "Int64"))


def _markdown_table(df: pd.DataFrame) -> str:
    if df.empty:
        return "_none_\n"
    header = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "|" + "---|" * len(df.columns)
    rows = [
        "| " + " | ".join("" if v is None or v is pd.NA else str(v) for v in row) + " |"
        for row in df.itertuples(index=False)
    ]
    return "\n".join([header, rule, *rows]) + "\n"


def _compute_time(results: Sequence[AnalysisResult]) -> str:
    """How long the analyses took when they were computed (stored with each result)."""
    per_model: dict[str, float] = {}
    for r in results:
        per_model[r.model] = per_model.get(r.model, 0.0) + sum(r.timings.values())
    total = sum(per_model.values())
    parts = ", ".join(f"{m}: {t / 60:.1f}" for m, t in per_model.items())
    return f"Compute time of the analyses: {total / 60:.1f} minutes ({parts})."


def _verdict_differences(
    decided: Sequence[Finding], other: Sequence[Finding] | None, settings: ReproduceSettings
) -> list[str]:
    """The report's section on the other lambda rule: each finding's verdict under both."""
    other_name = "`--paper`" if not settings.paper else "the default"
    here = "`--paper`" if settings.paper else "the default"
    lines = ["## The paper's lambda rule and neuronviz's default", ""]
    if other is None:
        return [
            *lines,
            f"The results of this study with {other_name} settings are not in the cache: run "
            f"`{settings.other().command()}` and then this command again to see where the "
            "verdicts differ.",
            "",
        ]
    rows = [
        f"| {a.claim} | **{a.verdict}** | **{b.verdict}** | {'same' if a.verdict == b.verdict else 'differs'} |"
        for a, b in zip(decided, other, strict=True)
    ]
    return [
        *lines,
        f"The same study with {other_name} settings (`{settings.other().command()}`, "
        "from the cache):",
        "",
        f"| finding | {here} | {other_name} | |",
        "|---|---|---|---|",
        *rows,
        "",
    ]


def _json_safe(value):
    """NaN and infinities as null: results.json must be strict JSON."""
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def write_report(
    results: Sequence[AnalysisResult],
    out_dir: str | Path,
    settings: ReproduceSettings,
    *,
    images: bool = True,
    other: Sequence[AnalysisResult] | None = None,
) -> Path:
    """Write ``report.md``, figures (PNG + SVG) and ``results.json``/CSV tables to ``out_dir``.

    ``out_dir`` ending in ``.md`` names the report file itself; its figures and tables then go
    to the folder of the same name beside it (``docs/reproduction.md`` and
    ``docs/reproduction/``), so a report can live among other documents. ``other`` are the
    study's results with the other lambda rule (:meth:`ReproduceSettings.other`), when cached:
    the report then shows where the verdicts differ.
    """
    target = Path(out_dir)
    if target.suffix == ".md":
        report, out = target, target.with_suffix("")
        link = f"{out.name}/figures"
    else:
        report, out = target / "report.md", target
        link = "figures"
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    decided = findings(results)
    decided_other = findings(other) if other else None
    tables = report_tables(results)
    for name, df in tables.items():
        df.to_csv(out / f"{name}.csv", index=False)
    comparison = compare_models(results)
    numbers = _report_numbers(results, settings, decided, decided_other, other, comparison)
    (out / "results.json").write_text(json.dumps(numbers, indent=1), encoding="utf-8")
    figures = _figures(results) if images else {}
    _write_figures(figures, fig_dir)
    lines = _report_head(results, settings, decided)
    lines += _verdict_differences(decided, decided_other, settings)
    lines += _report_tables_text(tables, verdicts(comparison["rows"], results))
    for name in figures:
        lines += [f"![{name}]({link}/{name}.png)", ""]
    report.write_text("\n".join(lines), encoding="utf-8")
    log.info("wrote %s", report)
    return report


def _report_numbers(results, settings, decided, decided_other, other, comparison) -> dict:
    """What ``results.json`` holds: the command and settings, every result's summary and
    reference, the findings, the cross-model comparison and the other rule's verdicts."""
    return _json_safe(
        {
            "command": settings.command(),
            "settings": asdict(settings),
            "analysis_settings": {m: settings.analysis(m).to_dict() for m in settings.models},
            "results": result_references(results),
            "findings": [f.to_dict() for f in decided],
            "other_settings": None
            if decided_other is None
            else {
                "command": settings.other().command(),
                "results": result_references(other or []),
                "verdicts": {f.key: f.verdict for f in decided_other},
            },
            "summaries": [r.summary() for r in results],
            "comparison": comparison,
        }
    )


def _write_figures(figures: dict[str, object], fig_dir: Path) -> None:
    """Every figure as PNG and SVG, in one browser session (a separate ``write_image`` per
    file starts one each)."""
    if not figures:
        return
    import plotly.io as pio

    pio.write_images(
        [fig for fig in figures.values() for _ in ("png", "svg")],
        [fig_dir / f"{name}.{ext}" for name in figures for ext in ("png", "svg")],
        width=1000,
        height=560,
        scale=1,
    )


def _report_head(results, settings: ReproduceSettings, decided) -> list[str]:
    """The title, the command, what was run and how to read it, and the findings."""
    lines = [
        "# Reproducing Durrani et al. (EMNLP 2020) with neuronviz",
        "",
        "Generated by:",
        "",
        "```bash",
        settings.command(),
        "```",
        "",
        f"Models: {', '.join(settings.models)}. Tasks: {', '.join(settings.tasks)}. "
        f"Probes on the first {settings.caps_text()} training tokens; lambdas chosen by "
        f"{settings.rule_text()} (each row below says which rule and weighting it used); "
        f"minimal set: the smallest top-ranked set whose retrained dev accuracy is at least "
        f"oracle x (1 - {settings.delta:g}/100); seed {settings.seed}. {_compute_time(results)}",
        "",
        "Every elastic-net fit runs until its largest KKT violation is at most 1e-4 (the fits "
        "table says whether it got there). Numbers in brackets are 95% intervals: accuracies by "
        "a bootstrap over test sentences, minimal-set sizes by a bootstrap over dev sentences "
        "(where the retrained prefix curve crosses the threshold). Every comparison is made "
        "against its chance level and decided by the test named with it at the 5% level, one "
        "comparison at a time; a comparison the data cannot decide is **not significant**.",
        "",
        "## Findings",
        "",
        "| finding | verdict |",
        "|---|---|",
        *[f"| {f.claim} | **{f.verdict}** |" for f in decided],
        "",
    ]
    for f in decided:
        lines += [f"### {f.claim}", "", f"Rule: {f.rule}", "", f"Test: {f.test}.", ""]
        lines += [f"Verdict: **{f.verdict}**.", ""]
        lines += [f"- {e}" for e in f.evidence] + [""]
    return lines


def _report_tables_text(tables: dict[str, pd.DataFrame], across: list[str]) -> list[str]:
    """The report's tables in Markdown, and the verdicts across models."""
    lines = ["## Every model x task", "", _markdown_table(tables["main"])]
    lines += ["## The fits behind them", "", _markdown_table(tables["fits"])]
    lines += ["## Top, random and bottom neurons (retrained, test accuracy)", ""]
    lines += [_markdown_table(tables["quality"])]
    lines += [
        "## Where the minimal sets sit (neurons per layer)",
        "",
        _markdown_table(tables["layers"]),
    ]
    lines += ["## Overlap between tasks (minimal sets, within each model, against chance)", ""]
    lines += [_markdown_table(tables["overlap"])]
    lines += ["## Across models", ""]
    lines += [f"- {v}" for v in across] + [""]
    return lines


def reproduce(
    settings: ReproduceSettings,
    out_dir: str | Path,
    *,
    cache: str | Path | None = None,
    data_dir: str | Path | None = None,
    device: str = "auto",
    images: bool = True,
    callback: ProgressCallback | None = None,
) -> tuple[Path, list[Finding]]:
    """Run the study and write its report; returns the report's path and the findings."""
    start = time.perf_counter()
    results = run_reproduction(
        settings, cache=cache, data_dir=data_dir, device=device, callback=callback
    )
    other = cached_reproduction(settings.other(), cache=cache, data_dir=data_dir)
    report = write_report(results, out_dir, settings, images=images, other=other)
    record_run(results, settings, report, cache)
    log.info("reproduce took %.1f minutes", (time.perf_counter() - start) / 60)
    return report, findings(results)
