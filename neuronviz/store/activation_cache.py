"""The on-disk activation cache.

An entry holds every neuron's activation for every word of one corpus split under one model:
one float16 ``.npy`` file per layer (``words x hidden``, memory-mapped for reading, so one layer
or a few neurons are read without touching the rest), the words themselves, label columns of the
tasks that used it, and a JSON manifest with shapes, sizes and SHA-256 sums.

Entries are keyed by model (name + weight fingerprint), corpus, split, the exact token content,
aggregation and window, under ``<cache>/activations/<model>/<entry id>/``. Every file is read
only after it matches what was recorded when it was written (``neuronviz.store.integrity``): layers,
labels and tokens by checksum, the manifest by the shapes of the files it describes. They are built in a
``.partial`` folder under a file lock and renamed into place when complete: an interrupted run
leaves no entry, only a partial folder that the next run resumes, and two processes asking for
the same entry build it once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from neuronviz.errors import CacheError
from neuronviz.settings import resolve_cache_dir
from neuronviz.store.activations import ActivationEntry, audit_folder, entry_files
from neuronviz.store.entry_writer import npy_bytes
from neuronviz.store.files import atomic_write_bytes, atomic_write_json, slug
from neuronviz.store.integrity import stamp_written
from neuronviz.store.manifests import EntryKey, Manifest

__all__ = ["ActivationCache", "BuildFn", "entry_rows", "open_entry"]

log = logging.getLogger(__name__)


class ActivationCache:
    """The activation cache under ``<root>/activations``."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = resolve_cache_dir(root)
        self.base = self.root / "activations"

    def __repr__(self) -> str:
        return f"ActivationCache({self.root})"

    def path_for(self, key: EntryKey) -> Path:
        return self.base / key.model_dir / key.entry_id

    def lookup(self, key: EntryKey) -> ActivationEntry | None:
        """The complete, intact entry for ``key``, or None (a damaged one is logged and ignored,
        so the caller rebuilds it). Intact means every layer file matches its checksum."""
        entry = self._open(self.path_for(key), expect=key)
        if entry is None:
            return None
        try:
            return entry.verified()
        except CacheError as exc:
            log.warning(
                "cache entry %s is damaged (%s); it will be rebuilt", entry.path, exc.message
            )
            return None

    @staticmethod
    def _open(path: Path, expect: EntryKey | None = None) -> ActivationEntry | None:
        manifest_file = path / "manifest.json"
        if not manifest_file.is_file():
            return None
        try:
            manifest = Manifest.from_dict(json.loads(manifest_file.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning(
                "cache entry %s has an unreadable manifest (%s); it will be rebuilt", path, exc
            )
            return None
        if expect is not None and manifest.key != expect:
            log.warning("cache entry %s belongs to another key; it will be rebuilt", path)
            return None
        entry = ActivationEntry(path, manifest)
        problems = entry.verify(checksums=False)
        if problems:
            log.warning(
                "cache entry %s is damaged (%s); it will be rebuilt", path, "; ".join(problems)
            )
            return None
        return entry

    @contextmanager
    def locked(self, key: EntryKey) -> Iterator[None]:
        """Hold the entry's lock; waits (and says so) while another process builds it."""
        folder = self.base / key.model_dir
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(
                f"cannot create the cache folder: {exc.strerror}",
                path=folder,
                hint="check permissions or use --cache-dir",
            ) from None
        lock = FileLock(str(folder / f"{key.entry_id}.lock"))
        try:
            lock.acquire(timeout=0.5)
        except Timeout:
            log.info("waiting for another process building %s", key.entry_id)
            lock.acquire()
        except OSError as exc:
            raise CacheError(
                f"cannot lock the cache entry: {exc.strerror}",
                path=Path(lock.lock_file),
                hint="the lock file must be a file this user can write: remove what is in its "
                "place or fix its permissions, or use --cache-dir",
            ) from None
        try:
            yield
        finally:
            lock.release()

    def get_or_build(self, key: EntryKey, build: BuildFn) -> ActivationEntry:
        """Return the entry for ``key``, building it with ``build(partial_folder)`` if absent.

        ``build`` writes the files into the partial folder (resuming what it finds there) and
        returns the manifest; the folder is then renamed into place atomically.
        """
        entry = self.lookup(key)
        if entry is not None:
            return entry
        with self.locked(key):
            entry = self.lookup(key)  # built by another process while we waited
            if entry is not None:
                return entry
            final = self.path_for(key)
            partial = final.with_name(final.name + ".partial")
            try:
                manifest = build(partial)
                atomic_write_json(partial / "manifest.json", manifest.to_dict())
                if final.exists():
                    shutil.rmtree(final)
                partial.rename(final)
                # The sums were just computed from these files: the first read need not hash.
                stamp_written(final, [(f.file, f.size, f.sha256) for f in entry_files(manifest)])
            except OSError as exc:
                raise CacheError(
                    f"could not write the cache entry: {exc.strerror or exc}",
                    path=partial,
                    hint="free disk space or choose another --cache-dir; earlier entries are untouched",
                ) from None
        entry = self._open(final)
        if entry is None:
            raise CacheError("the entry just written cannot be read back", path=final)
        return entry

    def add_labels(
        self, entry: ActivationEntry, task: str, column: str, labels: Sequence[Sequence[str]]
    ) -> ActivationEntry:
        """Store ``task``'s gold labels in ``entry`` (once; tasks on one corpus share activations)."""
        flat = [label for sentence in labels for label in sentence]
        if len(flat) != entry.manifest.n_words:
            raise CacheError(
                f"task {task!r} has {len(flat)} labels but the entry has {entry.manifest.n_words} words",
                path=entry.path,
            )
        vocab = sorted(set(flat))
        index = {v: i for i, v in enumerate(vocab)}
        ids = np.fromiter((index[v] for v in flat), dtype=np.int32, count=len(flat))
        with self.locked(entry.manifest.key):
            current = self._open(entry.path) or entry
            if task in current.manifest.labels:
                try:
                    stored, stored_vocab = current.labels(task)
                    same = stored_vocab == vocab and np.array_equal(stored, ids)
                    problem = None if same else "they differ from the corpus's labels"
                except CacheError as exc:
                    problem = exc.message
                if problem is None and "sha256" in current.manifest.labels[task]:
                    return current
                if problem is not None:
                    log.warning(
                        "the stored labels of %r in %s are damaged (%s); they are written again",
                        task,
                        entry.path,
                        problem,
                    )
                # else: written before label checksums; written again with one
            file = f"labels/{slug(task)}.npy"
            buffer = npy_bytes(ids)
            atomic_write_bytes(entry.path / file, buffer)
            info = {
                "file": file,
                "size": len(buffer),
                "sha256": hashlib.sha256(buffer).hexdigest(),
                "column": column,
                "vocab": vocab,
                "counts": np.bincount(ids, minlength=len(vocab)).tolist(),
            }
            manifest = replace(current.manifest, labels={**current.manifest.labels, task: info})
            atomic_write_json(entry.path / "manifest.json", manifest.to_dict())
            return ActivationEntry(entry.path, manifest)

    def entries(self, model: str | None = None) -> list[ActivationEntry]:
        """Every complete entry (of ``model`` if given), sorted by model and id."""
        if not self.base.is_dir():
            return []
        found = []
        for manifest in sorted(self.base.glob("*/*/manifest.json")):
            if manifest.parent.name.endswith(".partial"):
                continue
            entry = self._open(manifest.parent)
            if entry is not None and (model is None or entry.manifest.key.model == model):
                found.append(entry)
        return found

    def by_id(self, model: str | None, entry_id: str | None) -> ActivationEntry | None:
        """The complete entry with exactly this id (of ``model`` if given), or None if it was
        removed: how a result finds the activations it was computed from. (``find`` resolves
        an id prefix a user typed, and fails loudly.)"""
        if not entry_id:
            return None
        return next((e for e in self.entries(model) if e.manifest.entry_id == entry_id), None)

    def audit(self, checksums: bool = True) -> list[tuple[Path, list[str]]]:
        """Every entry folder with the problems found in it, unreadable manifests and folders
        without one included (``neuronviz cache verify``)."""
        return [(folder, audit_folder(folder, checksums)) for folder in self.entry_folders()]

    def entry_folders(self) -> list[Path]:
        """Every entry folder, complete or damaged (not those of builds under way)."""
        if not self.base.is_dir():
            return []
        found = []
        for model in sorted(self.base.iterdir()):
            if not model.is_dir():
                found.append(model)  # a stray file: audit_folder says so
                continue
            found += [
                p for p in sorted(model.iterdir()) if p.is_dir() and not p.name.endswith(".partial")
            ]
        return found

    def partials(self) -> list[Path]:
        """Folders of interrupted builds, which the next run of the same request resumes."""
        return sorted(self.base.glob("*/*.partial")) if self.base.is_dir() else []

    def remove(self, entry: ActivationEntry) -> None:
        """Delete an entry (under its lock, so no reader of a half-deleted entry appears)."""
        with self.locked(entry.manifest.key):
            shutil.rmtree(entry.path, ignore_errors=True)
        (entry.path.parent / f"{entry.manifest.entry_id}.lock").unlink(missing_ok=True)

    def find(self, entry_id: str) -> ActivationEntry:
        """The entry with this id (or unique id prefix)."""
        matches = [e for e in self.entries() if e.manifest.entry_id.startswith(entry_id)]
        if len(matches) != 1:
            what = "no entry" if not matches else f"{len(matches)} entries"
            raise CacheError(
                f"{what} with id {entry_id!r} in {self.base}", hint="see neuronviz cache list"
            )
        return matches[0]


BuildFn = Callable[[Path], Manifest]


def entry_rows(entries: list[ActivationEntry]) -> list[dict]:
    """One row per cache entry, for the cache listing of the CLI and the dashboard: what was
    extracted (model, corpus split, words, tasks) and what it holds on disk."""
    return [
        {
            "model": e.manifest.key.model,
            "corpus": e.manifest.key.corpus,
            "split": e.manifest.key.split,
            "sentences": e.manifest.n_sentences,
            "words": e.manifest.n_words,
            "shape": f"{e.shape[0]} x {e.shape[1]}",
            "neurons": e.shape[1],
            "tasks": sorted(e.manifest.labels),
            "aggregation": e.manifest.key.aggregation,
            "shards": len(e.manifest.shards),
            "MiB": round(e.nbytes / 2**20, 1),
            "created": e.manifest.created,
            "entry": e.manifest.entry_id,
        }
        for e in entries
    ]


def open_entry(path: str | Path) -> ActivationEntry:
    """The complete entry in folder ``path`` (how a worker process opens what the driver named)."""
    path = Path(path)
    entry = ActivationCache._open(path)
    if entry is None:
        raise CacheError("no complete cache entry here", path=path, hint="see neuronviz cache list")
    return entry
