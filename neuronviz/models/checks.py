"""Checks of a model before and after loading: its files are regular and of sane size, its
configuration is usable, and its weights are complete and match the configuration (nothing
random analysed as the model's)."""

from __future__ import annotations

import copy
import json
import math
import os
import re
from pathlib import Path
from typing import Any

import torch

from neuronviz.errors import ModelError
from neuronviz.store.files import not_regular

__all__ = ["MAX_HEADER_BYTES", "MAX_LAYERS", "MAX_MODEL_TEXT_BYTES", "TOKENIZER_FILES"]


MAX_MODEL_TEXT_BYTES = 256 << 20  # config, tokenizer and vocabulary files


_WEIGHT_SUFFIXES = {".safetensors", ".bin", ".pt", ".gguf"}


# The files transformers reads from a folder besides weights (an unreadable README or
# training_args.json is none of the loader's business).
_LOADED_NAMES = {
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
    "tokenizer.model",
}


def check_model_files(folder: Path) -> None:
    """Every file of a local model folder is a regular file (a FIFO would hang the loader, a
    device never end), the ones loading reads are readable, and its text files are of a sane size."""
    if not os.access(folder, os.R_OK | os.X_OK):
        raise ModelError(
            "cannot be read (permission denied)",
            path=folder,
            hint="fix its permissions (chmod a+rx) or run as its owner",
        )
    for f in sorted(folder.iterdir()):
        try:
            info = f.stat()
        except OSError as exc:
            raise ModelError(f"cannot read {f.name}: {exc.strerror}", path=f) from None
        kind = not_regular(info.st_mode)
        if kind and kind != "a folder":
            raise ModelError(
                f"{f.name} is {kind}, not a regular file",
                path=f,
                hint="a model folder holds the files save_pretrained wrote; remove the others",
            )
        # Checked here: the loaders report an unreadable file as "No such file or directory".
        loaded = f.name in _LOADED_NAMES or f.suffix in _WEIGHT_SUFFIXES
        if not kind and loaded and not os.access(f, os.R_OK):
            raise ModelError(
                f"{f.name} cannot be read (permission denied)",
                path=f,
                hint="fix its permissions (chmod a+r) or run as its owner",
            )
        if f.suffix in {".json", ".txt", ".model"} and info.st_size > MAX_MODEL_TEXT_BYTES:
            raise ModelError(
                f"{f.name} is {info.st_size / 2**20:.0f} MiB, too large for a model's "
                f"{'configuration' if f.name == 'config.json' else 'tokenizer file'}",
                path=f,
                hint="check the folder's files against what save_pretrained writes",
            )


TOKENIZER_FILES = (
    "tokenizer.json",
    "vocab.txt",
    "vocab.json",
    "tokenizer.model",
    "spiece.model",
    "sentencepiece.bpe.model",
)


# Weights a model may lack without changing any hidden state neuronviz reads.
_UNREAD = ("pooler.", "lm_head.", "cls.", "position_ids")


# A weight of one of the stacked encoder/decoder layers, with its index (BERT ``encoder.layer.3.``,
# GPT-2 ``h.3.``, LLaMA ``layers.3.``); ALBERT-style shared layers do not match.
_LAYER_KEY = re.compile(r"(?:^|\.)(?:layer|layers|h|block)\.(\d+)\.")


MAX_LAYERS = 1024  # far above any released model (about 130); building more takes minutes


MAX_HEADER_BYTES = 100 << 20  # a safetensors header (JSON names and shapes)


_PARAMETER_SLACK = 1 << 20  # a pooler or head a checkpoint may lack (BERT large's pooler: 1M)


PROBE_TEXT = "The cat sat ."


def _field(config: Any, name: str) -> str:
    """The name config.json uses for an attribute (GPT-2 writes ``n_layer`` for num_hidden_layers)."""
    return (getattr(config, "attribute_map", None) or {}).get(name, name)


