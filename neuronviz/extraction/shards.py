"""Sharded cache entries: one split's activations written as independent sentence-range shards.

A shard is a contiguous range of sentences with its own layer files and a ``shard.json``; it is
built in ``shards/NNNNN.partial`` (resumable batch by batch, like a whole entry) and renamed into
place when complete, so any number of workers, on this machine or others sharing the cache
folder, can each write shards, and an interrupted run only produces the shards still missing.
When every shard exists the entry's manifest lists them and the entry folder is renamed into
place; readers see one ``(words, neurons)`` matrix either way (:class:`neuronviz.store.activations.ShardedLayer`).

This module needs no Ray: :mod:`neuronviz.engines.ray_engine` runs :func:`build_shard` on Ray workers,
and the local engine can write the same layout (``--shard-words``).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from neuronviz.corpora.tasks import TaskSplit
from neuronviz.errors import ConfigError, ModelError
from neuronviz.extraction.extract import (
    ExtractionSettings,
    plan_batches,
    run_extraction,
    tokenize_words,
)
from neuronviz.models.loading import LoadedModel
from neuronviz.store.entry_writer import EntryWriter, now_iso
from neuronviz.store.files import atomic_write_json
from neuronviz.store.manifests import EntryKey, LayerFile, Manifest, Shard

__all__ = [
    "DEFAULT_SHARD_WORDS",
    "ShardSpec",
    "assemble_manifest",
    "build_shard",
    "build_sharded",
    "finish_partial",
    "finished_shards",
    "plan_shards",
    "prepare_partial",
]

log = logging.getLogger(__name__)

DEFAULT_SHARD_WORDS = 50_000  # about 2 minutes of minilm on 2 CPU cores; seconds on a GPU


@dataclass(frozen=True)
class ShardSpec:
    """What one worker must produce: sentences ``[s0, s1)`` into rows ``[r0, r1)``."""

    index: int
    sentences: tuple[int, int]
    rows: tuple[int, int]

    @property
    def folder(self) -> str:
        return f"shards/{self.index:05d}"


def plan_shards(sentences: Sequence[Sequence[str]], shard_words: int) -> list[ShardSpec]:
    """Cut the corpus into sentence ranges of about ``shard_words`` words (whole sentences)."""
    if shard_words < 1:
        raise ConfigError(f"shard size must be at least one word, got {shard_words}")
    specs: list[ShardSpec] = []
    s0 = r0 = row = 0
    for i, sentence in enumerate(sentences):
        row += len(sentence)
        if row - r0 >= shard_words:
            specs.append(ShardSpec(len(specs), (s0, i + 1), (r0, row)))
            s0, r0 = i + 1, row
    if s0 < len(sentences) or not specs:
        specs.append(ShardSpec(len(specs), (s0, len(sentences)), (r0, row)))
    return specs


def prepare_partial(partial: Path, key: EntryKey, specs: Sequence[ShardSpec]) -> None:
    """Start (or keep, if it is the same plan) the entry's partial folder for a sharded build."""
    state = {
        "key": key.digest,
        "shards": [[list(s.sentences), list(s.rows)] for s in specs],
    }
    plan_file = partial / "shards.json"
    if plan_file.is_file():
        try:
            if json.loads(plan_file.read_text()) == state:
                return
        except ValueError:
            pass
    if partial.exists():
        log.info("discarding %s: it was started with another shard plan", partial.name)
        shutil.rmtree(partial)
    (partial / "shards").mkdir(parents=True)
    atomic_write_json(plan_file, state)


def finished_shards(partial: Path) -> dict[int, tuple[Shard, dict[str, Any]]]:
    """The shards already complete in ``partial`` (with the details their worker recorded)."""
    done = {}
    for meta in sorted(partial.glob("shards/*/shard.json")):
        if meta.parent.name.endswith(".partial"):
            continue
        try:
            d = json.loads(meta.read_text(encoding="utf-8"))
            shard = Shard.from_dict(d["shard"])
        except (ValueError, KeyError, TypeError):
            log.warning("shard %s has an unreadable shard.json; it will be rebuilt", meta.parent)
            shutil.rmtree(meta.parent, ignore_errors=True)
            continue
        done[shard.index] = (shard, d["details"])
    return done


