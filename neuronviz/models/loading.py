"""Loading a model (registry names: :mod:`neuronviz.models.registry`; checks of its files,
configuration and weights: :mod:`neuronviz.models.checks`).

Short names (``minilm``, ``smollm2-135m``, the paper's models) map to a local folder or a Hugging
Face id; any other Hugging Face id or local folder works too. Loading is separate from running:
:func:`load_model` returns a :class:`LoadedModel` that extraction (and later interventions) use.
Weights load from safetensors (or ``weights_only`` torch files), never through arbitrary pickle,
and never with ``trust_remote_code``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle  # only to recognise refused pickle files, never to load one
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from neuronviz.errors import ModelError
from neuronviz.models.architecture import forward_window, is_causal_model
from neuronviz.models.checks import (
    PROBE_TEXT,
    TOKENIZER_FILES,
    check_config,
    check_sizes,
    check_weights,
    config_error,
    raise_if_invalid_json,
    tokenizer_files,
)
from neuronviz.models.device import resolve_device, resolve_dtype
from neuronviz.models.registry import (
    resolve_model_source,
    unknown_model,
)
from neuronviz.settings import is_offline

__all__ = ["LoadedModel", "ModelIdentity", "identify_model", "load_model"]

log = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    """A model ready for extraction: weights on a device, its fast tokenizer and its shape."""

    name: str
    source: str
    model: torch.nn.Module
    tokenizer: Any  # a transformers fast tokenizer (untyped)
    device: torch.device
    dtype: torch.dtype
    n_layers: int  # hidden-state layers, the embedding layer included
    hidden_size: int
    is_causal: bool
    window: int  # most tokens one forward pass may take
    fingerprint: str
    architecture: str
    # The model with its language-modelling head (``load_model(..., with_head=True)``), for
    # generating text; ``model`` is then its base transformer, shared, not a copy.
    language_model: Any = None  # a transformers model with generate() (untyped)

    @property
    def n_neurons(self) -> int:
        return self.n_layers * self.hidden_size

    @property
    def layer_names(self) -> list[str]:
        return ["embeddings"] + [f"layer {i}" for i in range(1, self.n_layers)]


def _fingerprint(source: str, config: Any, revision: str | None) -> str:
    """A short digest that changes when the weights change: config plus weight file sizes."""
    h = hashlib.sha256()
    path = Path(source)
    if path.is_dir():
        h.update((path / "config.json").read_bytes())
        for f in sorted(path.iterdir()):
            if f.suffix in {".safetensors", ".bin", ".pt", ".gguf"}:
                h.update(f"{f.name}:{f.stat().st_size}".encode())
    else:
        commit = getattr(config, "_commit_hash", None)
        h.update(f"{source}@{revision or commit or 'main'}".encode())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class ModelIdentity:
    """What names a model's weights without loading them: display name, source, fingerprint."""

    name: str
    source: str
    fingerprint: str
    revision: str | None = None


def _config(name: str, source: str, revision: str | None) -> Any:
    """Read the model config: local folders and the local hub cache first, the hub only if reachable."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(source, revision=revision, local_files_only=True)
    # A field of the wrong type fails transformers' validation with TypeError, ValueError or
    # huggingface_hub's StrictDataclassError (a bare Exception): for a local folder all are its
    # config.json's fault.
    except Exception as exc:
        if Path(source).is_dir():
            raise config_error(name, Path(source) / "config.json", exc) from None
        if not isinstance(exc, (OSError, ValueError)):
            raise
        if (
            Path(source).exists()
            or is_offline()
            or os.environ.get("HF_HUB_OFFLINE", "") in {"1", "true"}
        ):
            raise unknown_model(name, str(exc).splitlines()[0]) from None
    if not _hub_reachable():
        raise unknown_model(name, "the Hugging Face hub cannot be reached from here")
    try:
        return AutoConfig.from_pretrained(source, revision=revision, trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise unknown_model(name, str(exc).splitlines()[0]) from None


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Whether a TCP connection to the hub opens quickly (avoids a minute of hub retries offline)."""
    import socket
    from urllib.parse import urlparse

    host = (
        urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname
        or "huggingface.co"
    )
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def identify_model(
    name: str, *, revision: str | None = None, cache_dir: str | Path | None = None
) -> ModelIdentity:
    """Resolve ``name`` and fingerprint its weights (reads the config, not the weights)."""
    display, source = resolve_model_source(name, cache_dir)
    # A local folder is fingerprinted from its files alone; only hub ids need their config.
    config = None if Path(source).is_dir() else _config(name, source, revision)
    return ModelIdentity(display, source, _fingerprint(source, config, revision), revision)


