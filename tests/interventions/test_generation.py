"""A causal model's own output before and after an intervention (tiny GPT-2 and LLaMA)."""

from __future__ import annotations

import pytest
import torch

from neuronviz.errors import ConfigError, ModelError
from neuronviz.interventions.generation import output_effect
from neuronviz.interventions.hooks import Intervention
from neuronviz.models.loading import load_model


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def lm(request, tiny_models):
    torch.manual_seed(0)
    return load_model(
        str(tiny_models[request.param]), device="cpu", dtype="float32", with_head=True
    )


def test_no_intervention_changes_nothing(lm):
    effect = output_effect(lm, Intervention(()), "the cat sat", new_tokens=5)
    assert effect.kl == 0 and effect.continuation_after == effect.continuation_before
    assert len(effect.top_before) == 5 and effect.top_before == effect.top_after


def test_silencing_a_layer_moves_the_next_token_distribution(lm):
    h = lm.hidden_size
    layer = tuple(range(h, 2 * h))
    control = Intervention(tuple(range(2 * h, 2 * h + 1)))
    effect = output_effect(lm, Intervention(layer), "the cat sat", new_tokens=5, control=control)
    assert effect.kl > 0 and effect.random_kl is not None
    assert effect.top_after != effect.top_before


def test_bad_prompts_and_models(lm, tiny_models):
    with pytest.raises(ConfigError, match="empty"):
        output_effect(lm, Intervention(()), "   ")
    with pytest.raises(ConfigError, match="characters"):
        output_effect(lm, Intervention(()), "x" * 5000)
    with pytest.raises(ModelError, match="not a causal language model"):
        load_model(str(tiny_models["bert"]), device="cpu", with_head=True)
    plain = load_model(str(tiny_models["gpt2"]), device="cpu")
    with pytest.raises(ModelError, match="without its language-modelling head"):
        output_effect(plain, Intervention(()), "the cat")
