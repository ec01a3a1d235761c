"""Where the work runs: ``local`` (this process, the default) or ``ray`` (a Ray cluster).

Ray is an optional extra (``pip install 'neuronviz[ray]'``): nothing on the local path imports
it, and asking for the Ray engine without it installed is a clear error, not an ImportError.
"""

from __future__ import annotations

import importlib.util

from neuronviz.errors import ConfigError

__all__ = ["ENGINES", "check_engine", "ray_installed"]

ENGINES = ("local", "ray")


def ray_installed() -> bool:
    try:
        return importlib.util.find_spec("ray") is not None
    except (ImportError, ValueError):
        return False


def check_engine(engine: str | None) -> str:
    """The engine name, checked (``None`` means local); Ray must be importable for ``ray``."""
    engine = engine or "local"
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}", hint=f"use one of {', '.join(ENGINES)}")
    if engine == "ray" and not ray_installed():
        raise ConfigError(
            "--engine ray needs Ray, which is not installed",
            hint="pip install 'neuronviz[ray]' (or pip install ray), or use --engine local",
        )
    return engine
