"""Model folders that must not load: pickled code never runs, missing pieces get a clear error."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
import torch

from neuronviz.errors import ModelError
from neuronviz.models.loading import load_model


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
    with pytest.raises(ModelError, match=r"weights hold 2 layers; the missing layers would be"):
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


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"num_hidden_layers": 1_000_000}, r"num_hidden_layers = 1000000, more layers than any"),
        ({"num_hidden_layers": 500}, r"num_hidden_layers = 500, but its weights hold 2 layers"),
        ({"intermediate_size": 10**8}, r"describes [\d,]+ parameters, but its weight files hold"),
        ({"max_position_embeddings": 10**9}, r"a size field .* does not match the weights"),
    ],
)
def test_an_absurd_config_is_refused_at_once_before_building(
    tiny_bert, tmp_path, changes, expected
):
    """A million layers used to hang while the model was built."""
    folder = _edited_copy(tiny_bert, tmp_path, **changes)
    started = time.monotonic()
    with pytest.raises(ModelError, match=expected) as caught:
        load_model(str(folder), device="cpu")
    assert time.monotonic() - started < 10
    assert caught.value.path == str(folder / "config.json")


def test_an_absurd_size_over_bin_weights_is_refused(tiny_bert, tmp_path):
    """Without a safetensors header to read, the weight files' size still bounds the model."""
    from safetensors.torch import load_file

    folder = _edited_copy(tiny_bert, tmp_path, intermediate_size=10**7)
    torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    started = time.monotonic()
    with pytest.raises(ModelError, match=r"describes [\d,]+ parameters, but .* hold at most"):
        load_model(str(folder), device="cpu")
    assert time.monotonic() - started < 10


def test_weights_of_layers_the_config_lacks_are_refused(tiny_bert, tmp_path):
    """A config claiming 1 layer over 2 layers of weights was analysed as a 1-layer model."""
    folder = _edited_copy(tiny_bert, tmp_path, num_hidden_layers=1)
    with pytest.raises(
        ModelError, match=r"16 weights of .* belong to layers its configuration"
    ) as caught:
        load_model(str(folder), device="cpu")
    assert "encoder.layer.1." in str(caught.value)
    assert caught.value.path == str(folder / "config.json")


@pytest.mark.parametrize("arch", ["bert", "roberta", "gpt2", "llama", "xlnet"])
def test_the_tiny_models_pass_the_weight_checks_with_their_heads(tiny_models, arch):
    """Pooler, LM-head and buffer keys are not taken for layers the config lacks."""
    loaded = load_model(str(tiny_models[arch]), device="cpu", with_head=arch in {"gpt2", "llama"})
    assert loaded.n_layers == 3


def test_a_zero_vocabulary_is_a_model_error(tiny_bert, tmp_path):
    """It was an IndexError inside BertEmbeddings."""
    folder = _edited_copy(tiny_bert, tmp_path, vocab_size=0)
    with pytest.raises(ModelError, match="vocab_size = 0") as caught:
        load_model(str(folder), device="cpu")
    assert caught.value.path == str(folder / "config.json")


def test_a_config_field_of_the_wrong_type_is_named(tiny_bert, tmp_path):
    """A string hidden size was a TypeError from transformers' validation."""
    folder = _edited_copy(tiny_bert, tmp_path, hidden_size="16")
    with pytest.raises(ModelError, match="cannot read the configuration") as caught:
        load_model(str(folder), device="cpu")
    assert caught.value.path == str(folder / "config.json")
    assert "hidden_size" in caught.value.message and "fix hidden_size" in caught.value.hint


def test_a_tokenizer_with_an_empty_vocabulary_is_refused_at_load(tiny_bert, tmp_path):
    """Without tokenizer.json and with an empty vocab.txt, tokenising failed later with a
    WordPiece error."""
    folder = _edited_copy(tiny_bert, tmp_path)
    (folder / "tokenizer.json").unlink()
    (folder / "vocab.txt").write_text("")
    with pytest.raises(ModelError, match=r"tokenizer of .* cannot encode text") as caught:
        load_model(str(folder), device="cpu")
    assert "vocab.txt" in caught.value.message


def test_a_truncated_tokenizer_json_is_named(tiny_bert, tmp_path):
    folder = _edited_copy(tiny_bert, tmp_path)
    text = (folder / "tokenizer.json").read_text()
    (folder / "tokenizer.json").write_text(text[: len(text) // 2])
    with pytest.raises(ModelError, match=r"tokenizer\.json, a tokenizer file .* is not valid JSON"):
        load_model(str(folder), device="cpu")


def test_an_unreadable_weight_file_says_permission_denied(tiny_bert, tmp_path, monkeypatch):
    """Loaders said "No such file or directory" for a file that exists but cannot be read.
    (os.access is faked: the tests run as root, for whom every file is readable.)"""
    folder = _edited_copy(tiny_bert, tmp_path)
    weights = folder / "model.safetensors"
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != weights and real(p, mode))
    with pytest.raises(ModelError, match=r"cannot be read \(permission denied\)") as caught:
        load_model(str(folder), device="cpu")
    assert caught.value.path == str(weights) and "permissions" in caught.value.hint


def test_a_refused_field_is_named_as_config_json_spells_it(tiny_models, tmp_path):
    """GPT-2's config.json writes n_layer for num_hidden_layers: the message names n_layer."""
    folder = tmp_path / "gpt2"
    shutil.copytree(tiny_models["gpt2"], folder)
    config = json.loads((folder / "config.json").read_text())
    config["n_layer"] = 1_000_000
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match=r"gives n_layer = 1000000"):
        load_model(str(folder), device="cpu")


def test_an_unreadable_file_the_loader_never_reads_does_not_matter(
    tiny_bert, tmp_path, monkeypatch
):
    folder = _edited_copy(tiny_bert, tmp_path)
    (folder / "training_args.json").write_text("{}")
    real = os.access
    monkeypatch.setattr(
        os,
        "access",
        lambda p, mode: False if str(p).endswith("training_args.json") else real(p, mode),
    )
    assert load_model(str(folder), device="cpu").n_layers == 3


def test_generation_on_an_encoder_says_it_is_not_a_causal_model(tmp_path):
    from transformers import DistilBertConfig, DistilBertModel

    config = DistilBertConfig(n_layers=2, dim=32, hidden_dim=64, n_heads=2, vocab_size=16)
    DistilBertModel(config).save_pretrained(tmp_path)
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "."]
    (tmp_path / "vocab.txt").write_text("\n".join(words))
    with pytest.raises(ModelError, match="not a causal language model"):
        load_model(str(tmp_path), device="cpu", with_head=True)
