"""Neuron cards and search: what one neuron does across every analysed task of its model.

A card gathers, for each task analysed on the model, where the neuron ranks, whether it is in
the minimal set, which classes count it among their top neurons and its strongest probe weights.
Search answers the three questions users ask: "which neurons fire most on *the*?" (a word,
searched in the cached activations), "top neurons for VBD" (a class of any analysed task) and
"what does 3:127 do?" (a neuron, opening its card).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from neuronviz.analyses.neurons import neuron_label, parse_neuron
from neuronviz.errors import ConfigError
from neuronviz.probing.features import entry_stats
from neuronviz.store.activations import ActivationEntry
from neuronviz.store.results import AnalysisResult

__all__ = [
    "ClassHit",
    "NeuronCard",
    "SearchResult",
    "TaskRole",
    "WordHit",
    "class_search",
    "contribution",
    "entry_stats",
    "has_contributions",
    "neuron_card",
    "search",
    "strongest_class",
    "task_role",
    "word_search",
]

_NEURON = re.compile(r"^\s*\d+\s*:\s*\d+\s*$")


@dataclass(frozen=True)
class TaskRole:
    """One neuron in one task's analysis."""

    task: str
    rank: int  # 1-based position in the task's global ordering
    n_neurons: int
    in_minimal: bool
    top_of: list[tuple[str, float]]  # classes whose top neurons include it, with its mass share
    weights: list[tuple[str, float]]  # its largest probe weights (standardised space), signed
    ranked: int = -1  # how many neurons the ranking orders; the rest tie (-1: all)

    @property
    def tied(self) -> bool:
        """The ranking gives this neuron no weight: its rank among the tied rest is arbitrary."""
        return 0 <= self.ranked < self.rank

    @property
    def top_percent(self) -> float:
        return 100.0 * self.rank / self.n_neurons

    def rank_text(self) -> str:
        """``17`` or ``tied (after 2131)``: a tied neuron's position is a random draw."""
        return f"tied (after {self.ranked})" if self.tied else str(self.rank)


@dataclass(frozen=True)
class NeuronCard:
    model: str
    neuron: int
    label: str
    layer_name: str
    roles: list[TaskRole] = field(default_factory=list)


@dataclass(frozen=True)
class ClassHit:
    task: str
    neuron: int
    label: str
    share: float  # share of the class's absolute weight mass
    weight: float


@dataclass(frozen=True)
class WordHit:
    neuron: int
    label: str
    mean_z: float  # mean standardised activation on the word's occurrences
    mean_activation: float
    occurrences: int


@dataclass(frozen=True)
class SearchResult:
    kind: str  # "neuron", "class" or "word"
    query: str
    card: NeuronCard | None = None
    classes: list[ClassHit] = field(default_factory=list)
    words: list[WordHit] = field(default_factory=list)


def _model_results(results: list[AnalysisResult], model: str) -> list[AnalysisResult]:
    mine = sorted((r for r in results if r.model == model), key=lambda r: r.task)
    if not mine:
        raise ConfigError(f"no analysed task for model {model!r}", hint="run neuronviz probe first")
    return mine


def task_role(r: AnalysisResult, neuron: int, *, n_weights: int = 4) -> TaskRole:
    """What ``neuron`` is in one analysis: its rank (or tie), the classes whose top neurons
    include it, its largest probe weights, whether the minimal set holds it."""
    rank = int(np.flatnonzero(r.order == neuron)[0]) + 1
    mass = np.abs(r.weights)
    totals = mass.sum(1)
    top_of = [
        (c, float(mass[i, neuron] / totals[i]) if totals[i] > 0 else 0.0)
        for i, c in enumerate(r.classes)
        if neuron in set(r.ranking.per_class.get(c, []))
    ]
    top_of.sort(key=lambda t: -t[1])
    strongest = np.argsort(-mass[:, neuron], kind="stable")[:n_weights]
    weights = [(r.classes[i], float(r.weights[i, neuron])) for i in strongest if mass[i, neuron]]
    return TaskRole(
        task=r.task,
        rank=rank,
        n_neurons=r.n_neurons,
        in_minimal=bool(np.isin(neuron, r.minimal_neurons)),
        top_of=top_of,
        weights=weights,
        ranked=r.neuron_ranking().ranked,
    )


def strongest_class(r: AnalysisResult, neuron: int) -> int:
    """The class whose probe weight on ``neuron`` is largest in size."""
    return int(np.abs(r.weights[:, neuron]).argmax())


