"""kill -9 in the middle of `neuronviz probe`, then run it again: it continues from its checkpoint
and the result equals an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from neuronviz.store.result_store import ResultStore

pytestmark = pytest.mark.slow
# Few random and tie draws, no per-layer probes: the test is about the checkpoint, not them.
SETTINGS = ["--lambdas", "1e-3:1e-3,0:0", "--task", "pos", "-v"]
SETTINGS += ["--random-draws", "2", "--tie-draws", "2", "--no-layers"]


def _probe(model: Path, data_dir: Path, cache: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "neuronviz.cli.main",
        "probe",
        "--model",
        str(model),
        *SETTINGS,
        "--data-dir",
        str(data_dir),
        "--cache-dir",
        str(cache),
        "--device",
        "cpu",
    ]


def test_kill_9_during_probing_then_rerun_equals_a_clean_run(tiny_bert, data_dir, tmp_path):
    env = {**os.environ, "NEURONVIZ_CACHE": str(tmp_path / "unused")}
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    proc = subprocess.Popen(
        _probe(tiny_bert, data_dir, killed), env=env, stderr=subprocess.PIPE, text=True
    )
    seen = []
    deadline = time.time() + 240
    for line in proc.stderr:  # wait until the analysis itself (not extraction) is under way
        seen.append(line)
        if "oracle" in line or time.time() > deadline:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "".join(seen)
    assert ResultStore(killed).all() == []  # nothing half-written is visible
    # the finished lambda search waits in the analysis' checkpoint for the rerun
    [partial] = (killed / "results").glob("*/*.partial")
    assert (partial / "search.json").is_file()

    runs = [  # the rerun and a clean run, side by side
        subprocess.Popen(
            _probe(tiny_bert, data_dir, cache),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for cache in (killed, clean)
    ]
    for run in runs:
        _, err = run.communicate(timeout=600)
        assert run.returncode == 0, err
    [resumed], [fresh] = ResultStore(killed).all(), ResultStore(clean).all()
    assert resumed.key == fresh.key
    np.testing.assert_array_equal(resumed.order, fresh.order)
    np.testing.assert_allclose(resumed.weights, fresh.weights, rtol=0, atol=0)
    assert resumed.minimal == fresh.minimal and resumed.oracle == fresh.oracle
    assert not [p for p in (killed / "results").rglob(".*") if p.is_dir()]  # no leftovers
    assert not list((killed / "results").glob("*/*.partial"))
