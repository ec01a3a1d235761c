"""Reading a cache entry: its layers memory-mapped (one layer or a few neurons are read without
touching the rest), its words and labels, each read only after it matches its checksum; and
checking an entry folder for damage (``neuronviz cache verify``)."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from neuronviz.corpora.corpus import tokens_digest
from neuronviz.errors import CacheError, ConfigError
from neuronviz.store.files import file_digest
from neuronviz.store.integrity import inside, known_problem, verify_file
from neuronviz.store.manifests import DTYPE, LayerFile, Manifest

__all__ = ["ActivationEntry", "ShardedLayer"]

log = logging.getLogger(__name__)


class ActivationEntry:
    """A complete cache entry, read lazily through memory maps."""

    def __init__(self, path: Path, manifest: Manifest) -> None:
        self.path = path
        self.manifest = manifest

    def __repr__(self) -> str:
        return f"ActivationEntry({self.path}, shape={self.shape})"

    @property
    def shape(self) -> tuple[int, int]:
        return self.manifest.shape

    @property
    def n_layers(self) -> int:
        return self.manifest.n_layers

    @property
    def hidden_size(self) -> int:
        return self.manifest.hidden_size

    @property
    def nbytes(self) -> int:
        return sum(f.size for f in self._files())

    @property
    def sharded(self) -> bool:
        return bool(self.manifest.shards)

    def _files(self) -> list[LayerFile]:
        """Every layer file of the entry, with its path relative to the entry folder."""
        return entry_files(self.manifest)

    def layer(self, index: int) -> np.ndarray | ShardedLayer:
        """Layer ``index`` (0 = embeddings), read-only float16 ``(words, hidden)``: a memmap, or
        for a sharded entry a view over its shards' memmaps that is indexed the same way."""
        if not 0 <= index < self.n_layers:
            raise ConfigError(f"layer {index} out of range 0..{self.n_layers - 1}")
        if self.sharded:
            shards = self.manifest.shards
            return ShardedLayer(
                [
                    self._load(replace(s.layers[index], file=f"{s.folder}/{s.layers[index].file}"))
                    for s in shards
                ],
                [s.rows[0] for s in shards],
            )
        return self._load(self.manifest.layers[index])

    def _load(self, f: LayerFile) -> np.ndarray:
        """A layer file as a read-only memmap, once its bytes match the manifest's sum."""
        return np.load(verify_file(self.path, f.file, f.size, f.sha256), mmap_mode="r")

    def verified(self) -> ActivationEntry:
        """This entry once every layer file matches its checksum (``CacheError`` naming the
        first that does not); one ``stat`` per file when they were checked before."""
        for f in self._files():
            verify_file(self.path, f.file, f.size, f.sha256)
        return self

    def row_blocks(
        self, index: int, n_rows: int, block_rows: int
    ) -> Iterator[tuple[int, int, np.ndarray]]:
        """``(start, stop, rows)`` blocks of the first ``n_rows`` rows of layer ``index``.

        Read with ``pread`` into one reused float16 buffer rather than through a memory map, so
        the file's pages stay in the page cache and never count towards the process's resident
        memory (a mapped layer does until it is unmapped). ``rows`` is overwritten by the next
        block: convert or copy it first. A sharded entry is read through its memmaps.
        """
        layer = self.layer(index)
        n_rows = min(n_rows, len(layer))
        if not isinstance(layer, np.memmap) or not layer.flags.c_contiguous:  # sharded
            for start in range(0, n_rows, block_rows):
                stop = min(start + block_rows, n_rows)
                yield start, stop, np.asarray(layer[start:stop])
            return
        offset, width = int(layer.offset), layer.shape[1]
        path = str(layer.filename)
        del layer  # unmaps
        buffer = np.empty((min(block_rows, n_rows), width), dtype=DTYPE)
        row_bytes = width * buffer.itemsize
        fd = os.open(path, os.O_RDONLY)
        try:
            for start in range(0, n_rows, block_rows):
                stop = min(start + block_rows, n_rows)
                view = buffer[: stop - start]
                target, at = memoryview(view).cast("B"), offset + start * row_bytes  # type: ignore[arg-type]
                while target:
                    got = os.preadv(fd, [target], at)
                    if got == 0:
                        raise CacheError(
                            f"layer file ends before row {stop} of layer {index}",
                            path=Path(path),
                            hint="run: neuronviz cache verify",
                        )
                    target, at = target[got:], at + got
                yield start, stop, view
        finally:
            os.close(fd)

    def neurons(
        self, ids: Sequence[int] | np.ndarray, rows: slice | np.ndarray | None = None
    ) -> np.ndarray:
        """Columns ``ids`` (global neuron ids, ``layer * hidden + unit``) as float16 ``(words, k)``.

        Only the layers that hold the requested neurons are read.
        """
        ids = np.asarray(ids, dtype=np.int64)
        total = self.n_layers * self.hidden_size
        if ids.size and (ids.min() < 0 or ids.max() >= total):
            raise ConfigError(f"neuron ids must lie in 0..{total - 1}")
        rows = slice(None) if rows is None else rows
        n_rows = len(np.arange(self.manifest.n_words)[rows])
        out = np.empty((n_rows, ids.size), dtype=DTYPE)
        layer_of = ids // self.hidden_size
        for layer in np.unique(layer_of):
            cols = np.flatnonzero(layer_of == layer)
            out[:, cols] = self.layer(int(layer))[rows][:, ids[cols] % self.hidden_size]
        return out

    def matrix(
        self,
        rows: slice | np.ndarray | None = None,
        layers: Sequence[int] | None = None,
        dtype=np.float32,
    ) -> np.ndarray:
        """The activation matrix ``(words, neurons)`` of the chosen layers, as ``dtype``."""
        chosen = range(self.n_layers) if layers is None else layers
        rows = slice(None) if rows is None else rows
        return np.concatenate(
            [np.asarray(self.layer(i)[rows], dtype=dtype) for i in chosen], axis=1
        )

    def iter_rows(
        self, batch_rows: int, layers: Sequence[int] | None = None, dtype=np.float32
    ) -> Iterator[np.ndarray]:
        """Yield the matrix in consecutive row blocks of ``batch_rows`` (for out-of-core work)."""
        for start in range(0, self.manifest.n_words, batch_rows):
            yield self.matrix(slice(start, start + batch_rows), layers, dtype)

    def tokens(self) -> list[list[str]]:
        """The words, sentence by sentence, aligned with the matrix rows (checked against the
        token digest the entry is keyed by)."""
        path = self.path / "tokens.json"
        hint = "remove the entry (neuronviz cache remove ID) to rebuild it"
        try:
            tokens = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CacheError(
                f"cannot read the entry's words: {exc}", path=path, hint=hint
            ) from None
        if (
            not isinstance(tokens, list)
            or not all(isinstance(s, list) and all(isinstance(w, str) for w in s) for s in tokens)
            or tokens_digest(tokens) != self.manifest.key.tokens_digest
        ):
            raise CacheError(
                "the entry's words do not match the digest recorded when it was written",
                path=path,
                hint=hint,
            )
        return tokens

    def has_labels(self, task: str) -> bool:
        return task in self.manifest.labels

    def labels(self, task: str) -> tuple[np.ndarray, list[str]]:
        """Gold labels of ``task`` per word: ``(ids into vocab, vocab)``."""
        info = self.manifest.labels.get(task)
        if info is None:
            raise CacheError(
                f"entry {self.manifest.entry_id} has no labels for task {task!r}",
                path=self.path,
                hint=f"run neuronviz extract --task {task} with the same model",
            )
        hint = f"remove the entry (neuronviz cache remove {self.manifest.entry_id}) to rebuild it"
        if "sha256" in info:
            path = verify_file(self.path, info["file"], int(info["size"]), info["sha256"])
        else:
            path = inside(self.path, info["file"])
        try:
            ids = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise CacheError(
                f"cannot read the labels of {task!r}: {exc}", path=path, hint=hint
            ) from None
        vocab = list(info["vocab"])
        # Entries written before label checksums: their class counts are the check.
        if (
            ids.shape != (self.manifest.n_words,)
            or ids.dtype.kind not in "iu"
            or (ids.size and (ids.min() < 0 or ids.max() >= len(vocab)))
            or (
                "counts" in info
                and np.bincount(ids, minlength=len(vocab)).tolist() != info["counts"]
            )
        ):
            raise CacheError(
                f"the labels of {task!r} do not match what was recorded when they were written",
                path=path,
                hint=hint,
            )
        return ids, vocab

    def verify(self, checksums: bool = True) -> list[str]:
        """Problems found with this entry's files (empty when sound).

        Always: the manifest's numbers against each other, every file inside the entry, of its
        recorded size, and a ``.npy`` header of the shape and type the manifest says. With
        ``checksums``: every layer's and label file's SHA-256 sum and the words' digest (labels
        are also checked when read, and written again from the corpus when they differ).
        """
        m, problems = self.manifest, []
        if min(m.n_words, m.n_layers, m.hidden_size) < 1 or len(m.layers) != m.n_layers:
            problems.append(
                f"the manifest is inconsistent: {m.n_words} words, {m.n_layers} layers of "
                f"{m.hidden_size} neurons, {len(m.layers)} layer files"
            )
            return problems
        if self.sharded:
            rows = [s.rows for s in m.shards]
            if (
                rows[0][0] != 0
                or rows[-1][1] != m.n_words
                or any(a[1] != b[0] for a, b in pairwise(rows))
                or any(len(s.layers) != m.n_layers for s in m.shards)
            ):
                problems.append("its shards do not cover the rows in order")
                return problems
            expected_rows = [s.n_rows for s in m.shards for _ in s.layers]
        else:
            expected_rows = [m.n_words] * len(m.layers)
        for f, n_rows in zip(self._files(), expected_rows, strict=True):
            try:
                path = inside(self.path, f.file)
            except CacheError as exc:
                problems.append(exc.message)
                continue
            if not path.is_file():
                problems.append(f"{f.file} is missing")
            elif path.stat().st_size != f.size:
                problems.append(f"{f.file} has {path.stat().st_size} bytes, expected {f.size}")
            elif not os.access(path, os.R_OK):
                problems.append(f"{f.file} cannot be read (permission denied): fix its permissions")
            elif (header := _npy_header(path)) != ((n_rows, m.hidden_size), DTYPE):
                problems.append(
                    f"{f.file} holds {header[0] if header else 'no readable array'} where the "
                    f"manifest says {n_rows} x {m.hidden_size} float16"
                )
            elif checksums and file_digest(path) != f.sha256:
                problems.append(f"{f.file} does not match its SHA-256 sum")
            elif not checksums and (found := known_problem(self.path, f.file)):
                problems.append(found)  # found by a read in this process: no need to hash
        if not (self.path / "tokens.json").is_file():
            problems.append("tokens.json is missing")
        elif checksums:
            problems += _problems(self.tokens)
        for task, info in m.labels.items() if checksums else ():
            label_problems = _problems(partial(self.labels, task))
            if (
                not label_problems
                and checksums
                and "sha256" in info
                and file_digest(self.path / info["file"]) != info["sha256"]
            ):
                label_problems = [f"{info['file']} does not match its SHA-256 sum"]
            problems += label_problems
        return problems


