"""Helpers shared by the dashboard pages: navigation guard, cached loading, shared selection.

The chosen model, task(s) and neuron live in ``st.query_params`` so a copied URL reopens the same
view; widgets read their defaults from there and write their choice back.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from neuronviz.analyses.previews import is_preview
from neuronviz.errors import CacheError, NeuronvizError
from neuronviz.figures.text import plain, quoted
from neuronviz.models.loading import LoadedModel, load_model
from neuronviz.settings import resolve_cache_dir
from neuronviz.store.activation_cache import ActivationCache
from neuronviz.store.activations import audit_folder
from neuronviz.store.integrity import STAMP_FILE, damage_seen
from neuronviz.store.result_store import ResultStore, UnreadResult
from neuronviz.store.results import AnalysisResult, preferred

log = logging.getLogger(__name__)


@st.cache_resource(show_spinner="Loading model...")
def get_model(name: str, device: str = "auto", with_head: bool = False) -> LoadedModel:
    """One loaded model per (name, device, head) for the whole server."""
    return load_model(name, device=device, with_head=with_head)


def use_app_navigation() -> None:
    """Make sure the page runs inside ``app.py``'s navigation, even on a fresh server.

    Streamlit treats an app with a ``pages/`` folder as a legacy multipage app until
    ``st.navigation`` has run once; a deep link (``/explorer?...``) opened first on a fresh
    server would then run the page alone, with the legacy sidebar. Switching the flag and
    rerunning sends the same URL through ``app.py``. Uses a Streamlit internal, so it is
    guarded: if the internal moves, only that first deep link looks different.
    """
    if st.session_state.get("_neuronviz_frame"):
        return
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # pragma: no cover - a future Streamlit without it
        return
    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()


PRESENT_FONT = {"size": 22}


def presenting() -> bool:
    """Whether presentation mode (large type, collapsed sidebar) is on; see ``app.py``."""
    return bool(st.session_state.get("present", False))


def chart(fig, where=None, **kwargs):
    """``st.plotly_chart`` (in ``where``, a column or container) with larger type when presenting."""
    if presenting():
        # Streamlit's chart theme sets axis and legend fonts itself; our figures bring their
        # own template, so the theme is dropped and the larger type applies everywhere.
        fig.update_layout(font=PRESENT_FONT, title_font_size=26)
        kwargs.setdefault("theme", None)
    return (where or st).plotly_chart(fig, **kwargs)


def show_error(exc: NeuronvizError) -> None:
    """A neuronviz error as a readable box, never a traceback; shown as plain text, since its
    message may quote what a user typed or a link carried."""
    st.error(plain(str(exc), limit=None), icon=":material/error:")


RAISE_ENV = "NEURONVIZ_RAISE_ERRORS"  # tests set it: an unexpected error must fail them


def run_page(navigation) -> None:
    """Runs the chosen page; any error ends in a box saying what went wrong and what to do,
    never a traceback (that goes to the server log). A neuronviz error carries its own fix;
    anything else on a cache read most likely comes from files changed by hand."""
    try:
        show_cache_problems()
        navigation.run()
    except NeuronvizError as exc:
        show_error(exc)
    except Exception as exc:
        if os.environ.get(RAISE_ENV) == "1":
            raise
        log.exception("page failed")
        what = plain(f"{type(exc).__name__}: {str(exc)[:300]}", limit=None)
        st.error(
            f"This page could not be shown ({what}). If the cache folder was changed or copied "
            "by hand, run `neuronviz cache verify` to find the damaged entry, remove it and run "
            "the analysis again; otherwise this is a bug, and the server log has the details.",
            icon=":material/error:",
        )


def cache_root() -> Path:
    return resolve_cache_dir(None)


def _results_signature(root: str) -> tuple:
    return ResultStore(root).signature()


@st.cache_data(show_spinner=False, max_entries=8)
def _load_results(root: str, signature: tuple) -> tuple[list[AnalysisResult], list[UnreadResult]]:
    return ResultStore(root).scan()


@st.cache_data(show_spinner=False, max_entries=8)
def _unread_results(root: str, signature: tuple) -> list[UnreadResult]:
    """The results that could not be read, kept apart so that a page that shows no result (and
    every page shows this list) does not copy every stored result out of the cache."""
    return _load_results(root, signature)[1]


def stored_results() -> list[AnalysisResult]:
    """Every stored analysis (several per model x task when run with different settings)."""
    root = str(cache_root())
    return _load_results(root, _results_signature(root))[0]


def cache_problems() -> tuple[list[str], list[str]]:
    """What is damaged in the cache (errors) and what this version cannot read (warnings), one
    line each naming the result or entry and what to do. Cheap enough for every page view: no
    file is hashed here (a layer file is hashed when a view reads it, and a mismatch found then
    is remembered and listed here on every page)."""
    root = str(cache_root())
    errors, warnings = [], []
    for u in _unread_results(root, _results_signature(root)):
        if u.damaged:
            errors.append(
                f"result {plain(u.name)}: {plain(u.problem, limit=300)}: remove it (rm -r "
                f"{plain(str(u.folder), limit=None)}) and run the analysis again, here or with "
                "`neuronviz probe ... --force`"
            )
        else:
            warnings.append(f"result {plain(u.name)} {plain(u.problem, limit=300)}")
    for folder in activation_cache(root).entry_folders():
        problems = _entry_problems(str(folder), _entry_signature(folder), damage_seen())
        if problems:
            errors.append(
                f"activations {plain(folder.parent.name)}/{plain(folder.name)}: "
                f"{plain('; '.join(problems), limit=300)}: remove the entry "
                f"(neuronviz cache remove {plain(folder.name)}); the next analysis or "
                "`neuronviz extract` builds it again"
            )
    return errors, warnings


def _entry_signature(folder: Path) -> tuple:
    """Changes whenever a file of the entry is written, replaced, resized or touched (stats
    only; the stamps of verified reads excluded, since reading writes them)."""
    found = []
    for where, _, names in os.walk(folder):
        for name in names:
            if name != STAMP_FILE:
                st = os.stat(os.path.join(where, name))
                found.append((where, name, st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns))
    return tuple(sorted(found))


@st.cache_data(show_spinner=False, max_entries=512)
def _entry_problems(folder: str, signature: tuple, damage: int) -> list[str]:
    return audit_folder(Path(folder), checksums=False)


_SHOWN_PROBLEMS = 5


def show_cache_problems() -> None:
    """One box on every page listing damaged cache entries and results (see ``cache_problems``)."""
    errors, warnings = cache_problems()
    for lines, box in ((errors, st.error), (warnings, st.warning)):
        if not lines:
            continue
        more = len(lines) - _SHOWN_PROBLEMS
        text = "\n".join(f"- {line}" for line in lines[:_SHOWN_PROBLEMS])
        if more > 0:
            text += f"\n- and {more} more: `neuronviz cache verify` lists them all"
        what = "damaged, so not shown" if box is st.error else "not read by this version"
        box(f"Part of the cache is {what}:\n{text}", icon=":material/error:")


def all_results() -> list[AnalysisResult]:
    """One stored analysis per model x task (``results.preferred``), loaded once per change."""
    groups: dict[tuple[str, str], list[AnalysisResult]] = {}
    for r in stored_results():
        groups.setdefault((r.model, r.task), []).append(r)
    return sorted((preferred(g) for g in groups.values()), key=lambda r: (r.model, r.task))


@st.cache_resource(show_spinner=False)
def activation_cache(root: str) -> ActivationCache:
    return ActivationCache(root)


def test_entry(result: AnalysisResult):
    """The cached test-split activations a result was computed from (None if removed; a
    ``CacheError`` naming the entry when its folder is there but damaged)."""
    cache = activation_cache(str(cache_root()))
    entry_id = result.entries.get("test")
    entry = cache.by_id(result.model, entry_id)
    if entry is None and entry_id:
        damaged = [
            folder / entry_id
            for folder in (cache.base.iterdir() if cache.base.is_dir() else ())
            if folder.is_dir() and entry_id in {p.name for p in folder.iterdir()}
        ]
        if damaged:
            raise CacheError(
                f"the test activations of {result.model} x {result.task} are damaged "
                "(see the list above)",
                path=damaged[0],
                hint=f"remove the entry (neuronviz cache remove {entry_id}) and run "
                "`neuronviz extract` or the analysis again",
            )
    return entry


# The selection carries over when the user switches pages (query parameters do not).
LAST_MODEL, LAST_TASKS = "_neuronviz_model", "_neuronviz_tasks"


def _param_list(name: str) -> list[str]:
    value = st.query_params.get(name, "")
    return [v for v in value.split(",") if v]


def linked_models(models: list[str]) -> list[str]:
    """The models a link asks for (``?models=a,b``) that have results; warns about the others."""
    asked = _param_list("models")
    unknown = [m for m in asked if m not in models]
    if unknown:
        st.warning(
            f"This link asks for {', '.join(quoted(m, 60) for m in unknown[:5])}, with no analysis "
            f"in this cache (analysed: {', '.join(plain(m) for m in models)})."
        )
    return [m for m in asked if m in models]


def pick_model(results: list[AnalysisResult], *, key: str) -> str:
    """Sidebar model choice among analysed models, kept in the URL."""
    models = sorted({r.model for r in results})
    # The URL wins (a shared link); otherwise the model chosen on the previous page.
    wanted = st.query_params.get("model") or st.session_state.get(LAST_MODEL)
    index = (
        models.index(wanted)
        if wanted in models
        else (models.index("minilm") if "minilm" in models else 0)
    )
    model = st.sidebar.selectbox("Model", models, index=index, key=key)
    asked = st.query_params.get("model")
    if asked and asked not in models:
        st.warning(
            f"This link asks for model {quoted(asked, 60)}, which has no analysis in this cache; "
            f"showing {plain(model)}. Analyse it on the Start page to see it here."
        )
    st.query_params["model"] = model
    st.session_state[LAST_MODEL] = model
    return model


def pick_tasks(results: list[AnalysisResult], model: str, *, key: str, multi: bool) -> list[str]:
    """Sidebar task choice (one or several) among the model's analysed tasks, kept in the URL."""
    tasks = sorted({r.task for r in results if r.model == model})
    missing = [t for t in _param_list("task") if t not in tasks]
    if missing:
        st.warning(
            f"{plain(model)} has no analysis of {', '.join(quoted(t, 60) for t in missing[:5])} "
            f"in this cache (it has: {', '.join(plain(t) for t in tasks)}); showing what there is."
        )
    wanted = [
        t for t in (_param_list("task") or st.session_state.get(LAST_TASKS, [])) if t in tasks
    ]
    if multi:
        chosen = st.sidebar.multiselect("Tasks", tasks, default=wanted or tasks[:1], key=key)
    else:
        default = wanted[0] if wanted else ("pos" if "pos" in tasks else tasks[0])
        chosen = [st.sidebar.selectbox("Task", tasks, index=tasks.index(default), key=key)]
    if chosen:
        st.query_params["task"] = ",".join(chosen)
        st.session_state[LAST_TASKS] = chosen
        show_previews([r for r in results if r.model == model and r.task in chosen])
    return chosen


