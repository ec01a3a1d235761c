"""Bundles from elsewhere: nothing damaged, oversized, misplaced or self-contradicting is
imported, even when its contents list was updated to match; export fails cleanly."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import numpy as np
import pytest

from neuronviz.bundle import export_bundle, import_bundle
from neuronviz.errors import CacheError
from neuronviz.results import ResultStore


@pytest.fixture(scope="module")
def bundle(analysed, tmp_path_factory):
    path = tmp_path_factory.mktemp("safety") / "talk.zip"
    export_bundle([("bert", "pos")], path, cache_dir=analysed)
    return path


def rebuilt(src, dst, change=lambda name, data: (name, data), extra=()):
    """A copy of bundle ``src`` with members changed and added, and its contents list updated
    to match, as someone altering a bundle on purpose would."""
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
            zout.writestr(name, data)
    return dst


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
    sums = {
        f: hashlib.sha256(members[f"{folder}/{f}"]).hexdigest()
        for f in ("result.json", "arrays.npz")
    }
    members[f"{folder}/checksums.json"] = json.dumps(sums).encode()
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


def test_a_stamp_file_or_a_shallow_name_is_not_an_expected_member(bundle, tmp_path):
    entry = next(
        n.rsplit("/", 1)[0]
        for n in zipfile.ZipFile(bundle).namelist()
        if n.endswith("manifest.json")
    )
    stamped = rebuilt(bundle, tmp_path / "s.zip", extra={f"{entry}/verified.json": b"{}"})
    refused(stamped, tmp_path / "cache", "outside results/ and activations/")
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
    sums = {
        f: hashlib.sha256(members[f"{folder}/{f}"]).hexdigest()
        for f in ("result.json", "arrays.npz")
    }
    members[f"{folder}/checksums.json"] = json.dumps(sums).encode()
    altered = rebuilt(bundle, tmp_path / "acc.zip", lambda n, d: (n, members[n]))
    refused(altered, tmp_path / "cache", "does not follow from its weights")
