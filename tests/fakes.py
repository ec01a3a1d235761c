"""Constructed analysis results for tests of the verdict rules: every number chosen by hand."""

from __future__ import annotations

import numpy as np

from neuronviz.store.result_parts import (
    Curves,
    LayerCounts,
    Layers,
    MinimalSetRecord,
    OracleFit,
    QualityAtSize,
    RankingRecord,
    SearchRecord,
)
from neuronviz.store.results import AnalysisResult


def quality(
    top: float, draws, bottoms, p_top: float, p_bottom: float, size: int = 10
) -> QualityAtSize:
    """One ranking-quality entry with its test results set directly."""
    draws = list(draws)
    return QualityAtSize(
        size=size,
        top=top,
        top_ci=[top - 0.01, top + 0.01],
        random_mean=float(np.mean(draws)),
        random_std=float(np.std(draws, ddof=1)),
        random_draws=draws,
        random_band=[min(draws), max(draws)],
        top_percentile=100.0 * float(np.mean(np.asarray(draws) < top)),
        p_top_vs_random=p_top,
        beats_random=p_top < 0.05,
        bottom=float(np.mean(bottoms)),
        bottom_ci=[min(bottoms), max(bottoms)],
        bottom_draws=list(bottoms),
        p_random_vs_bottom=p_bottom,
        random_beats_bottom=p_bottom < 0.05,
    )


def fake_result(
    model: str = "m",
    task: str = "pos",
    *,
    n_layers: int = 5,
    hidden: int = 40,
    size: int = 20,
    spread: float = 2.0,
    chance: float = 0.3,
    chance_spread: float = 0.02,
    order: np.ndarray | None = None,
    gap: tuple[float, float] = (0.0, 0.01),
    ranking_quality: dict[str, QualityAtSize] | None = None,
    seed: int = 0,
    n_draws: int = 400,
) -> AnalysisResult:
    """A result whose minimal set is the first ``size`` neurons of ``order`` (default: by id),
    with bootstrap draws of the size (normal, sd ``spread``) and of the chance share."""
    n = n_layers * hidden
    rng = np.random.default_rng(seed)
    order = np.arange(n) if order is None else np.asarray(order, dtype=np.int64)
    size_draws = np.clip(np.round(rng.normal(size, spread, n_draws)), 1, n).astype(np.int64)
    chance_draws = np.clip(rng.normal(chance, chance_spread, n_draws), 1e-3, 1.0)
    low, high = np.percentile(size_draws, [2.5, 97.5])
    minimal_neurons = order[:size]
    counts = np.bincount(minimal_neurons // hidden, minlength=n_layers)
    localization = (size_draws / n) / chance_draws
    return AnalysisResult(
        model=model,
        task=task,
        method="lca",
        settings={},
        n_layers=n_layers,
        hidden_size=hidden,
        layer_names=[f"layer {i}" for i in range(n_layers)],
        classes=["A", "B"],
        words={"train": 100, "dev": 50, "test": 50},
        lambda_search=SearchRecord(points=[], rule="separation"),
        oracle=OracleFit(lambda1=1e-3, lambda2=1e-3, dev_accuracy=0.95, test_accuracy=0.95),
        ranking=RankingRecord(weighting="uniform", n_weighted=n),
        minimal=MinimalSetRecord(
            size=size,
            fraction=size / n,
            size_interval=[float(low), float(high)],
            fraction_interval=[low / n, high / n],
            test_accuracy=0.95 - (gap[0] + gap[1]) / 2,
            gap_ci=list(gap),
            reached=True,
            chance_share=chance,
            localization=(size / n) / chance,
            localization_interval=[float(v) for v in np.percentile(localization, [2.5, 97.5])],
        ),
        curves=Curves(sizes=[], top={"test": [], "dev": []}, percents=[]),
        ranking_quality=ranking_quality or {},
        ablation=None,
        layers=Layers(minimal=LayerCounts(count=counts.tolist())),
        arrays={
            "order": order,
            "minimal_neurons": minimal_neurons,
            "minimal_size_draws": size_draws,
            "chance_share_draws": chance_draws,
        },
    )
