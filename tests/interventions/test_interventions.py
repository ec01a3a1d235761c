"""Interventions on neurons inside the model, on tiny models of every architecture."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuronviz.errors import ConfigError
from neuronviz.extraction.extract import extract_words
from neuronviz.interventions.hooks import Intervention, intervene
from neuronviz.models.architecture import layer_sites
from neuronviz.models.loading import load_model

ARCHS = ["bert", "roberta", "gpt2", "llama", "xlnet"]
SENTENCES = [["the", "cat", "sat", "on", "the", "mat"], ["a", "dog", "sat"]]


@pytest.fixture(scope="module", params=ARCHS)
def model(request, tiny_models):
    torch.manual_seed(0)
    return load_model(str(tiny_models[request.param]), device="cpu", dtype="float32")


def _words(model, intervention=None) -> np.ndarray:
    if intervention is None:
        return extract_words(model, SENTENCES).astype(np.float32)
    with intervene(model, intervention):
        return extract_words(model, SENTENCES).astype(np.float32)


def test_each_site_makes_the_hidden_state_neuronviz_extracts(model):
    captured = {}
    handles = []
    for layer, (module, where) in enumerate(layer_sites(model.model, model.n_layers)):
        if where == "input":
            handles.append(
                module.register_forward_pre_hook(
                    lambda m, a, k, layer=layer: captured.__setitem__(
                        layer, (a[0] if a else k["hidden_states"]).clone()
                    ),
                    with_kwargs=True,
                )
            )
        else:
            handles.append(
                module.register_forward_hook(
                    lambda m, a, o, layer=layer: captured.__setitem__(
                        layer, (o[0] if isinstance(o, tuple) else o).clone()
                    )
                )
            )
    ids = model.tokenizer("the cat sat", return_tensors="pt")
    with torch.no_grad():
        out = model.model(**ids, output_hidden_states=True)
    for h in handles:
        h.remove()
    assert len(captured) == model.n_layers
    for layer, hidden in enumerate(out.hidden_states):
        got = captured[layer]
        if got.shape != hidden.shape:  # XLNet's blocks work in (tokens, batch, hidden)
            got = got.transpose(0, 1)
        torch.testing.assert_close(got, hidden, msg=f"layer {layer}")


def test_no_neurons_and_scale_one_change_nothing(model):
    base = _words(model)
    np.testing.assert_array_equal(_words(model, Intervention(())), base)
    every = tuple(range(model.n_neurons))
    np.testing.assert_array_equal(_words(model, Intervention(every, "scale", 1.0)), base)


@pytest.mark.parametrize("layer", [0, 1, 2])
def test_zeroing_a_layer_changes_later_layers_only(model, layer):
    h = model.hidden_size
    base = _words(model)
    after = _words(model, Intervention(tuple(range(layer * h, (layer + 1) * h))))
    for earlier in range(layer):
        np.testing.assert_array_equal(after[earlier], base[earlier])
    assert np.abs(after[layer]).max() == 0  # the extracted layer shows the change
    for later in range(layer + 1, model.n_layers):
        assert not np.allclose(after[later], base[later]), f"layer {later} did not change"


def test_mean_mode_sets_the_values_and_the_model_is_restored(model):
    h = model.hidden_size
    neurons = (h + 1, h + 3)
    hooks = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.model.modules())
    after = _words(model, Intervention(neurons, "mean", values=(0.5, -2.0)))
    np.testing.assert_allclose(
        after[1][:, [1, 3]], np.tile([0.5, -2.0], (after.shape[1], 1)), atol=1e-3
    )
    np.testing.assert_array_equal(_words(model), _words(model))  # hooks removed
    assert hooks == sum(
        len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.model.modules()
    )


def test_bad_interventions_are_clear(model):
    with pytest.raises(ConfigError, match="unknown intervention mode"):
        Intervention((1,), "boost")
    with pytest.raises(ConfigError, match="one value per neuron"):
        Intervention((1, 2), "mean", values=(0.0,))
    with pytest.raises(ConfigError, match="outside"), intervene(model, Intervention((10**7,))):
        pass
