"""Model folders that must not load: pickled code never runs, missing pieces get a clear error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from neuronviz.errors import ModelError
from neuronviz.models import load_model


class _Payload:
    """Unpickling this runs code: it would create ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickled_code_in_weights_never_runs(tiny_bert, tmp_path):
    folder = tmp_path / "evil"
    shutil.copytree(tiny_bert, folder)
    for f in folder.glob("*.safetensors"):
        f.unlink()
    marker = tmp_path / "pwned"
    torch.save(
        {"bert.embeddings.word_embeddings.weight": _Payload(marker)}, folder / "pytorch_model.bin"
    )
    with pytest.raises(ModelError):
        load_model(str(folder), device="cpu")
    assert not marker.exists()
