"""Small file helpers: atomic writes and checksums."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_write_bytes",
    "atomic_write_json",
    "file_digest",
    "not_regular",
    "read_regular",
    "slug",
]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename: readers never see half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented UTF-8 JSON, atomically."""
    atomic_write_bytes(path, (json.dumps(obj, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def slug(text: str) -> str:
    """A file-name-safe form of ``text`` (letters, digits, ``.-_``), never empty."""
    out = "".join(c if c.isalnum() or c in ".-_" else "_" for c in text).strip("._")
    return out[:80] or "_"


def not_regular(mode: int) -> str | None:
    """What a file of ``mode`` is when it is not a regular file (``"a FIFO"``...), else None."""
    if stat.S_ISREG(mode):
        return None
    kinds = {
        stat.S_ISDIR: "a folder",
        stat.S_ISFIFO: "a FIFO (named pipe)",
        stat.S_ISSOCK: "a socket",
    }
    kinds |= {stat.S_ISCHR: "a character device", stat.S_ISBLK: "a block device"}
    return next((name for test, name in kinds.items() if test(mode)), "not a regular file")


def read_regular(path: Path, limit: int, head: int | None = None) -> bytes:
    """The bytes of ``path`` (the first ``head`` of them if given, to look at a file before
    reading it whole) if it is a regular file of at most ``limit`` bytes.

    Opened without blocking and checked on the open descriptor, so a FIFO (which would wait
    for a writer forever) or a device such as ``/dev/zero`` (which never ends) is refused before
    a byte is read. Raises ``ValueError`` saying what the file is or how large; ``OSError`` as
    ``open`` does.
    """
    if not os.path.lexists(path):
        raise FileNotFoundError(2, "No such file or directory", str(path))
    kind = not_regular(os.stat(path).st_mode)
    if kind:  # a socket cannot even be opened: say what it is first
        raise ValueError(f"is {kind}, not a regular file")
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        kind = not_regular(info.st_mode)
        if kind:
            raise ValueError(f"is {kind}, not a regular file")
        if info.st_size > limit:
            raise ValueError(
                f"is {info.st_size / 2**20:.0f} MiB; the limit is {limit / 2**20:.0f} MiB"
            )
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(limit + 1 if head is None else head)
        if len(data) > limit:
            raise ValueError(f"grew past the limit of {limit / 2**20:.0f} MiB while being read")
        return data
    finally:
        os.close(fd)
