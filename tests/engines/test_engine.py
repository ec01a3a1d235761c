"""Engine choice: the local path never needs Ray; asking for Ray without it is a clear error."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from neuronviz.engines.choose import check_engine
from neuronviz.errors import ConfigError

BLOCK_RAY = """
import importlib.abc, sys
class NoRay(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "ray" or name.startswith("ray."):
            raise ModuleNotFoundError("No module named 'ray' (blocked by the test)")
sys.meta_path.insert(0, NoRay())
"""


def test_engine_names_are_checked():
    assert check_engine(None) == "local"
    assert check_engine("local") == "local"
    with pytest.raises(ConfigError, match="unknown engine 'spark'"):
        check_engine("spark")


def test_ray_engine_without_ray_says_how_to_install_it(monkeypatch):
    import neuronviz.engines.choose as engine

    monkeypatch.setattr(engine, "ray_installed", lambda: False)
    with pytest.raises(ConfigError, match=r"needs Ray") as err:
        check_engine("ray")
    assert "neuronviz[ray]" in str(err.value)


def test_the_local_path_runs_without_ray_installed(tiny_bert, data_dir, tmp_path):
    script = BLOCK_RAY + textwrap.dedent(
        f"""
        from neuronviz.cli.main import main
        common = ["--model", {str(tiny_bert)!r}, "--task", "pos", "--data-dir", {str(data_dir)!r},
                  "--cache-dir", {str(tmp_path / "cache")!r}]
        assert main(["extract", *common]) == 0
        assert main(["extract", *common, "--task", "chunk", "--shard-words", "40"]) == 0
        cheap = ["--random-draws", "2", "--tie-draws", "2", "--no-layers", "--no-control"]
        assert main(["probe", *common, "--lambdas", "1e-3:1e-3", *cheap]) == 0
        assert "ray" not in sys.modules
        code = main(["probe", *common, "--engine", "ray"])
        assert code != 0, code
        print("LOCAL-OK")
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert "LOCAL-OK" in run.stdout, run.stderr[-3000:]
    assert "needs Ray" in run.stderr


class _FakeRay:
    """Records actors started (with their CPUs) and killed, without a cluster."""

    def __init__(self, cpus: int) -> None:
        self.cpus, self.started, self.killed = cpus, [], []

    def cluster_resources(self) -> dict:
        return {"CPU": self.cpus}

    def remote(self, **options):
        fake = self

        class Handle:
            def remote(self, *args):
                actor = (len(fake.started), options["num_cpus"])
                fake.started.append(actor)
                return actor

        return lambda cls: Handle()

    def kill(self, actor) -> None:
        self.killed.append(actor)


def test_the_extractor_pool_reuses_its_actors_and_restarts_to_grow(monkeypatch, tmp_path):
    import neuronviz.engines.ray_engine as distributed
    from neuronviz.store.activation_cache import ActivationCache

    fake = _FakeRay(cpus=2)
    monkeypatch.setattr(distributed, "_ray", lambda: fake)
    with distributed.ExtractorPool("m", ActivationCache(tmp_path)) as pool:
        first = pool.take(1)
        assert first == [(0, 2)]  # one actor holding both CPUs
        assert pool.take(1) == first and fake.killed == []  # the next split reuses it
        grown = pool.take(2)
        # the one-worker actor holds every CPU: an added one would wait forever, so all restart
        assert fake.killed == first and grown == [(1, 1), (2, 1)]
        assert pool.take(1) == grown[:1]
    assert fake.killed == [*first, *grown]
