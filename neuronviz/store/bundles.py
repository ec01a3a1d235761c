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
import re
import stat
import time
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from neuronviz.errors import CacheError, ConfigError
from neuronviz.settings import resolve_cache_dir
from neuronviz.store.activation_cache import ActivationCache
from neuronviz.store.files import file_digest, not_regular
from neuronviz.store.manifests import Manifest
from neuronviz.store.result_checks import CHECKSUMS
from neuronviz.store.result_store import ResultStore

try:
    from lzma import LZMAError as _LZMAError

    LZMAError: type[Exception] = _LZMAError
except ImportError:  # a Python built without lzma cannot unpack such members at all
    LZMAError = zlib.error

__all__ = ["BUNDLE_VERSION", "BundleInfo", "export_bundle", "read_bundle_info"]

log = logging.getLogger(__name__)

BUNDLE_VERSION = 1
INFO_FILE = "bundle.json"
ROOTS = ("results", "activations")
# Limits checked from the archive's directory before anything is written (a zip bomb's
# members claim small sizes in vain: a member is read no further than its stated size).
MAX_MEMBERS = 20_000
MAX_MEMBER_BYTES = 64 << 30
MAX_TOTAL_BYTES = 256 << 30
MAX_RATIO = 200  # uncompressed / compressed; float16 activations compress about 1.2x
INFO_BYTES = 64 << 20
RESULT_FILES = frozenset({"result.json", "arrays.npz", CHECKSUMS})  # what a result folder holds
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
# What reading a member whose directory entry lies about it (sizes, compression) can raise.
UNPACK_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    LZMAError,
    EOFError,
    OSError,
    NotImplementedError,  # an unknown compression method
    RuntimeError,  # an encrypted member
)
FORGED_HINT = "only import bundles made by neuronviz bundle export"


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
    overwrite: bool = False,
) -> BundleInfo:
    """Write the shown results (``ResultStore.latest``) of ``pairs`` (model, task), with their
    test activations, to ``path``: a new file or an earlier bundle, which is replaced. Another
    existing file is replaced only with ``overwrite``; a folder, link or device never is."""
    if not pairs:
        raise ConfigError("choose at least one model x task pair to bundle")
    target = Path(path)
    _check_target(target, overwrite)  # before the slow part: hashing every file
    files = _collect(pairs, resolve_cache_dir(cache_dir), activations)
    info = BundleInfo(
        version=BUNDLE_VERSION,
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        pairs=[(p[0], p[1]) for p in pairs],
        files={name: file_digest(f) for name, f in files.items()},
        activations=activations,
    )
    _write(info, files, target, overwrite)
    log.info("wrote %s: %d pairs, %d files", target, len(pairs), len(files))
    return info


def _collect(pairs: list[tuple[str, str]], root: Path, activations: bool) -> dict[str, Path]:
    """The files to bundle, by archive name: each pair's result folder and test entry (only
    the files import accepts; not this machine's ``verified.json``)."""
    store, cache = ResultStore(root), ActivationCache(root)
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
            if f.name in RESULT_FILES and f.is_file():
                files[f.relative_to(root).as_posix()] = f
        test_id = result.entries.get("test")
        if activations and test_id:
            entry = cache.by_id(result.model, test_id)
            if entry is None:
                log.warning(
                    "%s x %s: its test activations were removed; bundling results only", model, task
                )
                continue
            shipped = shipped_entry_files(entry.manifest)
            for f in sorted(p for p in entry.path.rglob("*") if p.is_file()):
                if ships(f.relative_to(entry.path).as_posix(), shipped):
                    files[f.relative_to(root).as_posix()] = f
    return files


def _is_bundle(path: Path) -> bool:
    """Whether the regular file ``path`` is a zip holding a bundle's contents list."""
    try:
        with zipfile.ZipFile(path) as zf:
            return INFO_FILE in zf.namelist()
    except (OSError, EOFError, ValueError, zipfile.BadZipFile):
        return False


def _check_target(target: Path, overwrite: bool) -> None:
    """Refuses to write a bundle to a name with control characters (it would print raw), over
    anything but a regular file, or over a file that is not a bundle unless ``overwrite``."""
    if any(unicodedata.category(c) == "Cc" for c in str(target)):
        raise CacheError(
            f"the bundle's name {str(target)!r} holds control characters (a newline, a tab...)",
            hint="name it with printable characters only, e.g. -o talk.zip",
        )
    try:
        mode = target.lstat().st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise CacheError(
            f"cannot write the bundle: {exc.strerror or exc}",
            path=target,
            hint="choose a writable place with enough free space",
        ) from None
    if stat.S_ISDIR(mode):
        raise CacheError(
            "the bundle's path is a folder", path=target, hint="name a file, e.g. -o talk.zip"
        )
    kind = "a symbolic link" if stat.S_ISLNK(mode) else not_regular(mode)
    if kind:
        raise CacheError(
            f"the bundle's path exists and is {kind}, not a regular file; it is left as it is",
            path=target,
            hint="name a new file, e.g. -o talk.zip",
        )
    if not overwrite and not _is_bundle(target):
        raise CacheError(
            "the bundle's path is an existing file that is not a neuronviz bundle; it is left "
            "as it is",
            path=target,
            hint="name a new file, or replace this one on purpose with --force",
        )


