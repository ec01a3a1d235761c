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

import hashlib
import json
import logging
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from neuronviz.cache import ActivationCache
from neuronviz.errors import CacheError, ConfigError
from neuronviz.results import ResultStore
from neuronviz.settings import resolve_cache_dir

__all__ = ["BUNDLE_VERSION", "BundleInfo", "export_bundle", "import_bundle", "read_bundle_info"]

log = logging.getLogger(__name__)

BUNDLE_VERSION = 1
_INFO = "bundle.json"
_ROOTS = ("results", "activations")


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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
                files[f.relative_to(root).as_posix()] = f
    info = BundleInfo(
        version=BUNDLE_VERSION,
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        pairs=[tuple(p) for p in pairs],
        files={name: _sha256(f) for name, f in files.items()},
        activations=activations,
    )
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with zipfile.ZipFile(partial, "w", allowZip64=True) as zf:
        zf.writestr(_INFO, json.dumps(info.to_dict(), indent=1), compress_type=zipfile.ZIP_DEFLATED)
        for name, f in files.items():
            method = zipfile.ZIP_STORED if f.suffix in (".npy", ".npz") else zipfile.ZIP_DEFLATED
            zf.write(f, name, compress_type=method)
    partial.replace(target)
    log.info("wrote %s: %d pairs, %d files", target, len(pairs), len(files))
    return info


def read_bundle_info(path: str | Path) -> BundleInfo:
    """The contents list of a bundle, checked for shape (not yet for checksums)."""
    where = Path(path)
    try:
        with zipfile.ZipFile(where) as zf:
            raw = json.loads(zf.read(_INFO))
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise CacheError(
            f"{where} is not a neuronviz bundle ({exc})",
            path=where,
            hint="make one with: neuronviz bundle export",
        ) from None
    if raw.get("version") != BUNDLE_VERSION:
        raise CacheError(
            f"bundle version {raw.get('version')!r} is not {BUNDLE_VERSION}",
            path=where,
            hint="export it again with this neuronviz version",
        )
    return BundleInfo(
        version=raw["version"],
        created=raw.get("created", ""),
        pairs=[tuple(p) for p in raw.get("pairs", [])],
        files=dict(raw.get("files", {})),
        activations=bool(raw.get("activations", True)),
    )


def _safe_name(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return (
        bool(parts)
        and parts[0] in _ROOTS
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
                if _sha256(target) != info.files[name]:
                    raise CacheError(
                        f"checksum mismatch for {name}",
                        path=where,
                        hint="the file is damaged; export it again",
                    )
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
