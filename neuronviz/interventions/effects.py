"""What an intervention does to the probes: accuracy before and after, against a random control.

The probes are the stored all-neuron probes of finished analyses (weights in standardised space,
with the training mean and scale of every neuron). The test sentences of each task are run through
the model twice, as they are and under the intervention, and each probe scores both. Beside every
targeted intervention the same intervention on random neurons is measured: as many, drawn from
the same layers in the same numbers, so that a drop is compared with what silencing that many
neurons of those layers does anyway.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from neuronviz.analyses.neurons import parse_neuron
from neuronviz.errors import ConfigError
from neuronviz.extraction.extract import extract_words
from neuronviz.interventions.hooks import Intervention, intervene
from neuronviz.models.loading import LoadedModel
from neuronviz.progress import ProgressCallback
from neuronviz.store.files import atomic_write_json
from neuronviz.store.results import AnalysisResult

__all__ = [
    "EffectStore",
    "InterventionPlan",
    "ProbeEffect",
    "build_intervention",
    "effect_matrix",
    "layer_matched_random",
    "plan_intervention",
    "probe_effects",
    "probe_predict",
    "random_controls",
    "select_neurons",
    "spec_task",
]

log = logging.getLogger(__name__)

# Effects are measured on the first N test sentences of a task; more than any split holds is
# a typo, not a request.
MAX_EFFECT_SENTENCES = 100_000


@dataclass(frozen=True)
class ProbeEffect:
    """One probe's test accuracy before and after an intervention, and after the control."""

    task: str
    words: int
    before: float
    after: float
    random_after: float  # mean over the random draws
    random_std: float

    @property
    def drop(self) -> float:
        return self.before - self.after

    @property
    def random_drop(self) -> float:
        return self.before - self.random_after

    def versus_random(self) -> str:
        """How the drop compares with silencing random neurons, in words: "much more than",
        "somewhat more than", "about as much as" or "less than".

        The gap is in accuracy points; a gap inside twice the random draws' spread (at least 2
        points) is "about as much as", and "much more" needs 5 points and three spreads, so a
        gap the random draws themselves could make is never called a difference.
        """
        beyond = 100 * (self.drop - self.random_drop)
        noise = 100 * self.random_std
        if abs(beyond) <= max(2.0, 2 * noise):
            return "about as much as"
        if beyond < 0:
            return "less than"
        return "much more than" if beyond > max(5.0, 3 * noise) else "somewhat more than"

    def to_dict(self) -> dict:
        return {**asdict(self), "drop": self.drop, "random_drop": self.random_drop}


def spec_task(spec: str, tasks: Iterable[str]) -> str | None:
    """The task a neuron spec (``TASK:minimal``, ``TASK:top50``...) names, or None. Task names
    can hold colons themselves (``upos:PATH``, ``parallel:S,L``): the longest that starts the
    spec wins."""
    spec = spec.strip()
    return max((t for t in tasks if spec.startswith(f"{t}:")), key=len, default=None)


def select_neurons(spec: str, results: Sequence[AnalysisResult]) -> tuple[int, ...]:
    """Neuron ids from a spec: ``TASK:minimal``, ``TASK:topK``, ``TASK:CLASS:topK`` or labels.

    Labels are ``layer:index`` pairs separated by commas (``1:62,3:5``). ``TASK:CLASS:topK`` is
    the K neurons with the largest absolute probe weight for that class.
    """
    spec = spec.strip()
    by_task = {r.task: r for r in results}
    task = spec_task(spec, by_task)
    if task is not None:
        r = by_task[task]
        parts = [task, *spec[len(task) + 1 :].split(":")]
        if len(parts) == 2 and parts[1] == "minimal":
            return tuple(int(n) for n in r.minimal_neurons)
        if len(parts) == 2 and parts[1].startswith("top"):
            return tuple(int(n) for n in r.order[: _count(parts[1], spec, r.n_neurons)])
        if len(parts) == 3 and parts[2].startswith("top"):
            if parts[1] not in r.classes:
                raise ConfigError(
                    f"class {parts[1]!r} is not a class of {r.task}",
                    hint=f"classes: {', '.join(r.classes[:20])}",
                )
            row = np.abs(r.weights[r.classes.index(parts[1])])
            top = np.argsort(-row, kind="stable")[: _count(parts[2], spec, r.n_neurons)]
            return tuple(int(n) for n in top)
        raise ConfigError(
            f"cannot read neuron set {spec!r}",
            hint="write TASK:minimal, TASK:top50, TASK:CLASS:top10 or layer:index,layer:index",
        )
    if not results:
        raise ConfigError("no analysis of this model to take neurons from")
    first = results[0]
    return tuple(parse_neuron(t, first.n_layers, first.hidden_size) for t in spec.split(","))


