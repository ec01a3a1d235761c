"""What an activation cache entry is on disk: its key (model, corpus, tokens, settings), its layer
files and shards, and the manifest that lists them with their checksums."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from neuronviz.store.files import slug

__all__ = ["DTYPE", "FORMAT_VERSION", "EntryKey", "LayerFile", "Manifest", "Shard"]


FORMAT_VERSION = 1


DTYPE = np.dtype("<f2")


@dataclass(frozen=True)
class EntryKey:
    """Everything the activations of an entry depend on."""

    model: str
    model_fingerprint: str
    corpus: str
    split: str
    tokens_digest: str
    aggregation: str
    max_length: int  # 0 means the model's own window

    @cached_property
    def digest(self) -> str:
        text = json.dumps({**asdict(self), "format": FORMAT_VERSION}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def entry_id(self) -> str:
        return f"{slug(self.corpus)}-{self.split}-{self.aggregation}-{self.digest[:12]}"

    @property
    def model_dir(self) -> str:
        return slug(self.model)


@dataclass(frozen=True)
class LayerFile:
    """One layer's ``.npy`` file and what it must look like."""

    name: str
    file: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Shard:
    """One independently written piece of a sharded entry: sentences ``[s0, s1)``, whose words
    are the matrix rows ``[r0, r1)``, with its own layer files in ``folder``."""

    index: int
    sentences: tuple[int, int]
    rows: tuple[int, int]
    folder: str
    layers: list[LayerFile]

    @property
    def n_rows(self) -> int:
        return self.rows[1] - self.rows[0]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "sentences": list(self.sentences), "rows": list(self.rows)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Shard:
        return cls(
            index=int(d["index"]),
            sentences=(int(d["sentences"][0]), int(d["sentences"][1])),
            rows=(int(d["rows"][0]), int(d["rows"][1])),
            folder=str(d["folder"]),
            layers=[LayerFile(**f) for f in d["layers"]],
        )


@dataclass(frozen=True)
class Manifest:
    """The self-description of an entry (``manifest.json``)."""

    key: EntryKey
    n_sentences: int
    n_words: int
    n_layers: int
    hidden_size: int
    layers: list[LayerFile]
    model: dict[str, Any] = field(default_factory=dict)
    extraction: dict[str, Any] = field(default_factory=dict)
    corpus: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    created: str = ""
    format_version: int = FORMAT_VERSION
    dtype: str = "float16"
    # Empty for an entry written in one piece; else the row ranges written separately (one
    # distributed worker each), and ``layers`` names the layers with their total sizes.
    shards: list[Shard] = field(default_factory=list)

    @property
    def entry_id(self) -> str:
        return self.key.entry_id

    @property
    def shape(self) -> tuple[int, int]:
        """``(words, neurons)`` of the whole activation matrix."""
        return (self.n_words, self.n_layers * self.hidden_size)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["shards"] = [s.to_dict() for s in self.shards]
        d["entry_id"] = self.entry_id
        d["shape"] = list(self.shape)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Manifest:
        d = dict(d)
        d.pop("entry_id", None)
        d.pop("shape", None)
        d["key"] = EntryKey(**d["key"])
        d["layers"] = [LayerFile(**f) for f in d["layers"]]
        d["shards"] = [Shard.from_dict(s) for s in d.get("shards", [])]
        return cls(**d)
