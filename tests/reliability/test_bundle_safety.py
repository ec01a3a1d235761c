"""Bundles from elsewhere: nothing damaged, oversized, misplaced or self-contradicting is
imported, even when its contents list was updated to match; export fails cleanly and never
replaces what is not a bundle."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import stat
import struct
import zipfile

import numpy as np
import pytest

from neuronviz.errors import CacheError
from neuronviz.store.bundle_import import import_bundle
from neuronviz.store.bundles import export_bundle, read_bundle_info
from neuronviz.store.result_store import ResultStore


@pytest.fixture(scope="module")
def bundle(analysed, tmp_path_factory):
    path = tmp_path_factory.mktemp("safety") / "talk.zip"
    export_bundle([("bert", "pos")], path, cache_dir=analysed)
    return path


def rebuilt(src, dst, change=lambda name, data: (name, data), extra=(), modes=()):
    """A copy of bundle ``src`` with members changed and added, and its contents list updated
    to match, as someone altering a bundle on purpose would; ``modes`` gives members a Unix
    file mode (a link, a device)."""
    members = {}
    with zipfile.ZipFile(src) as zin:
        for name in zin.namelist():
            if name != "bundle.json":
                new_name, data = change(name, zin.read(name))
                members[new_name] = data
        info = json.loads(zin.read("bundle.json"))
    members.update(extra)
    info["files"] = {n: hashlib.sha256(d).hexdigest() for n, d in members.items()}
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        zout.writestr("bundle.json", json.dumps(info))
        for name, data in members.items():
            member = zipfile.ZipInfo(name)
            member.external_attr = dict(modes).get(name, 0o644) << 16
            zout.writestr(member, data, zipfile.ZIP_DEFLATED)
    return dst


def member_folder(bundle, file_name):
    """The folder of the bundle's first member called ``file_name``."""
    with zipfile.ZipFile(bundle) as zf:
        return next(n.rsplit("/", 1)[0] for n in zf.namelist() if n.endswith("/" + file_name))


def reseal(members, folder):
    """Rewrites a result's checksums.json to match its edited files, as a forger would."""
    sums = {
        f: hashlib.sha256(members[f"{folder}/{f}"]).hexdigest()
        for f in ("result.json", "arrays.npz")
    }
    members[f"{folder}/checksums.json"] = json.dumps(sums).encode()


def refused(path, target, match):
    with pytest.raises(CacheError, match=match):
        import_bundle(path, cache_dir=target)
    assert not any(p.is_file() for p in target.rglob("*")) if target.exists() else True


def test_the_bundle_itself_imports(bundle, tmp_path):
    import_bundle(bundle, cache_dir=tmp_path / "cache")
    assert [r.task for r in ResultStore(tmp_path / "cache").all("bert")] == ["pos"]


def test_a_highly_compressed_member_is_refused_before_anything_is_written(bundle, tmp_path):
    name = "activations/bert/x/layer_009.npy"
    bomb = rebuilt(bundle, tmp_path / "bomb.zip", extra={name: bytes(50 << 20)})
    refused(bomb, tmp_path / "cache", "unpacks to 52428800 bytes")


def test_a_reordered_ranking_with_updated_checksums_is_refused(bundle, tmp_path):
    with zipfile.ZipFile(bundle) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    folder = next(n.rsplit("/", 1)[0] for n in members if n.endswith("arrays.npz"))
    with np.load(io.BytesIO(members[f"{folder}/arrays.npz"])) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["order"] = arrays["order"][::-1].copy()
    out = io.BytesIO()
    np.savez(out, **arrays)
    members[f"{folder}/arrays.npz"] = out.getvalue()
    reseal(members, folder)
    altered = rebuilt(bundle, tmp_path / "a.zip", lambda n, d: (n, members[n]))
    refused(altered, tmp_path / "cache", "damaged")


def test_a_manifest_pointing_outside_its_entry_is_refused(bundle, tmp_path):
    def point_out(name, data):
        if name.endswith("manifest.json"):
            manifest = json.loads(data)
            manifest["layers"][0]["file"] = "../../../../secret.npy"
            return name, json.dumps(manifest).encode()
        return name, data

    refused(
        rebuilt(bundle, tmp_path / "out.zip", point_out), tmp_path / "cache", "outside its entry"
    )


def test_a_stamp_file_is_never_unpacked_and_a_shallow_name_is_refused(bundle, tmp_path):
    """A verified.json (which some earlier exports shipped) is another machine's stamp: the
    bundle imports, the stamp is not written into the cache and every file is hashed here."""
    entry = next(
        n.rsplit("/", 1)[0]
        for n in zipfile.ZipFile(bundle).namelist()
        if n.endswith("manifest.json")
    )
    forged = json.dumps({"version": 1, "files": {"layer_000.npy": [1, 2, 3, 4, "0" * 64]}})
    stamped = rebuilt(bundle, tmp_path / "s.zip", extra={f"{entry}/verified.json": forged.encode()})
    import_bundle(stamped, cache_dir=tmp_path / "stamped")
    assert all(p.read_text() != forged for p in (tmp_path / "stamped").rglob("verified.json"))
    shallow = rebuilt(bundle, tmp_path / "t.zip", extra={"results/readme.txt": b"hi"})
    refused(shallow, tmp_path / "cache", "outside results/ and activations/")


