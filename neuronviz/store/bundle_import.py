"""Importing a demo bundle: every member checked (names, kinds, sizes, compression ratio, checksums) before anything is unpacked, the unpacked copy checked again, then moved into the cache."""

from __future__ import annotations

import json
import logging
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from neuronviz.errors import CacheError
from neuronviz.settings import resolve_cache_dir
from neuronviz.store.activations import ActivationEntry
from neuronviz.store.bundles import (
    FORGED_HINT,
    INFO_FILE,
    MAX_MEMBER_BYTES,
    MAX_MEMBERS,
    MAX_RATIO,
    MAX_TOTAL_BYTES,
    RESULT_FILES,
    ROOTS,
    UNPACK_ERRORS,
    BundleInfo,
    read_bundle_info,
    shipped_entry_files,
    ships,
)
from neuronviz.store.files import file_digest, not_regular
from neuronviz.store.integrity import STAMP_FILE
from neuronviz.store.manifests import Manifest
from neuronviz.store.result_checks import oracle_problem, result_problem
from neuronviz.store.result_store import ResultStore

__all__ = ["import_bundle"]

log = logging.getLogger(__name__)


def _check_sizes(zf: zipfile.ZipFile, where: Path, root: Path) -> None:
    """Refuses a bundle whose members are too many, too large or compressed too well to be
    real activations and results, or that would not fit on the disk."""
    members = [i for i in zf.infolist() if i.filename != INFO_FILE]
    total = sum(i.file_size for i in members)
    problem = None
    if len(members) > MAX_MEMBERS:
        problem = f"{len(members)} files (at most {MAX_MEMBERS})"
    elif total > MAX_TOTAL_BYTES:
        problem = f"{total / 2**30:.1f} GiB unpacked (at most {MAX_TOTAL_BYTES >> 30} GiB)"
    else:
        for i in members:
            if i.file_size > MAX_MEMBER_BYTES or i.file_size > MAX_RATIO * max(
                i.compress_size, 1024
            ):
                problem = f"{i.filename} unpacks to {i.file_size} bytes from {i.compress_size}"
                break
    if problem:
        raise CacheError(
            f"the bundle is not what neuronviz exports: {problem}",
            path=where,
            hint="only import bundles made by neuronviz bundle export",
        )
    free = shutil.disk_usage(root).free
    if total > free:
        raise CacheError(
            f"the bundle unpacks to {total / 2**20:.0f} MiB; the cache's disk has {free / 2**20:.0f} MiB free",
            path=root,
            hint="free disk space or import into another --cache-dir",
        )


