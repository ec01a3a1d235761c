"""Interventions on neurons inside the model: zero them, set them to their mean, or scale them.

A probe ranking shows correlation; changing a neuron during the forward pass and watching what
changes downstream tests its role (Antverg and Belinkov, ICLR 2022). Neurons are the hidden-state
units neuronviz extracts: ``layer * hidden + index`` with layer 0 the embedding output, as
everywhere else. Each layer's value is changed exactly where the model computes it, so every later
layer sees the change and the extracted activations of that layer show it:

- layer 0 (embeddings): the input of the first transformer block (a forward pre-hook);
- layer i >= 1: the output of block i - 1 (a forward hook), except the last layer of models whose
  reported last hidden state is the output of a final norm (GPT-2's ``ln_f``, LLaMA's ``norm``):
  there the norm's output.

:func:`intervene` is a context manager; outside it the model is untouched.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from neuronviz.errors import ConfigError
from neuronviz.models.architecture import layer_sites
from neuronviz.models.loading import LoadedModel

__all__ = ["MODES", "Intervention", "intervene"]

log = logging.getLogger(__name__)

MODES = ("zero", "mean", "scale")


@dataclass(frozen=True)
class Intervention:
    """What to change: which neurons, and how.

    ``mode`` is ``zero`` (set to 0), ``mean`` (set to ``values``, e.g. each neuron's mean over
    a corpus) or ``scale`` (multiply by ``factor``).
    """

    neurons: tuple[int, ...]
    mode: str = "zero"
    factor: float = 0.0
    values: tuple[float, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(
                f"unknown intervention mode {self.mode!r}", hint=f"use {', '.join(MODES)}"
            )
        if len(set(self.neurons)) != len(self.neurons):
            twice = sorted(n for n, times in Counter(self.neurons).items() if times > 1)
            raise ConfigError(
                f"{len(twice)} neuron(s) listed twice in one intervention (neuron number "
                f"{', '.join(map(str, twice[:5]))}{', ...' if len(twice) > 5 else ''})",
                hint="list each neuron once",
            )
        if self.mode == "mean" and len(self.values) != len(self.neurons):
            raise ConfigError(
                f"mode 'mean' needs one value per neuron: {len(self.neurons)} neurons, "
                f"{len(self.values)} values"
            )
        if self.mode == "scale" and not np.isfinite(self.factor):
            raise ConfigError(f"scale factor must be a finite number, got {self.factor}")

    def by_layer(self, hidden: int) -> dict[int, tuple[np.ndarray, np.ndarray | None]]:
        """``{layer: (indices within the layer, replacement values or None)}``."""
        neurons = np.asarray(self.neurons, dtype=np.int64)
        values = np.asarray(self.values, dtype=np.float32) if self.mode == "mean" else None
        out = {}
        for layer in np.unique(neurons // hidden):
            mask = neurons // hidden == layer
            out[int(layer)] = (neurons[mask] % hidden, None if values is None else values[mask])
        return out


def _apply(chosen: torch.Tensor, values, mode: str, factor: float) -> torch.Tensor:
    """New values of the chosen units (``chosen`` is ``hidden[..., index]``)."""
    if mode == "zero":
        return torch.zeros_like(chosen)
    if mode == "mean":
        return values.to(chosen.dtype).expand_as(chosen)
    return chosen * factor


def _changed(hidden: torch.Tensor, index: torch.Tensor, values, mode: str, factor: float):
    out = hidden.clone()
    out[..., index] = _apply(hidden[..., index], values, mode, factor)
    return out


@contextlib.contextmanager
def intervene(model: LoadedModel, intervention: Intervention) -> Iterator[LoadedModel]:
    """Apply ``intervention`` to every forward pass of ``model`` inside the ``with`` block."""
    limit = model.n_neurons
    bad = [n for n in intervention.neurons if not 0 <= n < limit]
    if bad:
        raise ConfigError(
            f"neuron id {bad[0]} is outside {model.name} ({model.n_layers} layers x "
            f"{model.hidden_size} = {limit} neurons)"
        )
    sites = layer_sites(model.model, model.n_layers)
    handles = []
    try:
        for layer, (idx, vals) in intervention.by_layer(model.hidden_size).items():
            module, where = sites[layer]
            index = torch.as_tensor(idx, device=model.device)
            values = None if vals is None else torch.as_tensor(vals, device=model.device)
            mode, factor = intervention.mode, intervention.factor
            if where == "input":

                def pre_hook(
                    _module, args, kwargs, index=index, values=values, mode=mode, factor=factor
                ):
                    # In place: some models (XLNet) record this tensor as hidden state 0 before
                    # the block runs, so a replacement would not reach their output.
                    hidden = args[0] if args else kwargs["hidden_states"]
                    hidden[..., index] = _apply(hidden[..., index], values, mode, factor)

                handles.append(
                    module.register_forward_pre_hook(pre_hook, with_kwargs=True, prepend=True)
                )
            else:

                def hook(
                    _module, _args, output, index=index, values=values, mode=mode, factor=factor
                ):
                    if isinstance(output, tuple):
                        return (_changed(output[0], index, values, mode, factor), *output[1:])
                    return _changed(output, index, values, mode, factor)

                # First in line: transformers records hidden states with hooks of its own on
                # the same blocks, and those must see the changed value.
                handles.append(module.register_forward_hook(hook, prepend=True))
        log.debug("intervention on %d neurons (%s)", len(intervention.neurons), intervention.mode)
        yield model
    finally:
        for handle in handles:
            handle.remove()