@pytest.mark.parametrize(
    "info",
    [[1, 2], {"version": 1, "pairs": "bert", "files": {}}, {"version": 1, "files": ["x"]}, "text"],
)
def test_a_contents_list_of_the_wrong_shape_is_a_clear_error(bundle, tmp_path, info):
    path = tmp_path / "shape.zip"
    with zipfile.ZipFile(bundle) as zin, zipfile.ZipFile(path, "w") as zout:
        for name in zin.namelist():
            data = json.dumps(info).encode() if name == "bundle.json" else zin.read(name)
            zout.writestr(name, data)
    refused(path, tmp_path / "cache", "bundle")


def test_export_onto_a_folder_or_an_unwritable_place_fails_cleanly(analysed, tmp_path):
    folder = tmp_path / "here"
    folder.mkdir()
    with pytest.raises(CacheError, match="is a folder"):
        export_bundle([("bert", "pos")], folder, cache_dir=analysed)
    assert list(tmp_path.iterdir()) == [folder] and not any(folder.iterdir())
    blocked = tmp_path / "file"
    blocked.write_text("x")
    with pytest.raises(CacheError, match="cannot write the bundle"):
        export_bundle([("bert", "pos")], blocked / "talk.zip", cache_dir=analysed)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "here"]


def test_an_edited_accuracy_with_every_checksum_updated_is_refused(bundle, tmp_path):
    """The stored oracle accuracy is recomputed from the shipped weights and test activations."""
    with zipfile.ZipFile(bundle) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    folder = next(n.rsplit("/", 1)[0] for n in members if n.endswith("result.json"))
    result = json.loads(members[f"{folder}/result.json"])
    result["oracle"]["test_accuracy"] = 0.999
    members[f"{folder}/result.json"] = json.dumps(result).encode()
    reseal(members, folder)
    altered = rebuilt(bundle, tmp_path / "acc.zip", lambda n, d: (n, members[n]))
    refused(altered, tmp_path / "cache", "does not follow from its weights")


def understate(path, name, size):
    """Patch the uncompressed size of member ``name`` to ``size`` in both its local header and
    its central directory entry, as a forged bundle would."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        struct.pack_into("<I", data, zf.getinfo(name).header_offset + 22, size)
    central = data.find(b"PK\x01\x02")
    while data[central + 46 : central + 46 + len(name)] != name.encode():
        central = data.find(b"PK\x01\x02", central + 4)
    struct.pack_into("<I", data, central + 24, size)
    path.write_bytes(bytes(data))


def test_a_member_larger_than_its_directory_says_is_a_clear_error(bundle, tmp_path):
    name = "activations/bert/x/layer_009.npy"
    forged = rebuilt(bundle, tmp_path / "forged.zip", extra={name: bytes(50 << 20)})
    understate(forged, name, 1000)
    with pytest.raises(CacheError, match="damaged or forged") as caught:
        import_bundle(forged, cache_dir=tmp_path / "cache")
    assert name in str(caught.value) and "forged.zip" in str(caught.value)
    assert not any((tmp_path / "cache").iterdir())  # no file, no temporary folder


def with_info(src, dst, change):
    """A copy of bundle ``src`` whose contents list is ``change(list)``."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            data = zin.read(name)
            zout.writestr(
                name, json.dumps(change(json.loads(data))) if name == "bundle.json" else data
            )
    return dst


@pytest.mark.parametrize(
    ("version", "words"),
    [
        (99, r"version 99 was written by a newer neuronviz .*upgrade neuronviz"),
        ("1", r"version must be an integer, not '1'"),
        (True, r"version must be an integer"),
        (0, r"version 0 is not 1.*export it again"),
    ],
)
def test_a_version_this_neuronviz_cannot_read_says_what_to_do(bundle, tmp_path, version, words):
    path = with_info(bundle, tmp_path / "v.zip", lambda info: {**info, "version": version})
    refused(path, tmp_path / "cache", words)


def test_upper_case_sums_are_accepted_and_non_hex_sums_are_a_schema_error(bundle, tmp_path):
    def upper(info):
        return {**info, "files": {n: d.upper() for n, d in info["files"].items()}}

    import_bundle(with_info(bundle, tmp_path / "u.zip", upper), cache_dir=tmp_path / "ok")
    assert [r.task for r in ResultStore(tmp_path / "ok").all("bert")] == ["pos"]

    def garbled(info):
        name = next(iter(info["files"]))
        return {**info, "files": {**info["files"], name: "z" * 64}}

    path = with_info(bundle, tmp_path / "g.zip", garbled)
    refused(path, tmp_path / "cache", "is not 64 hexadecimal digits")