def _entry_problems(folder: Path) -> list[str]:
    """What is wrong with the unpacked activation entry ``folder`` (empty when it is whole)."""
    held = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]
    try:
        manifest = Manifest.from_dict(json.loads((folder / "manifest.json").read_text()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return [f"manifest.json is unreadable: {exc!r}"]
    shipped = shipped_entry_files(manifest)
    extra = sorted(f for f in held if not ships(f, shipped))  # listed before verify stamps it
    if extra:
        return [f"it holds files export never writes: {_shown(extra)}"]
    try:
        found = ActivationEntry(folder, manifest).verify(checksums=True)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return [f"its files cannot be checked: {exc!r}"]
    if manifest.entry_id != folder.name:
        found.append("the folder is not its key's")
    return found


def _check_unpacked(work: Path, where: Path) -> None:
    """Every unpacked activation entry and result is whole by its own checksums, and every
    file its manifest names lies inside it."""
    problems = []
    for folder in sorted((work / "activations").glob("*/*")):
        problems += [f"{folder.relative_to(work)}: {p}" for p in _entry_problems(folder)]
    for folder in sorted((work / "results").glob("*/*")):
        problem = result_problem(folder) if (folder / "checksums.json").is_file() else None
        result = ResultStore.read(folder) if problem is None else None
        if problem is None and result is None:
            problem = "the result cannot be read (see the log)"
        test = (
            work / "activations" / folder.parent.name / str(result.entries.get("test"))
            if result
            else None
        )
        if result is not None and test is not None and (test / "manifest.json").is_file():
            try:
                entry = ActivationEntry(
                    test, Manifest.from_dict(json.loads((test / "manifest.json").read_text()))
                )
                problem = oracle_problem(result, entry)
            except (CacheError, OSError, ValueError, KeyError, TypeError) as exc:
                problem = f"its test activations cannot be read: {exc}"
        if problem:
            problems.append(f"{folder.relative_to(work)}: {problem}")
    if problems:
        raise CacheError(
            "the bundle's contents are damaged: " + "; ".join(problems[:3]),
            path=where,
            hint="export it again from a sound cache (neuronviz cache verify)",
        )


def _shown(names: list[str]) -> str:
    """The first few of ``names``, quoted (a name may hold a newline)."""
    more = f" and {len(names) - 3} more" if len(names) > 3 else ""
    return ", ".join(repr(n) for n in sorted(names)[:3]) + more


def _safe_name(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return (
        len(parts) >= 4  # results|activations / model / entry or result / file
        and parts[0] in ROOTS
        and parts[-1] != STAMP_FILE
        and not PurePosixPath(name).is_absolute()
        and ".." not in parts
        and "\\" not in name
    )


def _member_kind(member: zipfile.ZipInfo) -> str | None:
    """What a member is when it is not a plain file (its Unix mode says a link, a folder, a
    device...), else None. A mode without a file type counts as a plain file."""
    mode = member.external_attr >> 16
    if member.is_dir() or stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return not_regular(mode) if stat.S_IFMT(mode) else None


def _stamps(names) -> set[str]:
    """Verified-read stamps some earlier exports shipped: another machine's, never trusted and
    never unpacked (the imported files are hashed here)."""
    return {n for n in names if PurePosixPath(n).name == STAMP_FILE and n.count("/") == 3}


def _check_members(zf: zipfile.ZipFile, info: BundleInfo, where: Path) -> None:
    """Refuses members that are not plain files, lie outside a result folder or entry, are not
    files export writes, or do not match the contents list."""
    special = [f"{m.filename!r} is {kind}" for m in zf.infolist() if (kind := _member_kind(m))]
    if special:
        raise CacheError(
            f"bundle has members that are not plain files: {'; '.join(special[:3])}",
            path=where,
            hint=FORGED_HINT,
        )
    names = set(zf.namelist()) - {INFO_FILE} - _stamps(zf.namelist())
    bad = [n for n in names if not _safe_name(n)]
    if bad:
        raise CacheError(
            f"bundle has files outside results/ and activations/: {_shown(bad)}",
            path=where,
            hint=FORGED_HINT,
        )
    unknown = [
        n
        for n in names
        if n.startswith("results/")
        and (n.count("/") != 3 or PurePosixPath(n).name not in RESULT_FILES)
    ]
    if unknown:
        raise CacheError(
            f"bundle has files export never writes in a result folder: {_shown(unknown)}",
            path=where,
            hint=FORGED_HINT,
        )
    if names != set(info.files) - _stamps(info.files):
        missing = sorted(set(info.files) - names)[:3]
        extra = sorted(names - set(info.files))[:3]
        raise CacheError(
            f"bundle contents do not match its list (missing {missing}, unlisted {extra})",
            path=where,
            hint="the file is damaged; export it again",
        )


def _unpack(zf: zipfile.ZipFile, name: str, target: Path, where: Path) -> None:
    """Copy member ``name`` to ``target``. A member that does not read back as its directory
    entry says (sizes, compression, CRC) is a ``CacheError``, as is a cache that cannot be written."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        dst = open(target, "wb")  # noqa: SIM115
    except OSError as exc:
        raise _unwritable(exc, target) from None
    with dst:
        try:
            with zf.open(name) as src:
                while chunk := src.read(1 << 20):
                    try:
                        dst.write(chunk)
                    except OSError as exc:
                        raise _unwritable(exc, target) from None
        except UNPACK_ERRORS as exc:
            raise CacheError(
                f"the bundle is damaged or forged: its member {name!r} cannot be unpacked "
                f"({type(exc).__name__}: {exc})",
                path=where,
                hint=f"nothing was imported; {FORGED_HINT}",
            ) from None


def _unwritable(exc: OSError, target: Path) -> CacheError:
    return CacheError(
        f"cannot unpack the bundle into the cache: {exc.strerror or exc}",
        path=target.parent,
        hint="free disk space, fix the cache's permissions or import into another --cache-dir",
    )


def _move_in(work: Path, root: Path) -> int:
    """Move the checked folders from ``work`` into the cache; returns how many were added."""
    added = 0
    for top in ROOTS:
        for folder in sorted((work / top).glob("*/*")) if (work / top).is_dir() else []:
            final = root / folder.relative_to(work)
            if final.exists():
                continue  # the same entry or result is already cached
            final.parent.mkdir(parents=True, exist_ok=True)
            folder.rename(final)
            added += 1
    return added


def import_bundle(path: str | Path, *, cache_dir: str | Path | None = None) -> BundleInfo:
    """Check a bundle completely, then add its results and activations to the cache."""
    where = Path(path)
    info = read_bundle_info(where)
    root = resolve_cache_dir(cache_dir)
    root.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(where) as zf:
        _check_sizes(zf, where, root)
        _check_members(zf, info, where)
        work = Path(tempfile.mkdtemp(prefix=".bundle-", dir=root))
        try:
            for name in sorted(set(info.files) - _stamps(info.files)):
                _unpack(zf, name, work / name, where)
                if file_digest(work / name) != info.files[name]:
                    raise CacheError(
                        f"checksum mismatch for {name!r}",
                        path=where,
                        hint="the file is damaged; export it again",
                    )
            _check_unpacked(work, where)
            added = _move_in(work, root)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    log.info("imported %s into %s: %d folders added", where, root, added)
    return info