def build_shard(
    model: LoadedModel,
    split: TaskSplit,
    spec: ShardSpec,
    partial: Path,
    settings: ExtractionSettings,
    *,
    fingerprint: str | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> tuple[Shard, dict[str, Any]]:
    """Extract one shard into ``partial/shards/NNNNN`` (resuming a half-written one); return it.

    ``fingerprint`` guards a distributed run: a worker whose weights differ from the ones the
    entry is keyed by refuses to write. ``on_batch(words)`` reports progress.
    """
    # Over 80 lines with its docstring: one shard's build is a checked sequence (model identity,
    # sentence range, extraction, manifest) that a resumed or parallel build repeats exactly.
    if fingerprint is not None and model.fingerprint != fingerprint:
        raise ModelError(
            f"this worker loaded {model.name!r} with weights {model.fingerprint[:12]}, but the "
            f"entry is keyed by {fingerprint[:12]}",
            hint="every worker must see the same model files (same path or hub revision)",
        )
    final = partial / spec.folder
    meta = final / "shard.json"
    if meta.is_file():
        d = json.loads(meta.read_text(encoding="utf-8"))
        return Shard.from_dict(d["shard"]), d["details"]
    started = time.perf_counter()
    s0, s1 = spec.sentences
    window = settings.window(model)
    tok = tokenize_words(model.tokenizer, split.tokens[s0:s1], window)
    if tok.n_words != spec.rows[1] - spec.rows[0]:
        raise ModelError(f"shard {spec.index}: {tok.n_words} words, expected {spec.rows}")
    batch_tokens = settings.tokens_per_batch(model)
    batches = plan_batches(tok.lengths, batch_tokens)
    work = final.with_name(final.name + ".partial")
    plan = {"window": window, "batch_tokens": batch_tokens, "batches": len(batches)}
    writer = EntryWriter(work, tok.n_words, model.n_layers, model.hidden_size, plan)
    resumed = len(writer.done)

    def done(batch) -> None:
        writer.mark_done(batch.index)
        if on_batch is not None:
            on_batch(int(tok.n_keep[batch.pieces].sum()))

    try:
        run_extraction(
            model,
            tok,
            batches,
            writer,
            aggregation=settings.aggregation,
            done=writer.done,
            on_batch=done,
            show_bar=False,
        )
        layers = writer.finish()
    finally:
        writer.close()
    seconds = time.perf_counter() - started
    shard = Shard(spec.index, spec.sentences, spec.rows, spec.folder, layers)
    details = {
        "model": model_info(model),
        "hidden_size": model.hidden_size,
        "window": window,
        "batch_tokens": batch_tokens,
        "batches": len(batches),
        "resumed_batches": resumed,
        "windowed_sentences": tok.windowed_sentences,
        "truncated_words": tok.truncated_words,
        "replaced_words": tok.replaced_words,
        "device": str(model.device),
        "model_dtype": str(model.dtype).replace("torch.", ""),
        "seconds": round(seconds, 3),
    }
    atomic_write_json(work / "shard.json", {"shard": shard.to_dict(), "details": details})
    if final.exists():  # a retried task raced a slower copy of itself: keep the finished one
        shutil.rmtree(work, ignore_errors=True)
        d = json.loads(meta.read_text(encoding="utf-8"))
        return Shard.from_dict(d["shard"]), d["details"]
    work.rename(final)
    return shard, details


def model_info(model: LoadedModel) -> dict[str, Any]:
    """What a manifest records about the model."""
    return {
        "name": model.name,
        "source": model.source,
        "architecture": model.architecture,
        "causal": model.is_causal,
        "window": model.window,
        "layer_names": model.layer_names,
    }


def build_sharded(
    folder: Path,
    key: EntryKey,
    split: TaskSplit,
    settings: ExtractionSettings,
    shard_words: int,
    produce: Callable[[Path, list[ShardSpec], dict[int, tuple[Shard, dict[str, Any]]]], int],
    *,
    engine: str,
) -> Manifest:
    """Plan the shards, keep those already finished in ``folder``, have
    ``produce(folder, todo, done)``
    build the rest into ``done`` (returning how many workers it used), and return the manifest.

    The skeleton both engines share: :func:`neuronviz.extraction.fill_cache.extract_split_sharded` produces
    shards one after another in this process, :mod:`neuronviz.engines.ray_engine` on Ray workers.
    """
    from neuronviz.settings import library_versions

    started = time.perf_counter()
    specs = plan_shards(split.tokens, shard_words)
    prepare_partial(folder, key, specs)
    done = finished_shards(folder)
    todo = [s for s in specs if s.index not in done]
    workers = produce(folder, todo, done) if todo else 0
    finish_partial(folder, split)
    return assemble_manifest(
        key,
        split,
        settings,
        list(done.values()),
        engine=engine,
        workers=workers,
        seconds=time.perf_counter() - started,
        versions=library_versions(),
    )


def finish_partial(partial: Path, split: TaskSplit) -> None:
    """Write what the whole entry holds besides its shards (the words); drop the plan file."""
    atomic_write_json(partial / "tokens.json", split.tokens)
    (partial / "shards.json").unlink(missing_ok=True)


def assemble_manifest(
    key: EntryKey,
    split: TaskSplit,
    settings: ExtractionSettings,
    shards: Sequence[tuple[Shard, dict[str, Any]]],
    *,
    engine: str,
    workers: int,
    seconds: float,
    versions: dict[str, str],
) -> Manifest:
    """The manifest of a complete sharded entry (shards in row order)."""
    shards = sorted(shards, key=lambda s: s[0].index)
    first, details = shards[0]
    info = details["model"]
    n_words = shards[-1][0].rows[1]
    layers = [
        LayerFile(
            name=name,
            file=f.file,
            size=sum(s.layers[i].size for s, _ in shards),
            sha256="",  # per shard (shards[*].layers)
        )
        for i, (name, f) in enumerate(zip(info["layer_names"], first.layers, strict=True))
    ]

    def total(field: str) -> int:
        return int(sum(d[field] for _, d in shards))

    return Manifest(
        key=key,
        n_sentences=split.n_sentences,
        n_words=n_words,
        n_layers=len(layers),
        hidden_size=int(details["hidden_size"]),
        layers=layers,
        model=info,
        extraction={
            "aggregation": settings.aggregation,
            "window": details["window"],
            "batch_tokens": details["batch_tokens"],
            "device": details["device"],
            "model_dtype": details["model_dtype"],
            "windowed_sentences": total("windowed_sentences"),
            "truncated_words": total("truncated_words"),
            "replaced_words": total("replaced_words"),
            "resumed_batches": total("resumed_batches"),
            "batches": total("batches"),
            "engine": engine,
            "workers": workers,
            "shards": len(shards),
            "seconds": round(seconds, 3),
            "words_per_second": round(n_words / max(seconds, 1e-9), 1),
            "worker_seconds": round(sum(d["seconds"] for _, d in shards), 3),
        },
        corpus={"name": split.corpus, "split": split.split, "source": split.source},
        versions=versions,
        created=now_iso(),
        shards=[replace(s) for s, _ in shards],
    )
