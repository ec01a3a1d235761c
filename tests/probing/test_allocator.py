"""The allocator setting for analyses: kept freed memory on glibc, left alone when asked."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CHECK = "from neuronviz.probing.allocator import reuse_freed_memory as r; print(r(), r())"


def _run(**env: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", CHECK],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_memory_is_kept_on_linux_once_per_process():
    assert _run() == "True True"


def test_system_allocator_when_asked():
    assert _run(NEURONVIZ_MALLOC="system") == "False False"
