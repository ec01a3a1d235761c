"""Freed memory kept for reuse during analyses (glibc's allocator, on Linux).

Every solver step allocates a few arrays of words x classes (minilm x pos: 190,731 x 44 float32,
33 MB each). glibc serves blocks above 32 MB with a fresh ``mmap`` and unmaps them when freed,
so each step page-faults its arrays in anew: a probe retrained on 27 neurons took 1.7 s against
1.1 s with them reused (``bench/solver_steps.py --part steps``). With ``mmap``-served blocks
turned off and the heap given back to the system only above 256 MB of free space at its top,
freed arrays are reused. It changes no result, only where memory comes from; memory freed in the
middle of the heap stays with the process (the minilm x pos run peaked at 4,195 MiB, under the
4,882 MiB of an earlier run without it). ``NEURONVIZ_MALLOC=system`` leaves the allocator alone.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys

__all__ = ["reuse_freed_memory"]

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
_M_MMAP_MAX = -4
TRIM_BYTES = 256 << 20
_state: dict[str, bool] = {}


def reuse_freed_memory() -> bool:
    """Keep freed blocks for reuse (once per process); returns whether the setting holds."""
    if "done" in _state:
        return _state["done"]
    done = False
    if sys.platform.startswith("linux") and os.environ.get("NEURONVIZ_MALLOC") != "system":
        try:
            mallopt = ctypes.CDLL(None).mallopt  # the process's own C library
        except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to tune
            mallopt = None
        if mallopt is not None:
            mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
            done = mallopt(_M_MMAP_MAX, 0) == 1 and mallopt(_M_TRIM_THRESHOLD, TRIM_BYTES) == 1
    log.debug("allocator: freed memory %s", "kept for reuse" if done else "left to the system")
    _state["done"] = done
    return done
