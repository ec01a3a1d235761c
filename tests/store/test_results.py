"""Results store: round trip, keys, no pickle, and the CLI's probe command on a tiny model."""

from __future__ import annotations

import json

import numpy as np
import pytest
from synthetic import probe_data

from neuronviz.analyses.run import analyse, run_analysis
from neuronviz.analyses.settings import AnalysisSettings
from neuronviz.cli.main import main
from neuronviz.errors import CacheError
from neuronviz.store.result_store import ResultStore

pytestmark = pytest.mark.slow  # stores and reads whole analyses

FAST = {"lambdas": ((1e-3, 1e-3),), "grid_words": 1500, "percents": (5, 20), "random_draws": 2}


def test_round_trip_keeps_every_number(tmp_path):
    result = analyse(probe_data(), AnalysisSettings(**FAST)).with_inputs(
        key="ab" * 32, entries={"train": "x"}
    )
    store = ResultStore(tmp_path)
    folder = store.save(result)
    assert sorted(p.name for p in folder.iterdir()) == [
        "arrays.npz",
        "checksums.json",
        "result.json",
    ]
    loaded = store.load("synthetic", result.key)
    assert loaded.to_dict() == json.loads(json.dumps(result.to_dict()))
    for name, array in result.arrays.items():
        np.testing.assert_array_equal(loaded.arrays[name], array)
    with np.load(folder / "arrays.npz", allow_pickle=False) as z:  # plain arrays, no pickle
        assert set(z.files) == set(result.arrays)
    assert store.all("synthetic")[0].key == result.key
    assert loaded.neuron_ranking().order.tolist() == result.order.tolist()


def test_unreadable_result_is_ignored(tmp_path, caplog):
    result = analyse(probe_data(), AnalysisSettings(**FAST)).with_inputs(key="cd" * 32, entries={})
    folder = ResultStore(tmp_path).save(result)
    (folder / "result.json").write_text("{broken")
    assert ResultStore(tmp_path).load("synthetic", result.key) is None
    assert "unreadable" in caplog.text


def test_run_analysis_caches_results(tiny_bert, data_dir, cache_dir, monkeypatch):
    settings = AnalysisSettings(**FAST)
    first = run_analysis(
        str(tiny_bert), "pos", settings=settings, cache=cache_dir, data_dir=data_dir
    )
    import neuronviz.analyses.run as analysis

    monkeypatch.setattr(
        analysis, "analyse", lambda *a, **k: pytest.fail("recomputed a cached result")
    )
    again = run_analysis(
        str(tiny_bert), "pos", settings=settings, cache=cache_dir, data_dir=data_dir
    )
    assert again.key == first.key and again.minimal == first.minimal
    assert set(again.entries) == {"train", "dev", "test"}


def test_missing_cache_without_extraction_is_a_clear_error(tiny_bert, data_dir, cache_dir):
    with pytest.raises(CacheError, match="neuronviz extract --model"):
        run_analysis(
            str(tiny_bert),
            "pos",
            settings=AnalysisSettings(**FAST),
            cache=cache_dir,
            data_dir=data_dir,
            extract=False,
        )


