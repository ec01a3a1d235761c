"""The record of the last reproduction run, so the dashboard's Paper page shows the results of that run and not others cached beside them."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path

from neuronviz.reports.study import ReproduceSettings
from neuronviz.settings import resolve_cache_dir
from neuronviz.store.files import atomic_write_json
from neuronviz.store.results import AnalysisResult

__all__ = ["last_run", "record_run", "results_of_run"]

log = logging.getLogger(__name__)


def _run_record(cache: str | Path | None) -> Path:
    return resolve_cache_dir(cache) / "reports" / "last-reproduction.json"


def record_run(
    results: Sequence[AnalysisResult],
    settings: ReproduceSettings,
    report: Path,
    cache: str | Path | None = None,
) -> Path:
    """Note in the cache which stored results the last report was made of.

    A cache holds several analyses of one model x task (other token caps, a ``--quick`` run);
    the dashboard's Paper page reads this note to show the report's own results rather than
    whichever analysis of each pair it would otherwise prefer.
    """
    path = _run_record(cache)
    atomic_write_json(
        path,
        {
            "command": settings.command(),
            "report": str(Path(report).resolve()),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "results": result_references(results),
        },
    )
    return path


def last_run(cache: str | Path | None = None) -> dict | None:
    """The note :func:`record_run` left, or None when there is none (or it cannot be read)."""
    path = _run_record(cache)
    if not path.is_file():
        return None
    try:
        run = json.loads(path.read_text(encoding="utf-8"))
        if not all({"model", "task", "key"} <= set(item) for item in run["results"]):
            raise ValueError("a result without model, task or key")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring %s: %s (the next neuronviz reproduce rewrites it)", path, exc)
        return None
    return run


def results_of_run(results: Sequence[AnalysisResult], run: dict) -> list[AnalysisResult]:
    """The stored results a recorded run used, in its order (those since removed left out)."""
    by_key = {(r.model, r.task, r.key): r for r in results}
    wanted = [(item["model"], item["task"], item["key"]) for item in run["results"]]
    return [by_key[w] for w in wanted if w in by_key]


def result_references(results: Sequence[AnalysisResult]) -> list[dict[str, str]]:
    """Which stored results (model, task, result key) a report was made of."""
    return [{"model": r.model, "task": r.task, "key": r.key} for r in results]