def contribution(
    r: AnalysisResult, neuron: int, class_index: int, values: np.ndarray
) -> np.ndarray:
    """How much ``neuron`` pushes the probe toward a class on each word: its probe weight times
    the standardised activation (``values`` are raw activations). Needs the standardisation
    the result stores (``has_contributions``)."""
    mean, scale = r.arrays["feature_mean"][neuron], r.arrays["feature_scale"][neuron]
    return r.weights[class_index, neuron] * (np.asarray(values) - mean) / scale


def has_contributions(r: AnalysisResult) -> bool:
    """Whether ``r`` stores the standardisation contributions need (older results do not)."""
    return "feature_mean" in r.arrays and "feature_scale" in r.arrays


def neuron_card(
    results: list[AnalysisResult], model: str, neuron: int, *, n_weights: int = 4
) -> NeuronCard:
    """The card of ``neuron`` (global id) from every analysed task of ``model``."""
    mine = _model_results(results, model)
    first = mine[0]
    if not 0 <= neuron < first.n_neurons:
        raise ConfigError(f"neuron {neuron} is outside 0..{first.n_neurons - 1} of {model}")
    roles = [task_role(r, neuron, n_weights=n_weights) for r in mine]
    layer = neuron // first.hidden_size
    names = first.layer_names
    return NeuronCard(
        model=model,
        neuron=neuron,
        label=neuron_label(neuron, first.hidden_size),
        layer_name=names[layer] if layer < len(names) else f"layer {layer}",
        roles=roles,
    )


def class_search(
    results: list[AnalysisResult], model: str, name: str, *, k: int = 10
) -> list[ClassHit]:
    """Top neurons of class ``name`` (case-insensitive) in every task of ``model`` that has it."""
    hits = []
    for r in _model_results(results, model):
        matches = [c for c in r.classes if c.lower() == name.strip().lower()]
        for c in matches:
            i = r.classes.index(c)
            mass = np.abs(r.weights[i])
            total = mass.sum()
            for n in np.argsort(-mass, kind="stable")[:k]:
                if mass[n] == 0:
                    break
                hits.append(
                    ClassHit(
                        task=r.task,
                        neuron=int(n),
                        label=neuron_label(int(n), r.hidden_size),
                        share=float(mass[n] / total),
                        weight=float(r.weights[i, n]),
                    )
                )
    return hits


def word_search(
    entry: ActivationEntry,
    word: str,
    *,
    k: int = 10,
    stats: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[WordHit]:
    """Neurons that fire most on ``word`` (case-insensitive) in ``entry``'s sentences.

    Each neuron's activation is standardised over the whole entry first, so a neuron that is
    large on every word does not win: the score is how far above its usual level the neuron
    sits on this word, averaged over the word's occurrences. ``stats`` (from a previous call's
    :func:`entry_stats`) saves the pass over the entry.
    """
    target = word.strip().lower()
    if not target:
        raise ConfigError("type a word to search for")
    flat = [w.lower() for sentence in entry.tokens() for w in sentence]
    rows = np.flatnonzero(np.asarray(flat, dtype=object) == target)
    if not len(rows):
        return []
    mean, std = stats if stats is not None else entry_stats(entry)
    values = entry.matrix(rows=rows)
    z = ((values - mean) / std).mean(0)
    best = np.argsort(-z, kind="stable")[:k]
    raw = values.mean(0)
    return [
        WordHit(
            neuron=int(n),
            label=neuron_label(int(n), entry.hidden_size),
            mean_z=float(z[n]),
            mean_activation=float(raw[n]),
            occurrences=len(rows),
        )
        for n in best
    ]


def search(
    query: str,
    results: list[AnalysisResult],
    model: str,
    entry: ActivationEntry | None = None,
    *,
    k: int = 10,
    stats: tuple[np.ndarray, np.ndarray] | None = None,
) -> SearchResult:
    """Read ``query`` as a neuron (``layer:index``), else a class name, else a word."""
    text = query.strip()
    if not text:
        raise ConfigError("type a word, a class or a neuron (layer:index)")
    mine = _model_results(results, model)
    if _NEURON.match(text):
        neuron = parse_neuron(text.replace(" ", ""), mine[0].n_layers, mine[0].hidden_size)
        return SearchResult("neuron", text, card=neuron_card(results, model, neuron))
    hits = class_search(results, model, text, k=k)
    if hits:
        return SearchResult("class", text, classes=hits)
    if entry is None:
        raise ConfigError(
            f"{text!r} is no class of {model}'s analysed tasks, and no cached activations are "
            "left to search it as a word",
            hint="run neuronviz extract for one of its tasks",
        )
    return SearchResult("word", text, words=word_search(entry, text, k=k, stats=stats))
