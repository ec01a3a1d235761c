"""Model registry, loading and device/dtype resolution."""

from __future__ import annotations

import shutil

import pytest
import torch

from neuronviz.errors import ConfigError, ModelError
from neuronviz.models.device import resolve_device, resolve_dtype
from neuronviz.models.loading import identify_model, load_model
from neuronviz.models.registry import MODELS, resolve_model_source


def test_registry_has_the_embedded_default_and_the_papers_models():
    assert {
        "minilm",
        "smollm2-135m",
        "bert-base-cased",
        "xlnet-base-cased",
        "roberta-base",
        "gpt2",
    } <= set(MODELS)
    assert MODELS["minilm"].neurons == 2688
    assert MODELS["smollm2-135m"].neurons == 17856


@pytest.mark.parametrize("arch", ["bert", "roberta", "gpt2", "llama", "xlnet"])
def test_tiny_models_load_with_their_shape(tiny_models, arch):
    model = load_model(str(tiny_models[arch]), device="cpu")
    assert model.n_layers == 3 and model.hidden_size == 16 and model.n_neurons == 48
    assert model.layer_names == ["embeddings", "layer 1", "layer 2"]
    assert model.is_causal == (arch in {"gpt2", "llama"})
    assert model.dtype == torch.float32 and not model.model.training
    assert model.window <= 128 or arch == "xlnet"


def test_roberta_window_leaves_room_for_its_position_offset(tiny_models):
    assert load_model(str(tiny_models["roberta"])).window == 128


def test_fingerprint_is_stable_and_changes_with_the_weights(tiny_models, tmp_path):
    a = identify_model(str(tiny_models["bert"]))
    assert a.fingerprint == identify_model(str(tiny_models["bert"])).fingerprint
    assert a.fingerprint != identify_model(str(tiny_models["gpt2"])).fingerprint


def test_unknown_name_offline_is_fast_and_suggests(monkeypatch):
    with pytest.raises(ModelError, match=r"unknown model 'minilmm'.*did you mean minilm"):
        identify_model("minilmm")


def test_folder_without_config(tmp_path):
    with pytest.raises(ModelError, match=r"no config\.json"):
        resolve_model_source(str(tmp_path))


def test_folder_without_weights(tiny_models, tmp_path):
    folder = tmp_path / "noweights"
    shutil.copytree(tiny_models["bert"], folder)
    for weights in folder.glob("*.safetensors"):
        weights.unlink()
    with pytest.raises(ModelError, match="has no weight files"):
        load_model(str(folder))


def test_encoder_decoder_is_refused_clearly(tmp_path):
    from tiny_models import build_t5

    with pytest.raises(ModelError, match="encoder-decoder"):
        load_model(str(build_t5(tmp_path / "t5")))


def test_device_and_dtype_resolution():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in {"cpu", "cuda", "mps"}
    assert resolve_dtype("auto", torch.device("cpu")) == torch.float32
    assert resolve_dtype("bf16") == torch.bfloat16
    with pytest.raises(ConfigError, match="unknown dtype"):
        resolve_dtype("float8")
    with pytest.raises(ConfigError, match="unknown device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            resolve_device("cuda")


@pytest.mark.integration
def test_embedded_minilm_loads_offline():
    model = load_model("minilm", device="cpu")
    assert model.n_layers == 7 and model.hidden_size == 384 and model.n_neurons == 2688
    assert model.architecture == "bert" and not model.is_causal
