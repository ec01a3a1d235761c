"""Verified reads: a cache file is used only after its bytes match the checksum recorded when it
was written.

Hashing every layer on every read would cost seconds per view, so a file is hashed once per
change: a match is remembered in the process and stamped into the entry's ``verified.json``,
keyed by the file's size, inode, modification and status-change times. Anything that rewrites
the file (an editor, ``cp``, a flipped byte written back, ``touch -r`` too, which sets the
status-change time) changes that key, and the next read hashes the file again.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

from neuronviz.errors import CacheError
from neuronviz.store.files import atomic_write_json, file_digest

__all__ = [
    "STAMP_FILE",
    "damage_seen",
    "inside",
    "known_problem",
    "stamp_written",
    "verify_file",
]

log = logging.getLogger(__name__)

STAMP_FILE = "verified.json"
_STAMP_VERSION = 1

_lock = threading.Lock()
_known: dict[tuple, str] = {}  # (path, size, inode, mtime_ns, ctime_ns) -> verified sha256
_bad: dict[tuple, str] = {}  # the same identity -> what was wrong when it was hashed


def _identity(path: Path) -> tuple:
    st = path.stat()
    return (str(path.resolve()), st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns)


def inside(folder: Path, relative: str) -> Path:
    """``folder / relative``, refusing names that lead outside ``folder`` (``..``, absolute
    paths, links out): a manifest from a bundle must not point a read elsewhere."""
    link = folder / relative
    if not Path(relative).is_absolute() and link.is_symlink():
        raise CacheError(
            f"{relative} is a symbolic link (to {os.readlink(link)!r}), not a file written "
            "into the entry",
            path=link,
            hint="remove the entry (neuronviz cache remove ID) and build or import it again",
        )
    target = link.resolve()
    if Path(relative).is_absolute() or not target.is_relative_to(folder.resolve()):
        raise CacheError(
            f"the manifest names a file outside its entry: {relative!r}",
            path=folder / "manifest.json",
            hint="remove the entry (neuronviz cache remove ID) and build or import it again",
        )
    return folder / relative


def _read_stamps(entry: Path) -> dict[str, list]:
    try:
        data = json.loads((entry / STAMP_FILE).read_text(encoding="utf-8"))
        if data.get("version") == _STAMP_VERSION and isinstance(data.get("files"), dict):
            return data["files"]
    except (OSError, ValueError, AttributeError):
        pass
    return {}


def _write_stamp(entry: Path, relative: str, stamp: list) -> None:
    with _lock:
        files = _read_stamps(entry)
        files[relative] = stamp
        try:
            atomic_write_json(entry / STAMP_FILE, {"version": _STAMP_VERSION, "files": files})
        except OSError as exc:  # a read-only cache: the process still remembers
            log.debug("cannot write %s: %s", entry / STAMP_FILE, exc)


def verify_file(entry: Path, relative: str, size: int, sha256: str) -> Path:
    """The path of ``relative`` in ``entry`` once its bytes match ``size`` and ``sha256``.

    Raises :class:`CacheError` naming the file when it is missing, of another size or
    another checksum. Costs one ``stat`` when the file is unchanged since its last check.
    """
    path = inside(entry, relative)
    hint = "run neuronviz cache verify; remove the entry (neuronviz cache remove ID) to rebuild it"
    try:
        identity = _identity(path)
    except OSError:
        raise CacheError(
            f"{relative} is missing from the cache entry", path=path, hint=hint
        ) from None
    if identity[1] != size:
        raise CacheError(
            f"{relative} has {identity[1]} bytes where {size} were written", path=path, hint=hint
        )
    if _known.get(identity) == sha256:
        return path
    stamp = [identity[1], identity[2], identity[3], identity[4], sha256]
    if _read_stamps(entry).get(relative) == stamp:
        _known[identity] = sha256
        return path
    if not path.is_file():
        raise CacheError(f"{relative} is not a regular file", path=path, hint=hint)
    try:
        digest = file_digest(path)
    except OSError as exc:
        raise CacheError(
            f"{relative} cannot be read: {exc.strerror}",
            path=path,
            hint="fix the file's permissions, or remove the entry (neuronviz cache remove ID) "
            "to rebuild it",
        ) from None
    if digest != sha256:
        _bad[identity] = (
            f"{relative} does not match the SHA-256 sum recorded when it was written: "
            "the file was changed or damaged"
        )
        raise CacheError(_bad[identity], path=path, hint=hint)
    _known[identity] = sha256
    _write_stamp(entry, relative, stamp)
    return path


def known_problem(entry: Path, relative: str) -> str | None:
    """What a read in this process found wrong with ``relative`` as it is now (None when it
    was not found damaged, or has changed since): lets a view that does not read the file
    still say that it is damaged, without hashing it."""
    if not _bad:
        return None
    try:
        return _bad.get(_identity(inside(entry, relative)))
    except (OSError, CacheError):
        return None


def damage_seen() -> int:
    """How many damaged files reads in this process have found (grows as they are found):
    part of the key of anything that caches ``known_problem`` answers."""
    return len(_bad)


def stamp_written(entry: Path, files: list[tuple[str, int, str]]) -> None:
    """Stamps ``(relative, size, sha256)`` files as verified without hashing them again: for
    the writer, whose sums were computed from these very files, once they are in place (a
    rename changes their status-change time, so stamps made before it would not hold)."""
    stamps = _read_stamps(entry)
    for relative, size, sha256 in files:
        identity = _identity(inside(entry, relative))
        if identity[1] == size:
            stamps[relative] = [identity[1], identity[2], identity[3], identity[4], sha256]
            _known[identity] = sha256
    with _lock:
        try:
            atomic_write_json(entry / STAMP_FILE, {"version": _STAMP_VERSION, "files": stamps})
        except OSError as exc:
            log.debug("cannot write %s: %s", entry / STAMP_FILE, exc)


def forget() -> None:
    """Drop what this process remembers (tests; the stamps on disk stay)."""
    _known.clear()
    _bad.clear()
