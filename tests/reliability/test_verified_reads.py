"""Verified reads: a damaged cache file is never used, whatever kind of damage it is, and
``cache verify`` names every damaged entry and result and exits non-zero."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

import neuronviz.store.integrity as integrity
from neuronviz.cli.main import main
from neuronviz.errors import CacheError
from neuronviz.extraction.fill_cache import extract_task
from neuronviz.store.activation_cache import ActivationCache
from neuronviz.store.result_store import ResultStore


@pytest.fixture
def extracted(tiny_bert, data_dir, cache_dir):
    integrity.forget()
    return extract_task(str(tiny_bert), "pos", data_dir=data_dir, cache=cache_dir)


def flip_bytes_keeping_times(path, at=-64):
    """Changes one byte in place and sets the modification time back, as a careful tool would."""
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[at] ^= 0x5A
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def verify(cache_dir, capsys, *ids) -> tuple[int, str]:
    code = main(["cache", "verify", "--cache-dir", str(cache_dir), *ids])
    return code, capsys.readouterr().out


def test_a_flipped_byte_is_never_read_and_the_entry_is_rebuilt(
    extracted, tiny_bert, data_dir, cache_dir, caplog
):
    entry = extracted.entries["test"]
    before = np.array(entry.layer(2))
    flip_bytes_keeping_times(entry.path / "layer_002.npy")
    integrity.forget()  # a new process: only the stamp on disk remembers
    with pytest.raises(CacheError, match=r"layer_002\.npy does not match the SHA-256 sum"):
        entry.layer(2)
    assert ActivationCache(cache_dir).lookup(entry.manifest.key) is None
    assert "damaged" in caplog.text
    again = extract_task(str(tiny_bert), "pos", data_dir=data_dir, cache=cache_dir)
    assert again.cached == {"train": True, "dev": True, "test": False}
    np.testing.assert_array_equal(np.asarray(again.entries["test"].layer(2)), before)


def test_an_unchanged_file_is_hashed_once_then_stat_only(extracted, monkeypatch):
    entry = extracted.entries["dev"]
    integrity.forget()
    hashed = []
    real = integrity.file_digest
    monkeypatch.setattr(integrity, "file_digest", lambda p: hashed.append(p.name) or real(p))
    entry.layer(1)
    assert hashed == []  # stamped by the extraction that computed its sums
    (entry.path / integrity.STAMP_FILE).unlink()
    integrity.forget()
    entry.layer(1)
    entry.layer(1)
    integrity.forget()  # another process reads the stamp
    entry.layer(1)
    assert hashed == ["layer_001.npy"]
    stamps = json.loads((entry.path / integrity.STAMP_FILE).read_text())["files"]
    assert "layer_001.npy" in stamps


def test_altered_labels_are_refused_and_written_again_from_the_corpus(
    extracted, tiny_bert, data_dir, cache_dir, caplog
):
    entry = extracted.entries["train"]
    ids, _ = entry.labels("pos")
    swapped = ids.copy()
    first, other = 0, int(np.flatnonzero(ids != ids[0])[0])
    swapped[[first, other]] = swapped[[other, first]]  # same class counts, other labels
    np.save(entry.path / "labels" / "pos.npy", swapped)
    with pytest.raises(CacheError, match="does not match the SHA-256 sum"):
        entry.labels("pos")
    again = extract_task(str(tiny_bert), "pos", data_dir=data_dir, cache=cache_dir)
    assert "labels of 'pos'" in caplog.text and "written again" in caplog.text
    np.testing.assert_array_equal(again.entries["train"].labels("pos")[0], ids)


def test_labels_written_before_checksums_are_checked_by_their_counts(extracted):
    entry = extracted.entries["train"]
    manifest = json.loads((entry.path / "manifest.json").read_text())
    for key in ("sha256", "size"):
        del manifest["labels"]["pos"][key]
    (entry.path / "manifest.json").write_text(json.dumps(manifest))
    legacy = ActivationCache(entry.path.parents[2]).lookup(entry.manifest.key)
    ids, _ = legacy.labels("pos")
    np.save(entry.path / "labels" / "pos.npy", np.where(ids == ids[0], ids[-1], ids))
    with pytest.raises(CacheError, match="do not match what was recorded"):
        legacy.labels("pos")


def test_altered_words_are_refused(extracted):
    entry = extracted.entries["dev"]
    tokens = entry.tokens()
    tokens[0][0] = "tampered"
    (entry.path / "tokens.json").write_text(json.dumps(tokens))
    with pytest.raises(CacheError, match="words do not match"):
        entry.tokens()


@pytest.mark.parametrize(
    "damage, expected",
    [
        ("more_words", "where the manifest says"),
        ("empty_manifest", "manifest.json is unreadable"),
        ("truncated", "bytes, expected"),
        ("outside", "outside its entry"),
        ("no_manifest", "manifest.json is missing"),
        ("labels", "does not match"),
    ],
)
def test_cache_verify_names_each_kind_of_damage_and_exits_non_zero(
    extracted, cache_dir, capsys, damage, expected
):
    entry = extracted.entries["dev"]
    manifest_file = entry.path / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    if damage == "more_words":
        manifest["n_words"] += 7
        manifest_file.write_text(json.dumps(manifest))
    elif damage == "empty_manifest":
        manifest_file.write_text("{}")
    elif damage == "truncated":
        with (entry.path / "layer_000.npy").open("r+b") as fh:
            fh.truncate(100)
    elif damage == "outside":
        manifest["layers"][0]["file"] = "../../../outside.npy"
        manifest_file.write_text(json.dumps(manifest))
    elif damage == "no_manifest":
        manifest_file.unlink()
    else:
        flip_bytes_keeping_times(entry.path / "labels" / "pos.npy", at=-1)
    code, out = verify(cache_dir, capsys)
    assert code == 1
    damaged = [line for line in out.splitlines() if "DAMAGED" in line]
    assert len(damaged) == 1 and entry.path.name in damaged[0] and expected in damaged[0]
    assert sum(line.endswith(": ok") for line in out.splitlines()) == 2  # train and test


def test_cache_verify_on_a_sound_cache_lists_everything_and_exits_zero(
    extracted, cache_dir, capsys
):
    code, out = verify(cache_dir, capsys)
    assert code == 0 and out.count(": ok") == 3


@pytest.mark.parametrize("where", ["missing", "file"])
def test_cache_verify_without_a_cache_folder_fails_with_a_message(tmp_path, capsys, where):
    target = tmp_path / "cache"
    if where == "file":
        target.write_text("not a cache")
    code = main(["cache", "verify", "--cache-dir", str(target)])
    assert code != 0
    assert "cache" in capsys.readouterr().err


@pytest.fixture
def results_copy(analysed, tmp_path):
    copy = tmp_path / "results-cache"
    shutil.copytree(analysed, copy)
    return copy


def test_a_reordered_ranking_is_refused(results_copy, capsys, caplog):
    store = ResultStore(results_copy)
    result = store.all("bert")[0]
    folder = store.folder(result.model, result.task, result.method, result.key)
    with np.load(folder / "arrays.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["order"] = arrays["order"][::-1]
    np.savez(folder / "arrays.npz", **arrays)
    assert store.read(folder) is None
    assert "arrays.npz does not match" in caplog.text
    code, out = verify(results_copy, capsys)
    assert code == 1 and f"{folder.name}: DAMAGED: arrays.npz does not match" in out


def test_an_edited_result_is_refused(results_copy, capsys):
    store = ResultStore(results_copy)
    result = store.all("bert")[0]
    folder = store.folder(result.model, result.task, result.method, result.key)
    d = json.loads((folder / "result.json").read_text())
    d["oracle"]["test_accuracy"] = 0.999
    (folder / "result.json").write_text(json.dumps(d))
    assert store.read(folder) is None
    assert all(r.key != result.key for r in store.all("bert"))
    code, out = verify(results_copy, capsys)
    assert code == 1 and "result.json does not match" in out


def test_a_result_written_before_checksums_is_checked_from_its_first_read(results_copy):
    store = ResultStore(results_copy)
    result = store.all("bert")[0]
    folder = store.folder(result.model, result.task, result.method, result.key)
    (folder / "checksums.json").unlink()
    assert store.read(folder) is not None  # read, and its checksums recorded
    assert (folder / "checksums.json").is_file()
    with np.load(folder / "arrays.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["order"] = arrays["order"][::-1]
    np.savez(folder / "arrays.npz", **arrays)
    assert store.read(folder) is None


@pytest.mark.parametrize("target", ["/dev/zero", "missing.npy"])
def test_a_layer_file_replaced_by_a_link_is_named_as_a_link(extracted, cache_dir, capsys, target):
    entry = extracted.entries["dev"]
    layer = entry.path / "layer_001.npy"
    layer.unlink()
    layer.symlink_to(target)
    code, out = verify(cache_dir, capsys)
    assert code == 1
    assert f"layer_001.npy is a symbolic link (to '{target}')" in out


def test_an_unreadable_layer_file_says_permission_denied(extracted, cache_dir, capsys, monkeypatch):
    entry = extracted.entries["dev"]
    real = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode: False if str(p).endswith("layer_001.npy") else real(p, mode)
    )
    code, out = verify(cache_dir, capsys)
    assert code == 1 and "layer_001.npy cannot be read (permission denied)" in out
    assert entry.path.name in out


def test_stray_files_where_folders_belong_are_listed(extracted, analysed, tmp_path, capsys):
    copy = tmp_path / "stray"
    shutil.copytree(analysed, copy)
    shutil.rmtree(copy / "activations" / "gpt2")
    (copy / "activations" / "gpt2").write_text("oops")
    shutil.rmtree(copy / "results" / "gpt2")
    (copy / "results" / "gpt2").write_text("oops")
    code, out = verify(copy, capsys)
    assert code == 1
    assert "activations/gpt2: DAMAGED: is a stray file" in out
    assert "results/gpt2: DAMAGED: a stray file" in out


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d["oracle"].update(test_accuracy=float("nan")), "oracle.test_accuracy = nan"),
        (lambda d: d["minimal"].update(dev_accuracy=float("inf")), "minimal.dev_accuracy = inf"),
        (lambda d: d["oracle"].update(test_accuracy=1.5), "is not an accuracy"),
        (lambda d: d.update(words=1e308), "are not a table of splits"),
        (lambda d: d["words"].update(train=1e308), "is not a number of words"),
    ],
)
def test_impossible_numbers_are_refused_even_with_checksums_resealed(
    results_copy, capsys, edit, expected
):
    from neuronviz.store.result_checks import record_checksums

    store = ResultStore(results_copy)
    result = store.all("bert")[0]
    folder = store.folder(result.model, result.task, result.method, result.key)
    d = json.loads((folder / "result.json").read_text())
    edit(d)
    (folder / "result.json").write_text(json.dumps(d))
    record_checksums(folder)
    assert store.read(folder) is None
    code, out = verify(results_copy, capsys)
    assert code == 1 and expected in out


def test_a_result_json_that_is_not_a_result_says_so(results_copy, capsys):
    from neuronviz.store.result_checks import record_checksums

    store = ResultStore(results_copy)
    result = store.all("bert")[0]
    folder = store.folder(result.model, result.task, result.method, result.key)
    (folder / "result.json").write_text("null")
    record_checksums(folder)
    code, out = verify(results_copy, capsys)
    assert code == 1 and "result.json does not hold a result" in out


def test_a_folder_in_place_of_a_lock_is_named(tiny_bert, data_dir, tmp_path):
    cache = tmp_path / "cache"
    first = extract_task(str(tiny_bert), "pos", data_dir=data_dir, cache=cache)
    entry = first.entries["dev"]
    ActivationCache(cache).remove(entry)
    lock = entry.path.parent / f"{entry.path.name}.lock"
    lock.mkdir()
    with pytest.raises(CacheError, match="cannot lock the cache entry") as err:
        extract_task(str(tiny_bert), "pos", data_dir=data_dir, cache=cache)
    assert str(lock) in str(err.value)
