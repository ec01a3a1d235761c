"""From cache entries to probe-ready data: standardised features and label ids per split.

The training matrix is built once, in float32, standardised in place with the training split's
statistics (or streamed from the cache when it would not fit the memory budget). Dev and test
features are kept standardised in float16 and scored in row blocks. Labels map to the training
vocabulary; a dev/test label never seen in training gets id -1 and always counts as an error.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch

from neuronviz.errors import CacheError, ConfigError, DataError
from neuronviz.probing.design import MIN_SCALE, DenseDesign, Design, StreamedDesign
from neuronviz.store.activations import ActivationEntry

__all__ = [
    "EvalSet",
    "ProbeData",
    "ProbeSource",
    "entry_stats",
    "load_probe_data",
    "memory_budget",
    "standardised_columns",
]

log = logging.getLogger(__name__)

_ROW_CHUNK = 8192
_EVAL_BLOCK_BYTES = 64 << 20  # scoring converts float16 rows to float32 in blocks this size


DEFAULT_MATRIX_BYTES = 3 << 30


def memory_budget() -> int:
    """Bytes the training matrix may take in memory; above this it is streamed from the cache.

    ``$NEURONVIZ_MEMORY_GB`` if set, else 3 GiB or 60% of the memory available now, whichever
    is less. Above 3 GiB streaming costs little: the solver then works on a working set of
    neurons read into memory (see :func:`neuronviz.probing.probe.fit_working_set`), and the whole
    analysis of a 17,856-neuron model stays under 6 GB.
    """
    from neuronviz.settings import memory_limit_bytes

    chosen = memory_limit_bytes()
    if chosen is not None:
        return chosen
    try:
        import psutil

        return min(DEFAULT_MATRIX_BYTES, int(psutil.virtual_memory().available * 0.6))
    except ImportError:  # pragma: no cover - psutil is a dependency
        return DEFAULT_MATRIX_BYTES


@dataclass
class EvalSet:
    """A scoring split: standardised float16 features and label ids (-1 = unseen label)."""

    x: torch.Tensor  # (rows, features) float16, standardised
    y: np.ndarray  # (rows,) int64
    words: list[list[str]] = field(default_factory=list, repr=False)

    def logits(
        self, weights: torch.Tensor, bias: torch.Tensor, columns: np.ndarray | None = None
    ) -> torch.Tensor:
        """Logits of a probe on ``columns`` (all when None), computed in float32 row blocks."""
        cols = None if columns is None else torch.as_tensor(np.asarray(columns), dtype=torch.int64)
        width = self.x.shape[1] if cols is None else len(cols)
        rows = max(1024, _EVAL_BLOCK_BYTES // (4 * max(width, 1)))  # float32 blocks
        out = []
        for start in range(0, self.x.shape[0], rows):
            block = self.x[start : start + rows]
            block = block.float() if cols is None else block.index_select(1, cols).float()
            out.append(block @ weights.cpu() + bias.cpu())
        return torch.cat(out) if out else torch.zeros(0, weights.shape[1])

    def accuracy(
        self, weights: torch.Tensor, bias: torch.Tensor, columns: np.ndarray | None = None
    ) -> float:
        pred = self.logits(weights, bias, columns).argmax(1).numpy()
        return float(np.mean(pred == self.y)) if len(self.y) else 0.0


@dataclass(frozen=True)
class ProbeSource:
    """Where a :class:`ProbeData` came from, so another process (a Ray worker) can rebuild any
    part of it from the activation store with the same numbers."""

    train: str  # entry folders
    dev: str
    test: str
    task: str
    classes: tuple[str, ...]
    n_rows: int  # training rows used
    streamed: bool  # the training matrix is streamed from the store, not held in memory
    mean: np.ndarray  # training statistics of every neuron
    scale: np.ndarray
    device: str = "cpu"
    # The driver's torch threads: float32 products split across another number of threads round
    # differently, and a retrained probe on real data then differs by a word or two.
    threads: int = 1


@dataclass
class ProbeData:
    """Everything a probe analysis of one model x task needs, in memory or streamed."""

    model: str
    task: str
    classes: list[str]
    train: Design
    y_train: torch.Tensor
    dev: EvalSet
    test: EvalSet
    train_words: list[list[str]]
    n_layers: int
    hidden_size: int
    layer_names: list[str]
    unseen: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    source: ProbeSource | None = None

    @property
    def n_neurons(self) -> int:
        return self.n_layers * self.hidden_size

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def layer_of(self, neurons: np.ndarray) -> np.ndarray:
        return np.asarray(neurons) // self.hidden_size


def _per_layer(entry: ActivationEntry, work) -> list:
    """``work(layer)`` for every layer, on as many threads as torch uses.

    Each layer's numbers are computed by one thread alone, in the same order as a plain loop,
    so the result is bit for bit the same on any number of threads; numpy releases the GIL
    for the conversions and arithmetic (on 2 cores: 1.0 s instead of 1.2 s for the 95,000
    words x 2,688 neurons of the peer bench; file reads bound the rest).
    """
    threads = max(1, min(torch.get_num_threads(), entry.n_layers))
    if threads == 1:
        return [work(layer) for layer in range(entry.n_layers)]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(work, range(entry.n_layers)))


def entry_stats(entry: ActivationEntry, n_rows: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-neuron mean and scale over the first ``n_rows`` rows (default all), layer by layer in
    float64."""
    n_rows = entry.manifest.n_words if n_rows is None else n_rows

    def layer_stats(layer: int) -> tuple[np.ndarray, np.ndarray]:
        total = np.zeros(entry.hidden_size)
        total_sq = np.zeros(entry.hidden_size)
        for _, _, rows in entry.row_blocks(layer, n_rows, _ROW_CHUNK):
            block = np.array(rows, dtype=np.float64)
            total += block.sum(0)
            np.square(block, out=block)
            total_sq += block.sum(0)
        mean = total / n_rows
        return mean, np.sqrt(np.maximum(total_sq / n_rows - mean**2, 0.0))

    stats = _per_layer(entry, layer_stats)
    means = np.concatenate([m for m, _ in stats])
    scales = np.concatenate([s for _, s in stats])
    return means, np.maximum(scales, MIN_SCALE)


