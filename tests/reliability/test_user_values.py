"""Values a user types or a link carries: read exactly as written or refused with a message, and
bounded before any work starts (a count of a billion does not run for hours)."""

from __future__ import annotations

import pytest

from neuronviz.analyses.neurons import parse_neuron
from neuronviz.analyses.settings import AnalysisSettings
from neuronviz.cli.arguments import task_names
from neuronviz.errors import ConfigError
from neuronviz.interventions.hooks import Intervention


@pytest.mark.parametrize(
    "text", ["0:1_5", "\u0661:\u0663", "+1:3", "1 : 03x", "1:3.0", "-1:3", "1:"]
)
def test_a_neuron_id_not_written_in_plain_digits_is_refused(text):
    """int() takes underscores, signs and other scripts' digits: "0:1_5" opened neuron 0:15."""
    with pytest.raises(ConfigError, match="cannot read neuron"):
        parse_neuron(text, n_layers=3, hidden_size=16)


@pytest.mark.parametrize(("text", "expected"), [("1:3", 19), (" 2:15 ", 47), ("20", 20)])
def test_plain_neuron_ids_are_read(text, expected):
    assert parse_neuron(text, n_layers=3, hidden_size=16) == expected


def test_a_path_after_a_task_keeps_its_commas(tmp_path):
    (tmp_path / "a,b.conllu").write_text("x")
    assert task_names([f"upos:{tmp_path}/a,b.conllu,pos"]) == [f"upos:{tmp_path}/a,b.conllu", "pos"]
    assert task_names(["parallel:s.txt,l.txt", "chunk"]) == ["parallel:s.txt,l.txt", "chunk"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("parallel:s.txt,l.txt,l.txt", "parallel: takes two paths"),
        ("parallel:s.txt,", "parallel: takes a folder or two paths"),
        ("pos,upos:", "needs a path"),
        ("pos,nosuchtask", "unknown task"),
    ],
)
def test_every_task_is_checked_before_any_work(value, message):
    with pytest.raises(ConfigError, match=message):
        task_names([value])


@pytest.mark.parametrize(
    "field", [{"random_draws": 10**9}, {"seeds": 10**6}, {"tie_draws": 10**4}, {"bootstrap": 10**7}]
)
def test_counts_beyond_any_useful_run_are_refused(field):
    with pytest.raises(ConfigError, match="more than this analysis allows"):
        AnalysisSettings(**field)


def test_a_neuron_listed_twice_is_named():
    with pytest.raises(ConfigError, match=r"1 neuron\(s\) listed twice .*neuron number 7"):
        Intervention((3, 7, 7), "zero")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--sentences", "1000000000000"], "--sentences must lie in 1..100000"),
        (["--draws", "-1"], "--draws must lie in 1..1000"),
        (["--factor", "nan"], "--factor must be a finite number"),
        (["--prompt", "the cat", "--new-tokens", "10000000"], "--new-tokens must lie in 1..200"),
    ],
)
def test_intervene_checks_its_numbers_before_any_work(analysed, capsys, argv, message):
    from neuronviz.cli.main import main

    code = main(
        ["intervene", "--cache-dir", str(analysed), "--model", "bert", "--neurons", "1:3", *argv]
    )
    assert code == 2
    assert message in capsys.readouterr().err


def test_more_top_neurons_than_the_model_has_is_refused(analysed):
    from neuronviz.interventions.effects import select_neurons
    from neuronviz.store.result_store import ResultStore

    results = ResultStore(analysed).all("bert")
    with pytest.raises(ConfigError, match="asks for 99999999 neurons; the model has"):
        select_neurons("pos:top99999999", results)
    with pytest.raises(ConfigError, match="cannot read the count"):
        select_neurons("pos:top99999999999", results)
