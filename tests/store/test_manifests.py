"""Entry keys and manifests: what names an entry, and the manifest's JSON round trip."""

from __future__ import annotations

import json
from dataclasses import asdict, replace

from neuronviz.store.manifests import FORMAT_VERSION, EntryKey, LayerFile, Manifest, Shard

KEY = EntryKey("tiny/bert", "abc123", "conll2000", "train", "d1g3st", "last", 0)


def test_the_entry_id_changes_with_anything_the_activations_depend_on():
    assert KEY.entry_id.startswith("conll2000-train-last-") and len(KEY.digest) == 64
    assert KEY.model_dir == "tiny_bert"
    changed = [
        replace(KEY, model_fingerprint="other"),
        replace(KEY, tokens_digest="other"),
        replace(KEY, aggregation="mean"),
        replace(KEY, max_length=128),
    ]
    assert len({KEY.digest, *(k.digest for k in changed)}) == 5
    assert EntryKey(**json.loads(json.dumps(asdict(KEY)))).digest == KEY.digest


def test_a_manifest_survives_its_json_and_reports_its_shape():
    layers = [LayerFile(f"layer {i}", f"layer_{i:03d}.npy", 1280, "ab" * 32) for i in range(3)]
    shard = Shard(0, (0, 4), (0, 10), "shard_000", layers)
    manifest = Manifest(
        key=KEY,
        n_sentences=4,
        n_words=10,
        n_layers=3,
        hidden_size=64,
        layers=layers,
        labels={"pos": {"file": "labels/pos.json"}},
        shards=[shard],
    )
    d = json.loads(json.dumps(manifest.to_dict()))
    assert d["shape"] == [10, 192] and d["entry_id"] == KEY.entry_id
    assert d["format_version"] == FORMAT_VERSION
    back = Manifest.from_dict(d)
    assert back == manifest and back.shards[0].n_rows == 10