def show_previews(shown: list[AnalysisResult]) -> None:
    """One box naming the previews among the results a view shows (``neuronviz.analyses.previews``):
    what they were computed on and that the full analyses replace them."""
    previews = [r for r in shown if is_preview(r)]
    if not previews:
        return
    sizes = sorted({r.preview.sentences for r in previews})
    names = ", ".join(f"{plain(r.model)} x {plain(r.task)}" for r in previews)
    st.info(
        f"**Preview** of {names}: computed on the first {'/'.join(map(str, sizes))} sentences "
        "of each split with one lambda pair, no control task and no per-layer probes: read its "
        "intervals, which are "
        "wider than a full analysis', and take its top neurons as tentative (the top 5% of a "
        "150-sentence preview share a fifth to a third of their neurons with a 300-sentence "
        "one). "
        "The full analysis replaces it when it finishes (the Start page shows the queue).",
        icon=":material/hourglass_top:",
    )


def result_for(results: list[AnalysisResult], model: str, task: str) -> AnalysisResult:
    return next(r for r in results if r.model == model and r.task == task)


def require_results() -> list[AnalysisResult]:
    """Stop the page with a pointer to the Start page when nothing has been analysed yet."""
    results = all_results()
    if not results:
        st.info(
            "No analysis has finished yet. Start one (or watch the default one run) on the Start page."
        )
        st.page_link("pages/start.py", label="Go to Start", icon=":material/play_arrow:")
        st.stop()
    return results


