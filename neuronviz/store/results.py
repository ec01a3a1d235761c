"""Analysis results: one self-describing, versioned record per model x task x settings.

Stored under ``<cache>/results/<model>/<task>-<method>-<key>/`` as ``result.json`` (scalars,
settings, curves, metadata) and ``arrays.npz`` (ordering, scores, weights, class means, minimal
set), written atomically; no pickle. The key hashes the activation entries, the task and every
setting, so an identical request is a cache hit that loads in milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from neuronviz.probing.ranking import NeuronRanking
from neuronviz.store.files import atomic_write_json, file_digest, slug

__all__ = ["RESULT_VERSION", "AnalysisResult", "ResultStore"]

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


class ResultStore:
    """Results on disk under ``<root>/results``."""

    def __init__(self, root: str | Path) -> None:
        self.base = Path(root) / "results"

    @staticmethod
    def key(entries: dict, task: str, settings, *, preview: bool = False) -> str:
        fields = {
            "version": RESULT_VERSION,
            "task": task,
            "entries": {s: e.manifest.key.digest for s, e in sorted(entries.items())},
            "settings": settings.to_dict(),
        }
        if preview:  # keys of full analyses stay what they were before previews existed
            fields["preview"] = True
        text = json.dumps(fields, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def folder(self, model: str, task: str, method: str, key: str) -> Path:
        return self.base / slug(model) / f"{slug(task)}-{method}-{key[:12]}"

    def save(self, result: AnalysisResult) -> Path:
        """Write ``result`` atomically (temporary folder + rename)."""
        final = self.folder(result.model, result.task, result.method, result.key)
        final.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
        try:
            arrays = {k: np.asarray(v) for k, v in result.arrays.items()}
            np.savez(work / "arrays.npz", **arrays)  # type: ignore[arg-type]  # numpy's stub reads **arrays as flags
            atomic_write_json(work / "result.json", result.to_dict())
            _record_checksums(work)
            shutil.rmtree(final, ignore_errors=True)
            work.rename(final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return final

    def load(self, model: str, key: str) -> AnalysisResult | None:
        """The stored result with this key, or None."""
        for folder in (self.base / slug(model)).glob(f"*-{key[:12]}"):
            return self.read(folder)
        return None

    @staticmethod
    def read(folder: Path) -> AnalysisResult | None:
        """The result in ``folder``, or None (logged) when it is unreadable, damaged or of
        another format version (the version is read first: another version may keep its
        files differently)."""
        found = ResultStore.diagnose(folder)
        if isinstance(found, UnreadResult):
            log.warning("result in %s %s", folder, found.reason)
            return None
        return found

    @staticmethod
    def diagnose(folder: Path) -> AnalysisResult | UnreadResult:
        """The result in ``folder``, or what keeps it from being read and what to do."""
        if not folder.is_dir():
            return UnreadResult(folder, "a stray file where result folders are kept")
        try:
            d = json.loads((folder / "result.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            return UnreadResult(folder, f"unreadable: {exc}")
        if not isinstance(d, dict):
            return UnreadResult(folder, "result.json does not hold a result")
        version = d.get("version")
        if version != RESULT_VERSION:
            newer = isinstance(version, int) and version > RESULT_VERSION
            return UnreadResult(
                folder,
                f"has format version {version}, this neuronviz reads version {RESULT_VERSION}: "
                + (
                    "it was written by a newer neuronviz; upgrade to read it (it is left as it is)"
                    if newer
                    else "it was written by an older neuronviz and is not read; run the analysis "
                    "again (the old folder can be removed with `neuronviz cache remove`)"
                ),
                damaged=False,
            )
        problem = result_problem(folder)
        if problem:
            return UnreadResult(folder, problem)
        try:
            with np.load(folder / "arrays.npz", allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError, KeyError) as exc:
            return UnreadResult(folder, f"unreadable: {exc}")
        try:
            result = AnalysisResult.from_dict(d, arrays)
            problem = consistency_problem(result)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            problem = f"unreadable: {exc!r}"
        if problem:
            return UnreadResult(folder, problem)
        return result

    def latest(self, model: str, task: str) -> AnalysisResult | None:
        """The result of ``model`` x ``task`` to show: see :func:`preferred`."""
        return preferred([r for r in self.all(model) if r.task == task])

    def all(self, model: str | None = None) -> list[AnalysisResult]:
        return self.scan(model)[0]

    def scan(self, model: str | None = None) -> tuple[list[AnalysisResult], list[UnreadResult]]:
        """Every stored result, and every result folder that could not be read (with why)."""
        found, unread = [], []
        for folder in self.folders(model):
            got = self.diagnose(folder)
            if isinstance(got, UnreadResult):
                log.warning("result in %s %s", folder, got.reason)
                unread.append(got)
            else:
                found.append(got)
        return found, unread

    def folders(self, model: str | None = None) -> list[Path]:
        """Every result folder (of ``model``), and stray files among them, as paths to check;
        not folders being written (``.name``) or an analysis' checkpoints (``.partial``)."""
        if not self.base.is_dir():
            return []
        models = [self.base / slug(model)] if model else sorted(self.base.iterdir())
        out = []
        for folder in models:
            if folder.name.startswith("."):
                continue
            if not folder.is_dir():
                out += [folder] if folder.exists() else []
                continue
            out += [
                p
                for p in sorted(folder.iterdir())
                if not (p.name.startswith(".") or p.name.endswith(".partial"))
            ]
        return out


