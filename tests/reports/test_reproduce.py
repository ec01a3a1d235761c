"""The paper's study end to end on tiny random BERT and XLNet models and fixture corpora."""

from __future__ import annotations

import json

import pytest

from neuronviz.cli.main import main
from neuronviz.errors import ConfigError
from neuronviz.reports.findings import decide, findings
from neuronviz.reports.reproduce import (
    cached_reproduction,
    report_tables,
    run_reproduction,
    write_report,
)
from neuronviz.reports.runs import last_run, results_of_run
from neuronviz.reports.study import ReproduceSettings
from neuronviz.store.result_store import ResultStore

TASKS = ("pos", "chunk", "sem", "ccg")


@pytest.fixture(scope="module")
def study(tiny_models, data_dir, tmp_path_factory):
    cache = tmp_path_factory.mktemp("reproduce-cache")
    settings = ReproduceSettings(
        models=(str(tiny_models["bert"]), str(tiny_models["xlnet"])), tasks=TASKS, quick=True
    )
    results = run_reproduction(settings, cache=cache, data_dir=data_dir, device="cpu")
    return settings, results, cache


def test_every_model_and_task_is_analysed_with_the_papers_settings(study):
    _, results, _ = study
    assert [(r.model, r.task) for r in results] == [
        (m, t) for m in ("bert", "xlnet") for t in TASKS
    ]
    for r in results:
        assert r.settings["relative_delta"] is True and r.settings["delta"] == 1.0
        assert r.settings["max_train_words"] == 150_000
    tables = report_tables(results)
    assert len(tables["main"]) == 8 and set(tables["quality"]["size"]) == {"1%", "5%", "10%"}
    assert len(tables["overlap"]) == 2 * 6  # 6 task pairs per model
    counts = tables["layers"].drop(columns=["model", "task", "mean relative depth"])
    assert all(str(t) == "Int64" for t in counts.dtypes)  # no 12.0 where a model has no layer


def test_findings_are_computed_with_rules_and_numbers(study):
    _, results, _ = study
    decided = {f.key: f for f in findings(results)}
    assert set(decided) == {
        "small-subsets",
        "task-levels",
        "architectures",
        "top-random-bottom",
        "layers",
    }
    for f in decided.values():
        assert f.rule and f.test and f.evidence
        assert f.verdict == decide([c.outcome for c in f.comparisons]) or f.key == "architectures"
    assert len(decided["small-subsets"].evidence) == 8
    assert len(decided["top-random-bottom"].comparisons) == 8 * 3
    overlap = next(c for c in decided["architectures"].comparisons if "overlap" in c.label)
    assert set(overlap.details["expected_jaccard"]) == {"bert", "xlnet"}
    assert "observed / chance Jaccard" in overlap.text
    only_bert = [r for r in results if r.model == "bert"]
    assert {f.key: f.verdict for f in findings(only_bert)}["architectures"] == "not measured"


def test_report_is_written_and_rerunning_gives_the_same_numbers(study, tmp_path, data_dir):
    settings, results, cache = study
    report = write_report(results, tmp_path / "r", settings, images=False)
    text = report.read_text()
    assert text.startswith("# Reproducing Durrani et al.")
    assert settings.command() in text and "## Findings" in text
    for name in ("main.csv", "quality.csv", "layers.csv", "overlap.csv", "results.json"):
        assert (tmp_path / "r" / name).is_file()
    again = run_reproduction(settings, cache=cache, data_dir=data_dir, device="cpu")
    assert [r.key for r in again] == [r.key for r in results]  # cached: same settings, same key
    second = write_report(again, tmp_path / "r2", settings, images=False)
    first_json = json.loads((tmp_path / "r" / "results.json").read_text())
    second_json = json.loads((tmp_path / "r2" / "results.json").read_text())
    assert first_json["findings"] == second_json["findings"]
    assert second.read_text() == text


def test_recomputing_with_the_same_seed_gives_the_same_numbers(study, data_dir, caplog):
    """Not a cache hit: the analysis runs again from the cached activations."""
    from neuronviz.analyses.run import run_analysis

    settings, results, cache = study
    first = next(r for r in results if r.model == "xlnet" and r.task == "chunk")
    caplog.set_level("INFO", logger="neuronviz")
    again = run_analysis(
        settings.models[1],
        "chunk",
        settings=settings.analysis("xlnet"),
        cache=cache,
        data_dir=data_dir,
        max_sentences=settings.max_sentences,
        device="cpu",
        force=True,
    )
    assert "lambda search" in caplog.text  # recomputed, not read back
    drop = {"timings"}
    assert {k: v for k, v in again.summary().items() if k not in drop} == {
        k: v for k, v in first.summary().items() if k not in drop
    }
    assert (again.order == first.order).all()