def download_table(df: pd.DataFrame, name: str, *, key: str) -> None:
    st.download_button(
        "Download CSV", df.to_csv(index=False).encode(), f"{name}.csv", "text/csv", key=key
    )


def overlap_charts(results: list[AnalysisResult], models: list[str], *, key: str) -> None:
    """One task-overlap matrix per model (side by side), for models with two or more tasks."""
    from neuronviz.figures.comparison import overlap_matrix_figure
    from neuronviz.reports.compare import compare_tasks

    cols = st.columns(max(len(models), 1))
    for col, model in zip(cols, models, strict=False):
        mine = [r for r in results if r.model == model]
        if len(mine) > 1:
            chart(
                overlap_matrix_figure(compare_tasks(mine), sorted(r.task for r in mine)),
                col,
                key=f"{key}_{model}",
            )


def page_header(title: str) -> None:
    """Every page's first lines: run inside the app's navigation, then the title."""
    use_app_navigation()
    st.title(title)


@dataclass(frozen=True)
class Chosen:
    """What a page of analyses shows: every result, the model and the chosen analyses."""

    results: list[AnalysisResult]
    model: str
    analyses: list[AnalysisResult]


def analysis_page(title: str, prefix: str, *, multi: bool = False) -> Chosen:
    """The header of a page that shows one (or, with ``multi``, several) analyses of one model:
    title, the sidebar's model and task pickers (widget keys ``<prefix>_model`` and
    ``<prefix>_task`` / ``<prefix>_tasks``), and a stop with a pointer when there is nothing to
    show yet."""
    page_header(title)
    results = require_results()
    model = pick_model(results, key=f"{prefix}_model")
    tasks = pick_tasks(
        results, model, key=f"{prefix}_tasks" if multi else f"{prefix}_task", multi=multi
    )
    if not tasks:
        st.info("Pick at least one task in the sidebar.")
        st.stop()
    return Chosen(results, model, [result_for(results, model, t) for t in tasks])