@dataclass(frozen=True)
class UnreadResult:
    """A result folder that could not be read: where, why, and whether it is damaged (as
    opposed to written by another version of neuronviz)."""

    folder: Path
    problem: str  # what is wrong, as `cache verify` lists it
    damaged: bool = True

    @property
    def reason(self) -> str:
        """The problem as the rest of a sentence starting "result in FOLDER"."""
        return (
            f"is damaged ({self.problem}); it will be recomputed" if self.damaged else self.problem
        )

    @property
    def name(self) -> str:
        """``model/folder``, as `neuronviz cache verify` names it."""
        return f"{self.folder.parent.name}/{self.folder.name}"


CHECKSUMS = "checksums.json"
_RESULT_FILES = ("result.json", "arrays.npz")


def _record_checksums(folder: Path) -> None:
    atomic_write_json(
        folder / CHECKSUMS, {name: file_digest(folder / name) for name in _RESULT_FILES}
    )


def result_problem(folder: Path) -> str | None:
    """What is wrong with the files of the result in ``folder`` (None when they match the
    checksums written with them). A result written before checksums is checked from here on:
    its checksums are recorded on first read."""
    try:
        recorded = json.loads((folder / CHECKSUMS).read_text(encoding="utf-8"))
    except FileNotFoundError:
        if all((folder / name).is_file() for name in _RESULT_FILES):
            try:
                _record_checksums(folder)
                log.info("recorded the checksums of %s (written before checksums)", folder)
            except OSError:
                pass  # a read-only cache: read as it is
        return None
    except (OSError, ValueError) as exc:
        return f"{CHECKSUMS} is unreadable: {exc}"
    if not isinstance(recorded, dict):
        return f"{CHECKSUMS} is not a table of checksums"
    for name in _RESULT_FILES:
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if file_digest(path) != recorded.get(name):
            return f"{name} does not match the checksum written with it"
    return None


def audit_results(root: str | Path) -> list[tuple[Path, list[str]]]:
    """Every stored result under ``root`` with what is wrong with it (``cache verify``)."""
    found = []
    for folder in ResultStore(root).folders():
        got = ResultStore.diagnose(folder)
        if isinstance(got, UnreadResult):
            found.append((folder, [got.problem]))
            continue
        try:
            got.neuron_ranking()
            found.append((folder, []))
        except Exception as exc:  # any failure to read it is the finding
            found.append((folder, [f"unreadable: {exc!r}"]))
    return found


