"""The peer bench's report logic (bench/peers.py): equal-objective points and targets."""

from __future__ import annotations

from bench.peers import equal_objective_points, targets

TRACE = [[0.5, 1, 0.9], [1.0, 2, 0.6], [1.5, 4, 0.52], [3.0, 9, 0.46], [4.0, 12, 0.455]]


def test_equal_objective_points_are_the_first_iterations_at_or_below_each_peer():
    peers = {"neurox": {"objective": 0.531}, "sklearn": {"objective": 0.458}, "none": None}
    assert equal_objective_points(TRACE, peers) == {"neurox": 4, "sklearn": 12}
    assert equal_objective_points(TRACE, {"neurox": {"objective": 0.1}}) == {}


def _probe_report(nv_train: float, at_train: float) -> dict:
    peer = {"load_s": 30.0, "train_s": 40.0, "test_accuracy": 0.940, "peak_rss_mib": 2600.0}
    return {
        "probe": {
            "neuronviz": {
                "load_s": 0.4,
                "train_s": nv_train,
                "test_accuracy": 0.945,
                "peak_rss_mib": 1000.0,
            },
            "neurox": {**peer, "objective": 0.53},
            "sklearn": {**peer, "train_s": 3000.0, "iterations": 100, "converged": False},
            "neuronviz_at": {
                "neurox_accuracy": {"train_s": at_train, "test_accuracy": 0.941, "iterations": 9}
            },
        }
    }


def test_targets_judge_both_the_converged_fit_and_the_fit_at_the_peers_objective():
    found = {t["target"]: t for t in targets(_probe_report(nv_train=30.0, at_train=5.0))}
    assert not found["probe training >= 3x faster than NeuroX (neuronviz to convergence)"]["met"]
    at_peer = found["probe training >= 3x faster than NeuroX (neuronviz to NeuroX's test accuracy)"]
    assert at_peer["met"]
    assert at_peer["measured"].startswith("8.0x")
    assert found["probe peak memory <= half of NeuroX's"]["met"]
    assert found["test accuracy within 0.5 points of the best peer or better"]["met"]
