"""Where corpora come from: the user's data folder, the cache, or a checked download.

A corpus is looked up in ``<data dir>/<folder>`` (``--data-dir`` or ``$NEURONVIZ_DATA``, laid out
like ``shared/data``), then in ``<cache>/data/<folder>``; when it is in neither, it is downloaded
from its public source into the cache, checked against known SHA-256 sums, and only then moved
into place, so an interrupted or corrupted download never looks like a corpus.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from neuronviz.corpora.readers import MAX_CORPUS_BYTES
from neuronviz.errors import DataError
from neuronviz.progress import Progress
from neuronviz.settings import (
    DATA_ENV,
    OFFLINE_ENV,
    is_offline,
    resolve_cache_dir,
    resolve_data_dir,
)
from neuronviz.store.files import file_digest, read_regular

__all__ = ["CORPORA", "CorpusSource", "Download", "locate_corpus", "tree_digest"]

log = logging.getLogger(__name__)

_NLTK = "https://raw.githubusercontent.com/nltk/nltk_data/gh-pages/packages/corpora"
_PMB = (
    "https://raw.githubusercontent.com/RikVN/DRS_parsing/"
    "20d86d2d9e57d5bdf827ff49aa58b3279ae7f079/parsing/layer_data/4.0.0/en/gold"
)


@dataclass(frozen=True)
class Download:
    """One file to fetch; for a zip, ``members`` maps a path prefix inside it to one in the folder."""

    url: str
    target: str
    members: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CorpusSource:
    """A public corpus: its folder name, the files that must be there and how to fetch them.

    ``checksums`` maps a file (or, for a folder of many files, ``dir/*.ext``) to the SHA-256 of
    its bytes (of the sorted files' bytes, concatenated, for a pattern).
    """

    name: str
    folder: str
    description: str
    terms: str
    checksums: dict[str, str]
    downloads: tuple[Download, ...]

    def is_complete(self, folder: Path) -> bool:
        """True when every expected file (or at least one file of each pattern) is in ``folder``."""
        for rel in self.checksums:
            if "*" in rel:
                if not any(folder.glob(rel)):
                    return False
            elif not (folder / rel).is_file():
                return False
        return True


CORPORA: dict[str, CorpusSource] = {
    "conll2000": CorpusSource(
        name="conll2000",
        folder="conll2000",
        description="CoNLL-2000 chunking (WSJ sections 15-18 train, 20 test): POS and chunk tags",
        terms="research use, derived from the Penn Treebank",
        checksums={
            "train.txt": "82033cd7a72b209923a98007793e8f9de3abc1c8b79d646c50648eb949b87cea",
            "test.txt": "73b7b1e565fa75a1e22fe52ecdf41b6624d6f59dacb591d44252bf4d692b1628",
        },
        downloads=(
            Download(f"{_NLTK}/conll2000.zip", "conll2000.zip", members={"conll2000/": ""}),
        ),
    ),
    "pmb": CorpusSource(
        name="pmb",
        folder="pmb-4.0.0-en-gold",
        description="Parallel Meaning Bank 4.0.0 English gold layers: semantic tags and CCG supertags",
        terms="PMB terms (free for research)",
        checksums={
            "train.conll": "cdbb6035a71112ad1c0e1707b9a16f7180cc78fe6e5d308f9240ec2da22a3f7a",
            "dev.conll": "ac2abf3c55607a13efea523d258854633b1225d6173031e69bf56023adafc761",
            "test.conll": "1c6c137292ad2cb6750fa2fd22655bb17eb71aa282b9e15b88ba0a11217c83c9",
        },
        downloads=tuple(
            Download(f"{_PMB}/{split}.conll", f"{split}.conll")
            for split in ("train", "dev", "test")
        ),
    ),
    "ptb-sample": CorpusSource(
        name="ptb-sample",
        folder="ptb-sample",
        description="NLTK's 5% sample of the Penn Treebank (WSJ 0001-0199), POS from the parse trees",
        terms="non-commercial fair use (see NLTK-README)",
        checksums={
            "combined/*.mrg": "f018900543fbff4571439fd5e5ebdae00ba53dfdd6543e48491230d76d0e06a1",
        },
        downloads=(Download(f"{_NLTK}/treebank.zip", "treebank.zip", members={"treebank/": ""}),),
    ),
}


def tree_digest(folder: Path, pattern: str) -> str:
    """SHA-256 of the bytes of the files matching ``pattern``, sorted by name, concatenated."""
    h = hashlib.sha256()
    for path in sorted(folder.glob(pattern)):
        try:
            h.update(read_regular(path, MAX_CORPUS_BYTES))
        except ValueError as exc:
            raise DataError(
                str(exc), path=path, hint="a corpus folder holds its files only"
            ) from None
    return h.hexdigest()


def locate_corpus(
    name: str,
    *,
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    download: bool = True,
) -> Path:
    """Return the folder holding corpus ``name``, downloading it into the cache if needed."""
    source = CORPORA[name]
    user_dir = resolve_data_dir(data_dir)
    if user_dir is not None and source.is_complete(user_dir / source.folder):
        return user_dir / source.folder
    cached = resolve_cache_dir(cache_dir) / "data" / source.folder
    if source.is_complete(cached):
        return cached
    where = f"{user_dir}" if user_dir else f"any data folder (${DATA_ENV} is unset)"
    hint = (
        f"set {DATA_ENV} (or --data-dir) to a folder laid out like shared/data, "
        f"with {source.folder}/ inside"
    )
    if not download or is_offline():
        why = "downloads are off" + (f" (${OFFLINE_ENV} is set)" if download else "")
        raise DataError(f"corpus {name!r} is not in {where} and {why}", hint=hint)
    return _download(source, cached, where=where, hint=hint)


def _download(source: CorpusSource, dest: Path, *, where: str, hint: str) -> Path:
    """Fetch, unpack and check ``source`` into ``dest``; the cache is untouched on failure."""
    work = Path(tempfile.mkdtemp(prefix=f"neuronviz-{source.folder}-"))
    try:
        for item in source.downloads:
            target = work / item.target
            _fetch(item.url, target, where=where, hint=hint)
            if item.members:
                _unzip(target, work, item.members)
                target.unlink()
        _verify(source, work)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(dest, ignore_errors=True)
        shutil.move(str(work), str(dest))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("downloaded corpus %s into %s", source.name, dest)
    return dest


def _fetch(url: str, target: Path, *, where: str, hint: str) -> None:
    log.info("downloading %s", url)
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0)
            with (
                target.open("wb") as fh,
                Progress(f"download {target.name}", total, unit="B") as bar,
            ):
                for chunk in iter(lambda: response.read(1 << 16), b""):
                    fh.write(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataError(
            f"corpus is not in {where}, and downloading {url} failed: {reason}", hint=hint
        ) from None


def _unzip(archive: Path, dest: Path, members: dict[str, str]) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                for prefix, new_prefix in members.items():
                    if info.filename.startswith(prefix) and not info.is_dir():
                        rel = Path(new_prefix) / info.filename[len(prefix) :]
                        if ".." in rel.parts or rel.is_absolute():
                            raise DataError(
                                f"unsafe path {info.filename!r} in archive", path=archive
                            )
                        out = dest / rel
                        out.parent.mkdir(parents=True, exist_ok=True)
                        out.write_bytes(zf.read(info))
    except zipfile.BadZipFile:
        raise DataError("downloaded archive is not a valid zip file", path=archive) from None


def _verify(source: CorpusSource, folder: Path) -> None:
    if not source.is_complete(folder):
        missing = ", ".join(rel for rel in source.checksums if not any(folder.glob(rel)))
        raise DataError(
            f"download of corpus {source.name} lacks {missing}", hint="try again or use --data-dir"
        )
    for rel, expected in source.checksums.items():
        actual = tree_digest(folder, rel) if "*" in rel else file_digest(folder / rel)
        if actual != expected:
            raise DataError(
                f"checksum mismatch for {rel} of corpus {source.name}: got {actual[:12]}, "
                f"expected {expected[:12]}",
                hint="the download is corrupted or the source changed; try again or use --data-dir",
            )