def _count(text: str, spec: str, n_neurons: int) -> int:
    digits = text[3:]
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 9):
        raise ConfigError(f"cannot read the count in {spec!r}", hint="e.g. pos:top50")
    k = int(digits)
    if not 1 <= k <= n_neurons:
        raise ConfigError(
            f"{spec!r} asks for {k} neurons; the model has {n_neurons}",
            hint=f"ask for 1 to {n_neurons}",
        )
    return k


def layer_matched_random(
    neurons: Sequence[int], hidden: int, n_neurons: int, rng: np.random.Generator
) -> tuple[int, ...]:
    """As many random neurons as ``neurons``, from the same layers in the same numbers."""
    chosen = set(neurons)
    out: list[int] = []
    layers, counts = np.unique(np.asarray(neurons, dtype=np.int64) // hidden, return_counts=True)
    for layer, count in zip(layers, counts, strict=True):
        pool = np.arange(layer * hidden, min((layer + 1) * hidden, n_neurons))
        others = np.setdiff1d(pool, list(chosen))
        if len(others) < count:  # the set fills the layer: draw from the whole layer
            others = pool
        out += rng.choice(others, size=int(count), replace=False).tolist()
    return tuple(sorted(out))


def build_intervention(
    neurons: Sequence[int], mode: str, result: AnalysisResult, factor: float = 0.0
) -> Intervention:
    """An intervention on ``neurons``; ``mean`` mode takes each neuron's training mean from
    ``result`` (the corpus the analysis was trained on)."""
    values: tuple[float, ...] = ()
    if mode == "mean":
        mean = result.arrays["feature_mean"]
        values = tuple(float(mean[n]) for n in neurons)
    return Intervention(tuple(int(n) for n in neurons), mode, factor, values)


@dataclass(frozen=True)
class InterventionPlan:
    """What a neuron spec asks for: the neurons, the intervention on them, and the analysis
    whose training means ``mean`` mode uses (the spec's task, else the first analysis)."""

    neurons: tuple[int, ...]
    intervention: Intervention
    means_from: AnalysisResult


def plan_intervention(
    spec: str, mode: str, results: Mapping[str, AnalysisResult], factor: float = 0.0
) -> InterventionPlan:
    """The neurons a spec names (see :func:`select_neurons`) among ``results`` (task ->
    analysis of one model) and the intervention on them; the CLI and the dashboard both ask
    here. Raises ``ConfigError`` for a spec or mode that does not work."""
    neurons = select_neurons(spec, list(results.values()))
    named = spec_task(spec, results) or ""
    means_from = results.get(named, next(iter(results.values())))
    return InterventionPlan(
        neurons, build_intervention(neurons, mode, means_from, factor), means_from
    )


def random_controls(
    model: LoadedModel,
    intervention: Intervention,
    result: AnalysisResult,
    draws: int,
    seed: int = 0,
) -> list[Intervention]:
    """``draws`` copies of ``intervention`` on layer-matched random neurons (same mode)."""
    rng = np.random.default_rng(seed)
    controls = [
        build_intervention(
            layer_matched_random(intervention.neurons, model.hidden_size, model.n_neurons, rng),
            intervention.mode,
            result,
            intervention.factor,
        )
        for _ in range(draws)
    ]
    chosen = set(intervention.neurons)
    shared = max((len(chosen.intersection(c.neurons)) for c in controls), default=0)
    if shared > len(chosen) / 2:
        log.warning(
            "the random control shares %d of its %d neurons with the chosen set (the set fills "
            "most of its layers): the comparison with random neurons says little",
            shared,
            len(chosen),
        )
    return controls


def probe_predict(result: AnalysisResult, vectors: np.ndarray) -> np.ndarray:
    """Class ids that ``result``'s all-neuron probe gives word vectors ``(layers, words, hidden)``."""
    x = vectors.transpose(1, 0, 2).reshape(vectors.shape[1], -1).astype(np.float32)
    x = (x - result.arrays["feature_mean"]) / result.arrays["feature_scale"]
    return np.argmax(x @ result.weights.T + result.arrays["bias"], axis=1)


def _test_split(result: AnalysisResult, cache, sentences: int) -> tuple[str, list[list[str]]]:
    """The id and first ``sentences`` sentences of the test entry ``result`` was scored on."""
    entry_id = result.entries.get("test")
    entry = cache.by_id(result.model, entry_id) if entry_id else None
    if entry_id is None or entry is None or "test_labels" not in result.arrays:
        raise ConfigError(
            f"the test activations or labels of {result.model} x {result.task} are not cached",
            hint=f"run: neuronviz probe --model {result.model} --task {result.task}",
        )
    return entry_id, entry.tokens()[:sentences]


def _words_under(model: LoadedModel, run: Intervention | None, tokens) -> np.ndarray:
    if run is None:
        return extract_words(model, tokens)
    with intervene(model, run):
        return extract_words(model, tokens)


def probe_effects(
    model: LoadedModel,
    intervention: Intervention,
    results: Sequence[AnalysisResult],
    *,
    cache,
    sentences: int = 300,
    random_draws: int = 3,
    seed: int = 0,
    means_from: AnalysisResult | None = None,
    callback: ProgressCallback | None = None,
) -> list[ProbeEffect]:
    """Each result's probe accuracy on its first ``sentences`` test sentences, before and after
    ``intervention`` and after ``random_draws`` layer-matched random interventions.
    ``callback`` hears ("model runs", done, total) after each run of the model over a corpus.

    ``means_from``: the result whose training means a ``mean`` intervention used, so that the
    random controls take their neurons' means from the same corpus (default: ``results[0]``).
    """
    if random_draws < 1:
        raise ConfigError("random_draws must be at least 1: a targeted effect needs its control")
    if not results:
        raise ConfigError("no analysed task to measure the intervention on")
    controls = random_controls(model, intervention, means_from or results[0], random_draws, seed)
    runs = [None, intervention, *controls]  # as it is, changed, random controls
    # Tasks on one corpus (pos and chunk, sem and ccg) share their test sentences: run the
    # model over them once per intervention and let every probe score the same vectors.
    vectors: dict[str, list[np.ndarray]] = {}
    effects = []
    splits = [_test_split(r, cache, sentences) for r in results]
    total = len({entry_id for entry_id, _ in splits}) * len(runs)
    for r, (entry_id, tokens) in zip(results, splits, strict=True):
        if entry_id not in vectors:
            vectors[entry_id] = []
            for run in runs:
                vectors[entry_id].append(_words_under(model, run, tokens))
                if callback is not None:
                    done = sum(len(v) for v in vectors.values())
                    callback("model runs", done, total)
        n = sum(len(t) for t in tokens)
        gold = np.asarray(r.arrays["test_labels"][:n])
        before, after, *randoms = (
            float(np.mean(probe_predict(r, v) == gold)) for v in vectors[entry_id]
        )
        effects.append(
            ProbeEffect(
                task=r.task,
                words=n,
                before=before,
                after=after,
                random_after=float(np.mean(randoms)),
                random_std=float(np.std(randoms)),
            )
        )
        log.info(
            "%s: %.1f%% -> %.1f%% (random neurons: %.1f%%)",
            r.task,
            100 * before,
            100 * after,
            100 * effects[-1].random_after,
        )
    return effects


def effect_matrix(
    model: LoadedModel,
    results: Sequence[AnalysisResult],
    mode: str = "zero",
    *,
    cache,
    sentences: int = 200,
    random_draws: int = 3,
    seed: int = 0,
) -> tuple[np.ndarray, list[str], list[list[ProbeEffect]]]:
    """Silence each task's minimal set in turn and measure every task's probe.

    Returns ``(extra, tasks, effects)``: ``extra[i, j]`` is how many points more task j's probe
    loses when task i's minimal set is silenced than when as many random neurons of the same
    layers are (positive: the set matters for j beyond its size and layers).
    """
    tasks = [r.task for r in results]
    rows = []
    for source in results:
        iv = build_intervention(source.minimal_neurons.tolist(), mode, source)
        rows.append(
            probe_effects(
                model,
                iv,
                results,
                cache=cache,
                sentences=sentences,
                random_draws=random_draws,
                seed=seed,
                means_from=source,
            )
        )
    extra = np.array([[100 * (e.drop - e.random_drop) for e in row] for row in rows])
    return extra, tasks, rows


class EffectStore:
    """Measured probe effects kept in ``<cache>/effects/<key>.json``, so the Intervene page shows
    a measurement made once (minutes of model runs on a CPU) at once in every later session.
    A file that does not read back as effects is ignored (logged) and measured again."""

    def __init__(self, root: str | Path) -> None:
        self.base = Path(root) / "effects"

    @staticmethod
    def key(**fields) -> str:
        """A digest of everything the measurement depends on (results' keys, neurons, mode...)."""
        text = json.dumps(fields, sort_keys=True, default=list)
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def load(self, key: str) -> list[ProbeEffect] | None:
        path = self.base / f"{key}.json"
        if not path.is_file():
            return None
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))["effects"]
            effects = [
                ProbeEffect(
                    task=str(d["task"]),
                    words=int(d["words"]),
                    **{k: float(d[k]) for k in ("before", "after", "random_after", "random_std")},
                )
                for d in rows
            ]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring %s, which does not read as measured effects: %s", path, exc)
            return None
        for e in effects:
            values = (e.before, e.after, e.random_after, e.random_std)
            if e.words < 0 or not all(math.isfinite(v) and 0 <= v <= 1 for v in values):
                log.warning("ignoring %s: its numbers are not accuracies", path)
                return None
        return effects

    def save(self, key: str, effects: Sequence[ProbeEffect]) -> None:
        atomic_write_json(self.base / f"{key}.json", {"effects": [asdict(e) for e in effects]})