def test_report_as_a_markdown_file_with_its_folder_beside_it(study, tmp_path):
    settings, results, _ = study
    report = write_report(results, tmp_path / "docs" / "reproduction.md", settings, images=False)
    assert report == tmp_path / "docs" / "reproduction.md"
    assert (tmp_path / "docs" / "reproduction" / "results.json").is_file()
    assert "Compute time of the analyses" in report.read_text()


def test_cli_reproduce_quick(study, tmp_path, data_dir, capsys):
    settings, _, cache = study
    argv = ["reproduce", "--cache-dir", str(cache), "--data-dir", str(data_dir)]
    argv += ["--models", *settings.models, "--tasks", "pos", "ccg", "--quick"]
    argv += ["--out", str(tmp_path), "--name", "t", "--no-images", "--device", "cpu"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "report:" in out and (tmp_path / "t" / "report.md").is_file()
    run = last_run(cache)  # which stored results the report used, for the Paper page
    assert run["command"].endswith("--tasks pos,ccg --quick")
    assert run["report"] == str((tmp_path / "t" / "report.md").resolve())
    used = results_of_run(ResultStore(cache).all(), run)
    assert [(r.model, r.task) for r in used] == [
        (m, t) for m in ("bert", "xlnet") for t in ("pos", "ccg")
    ]
    listed = json.loads((tmp_path / "t" / "results.json").read_text())["results"]
    assert [item["key"] for item in listed] == [r.key for r in used]


def test_a_damaged_run_record_is_ignored(tmp_path, caplog):
    record = tmp_path / "reports" / "last-reproduction.json"
    assert last_run(tmp_path) is None
    record.parent.mkdir()
    record.write_text('{"results": [{"model": "m"}]}')
    assert last_run(tmp_path) is None
    assert "without model, task or key" in caplog.text


def test_bad_settings():
    with pytest.raises(ConfigError, match="at least one model"):
        ReproduceSettings(models=())
    with pytest.raises(ConfigError, match="token cap"):
        ReproduceSettings(token_cap=1)
    with pytest.raises(ConfigError, match="not among the models"):
        ReproduceSettings(models=("bert",), model_caps=(("xlnet", 1000),))


def test_per_model_token_caps():
    settings = ReproduceSettings(models=("bert", "xlnet"), model_caps=(("xlnet", 30_000),))
    assert settings.analysis("bert").max_train_words == 150_000
    assert settings.analysis("xlnet").max_train_words == 30_000
    assert settings.caps_text() == "150000 (xlnet: 30000)"
    assert "--token-cap xlnet=30000" in settings.command()


def test_cli_reproduce_rejects_a_bad_token_cap(capsys):
    assert main(["reproduce", "--models", "bert", "--token-cap", "bert=many"]) != 0
    assert "MODEL=N" in capsys.readouterr().err


@pytest.mark.slow
def test_report_figures_as_png_and_svg(study, tmp_path):
    from neuronviz.dashboard.serve import chromium_path

    if chromium_path() is None:
        pytest.skip("static figures need Chromium")
    settings, results, _ = study
    write_report(results[:1], tmp_path, settings, images=True)
    pngs = sorted(p.name for p in (tmp_path / "figures").glob("*.png"))
    assert "minimal-share.png" in pngs and "curves-bert-pos.png" in pngs
    for png in (tmp_path / "figures").glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png.with_suffix(".svg").read_text().lstrip().startswith("<svg")
    assert "![minimal-share](figures/minimal-share.png)" in (tmp_path / "report.md").read_text()


def test_paper_settings_and_the_differences_section(study, tmp_path, data_dir):
    settings, results, cache = study
    paper = settings.other()
    assert paper.paper and paper.command().endswith("--paper")
    analysis = paper.analysis("bert")
    assert (analysis.rule, analysis.weighting) == ("accuracy", "uniform")
    assert settings.analysis("bert").rule == "separation"
    found = cached_reproduction(settings, cache=cache, data_dir=data_dir)
    assert [r.key for r in found] == [r.key for r in results]
    assert cached_reproduction(paper, cache=cache, data_dir=data_dir) is None  # not computed
    alone = write_report(results, tmp_path / "a", settings, images=False).read_text()
    assert "not in the cache: run `" + paper.command() in alone
    both = write_report(results, tmp_path / "b", settings, images=False, other=results)
    text = both.read_text()
    assert "| finding | the default | `--paper` | |" in text and "| same |" in text
    assert "differs" not in text.split("## The paper's lambda rule")[1].split("##")[0]
    tables = report_tables(results)
    assert set(tables["main"]["lambda rule"]) == {"separation"}
    assert {"oracle KKT", "control KKT", "retrained converged"} <= set(tables["fits"].columns)
