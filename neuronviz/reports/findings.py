"""The paper's findings, each decided from analysis results by a stated test against chance.

Durrani et al. (EMNLP 2020) report: (1) small subsets of neurons predict each task almost as
well as all neurons; (2) lower-level tasks (POS) are localized in fewer neurons than higher-level
syntax (chunking, CCG); (3) architectures differ: one model's neurons are more localized and
more disjoint across tasks than the other's (XLNet vs BERT in the paper); (4) top neurons beat
random ones, which beat bottom ones; and where salient neurons sit by layer (lower-level tasks
lower in the network).

Nothing here is hard-coded. Each finding is a set of comparisons; each comparison is decided by
a test at ``ALPHA`` (the intervals and draws come from :mod:`neuronviz.stats.intervals` and
:mod:`neuronviz.stats.chance`) and comes out ``yes``, ``no`` (significantly the other way) or
``not significant``. A finding **holds** when every comparison says yes, **does not hold** when
every one says no, is **not significant** when none is decided, and is **mixed** otherwise; the
evidence lists every comparison with its numbers, interval and p-value.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from neuronviz.reports.compare import compare_tasks, localization_p, overlap_ratio_draws
from neuronviz.stats.chance import depth_draws
from neuronviz.stats.uncertainty import ALPHA, bootstrap_p, interval
from neuronviz.store.results import AnalysisResult

__all__ = [
    "HIGHER_TASKS",
    "LOWER_TASKS",
    "VERDICTS",
    "Comparison",
    "Finding",
    "decide",
    "findings",
    "mean_depth",
]

LOWER_TASKS = ("pos",)
HIGHER_TASKS = ("chunk", "ccg")
SMALL_SHARE = 0.20  # finding 1: a minimal set of at most a fifth of the neurons ...
CLOSE_POINTS = 0.02  # ... within 2 points of the all-neuron probe on test
SIZES = ("1", "5", "10")
VERDICTS = ("holds", "does not hold", "mixed", "not significant", "not measured")
YES, NO, UNDECIDED = "yes", "no", "not significant"


@dataclass(frozen=True)
class Comparison:
    """One decided comparison: what, the outcome (yes / no / not significant) and the test's
    numbers (p-value or interval)."""

    label: str
    outcome: str
    text: str
    p_value: float | None = None
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "outcome": self.outcome,
            "p_value": self.p_value,
            **self.details,
        }


@dataclass(frozen=True)
class Finding:
    key: str
    claim: str
    rule: str
    verdict: str  # one of VERDICTS
    evidence: list[str] = field(default_factory=list)
    test: str = ""
    comparisons: list[Comparison] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "key": self.key,
            "claim": self.claim,
            "rule": self.rule,
            "test": self.test,
            "level": ALPHA,
            "verdict": self.verdict,
            "comparisons": [c.to_dict() for c in self.comparisons],
            "evidence": list(self.evidence),
        }


def decide(outcomes: Sequence[str]) -> str:
    """The finding's verdict from its comparisons' outcomes."""
    if not outcomes:
        return "not measured"
    if all(o == YES for o in outcomes):
        return "holds"
    if all(o == NO for o in outcomes):
        return "does not hold"
    if all(o == UNDECIDED for o in outcomes):
        return "not significant"
    return "mixed"


def _outcome(p_yes: float, p_no: float) -> str:
    """yes when the claim's p is below ALPHA, no when the reverse claim's is, else undecided."""
    if np.isfinite(p_yes) and p_yes < ALPHA:
        return YES
    if np.isfinite(p_no) and p_no < ALPHA:
        return NO
    return UNDECIDED


def _finding(key, claim, rule, test, comparisons: list[Comparison]) -> Finding:
    return Finding(
        key,
        claim,
        rule,
        decide([c.outcome for c in comparisons]),
        [f"{c.text} ({c.outcome})" for c in comparisons],
        test,
        comparisons,
    )


def _ci(values, scale: float = 100, digits: int = 2) -> str:
    if values is None or len(values) != 2:
        return ""
    return f" [{scale * values[0]:.{digits}f}, {scale * values[1]:.{digits}f}]"


def mean_depth(result: AnalysisResult) -> float:
    """Mean relative depth of the minimal set (0 = embeddings, 1 = last layer)."""
    counts = np.asarray(result.layers.minimal.count, dtype=np.float64)
    depth = np.arange(len(counts)) / max(len(counts) - 1, 1)
    return float((counts * depth).sum() / counts.sum()) if counts.sum() else float("nan")


def depth_interval(result: AnalysisResult) -> tuple[np.ndarray, tuple[float, float]]:
    """Bootstrap draws of the minimal set's mean relative depth and their 95% interval."""
    draws = depth_draws(result.order, result.size_draws, result.hidden_size, result.n_layers)
    return draws, interval(draws)