def audit_folder(folder: Path, checksums: bool = True) -> list[str]:
    """The problems found in the entry folder ``folder`` (see ``ActivationEntry.verify``)."""
    if not folder.is_dir():
        return ["is a stray file where the folders of entries are kept"]
    try:
        manifest = Manifest.from_dict(
            json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        )
    except FileNotFoundError:
        return ["manifest.json is missing"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return [f"manifest.json is unreadable: {exc!r}"]
    entry = ActivationEntry(folder, manifest)
    problems = [] if folder.name == manifest.entry_id else ["the folder is not its key's"]
    return problems + entry.verify(checksums=checksums)


def entry_files(manifest: Manifest) -> list[LayerFile]:
    if not manifest.shards:
        return list(manifest.layers)
    return [replace(f, file=f"{s.folder}/{f.file}") for s in manifest.shards for f in s.layers]


def _problems(read: Callable[[], Any]) -> list[str]:
    """What ``read`` complained of, as a list (empty when it read cleanly)."""
    try:
        read()
    except CacheError as exc:
        return [exc.message]
    except (KeyError, TypeError, ValueError) as exc:
        return [f"unreadable record: {exc!r}"]
    return []


def _npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype] | None:
    """``(shape, dtype)`` from a C-ordered ``.npy`` file's header, or None when unreadable."""
    try:
        with path.open("rb") as fh:
            version = np.lib.format.read_magic(fh)
            read = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read(fh)
    except (OSError, ValueError, SyntaxError):
        return None
    return None if fortran else (tuple(shape), dtype)