def test_cli_probe_prints_summary_and_writes_json(tiny_bert, data_dir, cache_dir, tmp_path, capsys):
    out_json = tmp_path / "summary.json"
    argv = [
        "probe",
        "--model",
        str(tiny_bert),
        "--task",
        "pos",
        "--lambdas",
        "1e-3:1e-3,0:0",
        "--json",
        str(out_json),
    ]
    assert main([*argv, "--data-dir", str(data_dir), "--cache-dir", str(cache_dir), "-q"]) == 0
    out = capsys.readouterr().out
    for text in (
        "oracle (all neurons)",
        "minimal set:",
        "control task",
        "ranking quality",
        "minimal set by layer",
        "<- chosen",
        "95% intervals in brackets",
        "chance level: random neurons need",
    ):
        assert text in out
    summary = json.loads(out_json.read_text())
    assert summary["layer_distribution"] and len(summary["layer_distribution"]) == 3
    oracle = summary["oracle"]
    # the printed oracle line shows the accuracy with its interval, as in the JSON
    low, high = oracle["test_accuracy_ci"]
    printed = f"{100 * oracle['test_accuracy']:.2f} [{100 * low:.2f}, {100 * high:.2f}]"
    line = next(x for x in out.splitlines() if x.startswith("oracle (all neurons)"))
    assert f"test {printed}%" in line
    assert ("NOT CONVERGED" in line) != oracle["converged"]
    for field in ("kkt_max", "converged"):
        assert field in summary["control"]
    assert summary["selectivity_ci"] and summary["ranking"]["n_weighted"] > 0
    assert summary["minimal"]["size_interval"]
    assert set(summary["ranking_quality"]) == {"1", "5", "10"}
    for q in summary["ranking_quality"].values():
        assert {"random_draws", "top_percentile", "top_ci"} <= set(q)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--delta", "120"], "0..100"),
        (["--method", "magic"], "unknown ranking method"),
        (["--lambdas", "a:b"], "cannot read lambda pair"),
        (["--no-extract"], "no cached activations"),
    ],
)
def test_cli_probe_bad_settings(tiny_bert, data_dir, cache_dir, capsys, extra, message):
    argv = [
        "probe",
        "--model",
        str(tiny_bert),
        "--task",
        "pos",
        *extra,
        "--data-dir",
        str(data_dir),
        "--cache-dir",
        str(cache_dir),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_compare_tasks_and_models():
    from neuronviz.reports.compare import (
        compare_models,
        compare_tasks,
        neurons_to_reach,
        relative_depth_distribution,
    )

    settings = AnalysisSettings(**FAST)
    a = analyse(probe_data(task="a"), settings)
    b = analyse(probe_data(task="b"), settings)
    overlap = compare_tasks([a, b])
    assert overlap["pairs"][0]["jaccard"] == 1.0  # same data, same minimal set
    assert overlap["shared_by_two_or_more"] == a.minimal.size
    report = compare_models([a, b])
    assert len(report["rows"]) == 2 and "synthetic" in report["task_overlap"]
    assert relative_depth_distribution([1, 0, 3], bins=2) == [0.25, 0.75]
    assert 0 < neurons_to_reach(a, 0.9) <= a.minimal.fraction + 1e-9


def test_cli_compare_uses_stored_results(tiny_bert, data_dir, cache_dir, capsys):
    argv = [
        "compare",
        "--models",
        str(tiny_bert),
        "--tasks",
        "pos",
        "--data-dir",
        str(data_dir),
        "--cache-dir",
        str(cache_dir),
    ]
    assert main(argv) == 2
    assert "neuronviz probe --model" in capsys.readouterr().err
    settings = AnalysisSettings(**FAST)
    run_analysis(str(tiny_bert), "pos", settings=settings, cache=cache_dir, data_dir=data_dir)
    run_analysis(str(tiny_bert), "chunk", settings=settings, cache=cache_dir, data_dir=data_dir)
    argv[4] = "pos,chunk"
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "depth profile" in out and "chunk & pos" in out


def test_a_class_with_one_example_is_analysed_and_reported(tiny_bert, tmp_path, cache_dir):
    from fixtures import conll2000_text, sentences, write_data_dir

    data = write_data_dir(tmp_path / "data")
    rare = [[("Wow", "UH", "O"), (".", ".", "O")]]
    (data / "conll2000" / "train.txt").write_text(conll2000_text(rare + sentences(60, seed=1)))
    result = run_analysis(
        str(tiny_bert), "pos", settings=AnalysisSettings(**FAST), cache=cache_dir, data_dir=data
    )
    assert "UH" in result.classes
    assert any("single training example (UH)" in w for w in result.warnings)
    assert result.summary()["warnings"] == result.warnings
    from neuronviz.cli.output import format_summary

    assert "note: 1 of" in format_summary(result)


def test_the_result_shown_is_the_one_on_most_words_then_the_newest(tmp_path):
    from dataclasses import replace

    from neuronviz.store.results import preferred

    base = analyse(probe_data(), AnalysisSettings(**FAST)).with_inputs(key="ef" * 32, entries={})
    full = replace(base, words={**base.words, "train": 150_000}, created="2026-01-01T00:00:00")
    quick = replace(base, words={**base.words, "train": 7_000}, created="2026-06-01T00:00:00")
    rerun = replace(full, created="2026-07-01T00:00:00")
    assert preferred([quick, full]) is full  # a later smoke run does not hide the full one
    assert preferred([full, rerun, quick]) is rerun
    assert preferred([]) is None