def check_config(display: str, config: Any, folder: Path | None = None) -> None:
    """A configuration describes a model with at least one layer of at least one neuron, a
    vocabulary, and no more layers than can be built in reasonable time."""
    where = folder / "config.json" if folder is not None else None
    for name in ("num_hidden_layers", "hidden_size", "vocab_size"):
        value = getattr(config, name, None)
        if name == "vocab_size" and value is None:
            continue  # not a text model's field everywhere; the tokenizer probe covers the rest
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ModelError(
                f"the configuration of {display!r} gives {_field(config, name)} = {value!r}; a "
                "model needs at least one layer of at least one neuron and a vocabulary",
                path=where,
                hint="check config.json against the weights it came with",
            )
    layers = config.num_hidden_layers
    if layers > MAX_LAYERS:
        raise ModelError(
            f"the configuration of {display!r} gives {_field(config, 'num_hidden_layers')} = "
            f"{layers}, more layers than any real model has (neuronviz accepts at most "
            f"{MAX_LAYERS})",
            path=where,
            hint="config.json is damaged or edited: use the one saved with the weights",
        )


def _checkpoint_shapes(folder: Path) -> dict[str, tuple[int, ...]] | None:
    """Names and shapes of the weights transformers would load from ``folder``, read from the
    safetensors headers alone (no tensor data); None when unknown (``.bin`` files, a damaged
    header: loading reports those itself)."""
    index = folder / "model.safetensors.index.json"
    try:
        if index.is_file():
            files = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        elif (folder / "model.safetensors").is_file():
            files = ["model.safetensors"]
        else:
            return None
        shapes: dict[str, tuple[int, ...]] = {}
        for name in files:
            if Path(name).name != name:
                return None
            with (folder / name).open("rb") as fh:
                size = int.from_bytes(fh.read(8), "little")
                if not 0 < size <= MAX_HEADER_BYTES:
                    return None
                header = json.loads(fh.read(size))
            for key, entry in header.items():
                if key != "__metadata__":
                    shapes[key] = tuple(int(d) for d in entry["shape"])
        return shapes
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def check_sizes(display: str, folder: Path, config: Any, loader: Any) -> None:
    """Before any memory is spent, the configuration's layers and parameters fit the weight
    files: a config.json claiming a million layers, or a huge hidden size, would otherwise take
    hours or all memory to build, only to be refused for missing weights."""
    config_path = folder / "config.json"
    shapes = _checkpoint_shapes(folder)
    layers = int(config.num_hidden_layers)
    held = {int(m.group(1)) for k in shapes or () if (m := _LAYER_KEY.search(k))}
    if held and layers > max(held) + 1:
        raise ModelError(
            f"the configuration of {display!r} gives {_field(config, 'num_hidden_layers')} = "
            f"{layers}, but its weights hold {max(held) + 1} layers; the missing layers would be "
            "random numbers analysed as the model's",
            path=config_path,
            hint="use the config.json saved with these weights",
        )
    if getattr(config, "quantization_config", None) is not None:
        return  # packed quantized weights hold fewer numbers than the parameters they encode
    mapping = getattr(loader, "_model_mapping", None)
    if mapping is not None and type(config) not in mapping:
        causal = "CausalLM" in loader.__name__
        raise ModelError(
            f"{display!r} is a {getattr(config, 'model_type', '?')} model"
            + (
                ", not a causal language model: it has no next-token output to generate from"
                if causal
                else f", which {loader.__name__} does not build"
            ),
            hint="generation needs a decoder-only model such as smollm2-135m"
            if causal
            else "use a model transformers' AutoModel can load",
        )
    try:
        with torch.device("meta"):  # shapes only: nothing is allocated
            skeleton = loader.from_config(copy.deepcopy(config))
    # The model's constructor may reject a field with any exception type; the field is in
    # config.json either way.
    except Exception as exc:
        raise config_error(display, config_path, exc) from None
    implied = sum(p.numel() for p in skeleton.parameters())
    if shapes is not None:
        stored, bound = sum(math.prod(s) for s in shapes.values()), ""
    else:  # .bin or .pt: at most two parameters per byte (4-bit)
        weights = [f for f in folder.iterdir() if f.suffix in {".bin", ".pt", ".safetensors"}]
        stored, bound = 2 * sum(f.stat().st_size for f in weights), "at most "
    if implied > 2 * stored + _PARAMETER_SLACK:
        raise ModelError(
            f"the configuration of {display!r} describes {implied:,} parameters, but its weight "
            f"files hold {bound}{stored:,}; a size field (hidden_size, intermediate_size, "
            "vocab_size, max_position_embeddings, ...) does not match the weights",
            path=config_path,
            hint="use the config.json saved with these weights",
        )


