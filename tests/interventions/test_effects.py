"""Probe accuracy under interventions, with layer-matched random controls."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from neuronviz.errors import ConfigError
from neuronviz.interventions.effects import (
    build_intervention,
    layer_matched_random,
    probe_effects,
    select_neurons,
    spec_task,
)
from neuronviz.interventions.hooks import Intervention
from neuronviz.models.loading import load_model
from neuronviz.store.activation_cache import ActivationCache
from neuronviz.store.result_store import ResultStore


@pytest.fixture(scope="module")
def bert_results(analysed):
    return [r for r in ResultStore(analysed).all() if r.model == "bert"]


@pytest.fixture(scope="module")
def bert(bert_results):
    return load_model(bert_results[0].model_source, device="cpu", dtype="float32")


def test_layer_matched_random_keeps_layer_counts_and_avoids_the_set():
    rng = np.random.default_rng(0)
    chosen = (3, 5, 17, 20, 40)  # hidden 16: layers 0, 0, 1, 1, 2
    drawn = layer_matched_random(chosen, 16, 48, rng)
    assert sorted(np.asarray(drawn) // 16) == [0, 0, 1, 1, 2]
    assert not set(drawn) & set(chosen) and len(set(drawn)) == 5


def test_neuron_specs(bert_results):
    pos = next(r for r in bert_results if r.task == "pos")
    assert select_neurons("pos:minimal", bert_results) == tuple(int(n) for n in pos.minimal_neurons)
    assert select_neurons("pos:top3", bert_results) == tuple(int(n) for n in pos.order[:3])
    nn = select_neurons(f"pos:{pos.classes[0]}:top2", bert_results)
    row = np.abs(pos.weights[0])
    assert row[nn[0]] == row.max() and len(nn) == 2
    assert select_neurons("1:3,2:5", bert_results) == (16 + 3, 32 + 5)
    for bad in ("pos:everything", "pos:topX", "pos:NOPE:top3", "9:9"):
        with pytest.raises(ConfigError):
            select_neurons(bad, bert_results)


def test_specs_of_tasks_whose_names_hold_colons(bert_results):
    """``upos:PATH`` and ``parallel:S,L`` tasks: the longest task name that starts the spec."""
    pos = next(r for r in bert_results if r.task == "pos")
    named = [replace(pos, task="upos:/data/en_ewt:train.conllu"), replace(pos, task="upos:/data")]
    spec = "upos:/data/en_ewt:train.conllu:top3"
    assert spec_task(spec, [r.task for r in named]) == named[0].task
    assert select_neurons(spec, named) == tuple(int(n) for n in pos.order[:3])
    assert select_neurons(
        "parallel:s.txt,l.txt:minimal", [replace(pos, task="parallel:s.txt,l.txt")]
    )
    assert spec_task("1:3,2:5", [r.task for r in named]) is None


def test_no_change_means_no_effect_and_silencing_everything_hurts(bert, bert_results, analysed):
    cache = ActivationCache(analysed)
    [same] = probe_effects(bert, Intervention(()), bert_results[:1], cache=cache, sentences=40)
    assert same.after == same.before == pytest.approx(same.random_after)
    everything = build_intervention(range(bert.n_neurons), "zero", bert_results[0])
    [gone] = probe_effects(bert, everything, bert_results[:1], cache=cache, sentences=40)
    assert gone.after < gone.before and gone.words > 0


def test_mean_mode_takes_the_training_means(bert_results):
    r = bert_results[0]
    iv = build_intervention((2, 7), "mean", r)
    assert iv.values == (float(r.arrays["feature_mean"][2]), float(r.arrays["feature_mean"][7]))


def test_cli_intervene_prints_before_after_and_random(bert_results, analysed, tmp_path, capsys):
    from neuronviz.cli.main import main

    out_json = tmp_path / "effects.json"
    argv = ["intervene", "--cache-dir", str(analysed), "--model", bert_results[0].model_source]
    argv += ["--neurons", "pos:top5", "--task", "pos,chunk", "--sentences", "20"]
    argv += ["--draws", "2", "--device", "cpu", "--json", str(out_json)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "zero on 5 neurons (pos:top5)" in out and "random after %" in out
    assert {e["task"] for e in json.loads(out_json.read_text())["effects"]} == {
        "pos",
        "chunk",
    }
    assert main([*argv[:-2], "--mode", "boost"]) != 0
    assert "unknown intervention mode" in capsys.readouterr().err


def test_mean_controls_take_their_means_from_the_intervention_s_corpus(bert, bert_results):
    from neuronviz.interventions.effects import random_controls

    pos = next(r for r in bert_results if r.task == "pos")
    [control] = random_controls(bert, build_intervention((20, 21), "mean", pos), pos, 1)
    assert control.values == tuple(float(pos.arrays["feature_mean"][n]) for n in control.neurons)


def test_effect_store_keeps_measurements_and_ignores_damaged_files(tmp_path):
    from neuronviz.interventions.effects import EffectStore, ProbeEffect

    store = EffectStore(tmp_path)
    key = store.key(results=("a", "b"), neurons=(1, 2), mode="zero", factor=0.0, sentences=20)
    assert key != store.key(
        results=("a", "b"), neurons=(1, 3), mode="zero", factor=0.0, sentences=20
    )
    assert store.load(key) is None
    effects = [ProbeEffect("pos", 120, 0.9, 0.5, 0.88, 0.01)]
    store.save(key, effects)
    assert store.load(key) == effects
    path = tmp_path / "effects" / f"{key}.json"
    path.write_text(
        '{"effects": [{"task": "pos", "words": 1, "before": 7, "after": 0.5, '
        '"random_after": 0.5, "random_std": 0}]}'
    )
    assert store.load(key) is None  # 700% is not an accuracy
    path.write_text('{"effects": [')
    assert store.load(key) is None


@pytest.mark.parametrize(
    ("after", "random_after", "random_std", "words"),
    [
        (0.50, 0.88, 0.01, "much more than"),  # 38 points beyond random, draws within 1 point
        (0.85, 0.88, 0.01, "somewhat more than"),  # 3 points: more, not much more
        (0.87, 0.88, 0.01, "about as much as"),  # 1 point: inside 2 points
        (0.80, 0.88, 0.05, "about as much as"),  # 8 points, but random draws spread 5 points
        (0.70, 0.88, 0.05, "much more than"),  # 18 points: beyond three spreads
        (0.90, 0.80, 0.01, "less than"),  # silencing random neurons hurt more
    ],
)
def test_the_comparison_with_random_neurons_respects_their_spread(
    after, random_after, random_std, words
):
    from neuronviz.interventions.effects import ProbeEffect

    assert ProbeEffect("pos", 100, 0.90, after, random_after, random_std).versus_random() == words
