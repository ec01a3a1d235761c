"""Demo bundles: the cached results of chosen model x task pairs in one file, for a talk offline.

A bundle is a zip file holding, for every chosen pair, the analysis result the dashboard shows
(``result.json`` and ``arrays.npz``) and the test-split activations its corpus views read (the
neuron explorer's sentences, the word search), plus ``bundle.json``: what is inside, with a SHA-256 per file.
Importing checks every name (nothing may land outside the cache folder) and every checksum
before anything is written, then moves the files into the cache; entries and results already
there stay as they are. Typed-text highlighting still needs the model itself: the registry
models come as Python packages and work offline once installed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from neuronviz.cache import ActivationCache, ActivationEntry, Manifest
from neuronviz.errors import CacheError, ConfigError
from neuronviz.fileutil import file_digest
from neuronviz.integrity import STAMP_FILE
from neuronviz.results import ResultStore, oracle_problem, result_problem
from neuronviz.settings import resolve_cache_dir

__all__ = ["BUNDLE_VERSION", "BundleInfo", "export_bundle", "import_bundle", "read_bundle_info"]

log = logging.getLogger(__name__)

BUNDLE_VERSION = 1
_INFO = "bundle.json"
_ROOTS = ("results", "activations")
# Limits checked from the archive's directory before anything is written (a zip bomb's
# members claim small sizes in vain: a member is read no further than its stated size).
MAX_MEMBERS = 20_000
MAX_MEMBER_BYTES = 64 << 30
MAX_TOTAL_BYTES = 256 << 30
MAX_RATIO = 200  # uncompressed / compressed; float16 activations compress about 1.2x
_INFO_BYTES = 64 << 20


@dataclass(frozen=True)
class BundleInfo:
    """What a bundle holds (``bundle.json``)."""

    version: int
    created: str
    pairs: list[tuple[str, str]]
    files: dict[str, str] = field(default_factory=dict)  # archive name -> sha256
    activations: bool = True

    def to_dict(self) -> dict:
        return {
            "version": self.version,
            "created": self.created,
            "pairs": [list(p) for p in self.pairs],
            "files": self.files,
            "activations": self.activations,
        }


def export_bundle(
    pairs: list[tuple[str, str]],
    path: str | Path,
    *,
    cache_dir: str | Path | None = None,
    activations: bool = True,
) -> BundleInfo:
    """Write the shown results (``ResultStore.latest``) of ``pairs`` (model, task), with their
    test activations, to ``path``."""
    if not pairs:
        raise ConfigError("choose at least one model x task pair to bundle")
    root = resolve_cache_dir(cache_dir)
    store = ResultStore(root)
    cache = ActivationCache(root)
    files: dict[str, Path] = {}
    for model, task in pairs:
        result = store.latest(model, task)
        if result is None:
            raise CacheError(
                f"no analysis of {model} x {task} in {store.base}",
                hint=f"run: neuronviz probe --model {model} --task {task}",
            )
        folder = store.folder(result.model, result.task, result.method, result.key)
        for f in sorted(folder.iterdir()):
            files[f.relative_to(root).as_posix()] = f
        test_id = result.entries.get("test")
        if activations and test_id:
            entry = cache.by_id(result.model, test_id)
            if entry is None:
                log.warning(
                    "%s x %s: its test activations were removed; bundling results only", model, task
                )
                continue
            for f in sorted(p for p in entry.path.rglob("*") if p.is_file()):
                if f.name != STAMP_FILE:  # this machine's record of what it checked
                    files[f.relative_to(root).as_posix()] = f
    info = BundleInfo(
        version=BUNDLE_VERSION,
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        pairs=[tuple(p) for p in pairs],
        files={name: file_digest(f) for name, f in files.items()},
        activations=activations,
    )
    target = Path(path)
    if target.is_dir():
        raise CacheError(
            "the bundle's path is a folder", path=target, hint="name a file, e.g. -o talk.zip"
        )
    partial = target.with_name(target.name + ".partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(partial, "w", allowZip64=True) as zf:
            zf.writestr(
                _INFO, json.dumps(info.to_dict(), indent=1), compress_type=zipfile.ZIP_DEFLATED
            )
            for name, f in files.items():
                stored = f.suffix in (".npy", ".npz")
                zf.write(
                    f, name, compress_type=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
                )
        partial.replace(target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise CacheError(
            f"cannot write the bundle: {exc.strerror or exc}",
            path=target,
            hint="choose a writable place with enough free space",
        ) from None
    log.info("wrote %s: %d pairs, %d files", target, len(pairs), len(files))
    return info


def read_bundle_info(path: str | Path) -> BundleInfo:
    """The contents list of a bundle, checked for shape (not yet for checksums)."""
    where = Path(path)
    hint = "make one with: neuronviz bundle export"
    if not where.is_file():
        raise CacheError("no bundle file here", path=where, hint=hint)
    try:
        with zipfile.ZipFile(where) as zf:
            if zf.getinfo(_INFO).file_size > _INFO_BYTES:
                raise CacheError(f"{_INFO} is too large to be a contents list", path=where)
            raw = json.loads(zf.read(_INFO))
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise CacheError(
            f"{where} is not a neuronviz bundle ({exc})", path=where, hint=hint
        ) from None
    if not isinstance(raw, dict) or raw.get("version") != BUNDLE_VERSION:
        version = raw.get("version") if isinstance(raw, dict) else None
        raise CacheError(
            f"bundle version {version!r} is not {BUNDLE_VERSION}",
            path=where,
            hint="export it again with this neuronviz version",
        )
    pairs, files = raw.get("pairs", []), raw.get("files", {})
    if (
        not isinstance(pairs, list)
        or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p)
            for p in pairs
        )
        or not isinstance(files, dict)
        or not all(
            isinstance(k, str) and isinstance(v, str) and len(v) == 64 for k, v in files.items()
        )
        or not isinstance(raw.get("created", ""), str)
    ):
        raise CacheError(
            f"{_INFO} is not a bundle's contents list (pairs of names, a SHA-256 per file)",
            path=where,
            hint="the file is damaged or not from neuronviz bundle export; export it again",
        )
    return BundleInfo(
        version=raw["version"],
        created=raw.get("created", ""),
        pairs=[tuple(p) for p in pairs],
        files=dict(files),
        activations=bool(raw.get("activations", True)),
    )


def _check_sizes(zf: zipfile.ZipFile, where: Path, root: Path) -> None:
    """Refuses a bundle whose members are too many, too large or compressed too well to be
    real activations and results, or that would not fit on the disk."""
    members = [i for i in zf.infolist() if i.filename != _INFO]
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


def _check_unpacked(work: Path, where: Path) -> None:
    """Every unpacked activation entry and result is whole by its own checksums, and every
    file its manifest names lies inside it."""
    problems = []
    for folder in sorted((work / "activations").glob("*/*")):
        try:
            manifest = Manifest.from_dict(json.loads((folder / "manifest.json").read_text()))
            found = ActivationEntry(folder, manifest).verify(checksums=True)
            if manifest.entry_id != folder.name:
                found.append("the folder is not its key's")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            found = [f"manifest.json is unreadable: {exc!r}"]
        problems += [f"{folder.relative_to(work)}: {p}" for p in found]
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


def _safe_name(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return (
        len(parts) >= 4  # results|activations / model / entry or result / file
        and parts[0] in _ROOTS
        and parts[-1] != STAMP_FILE
        and not PurePosixPath(name).is_absolute()
        and ".." not in parts
        and "\\" not in name
    )


def import_bundle(path: str | Path, *, cache_dir: str | Path | None = None) -> BundleInfo:
    """Check a bundle completely, then add its results and activations to the cache."""
    where = Path(path)
    info = read_bundle_info(where)
    root = resolve_cache_dir(cache_dir)
    root.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(where) as zf:
        _check_sizes(zf, where, root)
        names = set(zf.namelist()) - {_INFO}
        bad = [n for n in names if not _safe_name(n)]
        if bad:
            raise CacheError(
                f"bundle has files outside results/ and activations/: {', '.join(sorted(bad)[:3])}",
                path=where,
                hint="only import bundles made by neuronviz bundle export",
            )
        if names != set(info.files):
            missing = sorted(set(info.files) - names)[:3]
            extra = sorted(names - set(info.files))[:3]
            raise CacheError(
                f"bundle contents do not match its list (missing {missing}, unlisted {extra})",
                path=where,
                hint="the file is damaged; export it again",
            )
        work = Path(tempfile.mkdtemp(prefix=".bundle-", dir=root))
        try:
            for name in sorted(names):
                target = work / name
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(name) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                if file_digest(target) != info.files[name]:
                    raise CacheError(
                        f"checksum mismatch for {name}",
                        path=where,
                        hint="the file is damaged; export it again",
                    )
            _check_unpacked(work, where)
            added = 0
            for top in _ROOTS:
                for folder in sorted((work / top).glob("*/*")) if (work / top).is_dir() else []:
                    final = root / folder.relative_to(work)
                    if final.exists():
                        continue  # the same entry or result is already cached
                    final.parent.mkdir(parents=True, exist_ok=True)
                    folder.rename(final)
                    added += 1
        finally:
            shutil.rmtree(work, ignore_errors=True)
    log.info("imported %s into %s: %d folders added", where, root, added)
    return info