def _by_model(results: Sequence[AnalysisResult]) -> dict[str, dict[str, AnalysisResult]]:
    out: dict[str, dict[str, AnalysisResult]] = {}
    for r in results:
        out.setdefault(r.model, {})[r.task] = r
    return out


def _small_subsets(results) -> Finding:
    comparisons = []
    for r in results:
        m = r.minimal
        share = m.fraction_interval or [m.fraction, m.fraction]
        gap = m.gap_ci or [np.nan, np.nan]
        if share[1] <= SMALL_SHARE and gap[1] <= CLOSE_POINTS and m.reached:
            outcome = YES
        elif share[0] > SMALL_SHARE or gap[0] > CLOSE_POINTS:
            outcome = NO
        else:
            outcome = UNDECIDED
        comparisons.append(
            Comparison(
                f"{r.model} x {r.task}",
                outcome,
                f"{r.model} x {r.task}: {m.size} neurons{_ci(m.size_interval, 1, 0)} "
                f"= {100 * m.fraction:.1f}%{_ci(share, 100, 1)} of the neurons; test "
                f"{100 * m.test_accuracy:.2f}% vs {100 * r.oracle.test_accuracy:.2f}% with "
                f"all neurons, gap{_ci(gap)} points",
                details={"share_interval": list(share), "gap_interval": list(gap)},
            )
        )
    return _finding(
        "small-subsets",
        "Small subsets of neurons predict each task almost as well as all neurons.",
        f"a model x task passes when the 95% interval of its minimal set's share lies at or below "
        f"{100 * SMALL_SHARE:g}% and that of its test-accuracy gap to the all-neuron probe at or "
        f"below {100 * CLOSE_POINTS:g} points; fails when either interval lies wholly above.",
        "share: bootstrap over dev sentences (the size is where the prefix curve crosses the "
        "threshold); gap: paired bootstrap over test sentences",
        comparisons,
    )


def _share_text(r: AnalysisResult) -> str:
    m = r.minimal
    return f"{r.task} {100 * m.fraction:.2f}%{_ci(m.fraction_interval)}"


def _task_levels(results) -> Finding:
    comparisons = []
    for model, tasks in sorted(_by_model(results).items()):
        for low, high in itertools.product(LOWER_TASKS, HIGHER_TASKS):
            if low in tasks and high in tasks:
                a, b = tasks[low], tasks[high]
                p_yes = bootstrap_p(a.size_draws / a.n_neurons, b.size_draws / b.n_neurons)
                p_no = bootstrap_p(b.size_draws / b.n_neurons, a.size_draws / a.n_neurons)
                comparisons.append(
                    Comparison(
                        f"{model}: {low} < {high}",
                        _outcome(p_yes, p_no),
                        f"{model}: {_share_text(a)} vs {_share_text(b)} of neurons, "
                        f"p = {p_yes:.3f}",
                        p_yes,
                    )
                )
    return _finding(
        "task-levels",
        "Lower-level tasks (POS) are localized in fewer neurons than higher-level syntax "
        "(chunking, CCG).",
        "for every model, the POS minimal set (as a share of the neurons) against those of "
        "chunking and CCG: yes when POS is smaller at the 5% level, no when it is larger.",
        "one-sided bootstrap over dev sentences of both tasks' minimal-set sizes (training "
        "variance left out; see docs/analysis.md)",
        comparisons,
    )


