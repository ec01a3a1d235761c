"""Corpus location and checked downloads (served from a local file URL, no network)."""

from __future__ import annotations

import hashlib
import zipfile

import pytest

from neuronviz.corpora import sources
from neuronviz.corpora.sources import CorpusSource, Download, locate_corpus
from neuronviz.errors import DataError


@pytest.fixture
def fake_corpus(tmp_path, monkeypatch):
    """A one-file corpus published as a zip at a file:// URL, registered as 'toy'."""
    body = b"Hello UH O\n"
    archive = tmp_path / "toy.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("toy/train.txt", body)
        zf.writestr("toy/README", b"not needed")
    source = CorpusSource(
        name="toy",
        folder="toy",
        description="toy",
        terms="none",
        checksums={"train.txt": hashlib.sha256(body).hexdigest()},
        downloads=(Download(archive.as_uri(), "toy.zip", members={"toy/": ""}),),
    )
    monkeypatch.setitem(sources.CORPORA, "toy", source)
    monkeypatch.delenv("NEURONVIZ_OFFLINE")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    return source


def test_download_unpacks_checks_and_caches(fake_corpus, cache_dir):
    folder = locate_corpus("toy", cache_dir=cache_dir)
    assert folder == cache_dir / "data" / "toy"
    assert (folder / "train.txt").read_bytes() == b"Hello UH O\n"
    assert locate_corpus("toy", cache_dir=cache_dir) == folder  # second time from the cache


def test_checksum_mismatch_leaves_nothing(fake_corpus, cache_dir, monkeypatch):
    bad = CorpusSource(**{**fake_corpus.__dict__, "checksums": {"train.txt": "0" * 64}})
    monkeypatch.setitem(sources.CORPORA, "toy", bad)
    with pytest.raises(DataError, match="checksum mismatch"):
        locate_corpus("toy", cache_dir=cache_dir)
    assert not cache_dir.exists()


def test_unreachable_source_names_the_data_variable(fake_corpus, cache_dir, monkeypatch, tmp_path):
    gone = CorpusSource(
        **{
            **fake_corpus.__dict__,
            "downloads": (Download((tmp_path / "none.zip").as_uri(), "t.zip"),),
        }
    )
    monkeypatch.setitem(sources.CORPORA, "toy", gone)
    with pytest.raises(DataError, match="NEURONVIZ_DATA"):
        locate_corpus("toy", cache_dir=cache_dir)
    assert not cache_dir.exists()


def test_offline_fails_fast_without_trying(fake_corpus, cache_dir, monkeypatch):
    monkeypatch.setenv("NEURONVIZ_OFFLINE", "1")
    with pytest.raises(DataError, match="downloads are off"):
        locate_corpus("toy", cache_dir=cache_dir)


def test_user_data_dir_comes_first(data_dir, cache_dir):
    assert (
        locate_corpus("conll2000", data_dir=data_dir, cache_dir=cache_dir) == data_dir / "conll2000"
    )


def test_registered_checksums_match_the_shared_copies(shared_data):
    for source in sources.CORPORA.values():
        folder = shared_data / source.folder
        sources._verify(source, folder)  # raises on any mismatch
