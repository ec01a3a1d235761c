"""Neuron rankings: the weight-mass rule against a plain reimplementation, NeuroX parity, ties."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from neuronviz.errors import ConfigError
from neuronviz.probing.ranking import (
    lca_ranking,
    probeless_ranking,
    probeless_scores,
    random_ranking,
)


def plain_weight_mass_steps(weights: np.ndarray, stride: int) -> list[set[int]]:
    """The rule as the paper states it, written plainly: for each mass share p and class, the
    fewest neurons (largest |w| first) whose |w| sum reaches p of the class total; union over classes."""
    steps = []
    for p in range(stride + 1):
        chosen: set[int] = set()
        for row in np.abs(weights):
            total = row.sum()
            if total == 0:
                continue
            running = 0.0
            for neuron in sorted(range(len(row)), key=lambda j: (-row[j], j)):
                chosen.add(neuron)
                running += row[neuron]
                if running >= total * p / stride - 1e-12:
                    break
        steps.append(chosen)
    return steps


def test_lca_steps_match_a_plain_reimplementation():
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(5, 40)) * (rng.random((5, 40)) < 0.4)
    ranking = lca_ranking(weights, list("abcde"), stride=20)
    steps = plain_weight_mass_steps(weights, 20)
    for cutoff, expected in zip(ranking.cutoffs, steps, strict=True):
        expected_weighted = {n for n in expected if np.abs(weights[:, n]).max() > 0}
        assert set(ranking.order[:cutoff].tolist()) == expected_weighted
    assert sorted(ranking.order.tolist()) == list(range(40))


def test_neurons_added_in_one_step_are_ordered_by_weight_not_id():
    # One class; its mass is spread over many neurons, so the first real step adds several.
    weights = np.zeros((1, 10))
    weights[0, [9, 2, 7, 4]] = [0.4, 0.3, 0.2, 0.1]
    ranking = lca_ranking(weights, ["x"], stride=1)
    assert ranking.order[:4].tolist() == [9, 2, 7, 4]
    assert ranking.n_weighted == 4


def test_all_zero_neurons_tie_in_a_seeded_random_order():
    weights = np.zeros((2, 30))
    weights[0, 1] = 1.0
    weights[1, 3] = -2.0
    first = lca_ranking(weights, ["a", "b"], tie_seed=0)
    again = lca_ranking(weights, ["a", "b"], tie_seed=0)
    other = lca_ranking(weights, ["a", "b"], tie_seed=1)
    assert set(first.order[:2].tolist()) == {1, 3} and first.n_weighted == first.ranked == 2
    assert sorted(first.order[2:].tolist()) == sorted(set(range(30)) - {1, 3})
    assert first.order.tolist() == again.order.tolist()
    assert first.order[2:].tolist() != other.order[2:].tolist()
    assert first.order[2:].tolist() != sorted(first.order[2:].tolist())  # not by id
    assert first.per_class["b"].tolist() == [3]


def test_bottom_k_never_depends_on_neuron_ids():
    """Bottom-k inside the tie is a random choice among the tied neurons: over tie orders every
    tied neuron is as likely to be in it, the last ids (the last layer) no more than the first."""
    weights = np.zeros((3, 100))
    weights[:, :4] = np.eye(3, 4) + 0.1  # neurons 0-3 carry weight, 4-99 tie at zero
    counts = np.zeros(100)
    for seed in range(300):
        ranking = lca_ranking(weights, list("abc"), tie_seed=seed)
        for chosen in ranking.bottom_sets(10, 2, seed):
            counts[chosen] += 1
    assert counts[:4].sum() == 0  # a weighted neuron is never bottom while the tie is larger
    expected = 300 * 2 * 10 / 96
    assert counts[4:].min() > 0.6 * expected and counts[4:].max() < 1.5 * expected
    assert abs(counts[-10:].mean() - counts[4:14].mean()) < 0.3 * expected


def test_bottom_and_top_sets_at_the_edges_of_the_tie():
    weights = np.zeros((1, 10))
    weights[0, [2, 5, 7]] = [3.0, 2.0, 1.0]
    ranking = lca_ranking(weights, ["x"], tie_seed=0)
    # more than the tie: the whole tie and the lowest-ranked weighted neuron, one set
    (bottom,) = ranking.bottom_sets(8, 5, 0)
    assert set(bottom.tolist()) == set(range(10)) - {2, 5}
    inside = ranking.bottom_sets(3, 5, 0)
    assert len(inside) == 5 and all(set(b.tolist()) <= set(range(10)) - {2, 5, 7} for b in inside)
    assert ranking.top_sets(2, 5, 0)[0].tolist() == [2, 5] and len(ranking.top_sets(3, 5, 0)) == 1
    beyond = ranking.top_sets(5, 4, 0)
    assert len(beyond) == 4 and all(b[:3].tolist() == [2, 5, 7] for b in beyond)
    assert len({tuple(sorted(b.tolist())) for b in beyond}) > 1  # the tie drawn anew each time


def test_rankings_without_ties_have_one_set_each():
    ranking = random_ranking(20, seed=3)
    assert ranking.ranked == 20
    assert ranking.bottom_sets(4, 5, 0)[0].tolist() == ranking.order[-4:].tolist()
    assert len(ranking.top_sets(4, 5, 0)) == 1


def test_neurox_mode_matches_neurox_1_0_9():
    neurox = pytest.importorskip("neurox.interpretation.linear_probe")
    import torch

    rng = np.random.default_rng(1)
    weights = (rng.normal(size=(6, 80)) * (rng.random((6, 80)) < 0.3)).astype(np.float32)

    class Probe(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(80, 6)
            self.linear.weight.data = torch.from_numpy(weights)

    class_to_idx = {c: i for i, c in enumerate("abcdef")}
    order, cutoffs = neurox.get_neuron_ordering(Probe(), class_to_idx, search_stride=50)
    ours = lca_ranking(weights, list("abcdef"), stride=50, neurox_order=True)
    starts = [0, *cutoffs[:-1]]
    for a, b in zip(starts, cutoffs, strict=True):  # the same set of neurons enters at every step
        assert set(ours.order[a:b].tolist()) == set(order[a:b])
    assert ours.cutoffs == cutoffs
    assert ours.order[: len(order)].tolist() == [int(n) for n in order]


def test_probeless_scores_equal_the_pairwise_sum():
    rng = np.random.default_rng(2)
    means = rng.normal(size=(5, 7))
    brute = sum(np.abs(means[a] - means[b]) for a, b in itertools.combinations(range(5), 2))
    np.testing.assert_allclose(probeless_scores(means), brute)
    ranking = probeless_ranking(means, list("abcde"))
    assert ranking.order[0] == int(np.argmax(brute))


def test_random_ranking_is_a_seeded_permutation():
    a, b = random_ranking(50, 3), random_ranking(50, 3)
    assert a.order.tolist() == b.order.tolist() and sorted(a.order.tolist()) == list(range(50))
    assert a.order.tolist() != random_ranking(50, 4).order.tolist()


def test_frequency_weighting_orders_by_the_prior_weighted_mass_share():
    rng = np.random.default_rng(3)
    weights = rng.normal(size=(4, 30)) * (rng.random((4, 30)) < 0.5)
    weights[:, 7] = 0.0
    prior = np.array([0.7, 0.2, 0.05, 0.05])
    ranking = lca_ranking(weights, list("abcd"), class_weights=prior * 10)
    mass = np.abs(weights)
    score = prior @ (mass / mass.sum(1, keepdims=True))
    weighted = np.flatnonzero(score > 0)
    expected = weighted[np.lexsort((weighted, -score[weighted]))]
    assert ranking.order[: len(expected)].tolist() == expected.tolist()
    assert 7 in ranking.order[len(expected) :]
    assert ranking.weighting == "frequency"
    assert ranking.to_dict()["weighting"] == "frequency"
    np.testing.assert_allclose(ranking.scores, score)


def test_frequency_weighting_puts_the_frequent_class_first_where_uniform_does_not():
    # Neurons 0-1 carry the frequent class; each of 20 rare classes has its own strong neuron.
    weights = np.zeros((21, 40))
    weights[0, :2] = [1.0, 0.9]
    weights[0, 2:] = 0.05
    for c in range(1, 21):
        weights[c, 1 + c] = 1.0
    prior = np.r_[0.9, np.full(20, 0.005)]
    classes = [f"c{i}" for i in range(21)]
    uniform = lca_ranking(weights, classes)
    frequency = lca_ranking(weights, classes, class_weights=prior)
    assert set(frequency.order[:2].tolist()) == {0, 1}
    assert set(uniform.order[:2].tolist()) != {0, 1}


@pytest.mark.parametrize(
    ("class_weights", "neurox", "message"),
    [
        (np.ones(3), False, "non-negative"),
        (np.array([1.0, -1.0]), False, "non-negative"),
        (np.zeros(2), False, "not all zero"),
        (np.ones(2), True, "NeuroX"),
    ],
)
def test_bad_class_weights(class_weights, neurox, message):
    with pytest.raises(ConfigError, match=message):
        lca_ranking(np.ones((2, 3)), ["a", "b"], class_weights=class_weights, neurox_order=neurox)


def test_bad_weights():
    with pytest.raises(ConfigError, match="do not match"):
        lca_ranking(np.zeros((3, 4)), ["a", "b"])


def test_neurox_order_counts_only_weighted_neurons_as_ranked():
    """NeuroX's rounding can put zero-weight neurons into its last step; they are not ranked."""
    rng = np.random.default_rng(3)
    weights = np.zeros((5, 300), dtype=np.float32)
    weights[:, :100] = rng.normal(size=(5, 100))
    ours = lca_ranking(weights, list("abcde"), neurox_order=True)
    lca = lca_ranking(weights, list("abcde"))
    assert lca.ranked == 100
    assert 0 < ours.ranked <= 100 and len(ours.order) == 300  # the order itself stays NeuroX's
    assert (np.abs(weights[:, ours.order[: ours.ranked]]).max(0) > 0).all()
    tied = ours.order[ours.ranked :]
    assert set(range(100, 300)) <= set(tied.tolist())
    assert set(np.concatenate(ours.bottom_sets(20, 3, 0)).tolist()) <= set(tied.tolist())
