"""The package root: its public names, and that light commands do not load torch."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import neuronviz


def test_public_names_resolve_and_unknown_ones_fail():
    from neuronviz import MODELS, NeuronvizError, load_model
    from neuronviz.errors import NeuronvizError as direct

    assert NeuronvizError is direct and "minilm" in MODELS and callable(load_model)
    assert set(neuronviz.__all__) <= set(dir(neuronviz))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        neuronviz.nothing  # noqa: B018


def test_the_cache_and_light_cli_commands_do_not_load_torch(tmp_path):
    script = textwrap.dedent(
        f"""
        import contextlib, io, sys
        import neuronviz.store.activations
        from neuronviz.cli.main import main
        with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
            main(["--help"])
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["cache", "list", "--cache-dir", {str(tmp_path)!r}]) == 0
        print(sorted(m for m in ("torch", "transformers") if m in sys.modules))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
