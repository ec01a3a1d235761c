"""The Ray engine: sharded extraction on many workers and parallel probe fits.

Imported only for ``--engine ray`` (Ray is the optional extra ``neuronviz[ray]``). The driver
connects to the cluster at ``$RAY_ADDRESS`` (or starts a local one), and:

- **extraction**: cuts a split into sentence-range shards (:mod:`neuronviz.extraction.shards`) and hands the
  missing ones to a pool of actors, each holding the model once (one GPU each when the cluster has
  GPUs). Shards land in the shared cache folder, which every worker must reach (one machine, or
  a shared file system). A worker that dies mid-shard is restarted and its shard retried (it
  resumes the batches already written); a rerun after a crash produces only the missing shards.
- **probing**: the independent retrainings of an analysis run as Ray tasks that read the neurons
  they need from the store (:func:`neuronviz.probing.retrain.retrain_from_store`), so the driver never
  ships the training matrix; results equal the local engine's.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

from neuronviz.corpora.tasks import TaskSplit
from neuronviz.errors import ConfigError, ModelError, NeuronvizError
from neuronviz.extraction.extract import ExtractionSettings
from neuronviz.extraction.shards import ShardSpec, build_shard, build_sharded
from neuronviz.probing.features import ProbeData
from neuronviz.probing.objective import FitResult
from neuronviz.probing.retrain import Control, Retrained, retrain_from_store
from neuronviz.progress import Progress, ProgressCallback
from neuronviz.store.activation_cache import ActivationCache
from neuronviz.store.activations import ActivationEntry
from neuronviz.store.manifests import EntryKey, Manifest

__all__ = ["ExtractorPool", "RayFitPool", "connect", "extract_split_ray"]

log = logging.getLogger(__name__)

MAX_RETRIES = 3  # a shard or fit whose worker dies is retried this many times
# Test hook: "SHARD:MARKER" makes the worker building shard SHARD die (os._exit) after its first
# batch, once (the marker file records that it happened): a kill -9 mid-shard, reproducibly.
CRASH_ENV = "NEURONVIZ_TEST_CRASH_SHARD"


def _ray():
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "--engine ray needs Ray, which is not installed",
            hint="pip install 'neuronviz[ray]' (or pip install ray), or use --engine local",
        ) from None
    return ray


def connect(address: str | None = None, num_cpus: int | None = None) -> None:
    """Join the Ray cluster at ``address`` / ``$RAY_ADDRESS``, or start a local one (once)."""
    ray = _ray()
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    options: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING}
    if address is None:
        options["num_cpus"] = num_cpus
    try:
        ray.init(address=address, **options)
    except (ConnectionError, RuntimeError) as exc:
        raise ConfigError(
            f"cannot reach the Ray cluster at {address}: {exc}",
            hint="start it with `ray start --head` or unset RAY_ADDRESS to run a local one",
        ) from None
    resources = ray.cluster_resources()
    log.info(
        "Ray: %s, %d CPUs, %d GPUs",
        address or "local cluster",
        int(resources.get("CPU", 0)),
        int(resources.get("GPU", 0)),
    )


def _worker_env() -> dict[str, Any]:
    """The driver's neuronviz and Hugging Face settings (offline mode, caches) for workers."""
    env = {k: v for k, v in os.environ.items() if k.startswith(("NEURONVIZ_", "HF_"))}
    return {"env_vars": env} if env else {}


def _capacity() -> tuple[int, int]:
    resources = _ray().cluster_resources()
    return int(resources.get("CPU", 1)), int(resources.get("GPU", 0))


