"""The paper's findings, each decided from analysis results by a rule stated in words.

Durrani et al. (EMNLP 2020) report: (1) small subsets of neurons predict each task almost as
well as all neurons; (2) lower-level tasks (POS) are localized in fewer neurons than higher-level
syntax (chunking, CCG); (3) architectures differ: one model's neurons are more localized and
more disjoint across tasks than the other's (XLNet vs BERT in the paper); (4) top neurons beat
random ones, which beat bottom ones; and where salient neurons sit by layer (lower-level tasks
lower in the network). Nothing here is hard-coded: each verdict follows from the numbers, and
each comes with the rule and the numbers that decided it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from neuronviz.compare import compare_tasks
from neuronviz.results import AnalysisResult

__all__ = ["HIGHER_TASKS", "LOWER_TASKS", "Finding", "findings", "mean_depth"]

LOWER_TASKS = ("pos",)
HIGHER_TASKS = ("chunk", "ccg")
SMALL_SHARE = 0.20  # finding 1: a minimal set of at most a fifth of the neurons ...
CLOSE_POINTS = 0.02  # ... within 2 points of the all-neuron probe on test
SIZES = ("1", "5", "10")


@dataclass(frozen=True)
class Finding:
    key: str
    claim: str
    rule: str
    verdict: str  # "holds", "does not hold", "mixed" or "not measured"
    evidence: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "key": self.key,
            "claim": self.claim,
            "rule": self.rule,
            "verdict": self.verdict,
            "evidence": list(self.evidence),
        }


def _verdict(passed: Sequence[bool]) -> str:
    if not passed:
        return "not measured"
    if all(passed):
        return "holds"
    return "does not hold" if not any(passed) else "mixed"


def mean_depth(result: AnalysisResult) -> float:
    """Mean relative depth of the minimal set (0 = embeddings, 1 = last layer)."""
    counts = np.asarray(result.layers["minimal"]["count"], dtype=np.float64)
    depth = np.arange(len(counts)) / max(len(counts) - 1, 1)
    return float((counts * depth).sum() / counts.sum()) if counts.sum() else float("nan")


def _by_model(results: Sequence[AnalysisResult]) -> dict[str, dict[str, AnalysisResult]]:
    out: dict[str, dict[str, AnalysisResult]] = {}
    for r in results:
        out.setdefault(r.model, {})[r.task] = r
    return out


def _small_subsets(results) -> Finding:
    passed, evidence = [], []
    for r in results:
        share = r.minimal["fraction"]
        gap = r.oracle["test_accuracy"] - r.minimal["test_accuracy"]
        ok = share <= SMALL_SHARE and gap <= CLOSE_POINTS and r.minimal["reached"]
        passed.append(ok)
        evidence.append(
            f"{r.model} x {r.task}: {r.minimal['size']} neurons ({100 * share:.1f}%), "
            f"{100 * r.minimal['test_accuracy']:.2f}% vs {100 * r.oracle['test_accuracy']:.2f}% "
            f"with all neurons ({'yes' if ok else 'no'})"
        )
    return Finding(
        "small-subsets",
        "Small subsets of neurons predict each task almost as well as all neurons.",
        f"holds when every model x task has a minimal set of at most {100 * SMALL_SHARE:g}% of "
        f"the neurons whose test accuracy is within {100 * CLOSE_POINTS:g} points of the "
        "all-neuron probe; does not hold when none has; mixed otherwise.",
        _verdict(passed),
        evidence,
    )


def _task_levels(results) -> Finding:
    passed, evidence = [], []
    for model, tasks in sorted(_by_model(results).items()):
        for low, high in itertools.product(LOWER_TASKS, HIGHER_TASKS):
            if low in tasks and high in tasks:
                a, b = tasks[low].minimal["fraction"], tasks[high].minimal["fraction"]
                passed.append(a < b)
                evidence.append(
                    f"{model}: {low} {100 * a:.2f}% vs {high} {100 * b:.2f}% of neurons "
                    f"({'yes' if a < b else 'no'})"
                )
    return Finding(
        "task-levels",
        "Lower-level tasks (POS) are localized in fewer neurons than higher-level syntax "
        "(chunking, CCG).",
        "for every model, the POS minimal set (as a share of neurons) is compared with those of "
        "chunking and CCG: holds when POS is smaller in every comparison; does not hold when in "
        "none; mixed otherwise.",
        _verdict(passed),
        evidence,
    )


def _mean_jaccard(tasks: dict[str, AnalysisResult]) -> float | None:
    if len(tasks) < 2:
        return None
    pairs = compare_tasks(list(tasks.values()))["pairs"]
    return float(np.mean([p["jaccard"] for p in pairs]))


def _architectures(results) -> Finding:
    models = _by_model(results)
    claim = (
        "Architectures differ: one model's neurons are more localized (smaller minimal sets) and "
        "more disjoint across tasks (less overlap between tasks' minimal sets) than the other's."
    )
    rule = (
        "for each pair of models: on every task both analysed, which model's minimal set is a "
        "smaller share of its neurons, and which model's tasks overlap less (mean Jaccard of "
        "minimal sets over task pairs). Holds when one model is more localized on every common "
        "task and also more disjoint; does not hold when the models split the tasks and neither "
        "is more disjoint by 0.02 or more; mixed otherwise."
    )
    verdicts, evidence = [], []
    for a, b in itertools.combinations(sorted(models), 2):
        common = sorted(set(models[a]) & set(models[b]))
        if not common:
            continue
        wins = {a: 0, b: 0}
        for task in common:
            sa, sb = (models[m][task].minimal["fraction"] for m in (a, b))
            wins[a if sa < sb else b] += 1
            evidence.append(f"{task}: {a} {100 * sa:.2f}% vs {b} {100 * sb:.2f}% of neurons")
        ja, jb = _mean_jaccard(models[a]), _mean_jaccard(models[b])
        localized = a if wins[a] == len(common) else b if wins[b] == len(common) else None
        disjoint = None
        if ja is not None and jb is not None:
            evidence.append(f"mean task-overlap Jaccard: {a} {ja:.3f}, {b} {jb:.3f}")
            if abs(ja - jb) >= 0.02:
                disjoint = a if ja < jb else b
        if localized and localized == disjoint:
            verdicts.append("holds")
            evidence.append(f"{localized} is both more localized and more disjoint")
        elif localized is None and disjoint is None:
            verdicts.append("does not hold")
        else:
            verdicts.append("mixed")
            if localized:
                evidence.append(f"{localized} is more localized on every task")
            if disjoint:
                evidence.append(f"{disjoint} is more disjoint across tasks")
    if not verdicts:
        verdict = "not measured"
    elif len(set(verdicts)) == 1:
        verdict = verdicts[0]
    else:
        verdict = "mixed"
    return Finding("architectures", claim, rule, verdict, evidence)


def _top_random_bottom(results) -> Finding:
    passed, evidence = [], []
    for r in results:
        parts = []
        for size in SIZES:
            q = r.ranking_quality.get(size)
            if not q:
                continue
            spread = q["random_std"]
            above_random = q["beats_random"]  # the analysis's own rule: top > mean + std
            above_bottom = q["random_mean"] > q["bottom"] + spread
            passed.append(above_random and above_bottom)
            misses = [
                *([] if above_random else ["top not above random by its spread"]),
                *([] if above_bottom else ["random not above bottom by its spread"]),
            ]
            parts.append(
                f"{size}%: {100 * q['top']:.1f} / {100 * q['random_mean']:.1f} +- "
                f"{100 * spread:.2f} / {100 * q['bottom']:.1f}"
                + (f" (no: {', '.join(misses)})" if misses else "")
            )
        evidence.append(f"{r.model} x {r.task}: " + "; ".join(parts))
    return Finding(
        "top-random-bottom",
        "Top-ranked neurons beat random neurons, which beat bottom-ranked neurons.",
        "retrained test accuracy on the top, random (mean +- standard deviation over the random "
        "draws) and bottom 1%, 5% and 10% of the neurons: a size passes when top exceeds the "
        "random mean, and the random mean exceeds bottom, each by more than that standard "
        "deviation (a gap inside the spread of random draws is no evidence); holds when every "
        "size of every model x task passes; does not hold when none does; mixed otherwise.",
        _verdict(passed),
        evidence,
    )


def _layers(results) -> Finding:
    passed, evidence = [], []
    for model, tasks in sorted(_by_model(results).items()):
        for low, high in itertools.product(LOWER_TASKS, HIGHER_TASKS):
            if low in tasks and high in tasks:
                a, b = mean_depth(tasks[low]), mean_depth(tasks[high])
                passed.append(a < b)
                evidence.append(
                    f"{model}: mean relative depth of the minimal set, {low} {a:.2f} vs "
                    f"{high} {b:.2f} ({'yes' if a < b else 'no'})"
                )
    return Finding(
        "layers",
        "Neurons of lower-level tasks sit lower in the network than those of higher-level tasks.",
        "mean relative depth (0 = embeddings, 1 = last layer) of each minimal set: holds when "
        "POS sits lower than chunking and CCG in every model; does not hold when in none; mixed "
        "otherwise.",
        _verdict(passed),
        evidence,
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
