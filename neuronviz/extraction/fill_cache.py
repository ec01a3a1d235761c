"""The foundation's steps glued together: task -> model -> cached activations.

:func:`extract_task` is what ``neuronviz extract`` and the dashboard call. The corpus is read
and checked first and the model identified from its config, so bad input fails before anything
is written; the model's weights are loaded only when some split is not cached yet.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from neuronviz.corpora.tasks import SPLITS, TaskData, TaskSplit, load_task
from neuronviz.engines.choose import check_engine
from neuronviz.errors import CacheError, ConfigError
from neuronviz.extraction.extract import (
    ExtractionSettings,
    plan_batches,
    run_extraction,
    tokenize_words,
)
from neuronviz.extraction.shards import DEFAULT_SHARD_WORDS, build_shard, build_sharded, model_info
from neuronviz.models.loading import LoadedModel, ModelIdentity, identify_model, load_model
from neuronviz.progress import Progress, ProgressCallback
from neuronviz.settings import library_versions
from neuronviz.store.activation_cache import ActivationCache
from neuronviz.store.activations import ActivationEntry
from neuronviz.store.entry_writer import EntryWriter, now_iso
from neuronviz.store.files import atomic_write_json
from neuronviz.store.manifests import EntryKey, Manifest

__all__ = ["ExtractionResult", "cached_entries", "extract_split", "extract_task"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExtractionResult:
    """The cache entries of one model x task, by split, and which were already cached."""

    model: str
    task: str
    entries: dict[str, ActivationEntry]
    cached: dict[str, bool]


def _key(identity: ModelIdentity, split: TaskSplit, settings: ExtractionSettings) -> EntryKey:
    return EntryKey(
        model=identity.name,
        model_fingerprint=identity.fingerprint,
        corpus=split.corpus,
        split=split.split,
        tokens_digest=split.digest,
        aggregation=settings.aggregation,
        max_length=settings.max_length or 0,
    )


DISK_MARGIN = 1.05  # manifests, token lists and the file system's own blocks


def check_disk(folder: Path, n_words: int, n_layers: int, hidden: int, split: TaskSplit) -> None:
    """Refuse, before writing anything, an entry the disk cannot hold (float16 vectors)."""
    need = int(n_words * n_layers * hidden * 2 * DISK_MARGIN)
    # A resumed entry already holds part of it (its layer files are sparse: count real blocks).
    present = (
        sum(f.stat().st_blocks * 512 for f in folder.glob("layer_*.npy")) if folder.is_dir() else 0
    )
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    free = shutil.disk_usage(existing).free
    if need - present > free:
        per_sentence = need / max(split.n_sentences, 1)
        fits = int(free / per_sentence) if per_sentence else 0
        raise CacheError(
            f"the activations of {split.task} {split.split} ({n_words:,} words x {n_layers} "
            f"layers x {hidden} neurons, float16) need about {need / 2**30:.2f} GiB, and "
            f"{folder.parent} has {free / 2**30:.2f} GiB free",
            path=folder.parent,
            hint=f"free some space (`neuronviz cache remove ...`), point NEURONVIZ_CACHE or "
            f"--cache-dir at a larger disk, or extract fewer sentences (--max-sentences "
            f"{max(fits, 1)} would fit)",
        )


def extract_split(
    model: LoadedModel,
    split: TaskSplit,
    key: EntryKey,
    cache: ActivationCache,
    settings: ExtractionSettings,
    callback: ProgressCallback | None = None,
) -> ActivationEntry:
    """Build (or resume) the cache entry of one split; return it when complete."""

    def build(folder: Path) -> Manifest:
        started = time.perf_counter()
        window = settings.window(model)
        tok = tokenize_words(model.tokenizer, split.tokens, window)
        batch_tokens = settings.tokens_per_batch(model)
        batches = plan_batches(tok.lengths, batch_tokens)
        plan = {
            "window": window,
            "batch_tokens": batch_tokens,
            "batches": len(batches),
            "key": key.digest,
        }
        check_disk(folder, tok.n_words, model.n_layers, model.hidden_size, split)
        writer = EntryWriter(folder, tok.n_words, model.n_layers, model.hidden_size, plan)
        resumed = len(writer.done)
        try:
            run_extraction(
                model,
                tok,
                batches,
                writer,
                aggregation=settings.aggregation,
                done=writer.done,
                on_batch=lambda b: writer.mark_done(b.index),
                callback=callback,
            )
            layers = writer.finish()
        finally:
            writer.close()
        atomic_write_json(folder / "tokens.json", split.tokens)
        return Manifest(
            key=key,
            n_sentences=split.n_sentences,
            n_words=tok.n_words,
            n_layers=model.n_layers,
            hidden_size=model.hidden_size,
            layers=[
                replace(f, name=name) for f, name in zip(layers, model.layer_names, strict=True)
            ],
            model=model_info(model),
            extraction={
                "aggregation": settings.aggregation,
                "window": window,
                "batch_tokens": batch_tokens,
                "device": str(model.device),
                "model_dtype": str(model.dtype).replace("torch.", ""),
                "windowed_sentences": tok.windowed_sentences,
                "truncated_words": tok.truncated_words,
                "replaced_words": tok.replaced_words,
                "resumed_batches": resumed,
                "batches": len(batches),
                "seconds": round(time.perf_counter() - started, 3),
                "words_per_second": round(
                    tok.n_words / max(time.perf_counter() - started, 1e-9), 1
                ),
            },
            corpus={"name": split.corpus, "split": split.split, "source": split.source},
            versions=library_versions(),
            created=now_iso(),
        )

    return cache.get_or_build(key, build)


def extract_split_sharded(
    model: LoadedModel,
    split: TaskSplit,
    key: EntryKey,
    cache: ActivationCache,
    settings: ExtractionSettings,
    shard_words: int,
    callback: ProgressCallback | None = None,
) -> ActivationEntry:
    """Build (or resume) one split as a sharded entry, shard after shard in this process: the
    layout the Ray engine writes in parallel (:mod:`neuronviz.engines.ray_engine`)."""

    def build(folder: Path) -> Manifest:
        check_disk(folder, split.n_words, model.n_layers, model.hidden_size, split)
        return build_sharded(folder, key, split, settings, shard_words, produce, engine="local")

    def produce(folder: Path, todo: list, done: dict) -> int:
        initial = split.n_words - sum(s.rows[1] - s.rows[0] for s in todo)
        with Progress(
            f"extract {model.name}", split.n_words, unit="word", callback=callback, initial=initial
        ) as bar:
            for spec in todo:
                done[spec.index] = build_shard(
                    model, split, spec, folder, settings, on_batch=bar.update
                )
        return 1

    return cache.get_or_build(key, build)


def _checked_request(
    engine: str, workers: int | None, shard_words: int | None, splits: Sequence[str]
) -> str:
    """The engine's canonical name, once the request's counts and splits are checked."""
    engine = check_engine(engine)
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    if shard_words is not None and shard_words < 1:
        raise ConfigError(f"--shard-words must be at least 1, got {shard_words}")
    unknown = [s for s in splits if s not in SPLITS]
    if unknown:
        raise ConfigError(f"unknown split(s) {', '.join(unknown)}", hint=f"use {', '.join(SPLITS)}")
    return engine


def extract_task(
    model: str | LoadedModel,
    task: str | TaskData,
    *,
    splits: Sequence[str] = SPLITS,
    settings: ExtractionSettings | None = None,
    cache: ActivationCache | str | Path | None = None,
    data_dir: str | Path | None = None,
    max_sentences: int | None = None,
    device: str = "auto",
    dtype: str = "auto",
    revision: str | None = None,
    callback: ProgressCallback | None = None,
    engine: str = "local",
    workers: int | None = None,
    shard_words: int | None = None,
) -> ExtractionResult:
    """Make sure every split of ``task`` has cached activations under ``model``; return them.

    Splits already cached are returned without loading the model. Gold labels of ``task`` are
    stored with each entry so later steps need no corpus. ``engine="ray"`` extracts sentence-range
    shards on Ray workers (``workers`` of them, each loading the model once); ``shard_words``
    with the local engine writes the same sharded layout in this process.
    """
    # Over 80 lines with its signature: the loop over splits shares the lazily loaded model and
    # the Ray pool (each started at most once, only for a split that is not cached).
    engine = _checked_request(engine, workers, shard_words, splits)
    settings = settings or ExtractionSettings()
    cache = cache if isinstance(cache, ActivationCache) else ActivationCache(cache)
    data = (
        task
        if isinstance(task, TaskData)
        else load_task(task, data_dir=data_dir, cache_dir=cache.root, max_sentences=max_sentences)
    )
    loaded = model if isinstance(model, LoadedModel) else None
    identity = (
        ModelIdentity(loaded.name, loaded.source, loaded.fingerprint)
        if loaded is not None
        else identify_model(str(model), revision=revision, cache_dir=cache.root)
    )
    entries: dict[str, ActivationEntry] = {}
    cached: dict[str, bool] = {}
    ray_options: dict[str, Any] = {
        "workers": workers,
        "shard_words": shard_words or DEFAULT_SHARD_WORDS,
        "device": device,
        "dtype": dtype,
        "revision": revision,
        "callback": callback,
    }
    with ExitStack() as stack:
        pool = None  # Ray actors holding the model, started for the first split that needs them
        for name in splits:
            split = data[name]
            key = _key(identity, split, settings)
            entry = cache.lookup(key)
            cached[name] = entry is not None
            if entry is None and engine == "ray":
                from neuronviz.engines.ray_engine import ExtractorPool, connect, extract_split_ray

                source = str(model) if loaded is None else loaded.source
                if pool is None:
                    connect()
                    pool = stack.enter_context(
                        ExtractorPool(source, cache, device=device, dtype=dtype, revision=revision)
                    )
                log.info(
                    "extracting %s %s/%s (%d words) on Ray",
                    identity.name,
                    data.name,
                    name,
                    split.n_words,
                )
                entry = extract_split_ray(
                    source,
                    split,
                    key,
                    cache,
                    settings,
                    **ray_options,
                    pool=pool,
                )
            elif entry is None:
                if loaded is None:
                    loaded = load_model(
                        str(model),
                        device=device,
                        dtype=dtype,
                        revision=revision,
                        cache_dir=cache.root,
                    )
                log.info(
                    "extracting %s %s/%s (%d words)", identity.name, data.name, name, split.n_words
                )
                if shard_words:
                    entry = extract_split_sharded(
                        loaded, split, key, cache, settings, shard_words, callback
                    )
                else:
                    entry = extract_split(loaded, split, key, cache, settings, callback)
            entries[name] = cache.add_labels(entry, data.name, data.column, split.labels)
    return ExtractionResult(model=identity.name, task=data.name, entries=entries, cached=cached)


def cached_entries(
    model: str,
    task: str,
    *,
    splits: Sequence[str] = SPLITS,
    settings: ExtractionSettings | None = None,
    cache: ActivationCache | str | Path | None = None,
    data_dir: str | Path | None = None,
    max_sentences: int | None = None,
    revision: str | None = None,
) -> dict[str, ActivationEntry]:
    """The cached entries of ``model`` x ``task`` (with the task's labels), never extracting.

    Raises CacheError naming the command that fills the cache when a split is missing.
    """
    settings = settings or ExtractionSettings()
    cache = cache if isinstance(cache, ActivationCache) else ActivationCache(cache)
    data = load_task(task, data_dir=data_dir, cache_dir=cache.root, max_sentences=max_sentences)
    identity = identify_model(model, revision=revision, cache_dir=cache.root)
    entries = {}
    for name in splits:
        entry = cache.lookup(_key(identity, data[name], settings))
        if entry is None:
            cap = f" --max-sentences {max_sentences}" if max_sentences else ""
            raise CacheError(
                f"no cached activations of {identity.name} for the {name} split of task {task!r}",
                hint=f"run: neuronviz extract --model {model} --task {task}{cap}",
            )
        entries[name] = cache.add_labels(entry, data.name, data.column, data[name].labels)
    return entries
