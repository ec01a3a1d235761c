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
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from neuronviz.probing.ranking import NeuronRanking

__all__ = ["RESULT_VERSION", "AnalysisResult"]

log = logging.getLogger(__name__)

RESULT_VERSION = 2  # 2: converged fits, tie orders, intervals and chance levels
ARRAYS = ("order", "scores", "weights", "bias", "class_means", "minimal_neurons")


def _plain(obj: Any) -> Any:
    """JSON-safe copy: dataclasses to dicts, numpy scalars and arrays to Python values."""
    if hasattr(obj, "__dataclass_fields__"):
        return _plain(asdict(obj))
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def preferred(results: Sequence[AnalysisResult]) -> AnalysisResult | None:
    """Of several results of one model x task, the one views and commands use: the one trained
    on the most words, the newest among those. A quick smoke run (a few hundred sentences) never
    hides a full analysis; a re-run on the same data replaces the older one."""
    return max(results, key=lambda r: (r.words.get("train", 0), r.created), default=None)


@dataclass(frozen=True)
class AnalysisResult:
    """Everything one analysis found; ``arrays`` holds the large numeric parts."""

    model: str
    task: str
    method: str
    settings: dict
    n_layers: int
    hidden_size: int
    layer_names: list[str]
    classes: list[str]
    words: dict[str, int]
    lambda_search: dict
    oracle: dict
    ranking: dict
    minimal: dict
    curves: dict
    ranking_quality: dict
    ablation: dict
    layers: dict
    control: dict | None = None
    stability: dict | None = None
    timings: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # facts about the data a reader should know
    # A preview (neuronviz.analyses.previews): {"sentences": N a split}; None for a full analysis.
    preview: dict | None = None
    key: str = ""
    entries: dict = field(default_factory=dict)
    model_source: str = ""  # what load_model needs: a registry name, hub id or local folder
    created: str = ""
    version: int = RESULT_VERSION
    arrays: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

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
        return np.asarray([self.minimal["size"]] if draws is None else draws, dtype=np.int64)

    @property
    def localization_draws(self) -> np.ndarray:
        """Minimal share / chance share on each dev resample (smaller: more localized)."""
        chance = self.arrays.get("chance_share_draws")
        if chance is None:
            chance = np.asarray([self.minimal.get("chance_share") or np.nan])
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
        points = dict(zip(self.curves["sizes"], self.curves["top"][split], strict=True))
        column = 2 if split == "test" else 1
        points.update({int(p[0]): float(p[column]) for p in self.minimal.get("curve", [])})
        return sorted(points.items())

    def neuron_ranking(self) -> NeuronRanking:
        return NeuronRanking(
            method=self.method,
            order=self.arrays["order"],
            scores=self.arrays["scores"],
            per_class={
                c: np.asarray(v, dtype=np.int64)
                for c, v in self.ranking.get("per_class", {}).items()
            },
            cutoffs=list(self.ranking.get("cutoffs", [])),
            n_weighted=int(self.ranking.get("n_weighted", -1)),
            weighting=self.ranking.get("weighting", "uniform"),
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
        """Assemble a result from the analysis steps' outputs."""
        minimal_info = {**_plain(minimal), **_plain(minimal_extra or {})}
        minimal_info.pop("neurons")
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
            lambda_search={
                **_plain({k: v for k, v in search.__dict__.items() if k != "pair_orders"}),
                "grid_pairs": list(getattr(search, "pair_orders", {})),
            },
            oracle=_plain(oracle_info),
            ranking=ranking.to_dict(),
            minimal=minimal_info,
            curves=_plain(curves),
            ranking_quality=_plain(quality),
            ablation=_plain(ablation),
            layers=_plain(layers),
            control=_plain(control),
            stability=_plain(stability),
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
        control = None
        if self.control is not None:
            control = {
                k: self.control.get(k)
                for k in (
                    "test_accuracy",
                    "test_accuracy_ci",
                    "minimal_test_accuracy",
                    "kkt_max",
                    "kkt_tol",
                    "n_iter",
                    "converged",
                )
            }
        return {
            "model": self.model,
            "task": self.task,
            "preview": self.preview,  # None, or {"sentences": N a split} (neuronviz.analyses.previews)
            "method": self.method,
            "weighting": self.ranking.get("weighting", "uniform"),
            "lambdas": [self.oracle["lambda1"], self.oracle["lambda2"]],
            "lambda_rule": self.lambda_search["rule"],
            "oracle": {
                k: self.oracle.get(k)
                for k in (
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
            },
            "ranking": {
                "method": self.method,
                "n_weighted": self.neuron_ranking().ranked,
                "n_neurons": self.n_neurons,
                "fit": self.ranking.get("fit") or None,
            },
            "minimal": {
                k: self.minimal.get(k)
                for k in (
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
            },
            "control": control,
            "selectivity": None if self.control is None else self.control["selectivity"],
            "selectivity_ci": None if self.control is None else self.control.get("selectivity_ci"),
            "minimal_selectivity": None
            if self.control is None
            else self.control["minimal_selectivity"],
            "minimal_selectivity_ci": None
            if self.control is None
            else self.control.get("minimal_selectivity_ci"),
            "ranking_quality": self.ranking_quality,
            "layer_distribution": self.layers["minimal"]["count"],
            "layer_probe_test_accuracy": self.layers.get("probe_test_accuracy"),
            "warnings": self.warnings,
            "n_neurons": self.n_neurons,
            "words": self.words,
            "timings": self.timings,
        }

    def to_dict(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k != "arrays"}
        return _plain(d)

    @classmethod
    def from_dict(cls, d: dict, arrays: dict[str, np.ndarray]) -> AnalysisResult:
        return cls(**{**d, "arrays": arrays})
