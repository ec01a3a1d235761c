"""Model folders that must not load: pickled code never runs, missing pieces get a clear error."""

from __future__ import annotations

import json
import os
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


def test_a_hub_id_without_network_says_so():
    with pytest.raises(ModelError) as err:  # the test session is offline (conftest)
        load_model("some-org/some-model", device="cpu")
    text = str(err.value)
    assert "some-org/some-model" in text
    assert "offline" in text.lower() or "network" in text.lower() or "download" in text.lower()


def test_a_tokenizer_without_word_ids_is_refused(tiny_bert, monkeypatch):
    import transformers

    real = transformers.AutoTokenizer.from_pretrained

    def slow(*args, **kwargs):
        tok = real(*args, **kwargs)
        monkeypatch.setattr(type(tok), "is_fast", property(lambda self: False))
        return tok

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", slow)
    with pytest.raises(ModelError, match="fast tokenizer"):
        load_model(str(tiny_bert), device="cpu")


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_model_folder_with_a_fifo_or_a_device_is_refused(tiny_bert, tmp_path, kind):
    folder = tmp_path / "model"
    shutil.copytree(tiny_bert, folder)
    target = folder / "tokenizer.json"
    target.unlink(missing_ok=True)
    if kind == "fifo":
        os.mkfifo(target)
    else:
        target.symlink_to("/dev/zero")
    with pytest.raises(ModelError, match=r"tokenizer\.json is a .*not a regular file"):
        load_model(str(folder))


def _edited_copy(tiny_bert, tmp_path, **config_changes) -> Path:
    folder = tmp_path / "edited"
    shutil.copytree(tiny_bert, folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(config_changes)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_a_config_claiming_more_layers_than_the_weights_hold_is_refused(tiny_bert, tmp_path):
    layers = json.loads((tiny_bert / "config.json").read_text())["num_hidden_layers"]
    folder = _edited_copy(tiny_bert, tmp_path, num_hidden_layers=layers * 2)
    with pytest.raises(ModelError, match=r"weights of .* are missing from its checkpoint"):
        load_model(str(folder))


@pytest.mark.parametrize("value", [0, -3])
def test_a_degenerate_config_is_a_model_error(tiny_bert, tmp_path, value):
    folder = _edited_copy(tiny_bert, tmp_path, hidden_size=value)
    with pytest.raises(ModelError, match=f"hidden_size = {value}"):
        load_model(str(folder))


def test_a_model_folder_without_a_tokenizer_is_refused(tiny_bert, tmp_path):
    folder = tmp_path / "no-tokenizer"
    shutil.copytree(tiny_bert, folder)
    for name in (
        "tokenizer.json",
        "vocab.txt",
        "vocab.json",
        "merges.txt",
        "tokenizer_config.json",
    ):
        (folder / name).unlink(missing_ok=True)
    with pytest.raises(ModelError, match="has no tokenizer files"):
        load_model(str(folder))


def test_an_invalid_config_is_named_as_such(tiny_bert, tmp_path):
    folder = tmp_path / "bad-config"
    shutil.copytree(tiny_bert, folder)
    (folder / "config.json").write_text("{not json")
    with pytest.raises(ModelError, match="cannot read the configuration") as caught:
        load_model(str(folder))
    assert "not a registered name" not in str(caught.value)


def test_an_empty_model_name_is_refused_even_inside_a_model_folder(tiny_bert, monkeypatch):
    monkeypatch.chdir(tiny_bert)
    with pytest.raises(ModelError, match="no model given"):
        load_model("  ")


def test_weights_of_another_shape_are_named_with_both_shapes(tiny_bert, tmp_path):
    """The message carries the shapes itself (transformers' own points at a log report that
    ``-q`` hides)."""
    size = json.loads((tiny_bert / "config.json").read_text())["intermediate_size"]
    folder = _edited_copy(tiny_bert, tmp_path, intermediate_size=size + 8)
    with pytest.raises(
        ModelError, match=r"of another shape .* in the checkpoint, .* by the config"
    ):
        load_model(str(folder))
