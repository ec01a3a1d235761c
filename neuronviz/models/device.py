"""Device and dtype choice, resolved in one place.

``"auto"`` means CUDA, then Apple MPS, then CPU; and half precision on a GPU (bfloat16 where the
card supports it, float16 otherwise) but float32 on the CPU, where half precision is slow.
"""

from __future__ import annotations

import torch

from neuronviz.errors import ConfigError

__all__ = ["resolve_device", "resolve_dtype"]

_DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "float16": torch.float16,
    "fp16": torch.float16,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
}


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` into a usable device."""
    if isinstance(device, torch.device):
        return device
    name = str(device).strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(
            f"unknown device {device!r}", hint="use auto, cpu, cuda, cuda:N or mps"
        ) from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"device {device!r} requested but CUDA is not available",
            hint="use --device cpu or auto",
        )
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(
            f"device {device!r} requested but MPS is not available", hint="use --device cpu or auto"
        )
    return resolved


def resolve_dtype(
    dtype: str | torch.dtype = "auto", device: torch.device | None = None
) -> torch.dtype:
    """Turn ``"auto"`` or a dtype name into a torch dtype suited to ``device``."""
    if isinstance(dtype, torch.dtype):
        return dtype
    name = str(dtype).strip().lower()
    if name == "auto":
        device = device or resolve_device("auto")
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if device.type == "mps":
            return torch.float16
        return torch.float32
    if name not in _DTYPES:
        raise ConfigError(
            f"unknown dtype {dtype!r}", hint=f"use auto or one of {sorted(set(_DTYPES))}"
        )
    return _DTYPES[name]
