"""What each architecture looks like: its window, whether it is causal, where its transformer
blocks and final norm are, and where each layer's hidden state is made (read by extraction,
written by interventions). Adding an architecture starts here."""

from __future__ import annotations

from typing import Any

import torch

from neuronviz.errors import ModelError

__all__ = ["DEFAULT_WINDOW", "layer_sites"]


DEFAULT_WINDOW = 512  # tokens, for models whose window is unbounded or unknown


OFFSET_POSITIONS = {"roberta", "xlm-roberta", "camembert", "longformer", "bart", "mbart"}


def forward_window(tokenizer: Any, config: Any) -> int:
    """Most tokens one forward pass can take (RoBERTa-style models start positions at 2)."""
    max_positions = getattr(config, "max_position_embeddings", None)
    if isinstance(max_positions, int) and getattr(config, "model_type", "") in OFFSET_POSITIONS:
        max_positions -= 2
    limits = [
        getattr(tokenizer, "model_max_length", None),
        max_positions,
    ]
    usable = [int(v) for v in limits if isinstance(v, int) and 0 < v < 1_000_000]
    return min(usable) if usable else DEFAULT_WINDOW


def is_causal_model(model: torch.nn.Module) -> bool:
    """True when the attention layers mask future tokens (decoder-only language models)."""
    return any(getattr(m, "is_causal", False) is True for m in model.modules())


FINAL_NORMS = ("ln_f", "norm", "final_layer_norm", "final_layernorm")


def transformer_blocks(module: torch.nn.Module, n_blocks: int) -> torch.nn.ModuleList:
    """The model's stack of transformer blocks: the ModuleList with one entry per layer."""
    found = [
        m
        for _, m in module.named_modules()
        if isinstance(m, torch.nn.ModuleList) and len(m) == n_blocks
    ]
    if not found:
        raise ModelError(
            f"cannot find the {n_blocks} transformer blocks of {type(module).__name__}",
            hint="interventions support models whose blocks form one torch ModuleList",
        )
    return found[0]


def final_norm(module: torch.nn.Module) -> torch.nn.Module | None:
    for name in FINAL_NORMS:
        child = getattr(module, name, None)
        if isinstance(child, torch.nn.Module):
            return child
    return None


def layer_sites(model: torch.nn.Module, n_layers: int) -> list[tuple[torch.nn.Module, str]]:
    """For each of a model's ``n_layers`` hidden-state layers (embeddings included),
    ``(module, "input" | "output")`` where its value is made."""
    blocks = transformer_blocks(model, n_layers - 1)
    sites: list[tuple[torch.nn.Module, str]] = [(blocks[0], "input")]
    sites += [(block, "output") for block in blocks]
    norm = final_norm(model)
    if norm is not None:
        sites[-1] = (norm, "output")
    return sites
