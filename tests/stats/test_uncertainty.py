"""Bootstrap intervals over sentences and the tests behind the verdicts, on known cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from neuronviz.stats.uncertainty import (
    SentenceBootstrap,
    beats_draws,
    bootstrap_p,
    draws_differ,
    pack,
    percentile_of,
    sentence_lengths,
    unpack,
)


def test_pack_round_trip():
    correct = np.random.default_rng(0).random(37) < 0.6
    assert unpack(pack(correct), 37).tolist() == correct.tolist()


def test_sentence_lengths_fall_back_to_words_when_they_do_not_add_up(caplog):
    assert sentence_lengths([["a", "b"], ["c"]], 3).tolist() == [2, 1]
    assert sentence_lengths([["a", "b"]], 3).tolist() == [1, 1, 1]
    assert "resampling single words" in caplog.text


def test_bootstrap_accuracy_is_centred_on_the_observed_one():
    rng = np.random.default_rng(1)
    lengths = rng.integers(5, 30, 400)
    correct = rng.random(lengths.sum()) < 0.9
    boot = SentenceBootstrap.build(lengths, 2000, seed=0)
    low, high = boot.interval(correct)
    assert low < correct.mean() < high
    assert boot.accuracies(correct).mean() == pytest.approx(correct.mean(), abs=2e-3)


def test_whole_sentences_right_or_wrong_widen_the_interval():
    """When a sentence's words are right or wrong together, the words are not independent: the
    sentence bootstrap must give a wider interval than a word-level (binomial) one."""
    rng = np.random.default_rng(2)
    lengths = np.full(200, 20)
    sentence_right = rng.random(200) < 0.8
    correct = np.repeat(sentence_right, 20)
    boot = SentenceBootstrap.build(lengths, 2000, seed=0)
    low, high = boot.interval(correct)
    p, n = correct.mean(), len(correct)
    binomial = 2 * 1.96 * np.sqrt(p * (1 - p) / n)
    assert high - low > 3 * binomial
    # the sentence-level binomial width is the right one here
    sentences = 2 * 1.96 * np.sqrt(p * (1 - p) / 200)
    assert high - low == pytest.approx(sentences, rel=0.2)


def test_the_interval_covers_the_truth_at_about_its_level():
    rng = np.random.default_rng(3)
    truth = np.clip(np.random.default_rng(99).normal(0.85, 0.1, 10**6), 0, 1).mean()
    hits = 0
    for trial in range(100):
        lengths = rng.integers(3, 25, 150)
        ability = np.clip(rng.normal(0.85, 0.1, 150), 0, 1)  # sentences differ in difficulty
        correct = rng.random(lengths.sum()) < np.repeat(ability, lengths)
        low, high = SentenceBootstrap.build(lengths, 400, seed=trial).interval(correct)
        hits += low <= truth <= high
    assert 85 <= hits <= 100


def test_paired_difference_of_two_probes_on_the_same_words():
    rng = np.random.default_rng(4)
    lengths = np.full(300, 10)
    a = rng.random(3000) < 0.9
    b = a.copy()
    b[rng.choice(3000, 60, replace=False)] = False  # b: a with a few more errors
    boot = SentenceBootstrap.build(lengths, 1000, seed=0)
    diff = boot.difference(a, b)
    assert (diff >= 0).all() and np.percentile(diff, 2.5) > 0
    independent = boot.accuracies(a) - boot.accuracies(rng.permutation(b))
    assert diff.std() < independent.std() / 3  # pairing removes the shared noise


def test_beats_draws_prediction_test():
    draws = [0.80, 0.82, 0.79, 0.81, 0.80, 0.83, 0.78, 0.81]
    far = beats_draws(0.95, draws)
    assert far["percentile"] == 100 and far["p"] < 1e-4
    inside = beats_draws(0.815, draws)
    assert 50 < inside["percentile"] < 100 and inside["p"] > 0.05
    mean, sd, n = np.mean(draws), np.std(draws, ddof=1), len(draws)
    t = (0.83 - mean) / (sd * np.sqrt(1 + 1 / n))
    assert beats_draws(0.83, draws)["p"] == pytest.approx(stats.t.sf(t, n - 1))


def test_top_above_the_mean_by_one_sd_is_not_enough():
    """The old rule (top > mean + 1 sd of 5 draws, ddof 0) called this a win."""
    draws = [0.80, 0.81, 0.79, 0.82, 0.78]
    top = np.mean(draws) + 1.01 * np.std(draws)
    assert beats_draws(top, draws)["p"] > 0.05


def test_draws_differ():
    random = [0.80, 0.81, 0.79, 0.82, 0.78, 0.80]
    assert draws_differ(random, [0.6, 0.61, 0.62]) < 0.02  # all 3 below all 6: about 1 / C(9, 3)
    assert draws_differ(random * 4, [0.6, 0.61, 0.62]) < 0.005
    assert draws_differ(random, [0.80, 0.79, 0.81]) > 0.05
    assert draws_differ(random, [0.6]) < 0.01  # a single bottom set: prediction test
    assert draws_differ(random, [0.9]) > 0.95
    assert np.isnan(draws_differ([0.8], [0.7]))


def test_bootstrap_p_and_percentile():
    rng = np.random.default_rng(5)
    small, large = rng.normal(10, 1, 1000), rng.normal(14, 1, 1000)
    assert bootstrap_p(small, large) < 0.01
    assert bootstrap_p(large, small) > 0.99
    assert 0.3 < bootstrap_p(small, rng.normal(10, 1, 1000)) < 0.7
    assert percentile_of(0.5, [0.1, 0.5, 0.9]) == pytest.approx(50.0)
    # a missing value or a handful of draws is no evidence: no test, not p = 0
    assert np.isnan(bootstrap_p(np.array([np.nan]), np.array([1.0])))
    assert np.isnan(bootstrap_p(small[:10], large[:10]))
    with_gaps = small.copy()
    with_gaps[::2] = np.nan
    assert bootstrap_p(with_gaps, large) < 0.01
