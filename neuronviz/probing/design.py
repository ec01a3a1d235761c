"""Standardised feature matrices for probe training, in memory or streamed from the cache.

A probe solver needs two products with the standardised matrix ``Xs = (X - mean) / scale``:
``Xs @ W`` (logits) and ``Xs.T @ P`` (gradients). :class:`DenseDesign` keeps ``Xs`` as one float32
tensor on the device; :class:`StreamedDesign` reads float16 row blocks from a cache entry for
every product and never holds the whole matrix, so a probe can be trained on a matrix larger
than memory. Both give the same numbers up to float32 rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from neuronviz.store.activations import ActivationEntry

__all__ = ["DenseDesign", "Design", "MaskedDesign", "StreamedDesign", "column_stats"]

MIN_SCALE = 1e-6  # a constant neuron gets scale 1e-6 and, standardised, stays all zero
COPY_LIMIT = 0.3  # column subsets above this share are not copied (memory), but masked
DENSE_SUBSET_BYTES = 2 << 30  # a streamed column subset up to 2 GiB is read into memory once
BLOCK_BYTES = 256 << 20  # float32 row block of a streamed design


def column_stats(blocks, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation per column over row blocks, in float64 (one pass)."""
    total = np.zeros(n_features)
    total_sq = np.zeros(n_features)
    count = 0
    for block in blocks:
        b = np.asarray(block, dtype=np.float64)
        total += b.sum(0)
        total_sq += np.square(b).sum(0)
        count += b.shape[0]
    mean = total / max(count, 1)
    var = np.maximum(total_sq / max(count, 1) - mean**2, 0.0)
    return mean, np.sqrt(var)


