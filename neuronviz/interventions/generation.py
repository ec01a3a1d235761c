"""What an intervention does to a causal model's own output: next-token distribution and text.

For a prompt, the model's next-token distribution and a short greedy continuation are computed as
they are and under an intervention (and under a layer-matched random control): the KL divergence
between the next-token distributions, their most likely tokens, and the two continuations.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from neuronviz.errors import ConfigError, ModelError
from neuronviz.interventions.hooks import Intervention, intervene
from neuronviz.models.loading import LoadedModel

__all__ = ["OutputEffect", "output_effect"]

MAX_PROMPT_CHARS = 2000
MAX_NEW_TOKENS = 200


@dataclass(frozen=True)
class OutputEffect:
    """The model's output for one prompt before and after an intervention."""

    prompt: str
    continuation_before: str
    continuation_after: str
    kl: float  # KL(before || after) of the next-token distributions, in nats
    top_before: list[tuple[str, float]]
    top_after: list[tuple[str, float]]
    random_kl: float | None = None  # the same for a layer-matched random control
    random_continuation: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _next_and_continuation(model: LoadedModel, ids: torch.Tensor, new_tokens: int):
    lm = model.language_model
    with torch.no_grad():
        logits = lm(input_ids=ids).logits[0, -1].float()
        out = lm.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=new_tokens,
            do_sample=False,
            pad_token_id=model.tokenizer.pad_token_id or model.tokenizer.eos_token_id,
        )
    text = model.tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
    return torch.log_softmax(logits, dim=-1), text


def _top(model: LoadedModel, logp: torch.Tensor, k: int) -> list[tuple[str, float]]:
    values, index = torch.topk(logp.exp(), k)
    return [
        (model.tokenizer.decode([int(i)]), round(float(v), 4))
        for v, i in zip(values, index, strict=True)
    ]


def output_effect(
    model: LoadedModel,
    intervention: Intervention,
    prompt: str,
    *,
    new_tokens: int = 20,
    top: int = 5,
    control: Intervention | None = None,
) -> OutputEffect:
    """Next-token distribution and greedy continuation of ``prompt``, before and after."""
    if model.language_model is None:
        raise ModelError(
            f"{model.name} was loaded without its language-modelling head",
            hint="load it with load_model(..., with_head=True)",
        )
    prompt = prompt.strip()
    if not prompt:
        raise ConfigError("the prompt is empty; type a few words to continue")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ConfigError(
            f"the prompt has {len(prompt):,} characters; keep it under {MAX_PROMPT_CHARS:,}"
        )
    if not 1 <= new_tokens <= MAX_NEW_TOKENS:
        raise ConfigError(f"new_tokens must be between 1 and {MAX_NEW_TOKENS}, got {new_tokens}")
    ids = model.tokenizer(prompt, return_tensors="pt").input_ids.to(model.device)
    before, text_before = _next_and_continuation(model, ids, new_tokens)
    with intervene(model, intervention):
        after, text_after = _next_and_continuation(model, ids, new_tokens)
    random_kl = random_text = None
    if control is not None:
        with intervene(model, control):
            rand, random_text = _next_and_continuation(model, ids, new_tokens)
        random_kl = _kl(before, rand)
    return OutputEffect(
        prompt=prompt,
        continuation_before=text_before,
        continuation_after=text_after,
        kl=_kl(before, after),
        top_before=_top(model, before, top),
        top_after=_top(model, after, top),
        random_kl=random_kl,
        random_continuation=random_text,
    )


def _kl(p_log: torch.Tensor, q_log: torch.Tensor) -> float:
    value = float(torch.sum(p_log.exp() * (p_log - q_log)))
    return max(value, 0.0) if np.isfinite(value) else float("inf")
