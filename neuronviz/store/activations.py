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
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property, partial
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock, Timeout

from neuronviz.corpora.corpus import tokens_digest
from neuronviz.errors import CacheError, ConfigError
from neuronviz.settings import resolve_cache_dir
from neuronviz.store.files import atomic_write_bytes, atomic_write_json, file_digest, slug
from neuronviz.store.integrity import inside, known_problem, stamp_written, verify_file

__all__ = [
    "FORMAT_VERSION",
    "ActivationCache",
    "ActivationEntry",
    "EntryKey",
    "EntryWriter",
    "LayerFile",
    "Manifest",
    "Shard",
    "ShardedLayer",
    "open_entry",
]

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
DTYPE = np.dtype("<f2")


@dataclass(frozen=True)
class EntryKey:
    """Everything the activations of an entry depend on."""

    model: str
    model_fingerprint: str
    corpus: str
    split: str
    tokens_digest: str
    aggregation: str
    max_length: int  # 0 means the model's own window

    @cached_property
    def digest(self) -> str:
        text = json.dumps({**asdict(self), "format": FORMAT_VERSION}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def entry_id(self) -> str:
        return f"{slug(self.corpus)}-{self.split}-{self.aggregation}-{self.digest[:12]}"

    @property
    def model_dir(self) -> str:
        return slug(self.model)


@dataclass(frozen=True)
class LayerFile:
    """One layer's ``.npy`` file and what it must look like."""

    name: str
    file: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Shard:
    """One independently written piece of a sharded entry: sentences ``[s0, s1)``, whose words
    are the matrix rows ``[r0, r1)``, with its own layer files in ``folder``."""

    index: int
    sentences: tuple[int, int]
    rows: tuple[int, int]
    folder: str
    layers: list[LayerFile]

    @property
    def n_rows(self) -> int:
        return self.rows[1] - self.rows[0]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "sentences": list(self.sentences), "rows": list(self.rows)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Shard:
        return cls(
            index=int(d["index"]),
            sentences=(int(d["sentences"][0]), int(d["sentences"][1])),
            rows=(int(d["rows"][0]), int(d["rows"][1])),
            folder=str(d["folder"]),
            layers=[LayerFile(**f) for f in d["layers"]],
        )


@dataclass(frozen=True)
class Manifest:
    """The self-description of an entry (``manifest.json``)."""

    key: EntryKey
    n_sentences: int
    n_words: int
    n_layers: int
    hidden_size: int
    layers: list[LayerFile]
    model: dict[str, Any] = field(default_factory=dict)
    extraction: dict[str, Any] = field(default_factory=dict)
    corpus: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    created: str = ""
    format_version: int = FORMAT_VERSION
    dtype: str = "float16"
    # Empty for an entry written in one piece; else the row ranges written separately (one
    # distributed worker each), and ``layers`` names the layers with their total sizes.
    shards: list[Shard] = field(default_factory=list)

    @property
    def entry_id(self) -> str:
        return self.key.entry_id

    @property
    def shape(self) -> tuple[int, int]:
        """``(words, neurons)`` of the whole activation matrix."""
        return (self.n_words, self.n_layers * self.hidden_size)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["shards"] = [s.to_dict() for s in self.shards]
        d["entry_id"] = self.entry_id
        d["shape"] = list(self.shape)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Manifest:
        d = dict(d)
        d.pop("entry_id", None)
        d.pop("shape", None)
        d["key"] = EntryKey(**d["key"])
        d["layers"] = [LayerFile(**f) for f in d["layers"]]
        d["shards"] = [Shard.from_dict(s) for s in d.get("shards", [])]
        return cls(**d)


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
        return _files(self.manifest)

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


def _files(manifest: Manifest) -> list[LayerFile]:
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


class EntryWriter:
    """Writes one entry's layer files into a partial folder, by row blocks, resumably."""

    def __init__(
        self, folder: Path, n_words: int, n_layers: int, hidden: int, plan: dict[str, Any]
    ) -> None:
        self.folder = folder
        self.n_words, self.n_layers, self.hidden = n_words, n_layers, hidden
        self.done: set[int] = set()
        state = {"plan": plan, "n_words": n_words, "n_layers": n_layers, "hidden": hidden}
        plan_file = folder / "plan.json"
        if folder.is_dir() and plan_file.is_file() and json.loads(plan_file.read_text()) == state:
            self.done = self._read_done()
            log.info("resuming %s: %d batches already done", folder.name, len(self.done))
        else:
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            self._create_layer_files()
            atomic_write_json(plan_file, state)
        self._fds = [os.open(folder / self.layer_file(i), os.O_RDWR) for i in range(n_layers)]
        self._offset = self._data_offset()
        self._log = open(folder / "done.log", "a", encoding="ascii")  # noqa: SIM115

    @staticmethod
    def layer_file(index: int) -> str:
        return f"layer_{index:03d}.npy"

    def _create_layer_files(self) -> None:
        header = {"descr": DTYPE.str, "fortran_order": False, "shape": (self.n_words, self.hidden)}
        for i in range(self.n_layers):
            with open(self.folder / self.layer_file(i), "wb") as fh:
                np.lib.format.write_array_header_1_0(fh, header)
                fh.truncate(fh.tell() + self.n_words * self.hidden * DTYPE.itemsize)

    def _data_offset(self) -> int:
        with open(self.folder / self.layer_file(0), "rb") as fh:
            np.lib.format.read_magic(fh)
            np.lib.format.read_array_header_1_0(fh)
            return fh.tell()

    def _read_done(self) -> set[int]:
        path = self.folder / "done.log"
        if not path.is_file():
            return set()
        lines = path.read_text(encoding="ascii", errors="ignore").split("\n")
        return {int(x) for x in lines[:-1] if x.isdigit()}  # the last piece may be half-written

    def write(self, row_starts: Sequence[int], counts: Sequence[int], block: np.ndarray) -> None:
        """Store ``block`` (layers x words x hidden, float16) as consecutive row runs."""
        block = np.ascontiguousarray(block, dtype=DTYPE)
        row_bytes = self.hidden * DTYPE.itemsize
        offset = 0
        for start, count in zip(row_starts, counts, strict=True):
            position = self._offset + int(start) * row_bytes
            for layer, fd in enumerate(self._fds):
                os.pwrite(fd, block[layer, offset : offset + count].data, position)
            offset += int(count)

    def mark_done(self, batch_index: int) -> None:
        """Record a batch as written (after its rows are in the files)."""
        self._log.write(f"{batch_index}\n")
        self._log.flush()

    def close(self) -> None:
        """Release the files (safe to call twice)."""
        for fd in self._fds:
            os.close(fd)
        self._fds = []
        if not self._log.closed:
            self._log.close()

    def finish(self) -> list[LayerFile]:
        """Flush the layer files to disk and return their sizes and checksums."""
        for fd in self._fds:
            os.fsync(fd)
        self.close()
        (self.folder / "done.log").unlink(missing_ok=True)
        (self.folder / "plan.json").unlink(missing_ok=True)
        paths = [self.folder / self.layer_file(i) for i in range(self.n_layers)]
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # hashlib frees the GIL
            digests = list(pool.map(file_digest, paths))
        return [
            LayerFile(name=f"layer {i}", file=p.name, size=p.stat().st_size, sha256=d)
            for i, (p, d) in enumerate(zip(paths, digests, strict=True))
        ]


BuildFn = Callable[[Path], Manifest]


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
                stamp_written(final, [(f.file, f.size, f.sha256) for f in _files(manifest)])
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
            buffer = _npy_bytes(ids)
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


def open_entry(path: str | Path) -> ActivationEntry:
    """The complete entry in folder ``path`` (how a worker process opens what the driver named)."""
    path = Path(path)
    entry = ActivationCache._open(path)
    if entry is None:
        raise CacheError("no complete cache entry here", path=path, hint="see neuronviz cache list")
    return entry


def _npy_bytes(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