def tokenizer_files(source: str) -> list[Path]:
    folder = Path(source)
    if not folder.is_dir():
        return []
    names = (*TOKENIZER_FILES, "merges.txt", "tokenizer_config.json", "special_tokens_map.json")
    return [folder / n for n in names if (folder / n).is_file()]


def raise_if_invalid_json(display: str, files: list[Path]) -> None:
    """Name the tokenizer JSON file that does not parse (a truncated download, for instance)."""
    for f in files:
        if f.suffix != ".json":
            continue
        try:
            json.loads(f.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ModelError(
                f"{f.name}, a tokenizer file of {display!r}, is not valid JSON: {exc.msg} "
                f"(line {exc.lineno}, column {exc.colno})",
                path=f,
                line=exc.lineno,
                hint="the file is damaged or truncated: re-save the tokenizer with "
                "tokenizer.save_pretrained(folder) or re-download the model",
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelError(
                f"{f.name}, a tokenizer file of {display!r}, cannot be read: {exc}",
                path=f,
                hint="re-save the tokenizer or re-download the model",
            ) from None


def check_weights(display: str, source: str, info: dict, layers: int) -> None:
    """Every weight the analysed hidden states depend on was in the checkpoint: a missing one
    would be randomly initialised and analysed as the model's (e.g. a config claiming 12
    layers over 6 layers of weights); and no layer of the checkpoint is left out (a config
    claiming 1 layer over 2 would analyse half the model as the whole)."""
    extra = sorted(
        k
        for k in info.get("unexpected_keys", ())
        if (m := _LAYER_KEY.search(k)) and int(m.group(1)) >= layers
    )
    if extra:
        held = max(int(m.group(1)) for k in extra if (m := _LAYER_KEY.search(k))) + 1
        raise ModelError(
            f"{len(extra)} weights of {display!r} belong to layers its configuration does not "
            f"have ({', '.join(extra[:3])}{', ...' if len(extra) > 3 else ''}): the checkpoint "
            f"holds at least {held} layers, the configuration {layers}; the model would be "
            "analysed without them",
            path=Path(source) / "config.json" if Path(source).is_dir() else None,
            hint="the configuration does not match the weights: use the config.json saved with them",
        )
    missing = sorted(k for k in info.get("missing_keys", ()) if not any(u in k for u in _UNREAD))
    mismatched = sorted(
        f"{k[0]}: {tuple(k[1])} in the checkpoint, {tuple(k[2])} by the config"
        if isinstance(k, tuple) and len(k) == 3
        else str(k)
        for k in info.get("mismatched_keys", ())
    )
    if missing or mismatched:
        shown = ", ".join((missing or mismatched)[:4])
        what = "missing from" if missing else "of another shape in"
        raise ModelError(
            f"{len(missing) or len(mismatched)} weights of {display!r} are {what} its "
            f"checkpoint ({shown}{', ...' if len(missing or mismatched) > 4 else ''}); they would "
            "be random numbers analysed as the model's",
            path=Path(source) if Path(source).is_dir() else None,
            hint="the configuration does not match the weights: use the config.json saved with them",
        )


def config_error(display: str, config_path: Path, exc: Exception) -> ModelError:
    """A ModelError for a config.json that transformers cannot turn into a configuration or a
    model, naming the field when the message does."""
    detail = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    fields = re.search(r"(?:field|attribute|argument) '(\w+)'", detail)
    fix = (
        f"fix {fields.group(1)} in config.json"
        if fields
        else "config.json must be the JSON save_pretrained wrote, with a model_type"
    )
    return ModelError(
        f"cannot read the configuration of {display!r}: {detail[:300] or type(exc).__name__}",
        path=config_path,
        hint=f"{fix}, or re-download the model",
    )
