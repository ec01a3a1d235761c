"""The parser: every subcommand reaches its command, options land where the commands read them."""

from __future__ import annotations

import pytest

from neuronviz.cli.analysis_commands import cmd_intervene, cmd_probe, cmd_reproduce
from neuronviz.cli.cache_commands import cmd_cache_verify, cmd_models
from neuronviz.cli.parser import build_parser
from neuronviz.errors import NeuronvizError


def test_each_subcommand_reaches_its_command_with_its_options():
    parser = build_parser()
    probe = parser.parse_args(["probe", "--task", "pos", "--task", "chunk,sem", "--seeds", "3"])
    assert probe.func is cmd_probe and probe.task == ["pos", "chunk,sem"] and probe.seeds == 3
    assert probe.engine == "local" and probe.kkt_tol == 1e-4
    repro = parser.parse_args(["reproduce", "--models", "minilm", "smollm2-135m", "--quick"])
    assert repro.func is cmd_reproduce and repro.models == ["minilm", "smollm2-135m"]
    assert parser.parse_args(["cache", "verify", "abc"]).func is cmd_cache_verify
    assert parser.parse_args(["models"]).func is cmd_models
    iv = parser.parse_args(["intervene", "--neurons", "pos:minimal", "--mode", "mean"])
    assert iv.func is cmd_intervene and iv.neurons == "pos:minimal" and iv.mode == "mean"


def test_common_options_work_before_and_after_the_subcommand():
    parser = build_parser()
    before = parser.parse_args(["--cache-dir", "/a", "-q", "models"])
    after = parser.parse_args(["models", "--cache-dir", "/b"])
    assert before.cache_dir == "/a" and before.quiet
    assert after.cache_dir == "/b" and not after.quiet


def test_a_missing_subcommand_or_required_option_is_refused():
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args([])
    with pytest.raises(SystemExit):
        parser.parse_args(["intervene"])  # --neurons is required


def test_intervene_without_analyses_says_what_to_run(tmp_path):
    args = build_parser().parse_args(
        ["intervene", "--neurons", "pos:minimal", "--cache-dir", str(tmp_path)]
    )
    with pytest.raises(NeuronvizError, match="no analysis of minilm in the cache") as info:
        args.func(args)
    assert "neuronviz probe --model minilm --task pos" in str(info.value)