def _localization_text(r: AnalysisResult) -> str:
    m = r.minimal
    return (
        f"{r.model} {100 * m.fraction:.2f}% of neurons (chance {100 * (m.chance_share or np.nan):.1f}%, "
        f"ratio {m.localization:.3f}{_ci(m.localization_interval, 1, 3)})"
    )


def _architecture_verdict(local: list[str | None], disjoint: str | None, a: str, b: str) -> str:
    """One pair of models: ``local`` names the significantly more localized model per common
    task (None: undecided), ``disjoint`` the significantly more disjoint one."""
    decided = {w for w in local if w is not None}
    if decided == {a, b}:
        return "does not hold"  # the models split the tasks
    localized = local[0] if local[0] is not None and len(set(local)) == 1 else None
    if localized is not None and localized == disjoint:
        return "holds"
    if decided and disjoint is not None and disjoint not in decided:
        return "does not hold"  # the criteria name different models
    if not decided and disjoint is None:
        return "not significant"
    return "mixed"


def _architectures(results) -> Finding:
    models = _by_model(results)
    comparisons: list[Comparison] = []
    verdicts = []
    for a, b in itertools.combinations(sorted(models), 2):
        common = sorted(set(models[a]) & set(models[b]))
        if not common:
            continue
        local_outcomes = []
        for task in common:
            ra, rb = models[a][task], models[b][task]
            p_a, p_b = localization_p(ra, rb), localization_p(rb, ra)
            winner = a if p_a < ALPHA else b if p_b < ALPHA else None
            local_outcomes.append(winner)
            comparisons.append(
                Comparison(
                    f"{task}: localization {a} vs {b}",
                    "more localized: " + winner if winner else UNDECIDED,
                    f"{task}: {_localization_text(ra)} vs {_localization_text(rb)}, "
                    f"p = {min(p_a, p_b):.3f}",
                    min(p_a, p_b),
                )
            )
        # the same task pairs on both sides: an average over other pairs would compare the
        # tasks that happened to be analysed, not the models
        shared_a = [models[a][t] for t in common]
        shared_b = [models[b][t] for t in common]
        da, db = overlap_ratio_draws(shared_a), overlap_ratio_draws(shared_b)
        disjoint = None
        if da is not None and db is not None:
            p_a, p_b = bootstrap_p(da, db), bootstrap_p(db, da)
            disjoint = a if p_a < ALPHA else b if p_b < ALPHA else None
            ta, tb = compare_tasks(shared_a), compare_tasks(shared_b)
            comparisons.append(
                Comparison(
                    f"task overlap {a} vs {b}",
                    "more disjoint: " + disjoint if disjoint else UNDECIDED,
                    f"task overlap as observed / chance Jaccard (mean over task pairs): "
                    f"{a} {ta['mean_ratio']:.2f}{_ci(ta['mean_ratio_interval'], 1)}, "
                    f"{b} {tb['mean_ratio']:.2f}{_ci(tb['mean_ratio_interval'], 1)}, "
                    f"p = {min(p_a, p_b):.3f}",
                    min(p_a, p_b),
                    {
                        "observed_jaccard": {
                            m: {"/".join(p["tasks"]): p["jaccard"] for p in t["pairs"]}
                            for m, t in ((a, ta), (b, tb))
                        },
                        "expected_jaccard": {
                            m: {"/".join(p["tasks"]): p["expected_jaccard"] for p in t["pairs"]}
                            for m, t in ((a, ta), (b, tb))
                        },
                    },
                )
            )
        verdicts.append(_architecture_verdict(local_outcomes, disjoint, a, b))
    verdict = (
        "not measured" if not verdicts else verdicts[0] if len(set(verdicts)) == 1 else "mixed"
    )
    return Finding(
        "architectures",
        "Architectures differ: one model's neurons are more localized (smaller minimal sets) and "
        "more disjoint across tasks (less overlap between tasks' minimal sets) than the other's.",
        "for each pair of models: localization is the minimal share divided by its chance level, "
        "the share of neurons random sets need for the same accuracy (raw shares of models of "
        "different widths do not compare); disjointness is the task overlap divided by the "
        "overlap random sets of the same sizes have (hypergeometric). Holds when one model is "
        "significantly more localized on every common task and significantly more disjoint; "
        "does not hold when the models split the tasks or the two criteria name different "
        "models; not significant when neither criterion is decided; mixed otherwise.",
        verdict,
        [f"{c.text} ({c.outcome})" for c in comparisons],
        "one-sided bootstrap over dev sentences of both ratios (each model's own draws)",
        comparisons,
    )