def consistency_problem(result: AnalysisResult) -> str | None:
    """What in ``result`` contradicts the rest of it, checked from its own arrays (no trust in
    its checksums): the ranking is a permutation of the neurons, an LCA ranking puts exactly the
    oracle's weighted neurons first, and the minimal set is a prefix of the ranking."""
    order, n = np.asarray(result.order), result.n_neurons
    if order.shape != (n,) or not np.array_equal(np.sort(order), np.arange(n)):
        return f"the ranking is not an order of the {n} neurons"
    weights = np.asarray(result.arrays.get("weights", np.zeros((0, n))))
    n_weighted = int(result.ranking.get("n_weighted", -1))
    if result.method == "lca" and n_weighted >= 0 and weights.shape[-1] == n:
        weighted = np.flatnonzero(np.abs(weights).sum(0) > 0)
        if n_weighted != weighted.size or set(order[:n_weighted].tolist()) != set(
            weighted.tolist()
        ):
            return "the ranking does not start with the oracle's weighted neurons"
    minimal = np.asarray(result.minimal_neurons)
    if set(minimal.tolist()) != set(order[: minimal.size].tolist()):
        return "the minimal set is not the ranking's first neurons"
    return _number_problem(result)


def _number_problem(result: AnalysisResult) -> str | None:
    """Numbers no analysis writes: an accuracy outside 0..1 (or not a number), a word count
    that is not a positive integer of a corpus' size."""
    if not isinstance(result.words, dict):
        return f"its word counts {str(result.words)[:40]!r} are not a table of splits"
    for split, words in result.words.items():
        if not (isinstance(words, int) and 0 <= words < 10**10):
            return f"words.{split} = {words!r} is not a number of words"
    for part, record in (("oracle", result.oracle), ("minimal", result.minimal)):
        for name in ("dev_accuracy", "test_accuracy"):
            value = record.get(name)
            if not (isinstance(value, (int, float)) and 0 <= value <= 1):
                return f"{part}.{name} = {value!r} is not an accuracy (0..1)"
    control = result.control or {}
    value = control.get("test_accuracy")
    if value is not None and not (isinstance(value, (int, float)) and 0 <= value <= 1):
        return f"control.test_accuracy = {value!r} is not an accuracy (0..1)"
    return None


def oracle_problem(result: AnalysisResult, test_entry, tolerance: float = 1e-3) -> str | None:
    """Whether ``result``'s stored oracle test accuracy follows from its own weights applied to
    the test activations (``test_entry``, an ``ActivationEntry``): a check that needs no trust
    in any checksum. None when it does, or when the result lacks what it needs (older results
    hold no feature statistics)."""
    arrays = result.arrays
    stored = result.oracle.get("test_accuracy")
    if stored is None or "feature_mean" not in arrays or not test_entry.has_labels(result.task):
        return None
    ids, vocab = test_entry.labels(result.task)
    index = {c: i for i, c in enumerate(result.classes)}
    gold = np.array([index.get(vocab[i], -1) for i in ids])
    weights, bias = arrays["weights"], arrays["bias"]
    mean, scale = arrays["feature_mean"], arrays["feature_scale"]
    if weights.shape[1] != test_entry.shape[1] or mean.shape != (weights.shape[1],):
        return "its weights do not fit the test activations"
    correct, block = 0, 8192
    for start in range(0, test_entry.manifest.n_words, block):
        x = test_entry.matrix(slice(start, start + block), dtype=np.float32)
        predicted = (((x - mean) / scale) @ weights.T + bias).argmax(1)
        correct += int((predicted == gold[start : start + block]).sum())
    recomputed = correct / max(len(gold), 1)
    if abs(recomputed - float(stored)) > tolerance:
        return (
            f"its oracle test accuracy {100 * float(stored):.2f}% does not follow from its weights "
            f"on its test activations ({100 * recomputed:.2f}%)"
        )
    return None
