"""Analysis results: one self-describing, versioned record per model x task x settings.

Stored under ``<cache>/results/<model>/<task>-<method>-<key>/`` as ``result.json`` (scalars,
settings, curves, metadata) and ``arrays.npz`` (ordering, scores, weights, class means, minimal
set), written atomically; no pickle. The key hashes the activation entries, the task and every
setting, so an identical request is a cache hit that loads in milliseconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from neuronviz.probing.ranking import NeuronRanking
from neuronviz.store.record import from_json, to_json
from neuronviz.store.result_parts import (
    Ablation,
    ControlFit,
    Curves,
    Layers,
    MinimalSetRecord,
    OracleFit,
    Preview,
    QualityAtSize,
    RankingRecord,
    SearchRecord,
    Stability,
)

__all__ = ["RESULT_VERSION", "AnalysisResult"]

log = logging.getLogger(__name__)

RESULT_VERSION = 2  # 2: converged fits, tie orders, intervals and chance levels
ARRAYS = ("order", "scores", "weights", "bias", "class_means", "minimal_neurons")


def preferred(results: Sequence[AnalysisResult]) -> AnalysisResult | None:
    """Of several results of one model x task, the one views and commands use: the one trained
    on the most words, the newest among those. A quick smoke run (a few hundred sentences) never
    hides a full analysis; a re-run on the same data replaces the older one."""
    return max(results, key=lambda r: (r.words.get("train", 0), r.created), default=None)


def _parts(d: dict) -> dict[str, Any]:
    """The typed parts of a result read from ``result.json`` (an empty lasso record is none)."""
    ranking = dict(d["ranking"])
    if not ranking.get("fit"):
        ranking["fit"] = None
    return {
        "lambda_search": from_json(SearchRecord, d["lambda_search"], "lambda_search"),
        "oracle": from_json(OracleFit, d["oracle"], "oracle"),
        "ranking": from_json(RankingRecord, ranking, "ranking"),
        "minimal": from_json(MinimalSetRecord, d["minimal"], "minimal"),
        "curves": from_json(Curves, d["curves"], "curves"),
        "ranking_quality": {
            k: from_json(QualityAtSize, v, f"ranking_quality[{k}]")
            for k, v in d["ranking_quality"].items()
        },
        "ablation": None
        if not d.get("ablation")
        else from_json(Ablation, d["ablation"], "ablation"),
        "layers": from_json(Layers, d["layers"], "layers"),
        "control": None
        if d.get("control") is None
        else from_json(ControlFit, d["control"], "control"),
        "stability": None
        if d.get("stability") is None
        else from_json(Stability, d["stability"], "stability"),
        "preview": None
        if d.get("preview") is None
        else from_json(Preview, d["preview"], "preview"),
    }


@dataclass(frozen=True)
class AnalysisResult:
    """Everything one analysis found; ``arrays`` holds the large numeric parts."""

    model: str
    task: str
    method: str
    settings: dict  # AnalysisSettings.to_dict(): what the key hashes
    n_layers: int
    hidden_size: int
    layer_names: list[str]
    classes: list[str]
    words: dict[str, int]  # split (and unseen_<split>) -> words
    lambda_search: SearchRecord
    oracle: OracleFit
    ranking: RankingRecord
    minimal: MinimalSetRecord
    curves: Curves
    ranking_quality: dict[str, QualityAtSize]  # percent ("1", "5", "10") -> quality
    ablation: Ablation | None
    layers: Layers
    control: ControlFit | None = None
    stability: Stability | None = None
    timings: dict[str, float] = field(default_factory=dict)  # stage -> seconds
    warnings: list[str] = field(default_factory=list)  # facts about the data a reader should know
    # A preview (neuronviz.analyses.previews): its sample; None for a full analysis.
    preview: Preview | None = None
    key: str = ""
    entries: dict[str, str] = field(default_factory=dict)  # split -> activation entry id
    model_source: str = ""  # what load_model needs: a registry name, hub id or local folder
    created: str = ""
    version: int = RESULT_VERSION
    arrays: dict[str, np.ndarray] = field(
        default_factory=dict, repr=False, compare=False, metadata={"json": False}
    )

    @property
    def n_neurons(self) -> int:
        return self.n_layers * self.hidden_size

    @property
    def order(self) -> np.ndarray:
        return self.arrays["order"]

    @property
    def minimal_neurons(self) -> np.ndarray:
        return self.arrays["minimal_neurons"]

    @property
    def size_draws(self) -> np.ndarray:
        """Minimal-set sizes on the dev resamples (:mod:`neuronviz.stats.intervals`); the size itself
        when the result carries none."""
        draws = self.arrays.get("minimal_size_draws")
        return np.asarray([self.minimal.size] if draws is None else draws, dtype=np.int64)

    @property
    def localization_draws(self) -> np.ndarray:
        """Minimal share / chance share on each dev resample (smaller: more localized)."""
        chance = self.arrays.get("chance_share_draws")
        if chance is None:
            chance = np.asarray([self.minimal.chance_share or np.nan])
        n = min(len(chance), len(self.size_draws))
        return (self.size_draws[:n] / self.n_neurons) / np.asarray(chance[:n], dtype=np.float64)

    @property
    def weights(self) -> np.ndarray:
        """Oracle weights in standardised space, ``(classes, neurons)``."""
        return self.arrays["weights"]

    @property
    def class_means(self) -> np.ndarray:
        """Mean standardised activation of each class, ``(classes, neurons)``."""
        return self.arrays["class_means"]

    def prefix_accuracy(self, split: str = "test") -> list[tuple[int, float]]:
        """Retrained accuracy of top-k prefixes of the ranking, every size measured (curves and
        the minimal-set search), sorted by size."""
        points = dict(zip(self.curves.sizes, self.curves.top[split], strict=True))
        column = 2 if split == "test" else 1
        points.update({int(p[0]): float(p[column]) for p in self.minimal.curve})
        return sorted(points.items())

    def neuron_ranking(self) -> NeuronRanking:
        return NeuronRanking(
            method=self.method,
            order=self.arrays["order"],
            scores=self.arrays["scores"],
            per_class={c: np.asarray(v, dtype=np.int64) for c, v in self.ranking.per_class.items()},
            cutoffs=list(self.ranking.cutoffs),
            n_weighted=self.ranking.n_weighted,
            weighting=self.ranking.weighting,
        )

    @classmethod
    def build(
        cls,
        *,
        data,
        settings,
        search,
        oracle,
        oracle_info,
        ranking,
        minimal,
        curves,
        minimal_extra: dict | None = None,
        quality,
        ablation,
        control,
        layers,
        stability,
        class_means,
        timings,
        extra_arrays: dict[str, np.ndarray] | None = None,
    ) -> AnalysisResult:
        """Assemble a result from the analysis steps' outputs (read through the same typed
        parts as a stored result, so a new result and a loaded one cannot differ)."""
        minimal_info = {**to_json(minimal), **to_json(minimal_extra or {})}
        minimal_info.pop("neurons")
        parts = _parts(
            {
                "lambda_search": {
                    **to_json({k: v for k, v in search.__dict__.items() if k != "pair_orders"}),
                    "grid_pairs": list(getattr(search, "pair_orders", {})),
                },
                "oracle": to_json(oracle_info),
                "ranking": ranking.to_dict(),
                "minimal": minimal_info,
                "curves": to_json(curves),
                "ranking_quality": to_json(quality),
                "ablation": to_json(ablation),
                "layers": to_json(layers),
                "control": to_json(control),
                "stability": to_json(stability),
            }
        )
        return cls(
            model=data.model,
            task=data.task,
            method=ranking.method,
            settings=settings.to_dict(),
            n_layers=data.n_layers,
            hidden_size=data.hidden_size,
            layer_names=list(data.layer_names),
            classes=list(data.classes),
            words={
                "train": data.train.n_rows,
                "dev": len(data.dev.y),
                "test": len(data.test.y),
                **{f"unseen_{k}": v for k, v in data.unseen.items()},
            },
            **parts,
            timings=timings,
            warnings=list(data.warnings),
            created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            arrays={
                "order": np.asarray(ranking.order, dtype=np.int64),
                "scores": np.asarray(ranking.scores, dtype=np.float64),
                "weights": oracle.weights.T.cpu().numpy().astype(np.float32),
                "bias": oracle.bias.cpu().numpy().astype(np.float32),
                "class_means": np.asarray(class_means, dtype=np.float32),
                "minimal_neurons": np.asarray(minimal.neurons, dtype=np.int64),
                **(
                    {"grid_orders": np.stack(list(search.pair_orders.values())).astype(np.int32)}
                    if getattr(search, "pair_orders", None)
                    else {}
                ),
                **(extra_arrays or {}),
            },
        )

    def with_inputs(self, *, key: str, entries: dict, model_source: str = "") -> AnalysisResult:
        return replace(self, key=key, entries=entries, model_source=model_source)

    def summary(self) -> dict:
        """The documented summary (``--json``): accuracies are fractions in [0, 1], intervals are
        95% (bootstrap over sentences), and every fit says whether it converged."""
        o, m, c = self.oracle, self.minimal, self.control
        return {
            "model": self.model,
            "task": self.task,
            "preview": to_json(self.preview),  # None, or {"sentences": N a split}
            "method": self.method,
            "weighting": self.ranking.weighting,
            "lambdas": [o.lambda1, o.lambda2],
            "lambda_rule": self.lambda_search.rule,
            "oracle": _pick(o, SUMMARY_ORACLE),
            "ranking": {
                "method": self.method,
                "n_weighted": self.neuron_ranking().ranked,
                "n_neurons": self.n_neurons,
                "fit": to_json(self.ranking.fit),
            },
            "minimal": _pick(m, SUMMARY_MINIMAL),
            "control": None if c is None else _pick(c, SUMMARY_CONTROL),
            "selectivity": None if c is None else c.selectivity,
            "selectivity_ci": None if c is None else c.selectivity_ci,
            "minimal_selectivity": None if c is None else c.minimal_selectivity,
            "minimal_selectivity_ci": None if c is None else c.minimal_selectivity_ci,
            "ranking_quality": to_json(self.ranking_quality),
            "layer_distribution": self.layers.minimal.count,
            "layer_probe_test_accuracy": self.layers.probe_test_accuracy,
            "warnings": self.warnings,
            "n_neurons": self.n_neurons,
            "words": self.words,
            "timings": self.timings,
        }

    def to_dict(self) -> dict:
        """``result.json``: every field but the arrays, JSON-safe (no lasso fit is ``{}``)."""
        d = to_json(self)
        d["ranking"]["fit"] = d["ranking"]["fit"] or {}
        return d

    @classmethod
    def from_dict(cls, d: dict, arrays: dict[str, np.ndarray]) -> AnalysisResult:
        """The result in ``d`` (``result.json``, format :data:`RESULT_VERSION`); raises
        ``TypeError`` / ``ValueError`` / ``KeyError`` naming the part that does not fit."""
        plain = {k: v for k, v in d.items() if k not in PARTS}
        return cls(**plain, **_parts(d), arrays=arrays)


PARTS = (
    "lambda_search",
    "oracle",
    "ranking",
    "minimal",
    "curves",
    "ranking_quality",
    "ablation",
    "layers",
    "control",
    "stability",
    "preview",
)
# What the summary (``--json``) shows of each part, in this order.
SUMMARY_ORACLE = (
    "dev_accuracy",
    "test_accuracy",
    "test_accuracy_ci",
    "macro_f1",
    "objective",
    "zero_weight_fraction",
    "kkt_max",
    "kkt_tol",
    "n_iter",
    "converged",
    "retrained",
    "retrained_converged",
    "retrained_grad_max",
)
SUMMARY_MINIMAL = (
    "size",
    "size_interval",
    "fraction",
    "fraction_interval",
    "dev_accuracy",
    "test_accuracy",
    "test_accuracy_ci",
    "gap_ci",
    "threshold",
    "reached",
    "beyond_ranked",
    "chance_share",
    "chance_share_interval",
    "localization",
    "localization_interval",
)
SUMMARY_CONTROL = (
    "test_accuracy",
    "test_accuracy_ci",
    "minimal_test_accuracy",
    "kkt_max",
    "kkt_tol",
    "n_iter",
    "converged",
)


def _pick(part: Any, names: Sequence[str]) -> dict:
    return {n: to_json(getattr(part, n)) for n in names}