class Design:
    """Interface of a standardised design matrix (rows = words, columns = neurons)."""

    n_rows: int
    n_features: int
    device: torch.device
    mean: np.ndarray
    scale: np.ndarray

    def forward(self, weights: torch.Tensor) -> torch.Tensor:
        """``Xs @ weights`` for ``weights`` of shape ``(features, classes)``."""
        raise NotImplementedError

    def backward(self, residual: torch.Tensor) -> torch.Tensor:
        """``Xs.T @ residual`` for ``residual`` of shape ``(rows, classes)``."""
        raise NotImplementedError

    def logits(self, weights: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """``Xs @ weights + bias``: a probe's logits on these rows."""
        return self.forward(weights) + bias

    def subset(self, columns: Sequence[int] | np.ndarray) -> Design:
        """The same rows restricted to ``columns`` (standardised with the same statistics)."""
        raise NotImplementedError

    def spectral_norm_sq(self, iterations: int = 15, seed: int = 0) -> float:
        """Estimate of the largest eigenvalue of ``Xs.T @ Xs`` by power iteration."""
        gen = torch.Generator().manual_seed(seed)
        v = torch.randn(self.n_features, 1, generator=gen).to(self.device)
        v /= v.norm()
        value = 0.0
        for _ in range(iterations):
            w = self.backward(self.forward(v))
            value = float(w.norm())
            if value == 0.0:
                return 0.0
            v = w / value
        return value


@dataclass
class DenseDesign(Design):
    """The standardised matrix as one float32 tensor (rows x features) on ``device``."""

    data: torch.Tensor
    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def from_array(
        cls,
        x: np.ndarray,
        *,
        mean: np.ndarray | None = None,
        scale: np.ndarray | None = None,
        device: torch.device | str = "cpu",
    ) -> DenseDesign:
        """Standardise ``x`` with the given statistics (default: its own) in float32."""
        if mean is None or scale is None:
            mean, std = column_stats([x], x.shape[1])
            scale = np.maximum(std, MIN_SCALE)
        data = torch.as_tensor(np.asarray(x), dtype=torch.float32)
        data = data.to(device) if data.device != torch.device(device) else data.clone()
        data -= torch.as_tensor(mean, dtype=torch.float32, device=data.device)
        data /= torch.as_tensor(scale, dtype=torch.float32, device=data.device)
        return cls(data=data, mean=np.asarray(mean), scale=np.asarray(scale))

    @property
    def n_rows(self) -> int:  # type: ignore[override]
        return int(self.data.shape[0])

    @property
    def n_features(self) -> int:  # type: ignore[override]
        return int(self.data.shape[1])

    @property
    def device(self) -> torch.device:  # type: ignore[override]
        return self.data.device

    def forward(self, weights: torch.Tensor) -> torch.Tensor:
        return self.data @ weights

    def backward(self, residual: torch.Tensor) -> torch.Tensor:
        return self.data.T @ residual

    def logits(self, weights: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        # one pass and one words x classes array instead of two (the bias added in the product)
        return torch.addmm(bias, self.data, weights)

    def subset(self, columns: Sequence[int] | np.ndarray) -> Design:
        """A copy of the chosen columns, or, for large subsets, a masked view without a copy."""
        cols = np.asarray(columns, dtype=np.int64)
        if len(cols) > COPY_LIMIT * self.n_features:
            return MaskedDesign(self, cols)
        index = torch.as_tensor(cols, device=self.data.device)
        return DenseDesign(self.data.index_select(1, index), self.mean[cols], self.scale[cols])

    def rows(self, rows: np.ndarray) -> DenseDesign:
        """The chosen rows (same columns and statistics)."""
        index = torch.as_tensor(np.asarray(rows, dtype=np.int64), device=self.data.device)
        return DenseDesign(self.data.index_select(0, index), self.mean, self.scale)


class MaskedDesign(Design):
    """Columns of a :class:`DenseDesign` used in place: products run over all columns with the
    other weights at zero. Costs up to 1/share more arithmetic but no copy of the matrix."""

    def __init__(self, parent: DenseDesign, columns: np.ndarray) -> None:
        self.parent = parent
        self.columns = np.asarray(columns, dtype=np.int64)
        self._index = torch.as_tensor(self.columns, device=parent.device)
        self.mean = parent.mean[self.columns]
        self.scale = parent.scale[self.columns]

    @property
    def n_rows(self) -> int:  # type: ignore[override]
        return self.parent.n_rows

    @property
    def n_features(self) -> int:  # type: ignore[override]
        return len(self.columns)

    @property
    def device(self) -> torch.device:  # type: ignore[override]
        return self.parent.device

    def forward(self, weights: torch.Tensor) -> torch.Tensor:
        full = torch.zeros(
            self.parent.n_features, weights.shape[1], device=weights.device, dtype=weights.dtype
        )
        full[self._index] = weights
        return self.parent.forward(full)

    def backward(self, residual: torch.Tensor) -> torch.Tensor:
        return self.parent.backward(residual).index_select(0, self._index)

    def subset(self, columns: Sequence[int] | np.ndarray) -> Design:
        return self.parent.subset(self.columns[np.asarray(columns, dtype=np.int64)])


class StreamedDesign(Design):
    """Standardised products computed block by block from a cache entry's float16 layers.

    Only ``block_rows`` rows are in memory at a time (as float32), so the matrix may be far
    larger than memory. ``rows`` (a slice) and ``columns`` choose a sub-matrix. A column subset
    small enough (``dense_bytes``) is read once into a :class:`DenseDesign`: retraining on a
    few hundred neurons should not re-read every layer of the cache at each iteration. A large
    subset (over ``COPY_LIMIT`` of the columns) is *masked*: whole rows are read (one contiguous
    copy per layer) and multiplied with weights that are zero outside the subset, which beats
    gathering scattered columns out of every layer at each pass.
    """

    def __init__(
        self,
        entry: ActivationEntry,
        *,
        mean: np.ndarray,
        scale: np.ndarray,
        rows: slice | None = None,
        columns: np.ndarray | None = None,
        block_rows: int | None = None,
        device: torch.device | str = "cpu",
        dense_bytes: int = DENSE_SUBSET_BYTES,
    ) -> None:
        """``block_rows`` defaults to the rows of a 256 MiB float32 block of whole rows."""
        self.entry = entry
        self.dense_bytes = dense_bytes
        self.columns = None if columns is None else np.asarray(columns, dtype=np.int64)
        self.row_range = range(entry.manifest.n_words)[rows or slice(None)]
        self.block_rows = block_rows or max(1024, BLOCK_BYTES // (4 * entry.shape[1]))
        self.mean = np.asarray(mean)
        self.scale = np.asarray(scale)
        self._device = torch.device(device)
        self._inv_scale = torch.as_tensor(
            1.0 / self.scale, dtype=torch.float32, device=self._device
        )
        self._mean = torch.as_tensor(self.mean, dtype=torch.float32, device=self._device)
        total = entry.shape[1]
        self._masked = self.columns is not None and len(self.columns) > COPY_LIMIT * total
        self._index = torch.as_tensor(self.columns, device=self._device) if self._masked else None

    @property
    def n_rows(self) -> int:  # type: ignore[override]
        return len(self.row_range)

    @property
    def n_features(self) -> int:  # type: ignore[override]
        return self.entry.shape[1] if self.columns is None else len(self.columns)

    @property
    def device(self) -> torch.device:  # type: ignore[override]
        return self._device

    def _blocks(self):
        """Row blocks as float32 tensors; all-column blocks are decoded into one reused buffer
        (one float16 -> float32 copy per value, no per-layer temporaries)."""
        start, stop = self.row_range.start, self.row_range.stop
        h = self.entry.hidden_size
        buffer = None
        for a in range(start, stop, self.block_rows):
            rows = slice(a, min(a + self.block_rows, stop))
            m = rows.stop - rows.start
            if self.columns is None or self._masked:
                if buffer is None:
                    buffer = np.empty(
                        (min(self.block_rows, stop - start), self.entry.shape[1]), np.float32
                    )
                block = buffer[:m]
                for layer in range(self.entry.n_layers):
                    block[:, layer * h : (layer + 1) * h] = self.entry.layer(layer)[rows]
            else:
                block = self.entry.neurons(self.columns, rows=rows).astype(np.float32)
            yield a - start, torch.from_numpy(block).to(self._device)

    def forward(self, weights: torch.Tensor) -> torch.Tensor:
        scaled = weights * self._inv_scale[:, None]
        shift = self._mean @ scaled
        if self._masked:
            full = torch.zeros(self.entry.shape[1], weights.shape[1], device=self._device)
            full[self._index] = scaled
            scaled = full
        out = torch.empty(self.n_rows, weights.shape[1], device=self._device)
        for offset, block in self._blocks():
            out[offset : offset + block.shape[0]] = block @ scaled - shift
        return out

    def backward(self, residual: torch.Tensor) -> torch.Tensor:
        width = self.entry.shape[1] if self._masked else self.n_features
        total = torch.zeros(width, residual.shape[1], device=self._device)
        for offset, block in self._blocks():
            total += block.T @ residual[offset : offset + block.shape[0]]
        if self._index is not None:
            total = total.index_select(0, self._index)
        total -= self._mean[:, None] * residual.sum(0, keepdim=True)
        return total * self._inv_scale[:, None]

    def subset(self, columns: Sequence[int] | np.ndarray) -> Design:
        cols = np.asarray(columns, dtype=np.int64)
        chosen = cols if self.columns is None else self.columns[cols]
        whole = len(chosen) == self.entry.shape[1] and np.array_equal(
            chosen, np.arange(len(chosen))
        )
        base = None if whole else chosen  # every column in order: the fast whole-row reads
        streamed = StreamedDesign(
            self.entry,
            mean=self.mean[cols],
            scale=self.scale[cols],
            rows=slice(self.row_range.start, self.row_range.stop),
            columns=base,
            block_rows=self.block_rows,
            device=self._device,
            dense_bytes=self.dense_bytes,
        )
        if len(cols) and self.n_rows * len(cols) * 4 <= self.dense_bytes:
            return streamed.to_dense()
        return streamed

    def to_dense(self) -> DenseDesign:
        """The standardised sub-matrix read into memory (float32, on the design's device)."""
        data = torch.empty(self.n_rows, self.n_features, device=self._device)
        for offset, block in self._blocks():
            if self._masked:
                block = block.index_select(1, self._index)
            data[offset : offset + block.shape[0]] = (block - self._mean) * self._inv_scale
        return DenseDesign(data, self.mean, self.scale)
