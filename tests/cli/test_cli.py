"""The neuronviz command line, end to end on a tiny model and fixture corpora."""

from __future__ import annotations

import pytest

from neuronviz.cli.main import main


def test_extract_then_cached_then_list_verify_remove(tiny_bert, data_dir, cache_dir, capsys):
    args = ["--cache-dir", str(cache_dir), "--data-dir", str(data_dir), "-q"]
    assert main(["extract", "--model", str(tiny_bert), "--task", "pos", *args]) == 0
    out = capsys.readouterr().out
    assert out.count("extracted in") == 3 and " x 48" in out

    assert main([*args, "extract", "--model", str(tiny_bert), "--task", "pos,chunk"]) == 0
    out = capsys.readouterr().out
    assert out.count("  cached  ") == 6

    assert main(["cache", "list", *args]) == 0
    out = capsys.readouterr().out
    assert "chunk,pos" in out and out.count("conll2000-") == 3

    assert main(["cache", "verify", *args]) == 0
    assert capsys.readouterr().out.count(": ok") == 3

    assert main(["cache", "remove", "--model", "bert", *args]) == 0
    assert capsys.readouterr().out.count("removed") == 3
    assert main(["cache", "list", *args]) == 0
    assert "no cache entries" in capsys.readouterr().out


def test_models_and_tasks_listings(data_dir, capsys):
    assert main(["models"]) == 0
    assert "minilm" in capsys.readouterr().out
    assert main(["tasks", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "ccg" in out and str(data_dir) in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["extract", "--model", "nope", "--task", "pos"], "unknown model 'nope'"),
        (["extract", "--task", "nope"], "unknown task 'nope'"),
        (["extract", "--task", "pos", "--max-sentences", "0"], "at least 1"),
        (["extract", "--task", "pos", "--splits", "train,eval"], "unknown split"),
        (["cache", "remove"], "say what to remove"),
    ],
)
def test_errors_exit_2_with_one_line(data_dir, capsys, argv, message):
    assert main([*argv, "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_missing_corpus_names_the_variable(capsys, tmp_path):
    assert main(["extract", "--task", "pos", "--data-dir", str(tmp_path)]) == 2
    assert "NEURONVIZ_DATA" in capsys.readouterr().err


def test_python_dash_m_runs_the_same_cli():
    import subprocess
    import sys

    from neuronviz.version import __version__

    done = subprocess.run(
        [sys.executable, "-m", "neuronviz", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and __version__ in done.stdout


def test_an_empty_task_is_an_error_not_a_silent_success(tiny_bert, cache_dir, capsys):
    assert (
        main(["extract", "--model", str(tiny_bert), "--task", "", "--cache-dir", str(cache_dir)])
        == 2
    )
    assert "no task given" in capsys.readouterr().err


def test_a_parallel_task_keeps_its_comma_among_other_tasks(tiny_bert, data_dir, tmp_path, capsys):
    """The documented ``parallel:SENTENCES,LABELS`` form works from the CLI, alone or listed."""
    words = "".join(f"the {w} runs\n" for w in ("cat", "dog", "cow", "pig", "hen", "elk") * 4)
    labels = "".join("DET NOUN VERB\n" for _ in range(24))
    (tmp_path / "s.txt").write_text(words)
    (tmp_path / "l.txt").write_text(labels)
    task = f"parallel:{tmp_path / 's.txt'},{tmp_path / 'l.txt'}"
    argv = ["extract", "--model", str(tiny_bert), "--data-dir", str(data_dir)]
    argv += ["--cache-dir", str(tmp_path / "cache"), "--task", f"pos,{task}"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "s.txt" in out and "pos" in out
