"""The paper's analysis of one model x task, end to end (``neuronviz probe``).

:func:`analyse` chains the steps on :class:`~neuronviz.probing.features.ProbeData`:

1. choose the regularisation (:mod:`neuronviz.analyses.lambdas`), by default for the ranking's quality;
2. train the oracle probe on all neurons on the full training split, to convergence (KKT
   violation at most ``kkt_tol``; every fit records whether it got there);
3. rank neurons (``lca`` by default, :mod:`neuronviz.probing.ranking`);
4. find the minimal neuron set and the top/random/bottom curves, ablation (:mod:`neuronviz.analyses.subsets`);
5. intervals and chance levels of those numbers (:mod:`neuronviz.stats.intervals`);
6. control task and selectivity (:mod:`neuronviz.probing.control`), fitted on the oracle's terms;
7. layer distribution and per-layer probes (:mod:`neuronviz.analyses.layers`);
8. with ``seeds > 1``, stability of the minimal set over training resamples.

:func:`run_analysis` adds the cache around it: activations are extracted if needed, and a result
with the same inputs and settings is loaded instead of recomputed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from neuronviz.analyses.lambdas import class_means
from neuronviz.analyses.layers import layer_distribution, layer_probes
from neuronviz.analyses.oracle import (
    control_task,
    fit_once,
    oracle_summary,
    predictions_on_test,
    rank,
    search_and_fit_grid,
)
from neuronviz.analyses.settings import QUALITY_PERCENTS, AnalysisSettings
from neuronviz.analyses.stability import minimal_set_stability
from neuronviz.analyses.subsets import (
    ablation,
    curves,
    feasible_percents,
    minimal_set,
    minimal_threshold,
)
from neuronviz.engines.choose import check_engine
from neuronviz.errors import ConfigError
from neuronviz.models.registry import MODELS
from neuronviz.probing.allocator import reuse_freed_memory
from neuronviz.probing.design import DenseDesign
from neuronviz.probing.features import ProbeData, load_probe_data
from neuronviz.probing.probe import fit_sparse
from neuronviz.probing.retrain import (
    FitPool,
    Retrainer,
    correct_of,
    percent_size,
)
from neuronviz.progress import ProgressCallback
from neuronviz.stats.intervals import curve_intervals, minimal_uncertainty, ranking_quality
from neuronviz.stats.uncertainty import (
    Bootstraps,
    as_interval,
)
from neuronviz.store.activation_cache import ActivationCache
from neuronviz.store.checkpoints import Checkpoint
from neuronviz.store.result_parts import Preview
from neuronviz.store.result_store import ResultStore
from neuronviz.store.results import AnalysisResult

__all__ = ["analyse", "run_analysis"]

log = logging.getLogger(__name__)


def _retrain_record(retrain: Retrainer) -> dict:
    """How many retrained probes reached their gradient tolerance, and the worst gradient."""
    done = retrain.all_retrained()
    grads = [r.grad_max for r in done if np.isfinite(r.grad_max)]
    return {
        "retrained": len(done),
        "retrained_converged": int(sum(r.converged for r in done)),
        "retrained_grad_max": float(max(grads)) if grads else None,
    }


def _search(data: ProbeData, settings: AnalysisSettings, checkpoint: Checkpoint | None):
    """The lambda search and the chosen pair's grid fit, from the checkpoint when a killed run
    saved them."""
    restored = checkpoint.load_search(data.train.device) if checkpoint is not None else None
    if checkpoint is not None and restored is not None:
        log.info("lambda search: taken from the checkpoint in %s", checkpoint.folder)
        return restored
    search, grid_fit = search_and_fit_grid(data, settings)
    if checkpoint is not None:
        checkpoint.save_search(search, grid_fit)
    return search, grid_fit


def _fit_oracle(data: ProbeData, settings: AnalysisSettings, pair, grid_fit, checkpoint):
    """The all-neuron probe on the full training split, warm started from the grid fit."""
    return fit_once(
        checkpoint,
        "oracle",
        data.train.device,
        lambda: fit_sparse(
            data.train,
            data.y_train,
            data.n_classes,
            *pair,
            init=(grid_fit.weights, grid_fit.bias),
            **settings.fit_terms(),
        ),
    )


def _layer_sets(data: ProbeData, ranking, minimal_neurons: np.ndarray, percents) -> dict:
    """Layer distribution of the minimal set and of the top-k set at each percent."""
    return {
        "minimal": layer_distribution(minimal_neurons, data.n_layers, data.hidden_size),
        "top": {
            f"{p:g}": layer_distribution(
                ranking.top(percent_size(p, data.n_neurons)), data.n_layers, data.hidden_size
            )
            for p in percents
        },
    }


def _layer_probes(data: ProbeData, retrain: Retrainer, boots: Bootstraps) -> dict:
    """Each single layer's retrained probe: dev and test accuracy, test interval."""
    probes = layer_probes(data, retrain)
    return {
        "probe_dev_accuracy": probes.dev,
        "probe_test_accuracy": probes.test,
        "probe_test_ci": [
            as_interval(boots.test.interval(r.correct("test", len(data.test.y))))
            for r in probes.probes
        ],
    }


