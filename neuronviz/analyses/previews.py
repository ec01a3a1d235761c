"""Previews: a fast first analysis on a sample of sentences, replaced by the full one when done.

A dashboard on a fresh cache should show real results within a minute, not after the 20 or
more minutes a full analysis takes on two cores. A preview runs the same analysis on the first
``PREVIEW_SENTENCES`` sentences of each split with a lighter grid (one lambda pair, the report's
three ranking sizes, no control task, no per-layer probes); it is stored like any result, marked with
``AnalysisResult.preview``, and :func:`neuronviz.store.results.preferred` picks the full analysis
over it as soon as that exists (it is trained on more words). Its intervals are computed as
for a full result, so their width says how far to trust it; figures a sample this small
cannot decide are named by :func:`undecided` and shown as such instead of as numbers.
"""

from __future__ import annotations

import os
from dataclasses import replace

from neuronviz.analyses.settings import AnalysisSettings

__all__ = [
    "PREVIEW_SENTENCES",
    "is_preview",
    "preview_label",
    "preview_sentences",
    "preview_settings",
    "training_words",
    "undecided",
]

# Sentences of each split (train, dev, test) in a preview. Measured with bench/preview_size.py
# (docs/benchmarks.md, "How large a preview"): on minilm x pos and chunk, 150 sentences give the
# oracle with an interval about 2 points wide; the minimal set is often undecided (its interval
# reaches all neurons: shown as such), and the ranking is not stable at any size up to 300
# (top-5% Jaccard 0.2-0.3 with a preview twice as large), so views call a preview's top
# neurons tentative. 150 keeps smollm2-135m's previews near two minutes.
PREVIEW_SENTENCES = 150

PREVIEW_ENV = "NEURONVIZ_PREVIEW_SENTENCES"


def preview_sentences() -> int:
    """Sentences a split in a preview: ``PREVIEW_SENTENCES`` unless ``NEURONVIZ_PREVIEW_SENTENCES``
    says otherwise (a small corpus, a test)."""
    text = os.environ.get(PREVIEW_ENV, "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else PREVIEW_SENTENCES


# One lambda pair instead of a search: the pair the separation rule picks most often on the
# paper's tasks (docs/reproduction.md); a preview is about speed, and says it used one pair.
PREVIEW_LAMBDAS = ((1e-4, 1e-4),)


def preview_settings(base: AnalysisSettings | None = None) -> AnalysisSettings:
    """``base`` made light enough for a preview: one lambda pair fitted on the sample, the
    1/5/10% ranking sizes with their full random draws and tie orders, no control task and no
    per-layer probes (the full analysis brings both; a preview's layer chart still shows where
    its ranked neurons sit). Every fit still runs to its KKT tolerance."""
    base = base or AnalysisSettings()
    return replace(
        base,
        lambdas=PREVIEW_LAMBDAS,
        grid_words=2_000,
        percents=(1, 5, 10),
        control=False,
        layers=False,
        seeds=1,
    )


def is_preview(result) -> bool:
    return bool(getattr(result, "preview", None))


def preview_label(result) -> str:
    """One line for a view: what the preview was computed on, or '' for a full analysis."""
    p = getattr(result, "preview", None)
    if not p:
        return ""
    words = result.words.get("train", 0)
    return (
        f"Preview: {result.model} x {result.task} on the first {p.sentences} sentences of each "
        f"split ({words:,} training words), one lambda pair, no control task, no per-layer "
        "probes. The full analysis "
        "replaces it when it finishes (Start page: queue)."
    )


def undecided(result) -> dict[str, str]:
    """The figures of a preview its sample is too small to decide, each with the reason; empty
    for a full analysis (which shows every number with its interval)."""
    if not is_preview(result):
        return {}
    out: dict[str, str] = {}
    m = result.minimal
    interval = m.size_interval or [None, None]
    if not m.reached:
        out["minimal set"] = (
            "undecided: no top-ranked prefix reaches the threshold on this preview's dev split"
        )
    elif interval[1] is not None and interval[1] >= result.n_neurons:
        out["minimal set"] = "undecided: its interval reaches all neurons on this sample"
    return out


def training_words(results, model: str, cap: int | None) -> str:
    """The training words behind one model's results, full analyses and previews named apart:
    'minilm all (pos); previews on 150 sentences a split (chunk, sem)'."""
    rows = [r for r in results if r.model == model]
    full = [r.task for r in rows if not is_preview(r)]
    previews = [r for r in rows if is_preview(r)]
    parts = []
    if full:
        parts.append(f"{cap or 'all'}" + (f" ({', '.join(full)})" if previews else ""))
    if previews:
        sizes = "/".join(sorted({str(r.preview.sentences) for r in previews}))
        parts.append(
            f"previews on {sizes} sentences a split ({', '.join(r.task for r in previews)})"
        )
    return f"{model} " + "; ".join(parts)