class ShardedLayer:
    """One layer of a sharded entry, read like a ``(words, hidden)`` array.

    Supports what the analysis does with a layer memmap: ``len``, ``shape``, integer, slice and
    index-array row selection (optionally with a column index after it) and ``np.asarray``.
    A row slice inside one shard returns that shard's memmap slice without copying.
    """

    def __init__(self, parts: Sequence[np.ndarray], starts: Sequence[int]) -> None:
        self.parts = list(parts)
        self.starts = np.asarray(starts, dtype=np.int64)
        self.stops = self.starts + np.fromiter(
            (len(p) for p in self.parts), np.int64, len(self.parts)
        )
        hidden = self.parts[0].shape[1] if self.parts else 0
        self.shape = (int(self.stops[-1]) if self.parts else 0, hidden)
        self.dtype = DTYPE
        self.ndim = 2

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self[:]
        return np.asarray(out, dtype=dtype) if dtype is not None else np.asarray(out)

    def __getitem__(self, index):
        if isinstance(index, tuple):
            rows, rest = index[0], index[1:]
            columns = (slice(None), *rest)
            return self[rows][columns]
        if isinstance(index, (int, np.integer)):
            i = int(index) + (len(self) if index < 0 else 0)
            if not 0 <= i < len(self):
                raise IndexError(f"row {index} out of range for {len(self)} rows")
            k = int(np.searchsorted(self.stops, i, side="right"))
            return self.parts[k][i - self.starts[k]]
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step == 1:
                return self._range(start, max(start, stop))
            index = np.arange(start, stop, step)
        rows = np.arange(len(self))[np.asarray(index)]  # bool masks, negative ids, bounds checks
        out = np.empty((len(rows), self.shape[1]), dtype=self.dtype)
        shard = np.searchsorted(self.stops, rows, side="right")
        for k in np.unique(shard):
            where = np.flatnonzero(shard == k)
            out[where] = self.parts[k][rows[where] - self.starts[k]]
        return out

    def _range(self, start: int, stop: int) -> np.ndarray:
        first = int(np.searchsorted(self.stops, start, side="right"))
        last = int(np.searchsorted(self.starts, stop, side="left"))  # shards starting before stop
        pieces = [
            self.parts[k][
                max(start, self.starts[k]) - self.starts[k] : min(stop, self.stops[k])
                - self.starts[k]
            ]
            for k in range(first, last)
        ]
        if len(pieces) == 1:
            return pieces[0]
        if not pieces:
            return np.empty((0, self.shape[1]), dtype=self.dtype)
        return np.concatenate(pieces)