def _check_seeds(data: ProbeData, settings: AnalysisSettings) -> None:
    if settings.seeds > 1 and not isinstance(data.train, DenseDesign):
        raise ConfigError(
            f"--seeds {settings.seeds} resamples the training matrix in memory, but "
            f"{data.model} x {data.task} is streamed from the cache (too large for memory)",
            hint="lower --max-train-words until it fits, or run with --seeds 1",
        )


def _curves(data: ProbeData, settings: AnalysisSettings, ranking, retrain: Retrainer, boots):
    """Top / random / bottom curves at every percent (the quality sizes always among them),
    with their test intervals."""
    percents = feasible_percents(data, sorted(set(settings.percents) | set(QUALITY_PERCENTS)))
    curve, probes = curves(
        data,
        ranking,
        retrain,
        percents,
        settings.random_draws,
        settings.seed,
        settings.tie_draws,
        QUALITY_PERCENTS,
    )
    return curve_intervals(curve, probes, boots.test), probes


def _durations(starts: dict[str, float]) -> dict[str, float]:
    """Seconds each stage took, from the stages' start times (and now)."""
    starts = {**starts, "end": time.perf_counter()}
    names = list(starts)
    return {n: round(starts[names[i + 1]] - starts[n], 2) for i, n in enumerate(names[:-1])}


def analyse(
    data: ProbeData,
    settings: AnalysisSettings | None = None,
    callback: ProgressCallback | None = None,
    pool: FitPool | None = None,
    checkpoint: Checkpoint | None = None,
) -> AnalysisResult:
    """Run every step of the analysis on loaded probe data and return the result.

    With a ``pool`` (the Ray engine) the independent retrainings of each step (the coarse
    minimal-set sizes, the top/random/bottom curves, the per-layer probes) run as parallel
    tasks; the lambda search and the oracle, a chain of warm-started fits, run here. With a
    ``checkpoint`` the search, the all-neuron fits and every retrained probe are written there
    as they finish, and whatever an earlier (killed) run of the same analysis wrote is reused.
    """
    # One function on purpose: the steps run in the paper's order, each handing its result to
    # the next; each step is one call, and the chain reads top to bottom as the method does.
    settings = settings or AnalysisSettings()
    reuse_freed_memory()
    _check_seeds(data, settings)
    timings: dict[str, float] = {}

    def stage(name: str) -> None:
        timings[name] = time.perf_counter()
        if callback:
            callback(name, 0, 1)  # a stage starts; extraction reports within-stage progress itself
        log.info("%s %s: %s", data.model, data.task, name)

    stage("lambda search")
    search, grid_fit = _search(data, settings, checkpoint)
    pair = search.chosen
    stage("oracle")
    oracle = _fit_oracle(data, settings, pair, grid_fit, checkpoint)
    boots = Bootstraps.of(data, settings.bootstrap, settings.seed)
    oracle_correct = {
        "dev": correct_of(data.dev, oracle, None, data.dev.y),
        "test": correct_of(data.test, oracle, None, data.test.y),
    }
    oracle_info = oracle_summary(data, oracle, pair, oracle_correct, boots)
    stage("ranking")
    ranking = rank(
        data,
        oracle,
        settings.method,
        pair[0],
        settings.seed,
        search.weighting,
        max_iter=settings.oracle_iter,
        kkt_tol=settings.kkt_tol,
    )
    retrain = Retrainer(data, pair[1], settings.retrain_iter, pool, checkpoint)
    if retrain.recorded:
        log.info("%d retrained probes taken from the checkpoint", retrain.recorded)
    stage("minimal set")
    threshold = minimal_threshold(
        oracle_info["dev_accuracy"], settings.delta, settings.relative_delta
    )
    minimal = minimal_set(data, ranking, retrain, threshold)
    stage("curves")
    curve, probes = _curves(data, settings, ranking, retrain, boots)
    quality = ranking_quality(curve, percents=QUALITY_PERCENTS)
    stage("intervals")
    minimal_info, draw_arrays = minimal_uncertainty(
        data, settings, minimal, curve, probes, ranking, retrain, oracle_correct, boots
    )
    ablated = ablation(data, oracle, ranking, settings.percents, settings.seed)
    control = None
    if settings.control:
        stage("control")
        control = control_task(
            data,
            pair,
            retrain(minimal.neurons),
            retrain,
            settings,
            {"all": oracle_correct["test"], "minimal_neurons": minimal.neurons},
            boots,
            checkpoint,
        )
    layers = _layer_sets(data, ranking, minimal.neurons, settings.percents)
    if settings.layers:
        stage("layers")
        layers.update(_layer_probes(data, retrain, boots))
    stability = None
    if settings.seeds > 1:
        stage("stability")
        stability = minimal_set_stability(
            data, settings, pair, oracle, retrain, threshold, minimal, search.weighting
        )
    predictions = predictions_on_test(data, oracle, retrain, minimal.neurons)
    durations = _durations(timings)
    return AnalysisResult.build(
        data=data,
        settings=settings,
        search=search,
        oracle=oracle,
        oracle_info={**oracle_info, **_retrain_record(retrain)},
        ranking=ranking,
        minimal=minimal,
        minimal_extra=minimal_info,
        curves=curve,
        quality=quality,
        ablation=ablated,
        control=control,
        layers=layers,
        stability=stability,
        class_means=class_means(data.train, data.y_train, data.n_classes),
        timings=durations,
        extra_arrays={
            "feature_mean": np.asarray(data.train.mean, dtype=np.float32),
            "feature_scale": np.asarray(data.train.scale, dtype=np.float32),
            "test_labels": np.asarray(data.test.y, dtype=np.int64),
            **draw_arrays,
            **predictions,
        },
    )


