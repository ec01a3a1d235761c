"""A killed analysis continues from its checkpoint and ends with the uninterrupted result."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from apptools import FAST

import neuronviz.analyses.oracle as oracle_module
import neuronviz.analyses.run as analysis_module
from neuronviz.analyses.lambdas import LambdaSearch
from neuronviz.analyses.run import run_analysis
from neuronviz.probing.objective import FitResult
from neuronviz.probing.retrain import Retrained, columns_digest
from neuronviz.settings import resolve_cache_dir
from neuronviz.stats.uncertainty import pack
from neuronviz.store.checkpoints import Checkpoint
from neuronviz.store.result_parts import GridPoint


def _fit(seed: int) -> FitResult:
    gen = torch.Generator().manual_seed(seed)
    return FitResult(
        torch.randn(5, 3, generator=gen), torch.randn(3, generator=gen), 0.5, 1e-4, 7, True, "owlqn"
    )


def test_fits_and_retrained_probes_round_trip(tmp_path):
    point = Checkpoint(tmp_path / "x.partial", "key-a")
    assert point.load_fit("oracle") is None and point.retrained() == {}
    fit = _fit(0)
    point.save_fit("oracle", fit)
    back = point.load_fit("oracle")
    assert torch.equal(back.weights, fit.weights) and torch.equal(back.bias, fit.bias)
    assert (back.objective, back.n_iter, back.converged, back.solver) == (0.5, 7, True, "owlqn")
    cols = np.array([4, 1, 9])
    bits = pack(np.array([1, 0, 1, 1, 0, 0, 0, 1, 1], dtype=bool))
    point.record_retrained(False, cols, Retrained(3, 0.8, 0.75, bits, bits[:1], 2e-4, True))
    point.record_retrained(True, cols, Retrained(3, 0.3, 0.25, grad_max=1e-3))
    with (point.folder / "retrained.jsonl").open("a") as fh:
        fh.write('{"key": "key-a", "control": fal')  # a line cut short by the kill
    back = point.retrained()
    assert back == {
        (False, columns_digest(cols)): Retrained(3, 0.8, 0.75, grad_max=2e-4, converged=True),
        (True, columns_digest(np.array([1, 4, 9]))): Retrained(3, 0.3, 0.25, grad_max=1e-3),
    }
    task = back[(False, columns_digest(cols))]
    assert task.dev_bits.tolist() == bits.tolist() and task.test_bits.tolist() == bits[:1].tolist()
    assert task.correct("dev", 9).tolist() == [1, 0, 1, 1, 0, 0, 0, 1, 1]
    other = Checkpoint(point.folder, "key-b")  # another analysis' key: nothing of it is used
    assert other.load_fit("oracle") is None and other.retrained() == {}
    (point.folder / "oracle.npz").write_bytes(b"cut")
    assert point.load_fit("oracle") is None  # a damaged file is recomputed, not trusted
    point.remove()
    assert not point.exists()


def test_the_search_keeps_each_grid_pair_with_its_own_ordering(tmp_path):
    """The grid's orderings come back under their own pairs, in the search's order (not sorted)."""
    pairs = ["0.001,0.001", "0.0001,0.0001", "1e-05,1e-05", "0,0"]  # the grid's order, unsorted
    orders = {name: np.roll(np.arange(6), i) for i, name in enumerate(pairs)}
    point = GridPoint(1e-3, 1e-3, 0.9, 0.5, 5e-5, 0.8, 10, converged=True)
    search = LambdaSearch([point], "separation", 1.5, (1e-3, 1e-3), 100, "uniform", orders)
    saved = Checkpoint(tmp_path / "x.partial", "key-a")
    saved.save_search(search, _fit(1))
    back, fit = saved.load_search()
    assert list(back.pair_orders) == pairs
    assert all(np.array_equal(back.pair_orders[n], orders[n]) for n in pairs)
    assert back.points == [point] and torch.equal(fit.weights, _fit(1).weights)


def test_altered_checkpoint_pieces_are_recomputed_not_trusted(tmp_path, caplog):
    """A fit rewritten as a valid file with other weights, and a retrained probe's line edited
    into valid JSON with another accuracy, both fail their recorded checksums."""
    point = Checkpoint(tmp_path / "x.partial", "key-a")
    point.save_fit("oracle", _fit(0))
    np.savez(point.folder / "oracle.npz", weights=np.zeros((5, 3)), bias=np.zeros(3))
    assert point.load_fit("oracle") is None
    cols = np.array([1, 2])
    point.record_retrained(False, cols, Retrained(2, 0.8, 0.75, grad_max=2e-4, converged=True))
    journal = point.folder / "retrained.jsonl"
    journal.write_text(journal.read_text().replace('"test": 0.75', '"test": 0.99'))
    assert point.retrained() == {}
    assert "does not match its checksum" in caplog.text and "was altered" in caplog.text


class Killed(RuntimeError):
    pass


def test_a_killed_probe_continues_where_it_stopped(tiny_bert, data_dir, monkeypatch):
    run = {"settings": FAST, "data_dir": data_dir}
    reference = run_analysis(str(tiny_bert), "pos", cache=resolve_cache_dir().parent / "ref", **run)

    def killed(*_args, **_kwargs):
        raise Killed("the session ended")

    with monkeypatch.context() as patched, pytest.raises(Killed):
        patched.setattr(analysis_module, "layer_probes", killed)  # dies after curves and control
        run_analysis(str(tiny_bert), "pos", **run)
    partial = list((resolve_cache_dir() / "results").glob("*/*.partial"))
    assert len(partial) == 1
    files = {p.name for p in partial[0].iterdir()}
    assert {"search.json", "oracle.json", "control.json", "retrained.jsonl"} <= files
    recorded = len((partial[0] / "retrained.jsonl").read_text().splitlines())
    assert recorded > 10

    calls = {"search": 0, "fits": 0}

    def no_search(*_args, **_kwargs):
        calls["search"] += 1
        raise AssertionError("the lambda search was checkpointed")

    real_fit = analysis_module.fit_sparse

    def counted_fit(*args, **kwargs):
        calls["fits"] += 1
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(oracle_module, "search_lambdas", no_search)
    monkeypatch.setattr(analysis_module, "fit_sparse", counted_fit)  # the oracle
    monkeypatch.setattr(oracle_module, "fit_sparse", counted_fit)  # the control task
    resumed = run_analysis(str(tiny_bert), "pos", **run)
    assert calls == {"search": 0, "fits": 0}  # neither the oracle nor the control fit again
    assert not partial[0].exists()  # the checkpoint goes once the result is saved
    _assert_same_numbers(resumed, reference)


def _assert_same_numbers(a, b) -> None:
    sa, sb = a.summary(), b.summary()
    for name in ("timings", "created"):
        sa.pop(name, None)
        sb.pop(name, None)
    assert sa == sb
    assert a.arrays.keys() == b.arrays.keys()
    for name, value in a.arrays.items():
        np.testing.assert_array_equal(value, b.arrays[name], err_msg=name)