@pytest.mark.parametrize(
    ("mode", "kind"),
    [
        (stat.S_IFLNK | 0o777, "a symbolic link"),
        (stat.S_IFCHR | 0o600, "a character device"),
        (stat.S_IFIFO | 0o600, "a FIFO"),
    ],
)
def test_a_member_that_is_not_a_plain_file_is_refused(bundle, tmp_path, mode, kind):
    tokens = member_folder(bundle, "tokens.json") + "/tokens.json"
    link = rebuilt(
        bundle,
        tmp_path / "link.zip",
        lambda n, d: (n, b"/etc/passwd" if n == tokens else d),
        modes={tokens: mode},
    )
    refused(link, tmp_path / "cache", re.escape(f"not plain files: '{tokens}' is {kind}"))


def test_files_export_never_writes_are_refused(bundle, tmp_path):
    result, entry = member_folder(bundle, "result.json"), member_folder(bundle, "manifest.json")
    for i, extra in enumerate((f"{result}/notes.txt", f"{result}/sub/result.json")):
        path = rebuilt(bundle, tmp_path / f"r{i}.zip", extra={extra: b"hi"})
        refused(path, tmp_path / "cache", re.escape(f"never writes in a result folder: '{extra}'"))
    for i, extra in enumerate(("notes.txt", "sub/layer_000.npy", "labels/x/y.npy")):
        path = rebuilt(bundle, tmp_path / f"a{i}.zip", extra={f"{entry}/{extra}": b"hi"})
        refused(path, tmp_path / "cache", re.escape(f"files export never writes: '{extra}'"))


def test_export_ships_only_the_files_import_accepts(analysed, tmp_path):
    cache = shutil.copytree(analysed, tmp_path / "cache")
    for name in ("result.json", "manifest.json"):
        folder = next(cache.rglob(name)).parent
        (folder / "notes.txt").write_text("a stray file")
    export_bundle([("bert", "pos")], tmp_path / "b.zip", cache_dir=cache)
    assert not any(n.endswith("notes.txt") for n in read_bundle_info(tmp_path / "b.zip").files)
    import_bundle(tmp_path / "b.zip", cache_dir=tmp_path / "other")


def special_file(path, kind):
    """Make a FIFO, a character device like /dev/full, or a link to a file at ``path``."""
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        try:
            os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 7))
        except PermissionError:
            pytest.skip("making a device file needs CAP_MKNOD")
    else:
        (path.parent / "real.txt").write_text("kept")
        path.symlink_to(path.parent / "real.txt")
    return os.lstat(path)


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("fifo", "is a FIFO (named pipe)"),
        ("device", "is a character device"),
        ("link", "is a symbolic link"),
    ],
)
def test_export_never_replaces_a_device_fifo_or_link(analysed, tmp_path, kind, words):
    target = tmp_path / "out.zip"
    before = special_file(target, kind)
    with pytest.raises(CacheError, match=re.escape(f"{words}, not a regular file")):
        export_bundle([("bert", "pos")], target, cache_dir=analysed)
    after = os.lstat(target)
    assert (after.st_mode, after.st_ino, after.st_rdev) == (
        before.st_mode,
        before.st_ino,
        before.st_rdev,
    )
    assert not (tmp_path / "out.zip.partial").exists()
    if kind == "link":
        assert (tmp_path / "real.txt").read_text() == "kept"


def test_export_replaces_an_earlier_bundle_but_another_file_only_on_request(analysed, tmp_path):
    target = tmp_path / "existing.txt"
    target.write_text("my notes")
    with pytest.raises(CacheError, match=r"existing file that is not a neuronviz bundle.*--force"):
        export_bundle([("bert", "pos")], target, cache_dir=analysed)
    assert target.read_text() == "my notes" and os.listdir(tmp_path) == ["existing.txt"]
    export_bundle([("bert", "pos")], target, cache_dir=analysed, overwrite=True)
    assert read_bundle_info(target).pairs == [("bert", "pos")]
    export_bundle([("bert", "chunk")], target, cache_dir=analysed)  # a bundle: re-exported
    assert read_bundle_info(target).pairs == [("bert", "chunk")]


@pytest.mark.parametrize("name", ["talk\n.zip", "talk\x1b[2J.zip", "talk\r.zip"])
def test_export_refuses_a_name_with_control_characters(analysed, tmp_path, name):
    with pytest.raises(CacheError, match="holds control characters") as caught:
        export_bundle([("bert", "pos")], tmp_path / name, cache_dir=analysed)
    assert not any(c in str(caught.value) for c in "\n\r\x1b")
    assert not any(tmp_path.iterdir())


def test_shard_descriptions_ship_and_stamps_from_elsewhere_are_skipped():
    """Sharded entries keep a shard.json per shard, which export ships; a verified.json that
    earlier exports shipped is another machine's stamp: skipped, never unpacked or refused."""
    from types import SimpleNamespace

    from neuronviz.store.bundle_import import _stamps
    from neuronviz.store.bundles import shipped_entry_files

    shard = SimpleNamespace(folder="shards/00000", layers=[SimpleNamespace(file="layer_000.npy")])
    files = shipped_entry_files(SimpleNamespace(shards=[shard], layers=[]))
    assert {"shards/00000/shard.json", "shards/00000/layer_000.npy", "manifest.json"} <= files
    names = ["activations/m/e/verified.json", "activations/m/e/layer_000.npy"]
    assert _stamps(names) == {"activations/m/e/verified.json"}