def run_analysis(
    model: str,
    task: str,
    *,
    settings: AnalysisSettings | None = None,
    cache: ActivationCache | str | Path | None = None,
    data_dir: str | Path | None = None,
    max_sentences: int | None = None,
    extract: bool = True,
    device: str = "auto",
    force: bool = False,
    aggregation: str = "last",
    callback: ProgressCallback | None = None,
    engine: str = "local",
    workers: int | None = None,
    preview: bool = False,
) -> AnalysisResult:
    """Analyse ``model`` x ``task``: cached result if the inputs and settings match, else compute.

    ``preview`` marks the result as a preview of the analysis on ``max_sentences`` sentences a
    split (see :mod:`neuronviz.analyses.previews`), which views label and a full analysis replaces.
    ``aggregation`` chooses the word vectors (last, first or mean subword). With
    ``extract=False`` missing activations are an error instead of being extracted.
    ``engine="ray"`` extracts on Ray workers and runs the independent probe fits as Ray tasks
    (``workers`` at a time); the result is the same as the local engine's.
    """
    engine = check_engine(engine)
    if preview and not max_sentences:  # before minutes of extraction
        raise ConfigError("a preview needs a sentence sample (max_sentences)")
    from neuronviz.extraction.extract import ExtractionSettings
    from neuronviz.extraction.fill_cache import cached_entries, extract_task
    from neuronviz.models.device import resolve_device

    settings = settings or AnalysisSettings()
    cache = cache if isinstance(cache, ActivationCache) else ActivationCache(cache)
    sample: dict[str, Any] = {"cache": cache, "data_dir": data_dir, "max_sentences": max_sentences}
    extraction = ExtractionSettings(aggregation=aggregation)
    if extract:
        entries = extract_task(
            model,
            task,
            **sample,
            device=device,
            settings=extraction,
            callback=callback,
            engine=engine,
            workers=workers,
        ).entries
    else:
        entries = cached_entries(model, task, **sample, settings=extraction)
    store = ResultStore(cache.root)
    key = store.key(entries, task, settings, preview=preview)
    stored_model = entries["train"].manifest.key.model
    if not force:
        found = store.load(stored_model, key)
        if found is not None:
            return found
    checkpoint = Checkpoint.for_result(store.base, stored_model, task, settings.method, key)
    if force:
        checkpoint.remove()
    elif checkpoint.exists():
        log.info("%s x %s: continuing the interrupted run in %s", model, task, checkpoint.folder)
    data = load_probe_data(
        entries, task, max_train_words=settings.max_train_words, device=resolve_device(device)
    )
    pool = None
    if engine == "ray":
        from neuronviz.engines.ray_engine import RayFitPool

        pool = RayFitPool(data, workers=workers)
    result = analyse(data, settings, callback, pool, checkpoint)
    source = model if model in MODELS else entries["train"].manifest.model.get("source", model)
    result = result.with_inputs(
        key=key, entries={s: e.manifest.entry_id for s, e in entries.items()}, model_source=source
    )
    if preview:
        result = replace(result, preview=Preview(sentences=int(max_sentences or 0)))
    store.save(result)
    checkpoint.remove()
    return result
