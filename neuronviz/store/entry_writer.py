"""Writing a cache entry: layer files filled as batches arrive, checksummed and renamed into place
only when complete."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from neuronviz.store.files import atomic_write_json, file_digest
from neuronviz.store.manifests import DTYPE, LayerFile

__all__ = ["EntryWriter", "now_iso"]

log = logging.getLogger(__name__)


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


def npy_bytes(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