def _write(info: BundleInfo, files: dict[str, Path], target: Path, overwrite: bool) -> None:
    """Write the zip to ``<target>.partial``, then rename it over ``target`` (checked again)."""
    partial = target.with_name(target.name + ".partial")
    created = done = False
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if partial.is_symlink() or partial.is_file():
            partial.unlink()  # left by an export that was stopped
        with open(partial, "xb") as fh:  # a new file: never through a link or into a device
            created = True
            with zipfile.ZipFile(fh, "w", allowZip64=True) as zf:
                zf.writestr(
                    INFO_FILE,
                    json.dumps(info.to_dict(), indent=1),
                    compress_type=zipfile.ZIP_DEFLATED,
                )
                for name, f in files.items():
                    stored = f.suffix in (".npy", ".npz")  # float16 barely compresses
                    kind = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
                    zf.write(f, name, compress_type=kind)
        _check_target(target, overwrite)  # nothing else took its place meanwhile
        partial.replace(target)
        done = True
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename and exc.filename != str(target) else ""
        raise CacheError(
            f"cannot write the bundle: {exc.strerror or exc}{where}",
            path=target,
            hint="choose a writable place with enough free space",
        ) from None
    finally:
        if created and not done:
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)


def read_bundle_info(path: str | Path) -> BundleInfo:
    """The contents list of a bundle, checked for shape (not yet for checksums)."""
    where = Path(path)
    hint = "make one with: neuronviz bundle export"
    if not where.is_file():
        raise CacheError("no bundle file here", path=where, hint=hint)
    try:
        with zipfile.ZipFile(where) as zf:
            if zf.getinfo(INFO_FILE).file_size > INFO_BYTES:
                raise CacheError(f"{INFO_FILE} is too large to be a contents list", path=where)
            raw = json.loads(zf.read(INFO_FILE))
    except (
        OSError,
        EOFError,
        zipfile.BadZipFile,
        zlib.error,
        KeyError,
        ValueError,
        RuntimeError,  # an encrypted member
        NotImplementedError,  # a compression method zipfile does not know
        LZMAError,
    ) as exc:
        raise CacheError(
            f"not a neuronviz bundle ({type(exc).__name__}: {exc})", path=where, hint=hint
        ) from None
    _check_version(raw, where)
    problem = _schema_problem(raw)
    if problem:
        raise CacheError(
            f"{INFO_FILE} is not a bundle's contents list: {problem}",
            path=where,
            hint="the file is damaged or not from neuronviz bundle export; export it again",
        )
    return BundleInfo(
        version=raw["version"],
        created=raw.get("created", ""),
        pairs=[tuple(p) for p in raw.get("pairs", [])],
        files={name: digest.lower() for name, digest in raw.get("files", {}).items()},
        activations=bool(raw.get("activations", True)),
    )


def _check_version(raw: object, where: Path) -> None:
    """Refuses a contents list without a version this neuronviz reads, saying whose it is."""
    damaged = "the file is damaged or not from neuronviz bundle export; export it again"
    if not isinstance(raw, dict) or "version" not in raw:
        raise CacheError(
            f"{INFO_FILE} is not a bundle's contents list (an object with a version)",
            path=where,
            hint=damaged,
        )
    version = raw["version"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise CacheError(
            f"{INFO_FILE}'s version must be an integer, not {repr(version)[:40]}",
            path=where,
            hint=damaged,
        )
    if version > BUNDLE_VERSION:
        raise CacheError(
            f"bundle version {version} was written by a newer neuronviz (this one reads "
            f"version {BUNDLE_VERSION})",
            path=where,
            hint="upgrade neuronviz to import it",
        )
    if version != BUNDLE_VERSION:
        raise CacheError(
            f"bundle version {version} is not {BUNDLE_VERSION}, the one this neuronviz reads",
            path=where,
            hint="export it again with this neuronviz version",
        )


def _schema_problem(raw: dict) -> str | None:
    """What is wrong with the fields of a contents list (None when they have their shapes)."""
    pairs, files = raw.get("pairs", []), raw.get("files", {})
    if not isinstance(pairs, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in pairs
    ):
        return "pairs must be a list of [model, task] names"
    if not isinstance(files, dict):
        return "files must map each archive name to its SHA-256"
    for name, digest in files.items():
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            return f"the SHA-256 of {name!r} is not 64 hexadecimal digits"
    if not isinstance(raw.get("created", ""), str):
        return "created must be a date as text"
    return None


def shipped_entry_files(manifest: Manifest) -> set[str]:
    """The files of an activation entry that export ships, relative to its folder (besides
    ``labels/*``): its manifest, its words and the layer files the manifest names."""
    if manifest.shards:  # each shard keeps its own description beside its layer files
        layers = {f"{s.folder}/{f.file}" for s in manifest.shards for f in s.layers}
        layers |= {f"{s.folder}/shard.json" for s in manifest.shards}
    else:
        layers = {f.file for f in manifest.layers}
    return layers | {"manifest.json", "tokens.json"}


def ships(relative: str, entry_files: set[str]) -> bool:
    """Whether an entry's file ``relative`` is one that export writes and import accepts."""
    return relative in entry_files or (relative.startswith("labels/") and relative.count("/") == 1)
