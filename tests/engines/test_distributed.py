"""The Ray engine on a local two-CPU Ray cluster: sharded extraction across workers, a worker
killed mid-shard, parallel probe fits, and the CLI. Results must equal the local engine's."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from apptools import FAST
from sameness import assert_same_analysis, extract, job_request
from tiny_models import assert_same_activations

from neuronviz.analyses.run import run_analysis
from neuronviz.cli.main import main
from neuronviz.extraction.extract import ExtractionSettings

ray = pytest.importorskip("ray")
pytestmark = [pytest.mark.ray, pytest.mark.slow]


@pytest.fixture(scope="module", autouse=True)
def cluster():
    """One local Ray cluster (2 CPUs, so two worker processes) for the whole module."""
    from neuronviz.engines.ray_engine import connect

    os.environ.setdefault("RAY_DISABLE_USAGE_STATS", "1")
    if ray.is_initialized():
        ray.shutdown()
    connect(num_cpus=2)
    yield
    ray.shutdown()


def test_extraction_on_two_workers_equals_the_local_engine(tiny_bert, data_dir, tmp_path):
    by_ray = extract(tiny_bert, data_dir, tmp_path / "ray", engine="ray", shard_words=40)
    # Same shards, same batches (other worker processes and thread counts).
    local = extract(tiny_bert, data_dir, tmp_path / "local", shard_words=40)
    # One sentence per batch: the same values as the one-piece entry too.
    whole = extract(tiny_bert, data_dir, tmp_path / "whole")
    for split, entry in by_ray.entries.items():
        m = entry.manifest
        assert m.extraction["engine"] == "ray" and m.extraction["workers"] == 2
        assert len(m.shards) >= 2 and entry.verify() == []
        got = entry.matrix(dtype=np.float16)
        assert_same_activations(got, local.entries[split].matrix(dtype=np.float16))
        assert_same_activations(got, whole.entries[split].matrix(dtype=np.float16))
        assert entry.labels("pos")[0].tolist() == whole.entries[split].labels("pos")[0].tolist()


def test_default_batches_on_ray_equal_the_local_sharded_build(tiny_bert, data_dir, tmp_path):
    default = ExtractionSettings()
    by_ray = extract(
        tiny_bert, data_dir, tmp_path / "r", default, engine="ray", shard_words=60, workers=5
    )
    assert by_ray.entries["train"].manifest.extraction["workers"] == 2  # what 2 CPUs can host
    local = extract(tiny_bert, data_dir, tmp_path / "l", default, shard_words=60)
    assert_same_activations(
        by_ray.entries["train"].matrix(dtype=np.float16),
        local.entries["train"].matrix(dtype=np.float16),
    )


def test_a_worker_killed_mid_shard_is_retried_and_the_run_completes(
    tiny_bert, data_dir, tmp_path, monkeypatch
):
    marker = tmp_path / "killed"
    monkeypatch.setenv("NEURONVIZ_TEST_CRASH_SHARD", f"1:{marker}")
    by_ray = extract(tiny_bert, data_dir, tmp_path / "ray", engine="ray", shard_words=40)
    assert marker.is_file()  # shard 1's worker did die (os._exit) after its first batch
    whole = extract(tiny_bert, data_dir, tmp_path / "whole")
    for split, entry in by_ray.entries.items():
        assert_same_activations(
            entry.matrix(dtype=np.float16), whole.entries[split].matrix(dtype=np.float16)
        )


def test_probing_on_ray_equals_the_local_engine(tiny_bert, data_dir, tmp_path):
    extract(tiny_bert, data_dir, tmp_path / "a")
    local = run_analysis(
        str(tiny_bert), "pos", settings=FAST, data_dir=data_dir, cache=tmp_path / "a"
    )
    extract(tiny_bert, data_dir, tmp_path / "b")
    by_ray = run_analysis(
        str(tiny_bert), "pos", settings=FAST, data_dir=data_dir, cache=tmp_path / "b", engine="ray"
    )
    assert_same_analysis(local, by_ray)


def test_cli_extract_and_probe_with_the_ray_engine(tiny_bert, data_dir, tmp_path, capsys):
    cache = tmp_path / "cache"
    common = ["--model", str(tiny_bert), "--task", "pos", "--data-dir", str(data_dir)]
    common += ["--cache-dir", str(cache), "--engine", "ray", "--workers", "2"]
    assert main(["extract", *common, "--shard-words", "50"]) == 0
    manifests = [json.loads(p.read_text()) for p in cache.glob("activations/*/*/manifest.json")]
    assert len(manifests) == 3 and all(m["extraction"]["engine"] == "ray" for m in manifests)
    out = tmp_path / "probe.json"
    cheap = ["--random-draws", "2", "--tie-draws", "2", "--no-layers"]
    assert main(["probe", *common, "--lambdas", "1e-3:1e-3", *cheap, "--json", str(out)]) == 0
    summary = json.loads(out.read_text())
    assert summary["minimal"]["size"] > 0
    assert "oracle" in capsys.readouterr().out.lower()


def test_a_dashboard_job_runs_on_ray(tiny_bert, data_dir, tmp_path):

    from neuronviz.dashboard.jobs import JobStore

    store = JobStore(tmp_path / "cache")
    record = store.submit(job_request(str(tiny_bert), data_dir, engine="ray"), spawn=False)
    done = store.run(record.job_id)
    assert done.state == "done", done.error
    manifests = (tmp_path / "cache").glob("activations/*/*/manifest.json")
    assert {json.loads(p.read_text())["extraction"]["engine"] for p in manifests} == {"ray"}
