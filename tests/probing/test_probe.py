"""The elastic-net probe solves its objective: sklearn agreement, exact zeros, KKT, errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from synthetic import INFORMATIVE, make_arrays

from neuronviz.errors import ConfigError
from neuronviz.probing.design import DenseDesign, StreamedDesign
from neuronviz.probing.objective import loss_and_residual, mean_loss, objective_value
from neuronviz.probing.probe import ElasticNetProbe, fit_sparse, fit_working_set
from neuronviz.probing.solvers import fit_elastic_net, fit_owlqn, fit_ridge


def sklearn_objective(x, y, lambda1, lambda2):
    """Converged scikit-learn elastic net with C and l1_ratio derived from lambda1 and lambda2."""
    from sklearn.linear_model import LogisticRegression

    n = len(y)
    l1_ratio = lambda1 / (lambda1 + 2 * lambda2)
    clf = LogisticRegression(
        C=1.0 / (n * (lambda1 + 2 * lambda2)),
        l1_ratio=l1_ratio,
        solver="saga",
        tol=1e-10,
        max_iter=30_000,
    )
    clf.fit(x, y)
    return clf.coef_.T, clf.intercept_


@pytest.mark.slow  # converges to tight tolerances on a few thousand words
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ["owlqn", "fista"])
@pytest.mark.parametrize(("lambda1", "lambda2"), [(0.01, 0.01), (0.02, 0.001), (0.001, 0.02)])
def test_objective_matches_converged_sklearn(lambda1, lambda2, solver):
    x, y, _ = make_arrays(300, seed=3, n_neurons=8, noise=1.0, informative=(0, 1, 2, 3))
    x[:, 0] += 0.5 * x[:, 1]  # some correlation
    design = DenseDesign.from_array(x)
    xs = design.data.numpy()
    ours = fit_sparse(
        design, torch.as_tensor(y), 4, lambda1, lambda2, solver=solver, max_iter=5000, kkt_tol=5e-5
    )
    w, b = sklearn_objective(xs, y, lambda1, lambda2)
    theirs = objective_value(
        design,
        torch.as_tensor(y),
        torch.as_tensor(w, dtype=torch.float32),
        torch.as_tensor(b, dtype=torch.float32),
        lambda1,
        lambda2,
    )
    assert abs(ours.objective - theirs) < 1e-3
    assert ours.objective <= theirs + 1e-5
    assert ours.converged and ours.kkt_max <= 5e-5  # float32 products bound the tail


@pytest.mark.parametrize("solver", ["owlqn", "fista"])
def test_zeros_fall_on_noise_neurons(solver):
    x, y, _ = make_arrays(1500, seed=0)
    result = fit_sparse(
        DenseDesign.from_array(x), torch.as_tensor(y), 4, 0.02, 0.001, solver=solver
    )
    used = np.flatnonzero((result.weights != 0).any(1).numpy())
    assert set(INFORMATIVE) <= set(used)
    assert len(used) <= 12
    assert result.zero_fraction > 0.8


@pytest.mark.slow  # converges to tight tolerances on a few thousand words
def test_adam_leaves_almost_no_exact_zeros():
    x, y, _ = make_arrays(400, seed=0)
    probe = ElasticNetProbe(0.01, 0.001, solver="adam", device="cpu").fit(x, y)
    assert (probe.coef_ == 0).mean() < 0.05
    assert probe.result_.solver == "adam"


def test_sklearn_like_surface_with_string_labels():
    x, y, _ = make_arrays(800, seed=0)
    names = np.array(["NN", "VB", "JJ", "DT"])[y]
    probe = ElasticNetProbe(1e-3, 1e-3, device="cpu").fit(x, names)
    assert set(probe.classes_) == {"NN", "VB", "JJ", "DT"}
    xt, yt, _ = make_arrays(400, seed=5)
    assert probe.score(xt, np.array(["NN", "VB", "JJ", "DT"])[yt]) > 0.95
    assert probe.predict_proba(xt).shape == (400, 4)
    assert probe.coef_.shape == (4, 48) and probe.objective_ > 0
    assert probe.converged_ and probe.kkt_max_ <= probe.kkt_tol


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lambda1": -1.0}, "lambda1"),
        ({"lambda2": float("nan")}, "lambda2"),
        ({"solver": "sgd"}, "unknown solver"),
    ],
)
def test_bad_settings(kwargs, message):
    x, y, _ = make_arrays(50, seed=0)
    with pytest.raises(ConfigError, match=message):
        ElasticNetProbe(**kwargs).fit(x, y)


def test_one_class_and_mismatched_rows():
    x, _, _ = make_arrays(50, seed=0)
    with pytest.raises(ConfigError, match="at least 2 classes"):
        ElasticNetProbe().fit(x, np.zeros(50))
    with pytest.raises(ConfigError, match="rows"):
        ElasticNetProbe().fit(x, np.zeros(49))


def test_fista_is_deterministic():
    x, y, _ = make_arrays(300, seed=0)
    d = DenseDesign.from_array(x)
    a = fit_elastic_net(d, torch.as_tensor(y), 4, 1e-3, 1e-3, max_iter=50)
    b = fit_elastic_net(d, torch.as_tensor(y), 4, 1e-3, 1e-3, max_iter=50)
    assert torch.equal(a.weights, b.weights)


def test_ridge_retraining_converges():
    x, y, _ = make_arrays(600, seed=0)
    fit = fit_ridge(
        DenseDesign.from_array(x).subset(list(INFORMATIVE)),
        torch.as_tensor(y),
        4,
        1e-3,
        max_iter=200,
    )
    assert fit.kkt_max < 1e-3 and fit.solver == "lbfgs"


def test_streamed_design_equals_dense(tiny_bert, data_dir, cache_dir):
    from neuronviz.extraction.fill_cache import extract_task

    entry = extract_task(str(tiny_bert), "pos", data_dir=data_dir, cache=cache_dir).entries["train"]
    x = entry.matrix()
    dense = DenseDesign.from_array(x)
    streamed = StreamedDesign(entry, mean=dense.mean, scale=dense.scale, block_rows=50)
    w = torch.randn(48, 5)
    r = torch.randn(x.shape[0], 5)
    torch.testing.assert_close(streamed.forward(w), dense.forward(w), atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(streamed.backward(r), dense.backward(r), atol=1e-2, rtol=1e-3)
    part = StreamedDesign(
        entry, mean=dense.mean, scale=dense.scale, rows=slice(7, 130), block_rows=50
    )
    torch.testing.assert_close(part.forward(w), dense.data[7:130] @ w, atol=1e-3, rtol=1e-3)
    wide = np.arange(2, 48, 2)  # half the columns: streamed with masked weights, or read in
    for limit in (0, 1 << 30):
        sub = StreamedDesign(
            entry, mean=dense.mean, scale=dense.scale, block_rows=50, dense_bytes=limit
        ).subset(wide)
        assert type(sub).__name__ == ("StreamedDesign" if limit == 0 else "DenseDesign")
        ref = DenseDesign(dense.data[:, torch.as_tensor(wide)], dense.mean[wide], dense.scale[wide])
        v = w[: len(wide)]
        torch.testing.assert_close(sub.forward(v), ref.forward(v), atol=1e-3, rtol=1e-3)
        torch.testing.assert_close(sub.backward(r), ref.backward(r), atol=1e-2, rtol=1e-3)
    cols = [3, 20, 40]
    torch.testing.assert_close(
        streamed.subset(cols).forward(w[:3]),
        dense.subset(cols).forward(w[:3]),
        atol=1e-3,
        rtol=1e-3,
    )


def test_masked_subset_equals_copied_subset():
    x, _, _ = make_arrays(200, seed=0)
    dense = DenseDesign.from_array(x)
    cols = np.arange(0, 48, 2)[:20]  # over the copy limit: masked
    big = dense.subset(cols)
    small = DenseDesign(dense.data[:, torch.as_tensor(cols)], dense.mean[cols], dense.scale[cols])
    assert type(big).__name__ == "MaskedDesign"
    w, r = torch.randn(20, 3), torch.randn(200, 3)
    torch.testing.assert_close(big.forward(w), small.forward(w))
    torch.testing.assert_close(big.backward(r), small.backward(r))
    torch.testing.assert_close(
        big.subset([1, 2]).forward(w[:2]), small.subset([1, 2]).forward(w[:2])
    )
    b = torch.randn(3)
    torch.testing.assert_close(small.logits(w, b), small.forward(w) + b)  # addmm
    torch.testing.assert_close(big.logits(w, b), small.forward(w) + b)  # the generic sum


def test_loss_and_residual_in_one_pass_equal_their_definitions():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(500, 7, generator=gen) * 4
    logits[0] = torch.tensor([900.0, -900.0, 0.0, 1.0, 2.0, 3.0, 4.0])  # no overflow, no NaN
    y = torch.randint(0, 7, (500,), generator=gen)
    y[0] = 1  # a word whose gold tag has probability ~e^-1800
    loss, r = loss_and_residual(logits, y)
    assert loss.dtype == torch.float64 and torch.isfinite(loss)
    expected = torch.nn.functional.cross_entropy(logits.double(), y)
    assert abs(float(loss) - float(expected)) < 1e-6
    torch.testing.assert_close(float(loss), float(mean_loss(logits, y)), rtol=0, atol=1e-9)
    one_hot = torch.nn.functional.one_hot(y, 7).double()
    expected_r = (torch.softmax(logits.double(), 1) - one_hot) / len(y)
    torch.testing.assert_close(r.double(), expected_r, rtol=1e-5, atol=1e-9)


@pytest.mark.slow  # converges to tight tolerances on a few thousand words
@pytest.mark.parametrize("solver", ["owlqn", "fista"])
def test_working_set_reaches_the_full_solution(solver, caplog):
    x, y, _ = make_arrays(800, seed=3, n_neurons=600)
    design = DenseDesign.from_array(x)
    labels = torch.as_tensor(y)
    full = fit_sparse(design, labels, 4, 1e-2, 1e-3, solver=solver, max_iter=800, kkt_tol=1e-5)
    with caplog.at_level("INFO", logger="neuronviz.probing.probe"):
        ws = fit_working_set(
            design, labels, 4, 1e-2, 1e-3, solver=solver, max_iter=800, kkt_tol=1e-5, min_add=8
        )
    rounds = int(caplog.text.split("working-set")[1].split(":")[1].split()[0])
    assert rounds >= 2
    assert ws.objective == pytest.approx(full.objective, abs=1e-4)
    assert ws.converged and ws.kkt_max <= 1e-5  # measured over all 600 features
    used_full = set(torch.nonzero((full.weights != 0).any(1)).flatten().tolist())
    used_ws = set(torch.nonzero((ws.weights != 0).any(1)).flatten().tolist())
    assert set(INFORMATIVE) <= used_ws
    assert len(used_full ^ used_ws) <= 0.1 * len(used_full)


def test_streamed_designs_solve_on_a_working_set_read_into_memory(
    tiny_bert, data_dir, cache_dir, monkeypatch
):
    from neuronviz.extraction.fill_cache import extract_task

    entry = extract_task(str(tiny_bert), "pos", data_dir=data_dir, cache=cache_dir).entries["train"]
    ids, _ = entry.labels("pos")
    dense = DenseDesign.from_array(entry.matrix())
    streamed = StreamedDesign(entry, mean=dense.mean, scale=dense.scale, block_rows=64)
    assert isinstance(streamed.subset([1, 2, 3]), DenseDesign)
    assert isinstance(
        StreamedDesign(entry, mean=dense.mean, scale=dense.scale, dense_bytes=0).subset([1, 2]),
        StreamedDesign,
    )
    labels = torch.as_tensor(ids.astype(np.int64))
    n_classes = int(labels.max()) + 1
    full = fit_sparse(dense, labels, n_classes, 1e-2, 1e-3, max_iter=400, kkt_tol=1e-5)
    assert fit_sparse(streamed, labels, n_classes, 1e-2, 1e-3, max_iter=400).solver == "owlqn"
    ws = fit_working_set(
        streamed, labels, n_classes, 1e-2, 1e-3, max_iter=400, kkt_tol=1e-5, min_add=4
    )
    assert ws.objective == pytest.approx(full.objective, abs=1e-3)


def test_wide_in_memory_designs_are_solved_on_a_working_set(caplog):
    from neuronviz.probing.probe import WORKING_SET_FROM

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    x = rng.normal(size=(300, WORKING_SET_FROM)).astype(np.float32)
    x[:, 7] += 3.0 * (y == 1)
    design = DenseDesign.from_array(x)
    with caplog.at_level("INFO", logger="neuronviz.probing.probe"):
        fit = fit_sparse(design, torch.as_tensor(y), 3, 5e-2, 1e-3, max_iter=200)
    assert "working-set owlqn" in caplog.text
    assert (fit.weights[7] != 0).any() and fit.zero_fraction > 0.99


@pytest.mark.slow  # converges to tight tolerances on a few thousand words
@pytest.mark.parametrize("solver", ["owlqn", "fista"])
def test_trace_records_a_falling_objective_that_a_shorter_fit_reproduces(solver):
    x, y, _ = make_arrays(600, seed=4)
    design, labels = DenseDesign.from_array(x), torch.as_tensor(y)
    trace: list[tuple[float, int, float]] = []
    full = fit_sparse(
        design, labels, 4, 0.01, 0.001, solver=solver, max_iter=60, kkt_tol=1e-12, trace=trace
    )
    times, iterations, objectives = (list(column) for column in zip(*trace, strict=True))
    assert len(trace) >= 5
    assert objectives[-1] == pytest.approx(full.objective)
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(objectives))
    assert times == sorted(times)
    assert iterations == sorted(iterations)
    # the same iterates again: a fit cut at a traced iteration ends at that objective
    _, k, objective = trace[len(trace) // 2]
    short = fit_sparse(design, labels, 4, 0.01, 0.001, solver=solver, max_iter=k, kkt_tol=1e-12)
    assert short.objective == pytest.approx(objective, rel=1e-6)


def test_owlqn_callback_sees_every_step_taken():
    x, y, _ = make_arrays(400, seed=5)
    design, labels = DenseDesign.from_array(x), torch.as_tensor(y)
    trace: list[tuple[float, int, float]] = []
    seen: list[tuple[int, float]] = []

    def callback(iteration, weights, bias):
        seen.append((iteration, objective_value(design, labels, weights, bias, 0.01, 0.001)))

    fit_sparse(design, labels, 4, 0.01, 0.001, max_iter=30, trace=trace)
    fit_owlqn(design, labels, 4, 0.01, 0.001, max_iter=30, callback=callback)
    assert [it for it, _ in seen] == [it for _, it, _ in trace]
    assert [obj for _, obj in seen] == pytest.approx([obj for _, _, obj in trace], rel=1e-5)


def _correlated_problem():
    """Neurons that are noisy mixtures of 20 factors: the objective flattens long before the
    optimality conditions hold (a stopping rule on the objective reported KKT 7e-4 here)."""
    rng = np.random.default_rng(0)
    base = rng.normal(size=(3000, 20))
    x = base @ rng.normal(size=(20, 200)) + 0.05 * rng.normal(size=(3000, 200))
    return DenseDesign.from_array(x.astype(np.float32)), torch.as_tensor(base[:, :4].argmax(1))


@pytest.mark.slow  # converges to tight tolerances on a few thousand words
@pytest.mark.parametrize("lambda1", [1e-3, 1e-4])
def test_a_flat_objective_does_not_stop_the_fit_before_the_kkt_tolerance(lambda1):
    design, y = _correlated_problem()
    fit = fit_sparse(design, y, 4, lambda1, lambda1, max_iter=1000)
    assert fit.converged and fit.kkt_max <= 1e-4 == fit.kkt_tol


@pytest.mark.parametrize("solver", ["owlqn", "fista"])
def test_a_fit_that_runs_out_of_budget_is_not_converged(solver):
    design, y = _correlated_problem()
    fit = fit_sparse(design, y, 4, 1e-4, 1e-4, solver=solver, max_iter=15)
    assert not fit.converged and fit.kkt_max > fit.kkt_tol
    assert fit.record()["converged"] is False and fit.record()["kkt_max"] == fit.kkt_max


def test_retrained_probes_report_their_gradient_and_convergence():
    design, y = _correlated_problem()
    done = fit_ridge(design.subset(list(range(10))), y, 4, 1e-3, max_iter=200, tol_grad=1e-3)
    assert done.converged and done.kkt_max <= 1e-3 == done.kkt_tol
    cut = fit_ridge(design.subset(list(range(10))), y, 4, 1e-3, max_iter=2, tol_grad=1e-6)
    assert not cut.converged and cut.kkt_max > 1e-6