def _top_random_bottom(results) -> Finding:
    comparisons = []
    for r in results:
        for size in SIZES:
            q = r.ranking_quality.get(size)
            if q is None or q.p_top_vs_random is None:
                continue
            p_top, p_bottom = q.p_top_vs_random, q.p_random_vs_bottom
            above = p_top < ALPHA and p_bottom < ALPHA
            reversed_ = (np.isfinite(p_top) and p_top > 1 - ALPHA) or (
                np.isfinite(p_bottom) and p_bottom > 1 - ALPHA
            )
            outcome = YES if above else NO if reversed_ else UNDECIDED
            comparisons.append(
                Comparison(
                    f"{r.model} x {r.task} at {size}%",
                    outcome,
                    f"{r.model} x {r.task} at {size}%: top {100 * q.top:.1f}"
                    f"{_ci(q.top_ci, 100, 1)}, random {100 * q.random_mean:.1f} +- "
                    f"{100 * q.random_std:.2f} ({len(q.random_draws)} draws; top at "
                    f"percentile {q.top_percentile:.0f}, p = {p_top:.3f}), bottom "
                    f"{100 * q.bottom:.1f}{_ci(q.bottom_ci, 100, 1)} "
                    f"(random > bottom p = {p_bottom:.3f})",
                    max(p_top, p_bottom),
                    {"p_top_vs_random": p_top, "p_random_vs_bottom": p_bottom},
                )
            )
    return _finding(
        "top-random-bottom",
        "Top-ranked neurons beat random neurons, which beat bottom-ranked neurons.",
        "retrained test accuracy on the top, random and bottom 1%, 5% and 10% of the neurons "
        "(bottom: the method's own lowest, averaged over tie orders where it ranks them equal): "
        "a size passes when top lies above the random draws and the random draws above bottom, "
        "each at the 5% level; fails when either order is significantly reversed.",
        "top vs random: one-sided Student t prediction test on the random draws (with top's "
        "percentile among them); random vs bottom: one-sided Mann-Whitney U test against bottom's "
        "tie orders, or the prediction test when bottom is one set",
        comparisons,
    )


def _layers(results) -> Finding:
    comparisons = []
    for model, tasks in sorted(_by_model(results).items()):
        for low, high in itertools.product(LOWER_TASKS, HIGHER_TASKS):
            if low in tasks and high in tasks:
                (da, ia), (db, ib) = depth_interval(tasks[low]), depth_interval(tasks[high])
                a, b = mean_depth(tasks[low]), mean_depth(tasks[high])
                p_yes, p_no = bootstrap_p(da, db), bootstrap_p(db, da)
                comparisons.append(
                    Comparison(
                        f"{model}: {low} lower than {high}",
                        _outcome(p_yes, p_no),
                        f"{model}: mean relative depth of the minimal set, {low} {a:.2f}"
                        f"{_ci(ia, 1)} vs {high} {b:.2f}{_ci(ib, 1)}, p = {p_yes:.3f}",
                        p_yes,
                        {"depth": {low: [a, *ia], high: [b, *ib]}},
                    )
                )
    return _finding(
        "layers",
        "Neurons of lower-level tasks sit lower in the network than those of higher-level tasks.",
        "mean relative depth (0 = embeddings, 1 = last layer) of each minimal set: yes when POS "
        "sits lower than chunking or CCG at the 5% level, no when higher.",
        "one-sided bootstrap: dev-sentence draws of the set size, the set's neurons resampled "
        "with replacement",
        comparisons,
    )


def findings(results: Sequence[AnalysisResult]) -> list[Finding]:
    """The paper's findings (1)-(4) and the layer finding, decided on ``results``."""
    return [
        _small_subsets(results),
        _task_levels(results),
        _architectures(results),
        _top_random_bottom(results),
        _layers(results),
    ]