def _standardised(
    entry: ActivationEntry, mean: np.ndarray, scale: np.ndarray, n_rows: int, dtype: torch.dtype
) -> torch.Tensor:
    """The first ``n_rows`` rows, standardised, filled layer by layer into one tensor.

    Float32 arithmetic per element, ``(x - mean) / scale``, then rounded to ``dtype``.
    """
    out = torch.empty(n_rows, entry.shape[1], dtype=dtype)
    target = out.numpy()
    h = entry.hidden_size

    def fill(layer: int) -> None:
        cols = slice(layer * h, (layer + 1) * h)
        m = np.asarray(mean[cols], dtype=np.float32)
        s = np.asarray(scale[cols], dtype=np.float32)
        for start, stop, rows in entry.row_blocks(layer, n_rows, _ROW_CHUNK):
            block = np.array(rows, dtype=np.float32)
            np.subtract(block, m, out=block)
            np.divide(block, s, out=block)
            target[start:stop, cols] = block  # rounds to float16 for evaluation sets

    _per_layer(entry, fill)
    return out


def standardised_columns(
    entry: ActivationEntry,
    columns: np.ndarray,
    mean: np.ndarray,
    scale: np.ndarray,
    n_rows: int,
    dtype: torch.dtype,
) -> torch.Tensor:
    """Columns ``columns`` of the first ``n_rows`` rows, standardised: bit for bit the same
    values as those columns of :func:`_standardised` (same float32 arithmetic per element)."""
    cols = np.asarray(columns, dtype=np.int64)
    out = torch.empty(n_rows, len(cols), dtype=dtype)
    m = torch.as_tensor(mean[cols], dtype=torch.float32)
    s = torch.as_tensor(scale[cols], dtype=torch.float32)
    for start in range(0, n_rows, _ROW_CHUNK):
        stop = min(start + _ROW_CHUNK, n_rows)
        block = torch.from_numpy(entry.neurons(cols, rows=slice(start, stop)).astype(np.float32))
        out[start:stop] = ((block - m) / s).to(dtype)
    return out


def label_ids(entry: ActivationEntry, task: str, classes: Sequence[str]) -> np.ndarray:
    """Gold label ids of ``task`` in ``entry``, mapped to ``classes`` (-1 = unseen)."""
    return _label_ids(entry, task, list(classes))[0]


def _label_ids(
    entry: ActivationEntry, task: str, classes: list[str] | None
) -> tuple[np.ndarray, list[str]]:
    if not entry.has_labels(task):
        raise CacheError(
            f"the cached activations have no labels for task {task!r}",
            path=entry.path,
            hint=f"run: neuronviz extract --model {entry.manifest.key.model} --task {task}",
        )
    ids, vocab = entry.labels(task)
    if classes is None:
        return ids.astype(np.int64), vocab
    index = {c: i for i, c in enumerate(classes)}
    mapping = np.array([index.get(v, -1) for v in vocab], dtype=np.int64)
    return mapping[ids], classes


STREAMING_BYTES = 1 << 30  # row blocks, a working set and the solver's state when streaming


def check_memory(entries: dict[str, ActivationEntry], task: str, *, train_bytes: int) -> None:
    """Refuse an analysis that cannot fit in this machine's memory, before loading anything.

    Dev and test features stay in memory (float16); the training matrix is either loaded
    (float32) or streamed. Beyond the machine's total memory the OS would kill the run part
    way; beyond what is available now it may swap, which is only logged.
    """
    import psutil

    eval_bytes = sum(entries[s].manifest.n_words * entries[s].shape[1] * 2 for s in ("dev", "test"))
    estimate = eval_bytes + train_bytes + (512 << 20)  # + Python, torch and the model's labels
    memory = psutil.virtual_memory()
    if estimate > 0.9 * memory.total:
        raise ConfigError(
            f"probing {task!r} needs about {estimate / 2**30:.1f} GiB of memory "
            f"({eval_bytes / 2**30:.1f} GiB of dev and test features, "
            f"{train_bytes / 2**30:.1f} GiB for training) and this machine has "
            f"{memory.total / 2**30:.1f} GiB",
            path=entries["test"].path,
            hint="extract fewer dev and test sentences (--max-sentences N) or use a machine "
            "with more memory",
        )
    if estimate > memory.available:
        log.warning(
            "probing %r needs about %.1f GiB of memory and %.1f GiB are free now: it may swap",
            task,
            estimate / 2**30,
            memory.available / 2**30,
        )