def _unwrap(exc: Exception) -> Exception:
    """The neuronviz error a worker raised, or one that says which worker failed and why."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, NeuronvizError):
        return cause
    return ModelError(
        f"a Ray worker failed: {cause or exc}",
        hint="see the worker's log in /tmp/ray/session_latest/logs; rerunning resumes the "
        "shards already written",
    )


class _Extractor:
    """A Ray actor holding one copy of the model; builds shards into the shared cache folder."""

    def __init__(
        self,
        model: str,
        device: str,
        dtype: str,
        revision: str | None,
        cache_dir: str,
        threads: int,
    ) -> None:
        import torch

        from neuronviz.models.loading import load_model

        torch.set_num_threads(threads)
        self.model = load_model(
            model, device=device, dtype=dtype, revision=revision, cache_dir=cache_dir
        )

    def build(
        self,
        split: TaskSplit,
        spec: ShardSpec,
        partial: str,
        settings: ExtractionSettings,
        fingerprint: str,
    ) -> tuple[Any, dict[str, Any]]:
        crash = _crash_hook(spec.index)
        return build_shard(
            self.model,
            split,
            spec,
            Path(partial),
            settings,
            fingerprint=fingerprint,
            on_batch=crash,
        )


def _crash_hook(index: int):
    wanted = os.environ.get(CRASH_ENV, "")
    if not wanted.startswith(f"{index}:"):
        return None
    marker = Path(wanted.split(":", 1)[1])

    def die(_words: int) -> None:
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            os._exit(1)

    return die


def _uses_gpu(device: str) -> bool:
    return _capacity()[1] > 0 and device in ("auto", "cuda")


def default_workers(n_shards: int, requested: int | None = None, device: str = "auto") -> int:
    """Extraction actors: as requested (default one per GPU, else per CPU), but no more than the
    cluster can host at once (an actor waiting for resources would hold its shard forever) and
    no more than there are shards."""
    cpus, gpus = _capacity()
    if not _uses_gpu(device):
        gpus = 0
    capacity = gpus or cpus
    if requested and requested > capacity:
        log.warning(
            "%d workers requested but the cluster has room for %d (%s); using %d",
            requested,
            capacity,
            f"{gpus} GPUs" if gpus else f"{cpus} CPUs",
            capacity,
        )
    return max(1, min(n_shards, requested or capacity, capacity))


def extract_split_ray(
    model: str,
    split: TaskSplit,
    key: EntryKey,
    cache: ActivationCache,
    settings: ExtractionSettings,
    *,
    workers: int | None = None,
    shard_words: int,
    device: str = "auto",
    dtype: str = "auto",
    revision: str | None = None,
    callback: ProgressCallback | None = None,
    pool: ExtractorPool | None = None,
) -> ActivationEntry:
    """Build (or resume) one split's entry as shards extracted by ``workers`` Ray actors (those
    of ``pool`` when given, so the splits of one task load the model once per worker)."""
    ray = _ray()
    connect()

    def produce(folder: Path, todo: list[ShardSpec], done: dict) -> int:
        n_workers = default_workers(len(todo), workers, device)
        with ExitStack() as stack:
            own = pool or stack.enter_context(
                ExtractorPool(model, cache, device=device, dtype=dtype, revision=revision)
            )
            done.update(
                _run_shards(ray, own, split, todo, folder, settings, key, n_workers, callback)
            )
        return n_workers

    def build(folder: Path) -> Manifest:
        return build_sharded(folder, key, split, settings, shard_words, produce, engine="ray")

    return cache.get_or_build(key, build)


class ExtractorPool:
    """Ray actors that each hold the model, kept for every split of one task.

    Loading the model is most of a small split's cost, so the actors of the first split extract
    the others too (the train split comes first and uses the most); all are ended on exit.
    """

    def __init__(
        self,
        model: str,
        cache: ActivationCache,
        device: str = "auto",
        dtype: str = "auto",
        revision: str | None = None,
    ) -> None:
        self.model, self.cache, self.device = model, cache, device
        self.dtype, self.revision = dtype, revision
        self.actors: list[Any] = []

    def __enter__(self) -> ExtractorPool:
        return self

    def __exit__(self, *exc: object) -> None:
        ray = _ray()
        for a in self.actors:
            ray.kill(a)
        self.actors = []

    def take(self, n_workers: int) -> list[Any]:
        """``n_workers`` actors. A pool with fewer is restarted at the new size: its actors hold
        CPUs sized for fewer workers, and an added actor waiting for those would wait forever."""
        if n_workers <= len(self.actors):
            return self.actors[:n_workers]
        self.__exit__()
        ray = _ray()
        cpus, _ = _capacity()
        use_gpu = _uses_gpu(self.device)
        threads = 1 if use_gpu else max(1, cpus // n_workers)
        actor = ray.remote(
            num_cpus=0 if use_gpu else threads,
            num_gpus=1 if use_gpu else 0,
            max_restarts=MAX_RETRIES,
            max_task_retries=MAX_RETRIES,
            runtime_env=_worker_env(),
        )(_Extractor)
        worker_device = "cuda" if use_gpu else ("cpu" if self.device == "auto" else self.device)
        self.actors = [
            actor.remote(
                self.model, worker_device, self.dtype, self.revision, str(self.cache.root), threads
            )
            for _ in range(n_workers)
        ]
        return self.actors


def _run_shards(
    ray,
    pool: ExtractorPool,
    split: TaskSplit,
    todo: Sequence[ShardSpec],
    folder: Path,
    settings: ExtractionSettings,
    key: EntryKey,
    n_workers: int,
    callback: ProgressCallback | None,
) -> dict[int, tuple[Any, dict[str, Any]]]:
    actors = pool.take(n_workers)
    log.info("extracting %d shard(s) on %d Ray worker(s)", len(todo), n_workers)
    split_ref = ray.put(split)
    done: dict[int, tuple[Any, dict[str, Any]]] = {}
    words = sum(s.rows[1] - s.rows[0] for s in todo)
    pending: dict[Any, tuple[ShardSpec, Any]] = {}
    queue = list(todo)
    with Progress(f"extract {key.model}", words, unit="word", callback=callback) as bar:
        idle = list(actors)
        while queue or pending:
            while queue and idle:
                spec, who = queue.pop(0), idle.pop()
                ref = who.build.remote(
                    split_ref, spec, str(folder), settings, key.model_fingerprint
                )
                pending[ref] = (spec, who)
            ready, _ = ray.wait(list(pending), num_returns=1)
            spec, who = pending.pop(ready[0])
            try:
                done[spec.index] = ray.get(ready[0])
            except Exception as exc:  # a RayTaskError / ActorDiedError after its retries
                raise _unwrap(exc) from None
            idle.append(who)
            bar.update(spec.rows[1] - spec.rows[0])
    return done


class RayFitPool:
    """Runs an analysis's independent retrainings as Ray tasks reading from the store."""

    def __init__(self, data: ProbeData, workers: int | None = None) -> None:
        if data.source is None:
            raise ConfigError(
                "these probe data were not loaded from the cache; the Ray engine needs them to be"
            )
        ray = _ray()
        connect()
        self.ray = ray
        self.source = ray.put(data.source)
        cpus, _ = _capacity()
        threads = data.source.threads  # each fit uses the driver's threads: same rounding
        self.workers = workers or max(1, cpus // threads)
        self.task = ray.remote(
            num_cpus=min(threads, cpus), max_retries=MAX_RETRIES, runtime_env=_worker_env()
        )(retrain_from_store)

    def retrain_many(
        self,
        column_sets: Sequence[np.ndarray],
        lambda2: float,
        max_iter: int,
        control: Control | None,
    ) -> list[tuple[Retrained, FitResult]]:
        ray = self.ray
        control_ref = ray.put(control) if control is not None else None
        refs: list = []
        out: list[tuple[Retrained, FitResult]] = []
        started = time.perf_counter()
        for cols in column_sets:
            if len(refs) - len(out) >= self.workers:  # at most `workers` fits in flight
                out.append(self._get(refs[len(out)]))
            refs.append(self.task.remote(self.source, cols, lambda2, max_iter, control_ref))
        out.extend(self._get(r) for r in refs[len(out) :])
        log.info("%d retraining(s) on Ray in %.1f s", len(out), time.perf_counter() - started)
        return out

    def _get(self, ref) -> tuple[Retrained, FitResult]:
        try:
            return self.ray.get(ref)
        except Exception as exc:
            raise _unwrap(exc) from None