def load_model(
    name: str,
    *,
    device: str | torch.device = "auto",
    dtype: str | torch.dtype = "auto",
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    with_head: bool = False,
) -> LoadedModel:
    """Load a model and its fast tokenizer for extraction, in eval mode on ``device``.

    ``with_head`` also keeps a causal model's language-modelling head (``language_model``), so
    text can be generated, for instance before and after an intervention.
    """
    from transformers import AutoModel, AutoModelForCausalLM

    display, source = resolve_model_source(name, cache_dir)
    dev = resolve_device(device)
    dt = resolve_dtype(dtype, dev)
    config = _config(name, source, revision)
    _check_loadable(display, source, config)
    folder = Path(source) if Path(source).is_dir() else None
    loader: Any = AutoModelForCausalLM if with_head else AutoModel
    if folder is not None:
        check_sizes(display, folder, config, loader)
    tokenizer = _load_tokenizer(display, source, revision)
    model, info = _from_pretrained(loader, display, source, revision, dt)
    check_weights(display, source, info, int(config.num_hidden_layers))
    model.eval().to(dev)
    language_model = model if with_head else None
    if with_head:
        model = model.base_model
        if not is_causal_model(model):
            raise ModelError(
                f"{display!r} is not a causal language model, so it has no next-token output "
                "to generate from",
                hint="generation needs a decoder-only model such as smollm2-135m",
            )
    return LoadedModel(
        name=display,
        source=source,
        model=model,
        tokenizer=tokenizer,
        device=dev,
        dtype=dt,
        n_layers=int(config.num_hidden_layers) + 1,
        hidden_size=int(config.hidden_size),
        is_causal=is_causal_model(model),
        window=forward_window(tokenizer, config),
        fingerprint=_fingerprint(source, config, revision),
        architecture=str(config.model_type),
        language_model=language_model,
    )


def _check_loadable(display: str, source: str, config: Any) -> None:
    """Refuse, with what to do, a model neuronviz cannot analyse or a local folder that lacks
    weights or tokenizer files (before transformers fails on it with a less helpful message)."""
    if getattr(config, "is_encoder_decoder", False):
        raise ModelError(
            f"{display!r} is an encoder-decoder model ({config.model_type}); neuronviz analyses "
            "encoders and decoder-only models",
            hint="use its encoder as a separate model, or pick another model",
        )
    check_config(display, config, Path(source) if Path(source).is_dir() else None)
    if Path(source).is_dir() and not any(
        f.suffix in {".safetensors", ".bin", ".pt"} for f in Path(source).iterdir()
    ):
        raise ModelError(
            f"{display!r} has no weight files (.safetensors, .bin)",
            path=Path(source),
            hint="save the model with model.save_pretrained(folder)",
        )
    if Path(source).is_dir() and not any((Path(source) / f).is_file() for f in TOKENIZER_FILES):
        raise ModelError(
            f"{display!r} has no tokenizer files ({', '.join(TOKENIZER_FILES[:3])}, ...)",
            path=Path(source),
            hint="save the tokenizer beside the weights: tokenizer.save_pretrained(folder)",
        )


def _from_pretrained(loader: Any, display: str, source: str, revision: str | None, dt) -> Any:
    """``loader.from_pretrained`` with its failures said in our words (a pickle is never run)."""
    try:
        return loader.from_pretrained(
            source,
            revision=revision,
            dtype=dt,
            trust_remote_code=False,
            output_loading_info=True,
            # Mismatched shapes are listed in the loading info and refused below, with the
            # shapes in our own message (transformers' error points at a log report that -q hides).
            ignore_mismatched_sizes=True,
        )
    except pickle.UnpicklingError:
        raise ModelError(
            f"the weights of {display!r} ({source}) are a pickle file holding more than tensors; "
            "loading it would run the code inside, so neuronviz does not",
            hint="use a model saved as safetensors (model.save_pretrained(..., "
            "safe_serialization=True) from a source you trust)",
        ) from None
    except (OSError, ValueError, RuntimeError, TypeError) as exc:
        raise ModelError(
            f"could not load {display!r} from {source}: {str(exc).splitlines()[0]}"
        ) from None


def _load_tokenizer(display: str, source: str, revision: str | None) -> Any:
    """The model's fast tokenizer, checked to turn a short English text into known tokens."""
    from transformers import AutoTokenizer

    files = tokenizer_files(source)
    named = ", ".join(f.name for f in files) or source
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, revision=revision, use_fast=True)
    # The tokenizers library raises a bare Exception for a tokenizer.json it cannot parse.
    except Exception as exc:
        raise_if_invalid_json(display, files)
        raise ModelError(
            f"could not load the tokenizer of {display!r} ({named}): "
            f"{(str(exc).splitlines() or [type(exc).__name__])[0]}",
            path=Path(source) if files else None,
            hint="re-save it with tokenizer.save_pretrained(folder) or re-download the model",
        ) from None
    if not getattr(tokenizer, "is_fast", False):
        raise ModelError(
            f"{display!r} has no fast tokenizer, which word alignment needs",
            hint="use a model with a tokenizer.json (a 'fast' tokenizer)",
        )
    backend = getattr(tokenizer, "backend_tokenizer", None)
    try:
        size = backend.get_vocab_size(with_added_tokens=False) if backend else len(tokenizer)
        ids = tokenizer(PROBE_TEXT, add_special_tokens=False)["input_ids"]
        problem = None if size else "its vocabulary is empty"
    except Exception as exc:  # the tokenizers library raises a bare Exception (WordPiece errors)
        ids, problem = [], (str(exc).splitlines() or [type(exc).__name__])[0]
    if problem is None and not any(i != tokenizer.unk_token_id for i in ids):
        problem = f"it turns {PROBE_TEXT!r} into no known token"
    if problem:
        raise ModelError(
            f"the tokenizer of {display!r} cannot encode text ({named}): {problem}",
            path=Path(source) if files else None,
            hint="its vocabulary file is empty or damaged: re-save the tokenizer with "
            "tokenizer.save_pretrained(folder) or re-download the model",
        )
    return tokenizer