def _singleton_warnings(y_train: np.ndarray, classes, path) -> list[str]:
    """A warning (logged, and kept with the result) when classes have one training word."""
    singletons = [
        classes[c] for c in np.flatnonzero(np.bincount(y_train, minlength=len(classes)) == 1)
    ]
    if not singletons:
        return []
    shown = ", ".join(singletons[:10]) + (" ..." if len(singletons) > 10 else "")
    warning = (
        f"{len(singletons)} of {len(classes)} classes have a single training example "
        f"({shown}) in {path}: the probe learns them from one word, and their "
        "per-class accuracy means little; a frequency class weighting keeps them from "
        "dominating the ranking"
    )
    log.warning(warning)
    return [warning]


def _eval_sets(
    entries: dict[str, ActivationEntry], task: str, classes, mean, scale
) -> tuple[dict[str, EvalSet], dict[str, int]]:
    """Dev and test, standardised with the training statistics, and how many of their words
    carry a label the training split never saw."""
    train = entries["train"]
    sets, unseen = {}, {}
    for split in ("dev", "test"):
        entry = entries[split]
        if entry.shape[1] != train.shape[1]:
            raise CacheError(
                f"the {split} entry has {entry.shape[1]} neurons but train has {train.shape[1]}",
                path=entry.path,
            )
        y, _ = _label_ids(entry, task, classes)
        unseen[split] = int((y < 0).sum())
        x = _standardised(entry, mean, scale, entry.manifest.n_words, torch.float16)
        sets[split] = EvalSet(x, y, entry.tokens())
    return sets, unseen


def load_probe_data(
    entries: dict[str, ActivationEntry],
    task: str,
    *,
    max_train_words: int | None = None,
    device: torch.device | str = "cpu",
    memory_limit: int | None = None,
) -> ProbeData:
    """Build :class:`ProbeData` from the train/dev/test entries of one model x task."""
    missing = [s for s in ("train", "dev", "test") if s not in entries]
    if missing:
        raise CacheError(
            f"no cached activations for split(s) {', '.join(missing)} of task {task!r}"
        )
    train = entries["train"]
    y_train, classes = _label_ids(train, task, None)
    if len(classes) < 2:
        raise DataError(
            f"task {task!r} has {len(classes)} label(s) in its training split; a probe needs two or more"
        )
    n_rows = min(train.manifest.n_words, max_train_words or train.manifest.n_words)
    if n_rows < 2:
        raise ConfigError(f"max_train_words leaves {n_rows} training word(s)")
    y_train = y_train[:n_rows]
    warnings = _singleton_warnings(y_train, classes, train.path)
    mean, scale = entry_stats(train, n_rows)
    limit = memory_limit if memory_limit is not None else memory_budget()
    needed = n_rows * train.shape[1] * 4
    check_memory(entries, task, train_bytes=needed if needed <= limit else STREAMING_BYTES)
    if needed <= limit:
        design: Design = DenseDesign(
            _standardised(train, mean, scale, n_rows, torch.float32).to(device), mean, scale
        )
    else:
        log.info(
            "training matrix needs %.1f GiB, over the %.1f GiB budget: streaming it from the cache",
            needed / 2**30,
            limit / 2**30,
        )
        design = StreamedDesign(train, mean=mean, scale=scale, rows=slice(0, n_rows), device=device)
    sets, unseen = _eval_sets(entries, task, classes, mean, scale)
    return ProbeData(
        model=train.manifest.key.model,
        task=task,
        classes=list(classes),
        train=design,
        y_train=torch.as_tensor(y_train),
        dev=sets["dev"],
        test=sets["test"],
        train_words=train.tokens(),
        n_layers=train.n_layers,
        hidden_size=train.hidden_size,
        layer_names=list(
            train.manifest.model.get("layer_names") or [f"layer {i}" for i in range(train.n_layers)]
        ),
        unseen=unseen,
        warnings=warnings,
        source=ProbeSource(
            train=str(train.path),
            dev=str(entries["dev"].path),
            test=str(entries["test"].path),
            task=task,
            classes=tuple(classes),
            n_rows=n_rows,
            streamed=not isinstance(design, DenseDesign),
            mean=mean,
            scale=scale,
            device=str(device),
            threads=torch.get_num_threads(),
        ),
    )


def flatten(words: Sequence[Sequence[str]]) -> list[str]:
    return [w for sentence in words for w in sentence]
