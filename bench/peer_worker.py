"""One measured step of ``bench/peers.py``, run in a child process of its own.

Usage: ``python bench/peer_worker.py TASK SPEC.json RESULT.json``

Each task reads its inputs from the JSON spec (paths into the bench's work folder, settings),
writes arrays as ``.npy`` files beside them and its figures as JSON to ``RESULT.json``. Peak
memory is the process's own high-water mark (``VmHWM``; not ``ru_maxrss``, which on Linux keeps
the parent's peak when the child was started with vfork).

The ``neuronviz-*`` tasks run in the project's environment; ``neurox-*``, ``sklearn-probe``,
``compare-activations`` and ``versions`` run in the peers' environment (``bench/.peers``) and
import nothing from neuronviz. NeuroX 1.0.9 uses ``np.int``, which numpy 1.24 removed:
:func:`import_neurox` restores that alias before importing NeuroX (nothing in site-packages is
edited).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import statistics
import sys
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TOP_PERCENT = 10
ULP_FROM = 2.0**-6  # float16 ULPs are counted for values at least this large
NEUROX_UNSEEN_TAG = "NN"  # create_tensors maps labels unseen in training to this (majority) tag


# ----------------------------------------------------------------------------- helpers


def peak_rss_mib() -> float:
    """This process's peak resident memory in MiB (``VmHWM``; ``ru_maxrss`` where unavailable)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def gpu_peak_mib() -> float | None:
    import torch

    if not torch.cuda.is_available():
        return None
    return torch.cuda.max_memory_allocated() / 2**20


def sync() -> None:
    """Wait for queued GPU work, so wall-clock times cover it."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def read_parallel(words: str, labels: str) -> tuple[list[list[str]], list[list[str]]]:
    """Sentences and labels from NeuroX-format files (as NeuroX's ``load_data`` splits them)."""
    with open(words, encoding="utf-8") as f:
        tokens = [line.strip().split() for line in f]
    with open(labels, encoding="utf-8") as f:
        tags = [line.strip().split() for line in f]
    return tokens, tags


def import_neurox():
    """Import NeuroX 1.0.9 under current numpy: restore the ``np.int`` alias it uses."""
    if "int" not in np.__dict__:
        np.int = int  # type: ignore[attr-defined]
    import neurox.data.extraction.transformers_extractor as extractor
    import neurox.data.loader as loader
    import neurox.interpretation.ablation as ablation
    import neurox.interpretation.linear_probe as linear_probe
    import neurox.interpretation.utils as utils

    return extractor, loader, linear_probe, utils, ablation


def objective(x, y, weights, bias, lambda1: float, lambda2: float, block: int = 8192) -> dict:
    """neuronviz's objective ``mean CE + l1 sum|W| + l2 sum W^2`` and NeuroX's loss (its L2 term
    is the norm ``sqrt(sum W^2)``) at ``(weights (features, classes), bias)``; rows whose label
    is unseen (-1) are left out."""
    import torch

    w = torch.as_tensor(weights, dtype=torch.float32)
    b = torch.as_tensor(bias, dtype=torch.float32)
    total, count = 0.0, 0
    for start in range(0, x.shape[0], block):
        xb = torch.as_tensor(np.asarray(x[start : start + block], dtype=np.float32))
        yb = torch.as_tensor(np.asarray(y[start : start + block], dtype=np.int64))
        keep = yb >= 0
        logits = xb[keep] @ w + b
        total += float(
            (torch.logsumexp(logits, 1) - logits.gather(1, yb[keep][:, None])[:, 0]).sum()
        )
        count += int(keep.sum())
    ce = total / max(count, 1)
    l1, sq = float(w.abs().sum()), float((w * w).sum())
    return {
        "mean_cross_entropy": ce,
        "objective": ce + lambda1 * l1 + lambda2 * sq,
        "neurox_loss": ce + lambda1 * l1 + lambda2 * sq**0.5,
        "zero_weight_fraction": float((w == 0).float().mean()),
    }


def standardise(x: np.ndarray, mean: np.ndarray, scale: np.ndarray, block: int = 8192) -> None:
    """``x = (x - mean) / scale`` in place, in row blocks (no full-size temporary)."""
    m, s = mean.astype(np.float32), scale.astype(np.float32)
    for start in range(0, x.shape[0], block):
        part = x[start : start + block]
        part -= m
        part /= s


def column_stats(x: np.ndarray, min_scale: float, block: int = 8192) -> tuple[np.ndarray, ...]:
    """Per-column mean and population standard deviation (floored), accumulated in float64."""
    total = np.zeros(x.shape[1])
    total_sq = np.zeros(x.shape[1])
    for start in range(0, x.shape[0], block):
        part = x[start : start + block].astype(np.float64)
        total += part.sum(0)
        total_sq += np.square(part).sum(0)
    mean = total / x.shape[0]
    scale = np.sqrt(np.maximum(total_sq / x.shape[0] - mean**2, 0.0))
    return mean, np.maximum(scale, min_scale)


def timed(fn: Callable, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    sync()
    return out, time.perf_counter() - start


# ----------------------------------------------------------------------------- neuronviz


def _neuronviz_task(spec: dict):
    sys.path.insert(0, str(ROOT))
    from neuronviz.corpora.readers import read_parallel as nv_read_parallel
    from neuronviz.corpora.tasks import TaskData, TaskSplit
    from neuronviz.progress import set_bars_enabled

    set_bars_enabled(False)
    splits = {}
    for name, files in spec["splits"].items():
        corpus = nv_read_parallel(files["words"], files["labels"])
        splits[name] = TaskSplit(
            "pos", name, "conll2000-peers", corpus.source, corpus.tokens, corpus.columns["label"]
        )
    return TaskData("pos", "conll2000-peers", "pos", splits)


def neuronviz_extract(spec: dict) -> dict:
    """Extraction of train + test into a fresh cache (model load not timed), and the raw forward
    pass of the same model over the same batches (the ceiling)."""
    data = _neuronviz_task(spec)
    from bench.extract import raw_forward
    from neuronviz.extraction.extract import ExtractionSettings, plan_batches, tokenize_words
    from neuronviz.extraction.fill_cache import extract_task
    from neuronviz.models.loading import load_model

    model, load_s = timed(load_model, spec["model"], device=spec["device"], dtype=spec["dtype"])
    settings = ExtractionSettings()
    timed_splits = ("train", "test")
    plans = []
    for name in timed_splits:
        tok = tokenize_words(model.tokenizer, data[name].tokens, settings.window(model))
        plans.append((tok, plan_batches(tok.lengths, settings.tokens_per_batch(model))))
    raw_forward(model, plans[-1][0], plans[-1][1][:3], True)  # warm-up
    ours, raw, peak = [], [], None
    cache = None
    for run in range(spec["repeat"]):
        cache = Path(spec["work"]) / f"nv-cache-{run}"
        shutil.rmtree(cache, ignore_errors=True)  # a fresh cache: every entry is extracted
        _, seconds = timed(
            extract_task, model, data, splits=timed_splits, settings=settings, cache=cache
        )
        ours.append(seconds)
        if peak is None:
            peak = peak_rss_mib()
        raw.append(sum(raw_forward(model, tok, batches, True) for tok, batches in plans))
        if run + 1 < spec["repeat"]:
            shutil.rmtree(cache)
    if cache is None:
        raise ValueError(f"repeat must be at least 1, got {spec['repeat']}")
    extract_task(model, data, splits=("dev",), settings=settings, cache=cache)  # untimed
    words = sum(data[s].n_words for s in timed_splits)
    return {
        "cache": str(cache),
        "device": str(model.device),
        "dtype": str(model.dtype).replace("torch.", ""),
        "sentences": sum(data[s].n_sentences for s in timed_splits),
        "words": words,
        "subword_tokens": int(sum(int(tok.lengths.sum()) for tok, _ in plans)),
        "batches": sum(len(b) for _, b in plans),
        "batch_tokens": settings.tokens_per_batch(model),
        "model_load_s": load_s,
        "extract_s": statistics.median(ours),
        "raw_forward_s": statistics.median(raw),
        "all_runs_s": {"neuronviz": ours, "raw_forward": raw},
        "words_per_s": words / statistics.median(ours),
        "raw_forward_words_per_s": words / statistics.median(raw),
        "peak_rss_mib": peak,
        "gpu_peak_mib": gpu_peak_mib(),
    }


def _entries(cache: str) -> dict:
    sys.path.insert(0, str(ROOT))
    from neuronviz.store.activation_cache import ActivationCache

    return {e.manifest.key.split: e for e in ActivationCache(cache).entries()}


def _fit(data, l1: float, l2: float, callback=None, **kwargs):
    """neuronviz's elastic-net probe on the bench's features (OWL-QN, as the analysis runs it;
    with a ``callback``, the same solver called directly, which ``fit_sparse`` runs on these
    in-memory features of fewer than ``WORKING_SET_FROM`` neurons)."""
    from neuronviz.probing.probe import fit_sparse
    from neuronviz.probing.solvers import fit_owlqn

    if callback is not None:
        return fit_owlqn(
            data.train, data.y_train, data.n_classes, l1, l2, callback=callback, **kwargs
        )
    return fit_sparse(data.train, data.y_train, data.n_classes, l1, l2, solver="owlqn", **kwargs)


def neuronviz_probe(spec: dict) -> dict:
    """Load the cached activations, fit the elastic net, test; then rank and retrain the top 10%."""
    sys.path.insert(0, str(ROOT))
    from neuronviz.analyses.oracle import rank
    from neuronviz.models.device import resolve_device
    from neuronviz.probing.features import load_probe_data
    from neuronviz.probing.retrain import Retrainer, accuracy_of, percent_size
    from neuronviz.progress import set_bars_enabled

    set_bars_enabled(False)
    work = Path(spec["work"])
    l1, l2 = spec["lambda1"], spec["lambda2"]
    entries = _entries(spec["cache"])
    device = resolve_device(spec["device"])
    data, load_s = timed(load_probe_data, entries, "pos", device=device)
    rss_loaded = peak_rss_mib()
    trace: list[tuple[float, int, float]] = []
    started = time.perf_counter()
    fit, train_s = timed(_fit, data, l1, l2, max_iter=spec["max_iter"], trace=trace)
    accuracy, test_s = timed(accuracy_of, data.test, fit, None, data.test.y)
    out = {
        "train_words": data.train.n_rows,
        "test_words": len(data.test.y),
        "neurons": data.n_neurons,
        "classes": data.n_classes,
        "unseen_test_words": int((data.test.y < 0).sum()),
        "load_s": load_s,
        "train_s": train_s,
        "test_s": test_s,
        "test_accuracy": accuracy,
        "iterations": fit.n_iter,
        "objective": fit.objective,
        "kkt_max": fit.kkt_max,
        "converged": fit.converged,
        "zero_weight_fraction": fit.zero_fraction,
        "trace": [[round(t - started, 4), it, obj] for t, it, obj in trace],
        "peak_rss_after_load_mib": rss_loaded,
        "peak_rss_mib": peak_rss_mib(),
        "gpu_peak_mib": gpu_peak_mib(),
    }
    if spec["ranking"]:
        ranking, rank_s = timed(rank, data, fit, "lca", l1, 0, "uniform")
        k = percent_size(TOP_PERCENT, data.n_neurons)
        top = ranking.top(k)
        retrained, retrain_s = timed(Retrainer(data, l2, 200), top)
        np.save(work / "nv_top.npy", np.asarray(top, dtype=np.int64))
        out["ranking"] = {
            "rank_s": rank_s,
            "retrain_s": retrain_s,
            "top_k": int(k),
            "top_test_accuracy": retrained.test,
            "peak_rss_mib": peak_rss_mib(),
        }
    x = data.train.data
    out["ceiling"] = matmul_epoch(x, data.n_classes)
    # The same standardised features for scikit-learn, and the weights for the report.
    np.save(work / "features_train.npy", x.cpu().numpy())
    np.save(work / "features_test.npy", data.test.x.cpu().numpy())
    np.save(work / "y_train.npy", data.y_train.cpu().numpy().astype(np.int64))
    np.save(work / "y_test.npy", np.asarray(data.test.y, dtype=np.int64))
    np.save(work / "nv_weights.npy", fit.weights.T.cpu().numpy())
    (work / "classes.json").write_text(json.dumps(list(data.classes)))
    return out


def neuronviz_probe_at(spec: dict) -> dict:
    """The same fit cut at given iterations: time, objective and test accuracy at each.

    OWL-QN is deterministic, so a fit stopped at iteration ``k`` is the full fit's ``k``-th
    iterate; ``bench/peers.py`` picks ``k`` where that fit's objective first reached a peer's,
    and (``reach_accuracy``) this task finds where its test accuracy first reached a peer's.
    """
    sys.path.insert(0, str(ROOT))
    from neuronviz.models.device import resolve_device
    from neuronviz.probing.features import load_probe_data
    from neuronviz.probing.objective import FitResult
    from neuronviz.probing.retrain import accuracy_of
    from neuronviz.progress import set_bars_enabled

    set_bars_enabled(False)
    l1, l2 = spec["lambda1"], spec["lambda2"]
    data = load_probe_data(_entries(spec["cache"]), "pos", device=resolve_device(spec["device"]))
    stop_at = dict(spec["stop_at"])
    if spec.get("reach_accuracy"):
        # untimed: test accuracy after every iteration, to find where each peer's is reached
        path: list[tuple[int, float]] = []
        _fit(
            data,
            l1,
            l2,
            max_iter=spec["max_iter"],
            callback=lambda it, w, b: path.append(
                (
                    it,
                    accuracy_of(
                        data.test, FitResult(w, b, 0.0, 0.0, it, False, ""), None, data.test.y
                    ),
                )
            ),
        )
        for name, target in spec["reach_accuracy"].items():
            reached = [it for it, acc in path if acc >= target]
            if reached:
                stop_at[f"{name}_accuracy"] = reached[0]
    out = {}
    for name, iterations in stop_at.items():
        fit, train_s = timed(_fit, data, l1, l2, max_iter=int(iterations), kkt_tol=1e-12)
        out[name] = {
            "iterations": fit.n_iter,
            "train_s": train_s,
            "objective": fit.objective,
            "test_accuracy": accuracy_of(data.test, fit, None, data.test.y),
            "zero_weight_fraction": fit.zero_fraction,
        }
    return out


def matmul_epoch(x, n_classes: int, repeat: int = 5) -> dict:
    """Seconds of the bare products one full-batch epoch needs: ``X @ W`` and ``X.T @ G``."""
    import torch

    gen = torch.Generator().manual_seed(0)
    w = torch.randn(x.shape[1], n_classes, generator=gen).to(x.device)
    g = torch.randn(x.shape[0], n_classes, generator=gen).to(x.device)
    (x @ w).sum()
    (x.T @ g).sum()
    sync()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        x @ w
        x.T @ g
        sync()
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    flops = 4.0 * x.shape[0] * x.shape[1] * n_classes
    return {"epoch_s": seconds, "gflops": flops / seconds / 1e9, "shape": list(x.shape)}


# ----------------------------------------------------------------------------- NeuroX


def neurox_extract(spec: dict) -> dict:
    """``extract_representations`` (``last`` aggregation, hdf5) of train and test; the time of
    its model loading (inside the call) is measured and left out."""
    extractor, *_ = import_neurox()
    loads: list[float] = []
    original = extractor.get_model_and_tokenizer

    def timed_loader(*args, **kwargs):
        result, seconds = timed(original, *args, **kwargs)
        loads.append(seconds)
        return result

    extractor.get_model_and_tokenizer = timed_loader
    wanted = spec["device"]
    device = (
        (wanted if wanted.startswith("cuda") else "cuda") if wanted != "cpu" and _cuda() else "cpu"
    )
    work = Path(spec["work"])
    runs = []
    words = 0
    for run in range(spec["repeat"]):
        total, load = 0.0, 0.0
        for name in ("train", "test"):
            files = spec["splits"][name]
            target = work / f"nx-{name}.hdf5"
            with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
                _, seconds = timed(
                    extractor.extract_representations,
                    spec["model_path"],
                    files["words"],
                    str(target),
                    device=device,
                    aggregation="last",
                    output_type="hdf5",
                )
            total += seconds
            load += loads[-1]
            if run == 0:
                words += sum(len(s) for s in read_parallel(files["words"], files["labels"])[0])
        runs.append(total - load)
    seconds = statistics.median(runs)
    return {
        "device": device,
        "words": words,
        "extract_s": seconds,
        "model_load_s": loads,
        "all_runs_s": runs,
        "words_per_s": words / seconds,
        "peak_rss_mib": peak_rss_mib(),
        "gpu_peak_mib": gpu_peak_mib(),
    }


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def neurox_probe(spec: dict) -> dict:
    """NeuroX's own pipeline: its loader, ``create_tensors``, the same standardisation as
    neuronviz, ``train_logistic_regression_probe`` (defaults: Adam, 10 epochs, batch 32,
    lr 1e-3), ``evaluate_probe``; then ``get_neuron_ordering`` and a probe retrained on the top
    10% (``filter_activations_keep_neurons``, same lambdas)."""
    _, loader, linear_probe, utils, ablation = import_neurox()
    import torch

    work = Path(spec["work"])
    l1, l2 = spec["lambda1"], spec["lambda2"]
    quiet = open(os.devnull, "w")  # noqa: SIM115 (NeuroX prints a line per step)

    def load():
        with contextlib.redirect_stdout(quiet):
            out = {}
            for name in ("train", "test"):
                files = spec["splits"][name]
                acts, _ = loader.load_activations(str(work / f"nx-{name}.hdf5"))
                tokens = loader.load_data(files["words"], files["labels"], acts, max_sent_l=10**6)
                out[name] = (tokens, acts)
            x, y, mappings = utils.create_tensors(*out["train"], NEUROX_UNSEEN_TAG)
            x_test, y_test, _ = utils.create_tensors(
                *out["test"], NEUROX_UNSEEN_TAG, mappings=mappings
            )
        return x, y, x_test, y_test, mappings, out

    (x, y, x_test, y_test, mappings, loaded), load_s = timed(load)
    label2idx, idx2label, _, _ = mappings
    test_labels = [t for sentence in loaded["test"][0]["target"] for t in sentence]
    unseen = np.array([t not in label2idx for t in test_labels])
    mean, scale = column_stats(x, spec["min_scale"])
    standardise(x, mean, scale)
    standardise(x_test, mean, scale)
    rss_loaded = peak_rss_mib()
    with contextlib.redirect_stdout(quiet):
        torch.manual_seed(0)
        probe, train_s = timed(
            linear_probe.train_logistic_regression_probe, x, y, lambda_l1=l1, lambda_l2=l2
        )
        scores, test_s = timed(linear_probe.evaluate_probe, probe, x_test, y_test, idx2label)
    probe = probe.cpu()
    pred = _predict(probe, x_test)
    weights = probe.linear.weight.detach().numpy()
    bias = probe.linear.bias.detach().numpy()
    y_strict = np.where(unseen, -1, y_test)
    out = {
        "train_words": int(x.shape[0]),
        "test_words": int(x_test.shape[0]),
        "classes": len(label2idx),
        "load_s": load_s,
        "train_s": train_s,
        "test_s": test_s,
        "test_accuracy": float(np.mean(pred == y_strict)),
        "test_accuracy_neurox": float(scores["__OVERALL__"]),
        "unseen_test_words": int(unseen.sum()),
        **objective(x, y, weights.T, bias, l1, l2),
        "peak_rss_after_load_mib": rss_loaded,
        "peak_rss_mib": peak_rss_mib(),
        "gpu_peak_mib": gpu_peak_mib(),
    }
    np.save(work / "nx_weights.npy", weights)
    (work / "nx_classes.json").write_text(json.dumps([idx2label[i] for i in range(len(idx2label))]))
    if spec["ranking"]:
        with contextlib.redirect_stdout(quiet):
            (ordering, cutoffs), rank_s = timed(linear_probe.get_neuron_ordering, probe, label2idx)
            k = max(1, round(x.shape[1] * TOP_PERCENT / 100))
            top = np.asarray(ordering[:k], dtype=np.int64)

            def retrain():
                x_sel = ablation.filter_activations_keep_neurons(x, top)
                x_test_sel = ablation.filter_activations_keep_neurons(x_test, top)
                torch.manual_seed(0)
                small = linear_probe.train_logistic_regression_probe(
                    x_sel, y, lambda_l1=l1, lambda_l2=l2
                )
                linear_probe.evaluate_probe(small, x_test_sel, y_test, idx2label)
                return float(np.mean(_predict(small.cpu(), x_test_sel) == y_strict))

            top_accuracy, retrain_s = timed(retrain)
        np.save(work / "nx_ordering.npy", np.asarray(ordering, dtype=np.int64))
        out["ranking"] = {
            "rank_s": rank_s,
            "retrain_s": retrain_s,
            "top_k": int(k),
            "top_test_accuracy": top_accuracy,
            "cutoffs": [int(c) for c in cutoffs],
            "peak_rss_mib": peak_rss_mib(),
        }
    quiet.close()
    return out


def _predict(probe, x: np.ndarray, block: int = 8192) -> np.ndarray:
    import torch

    with torch.no_grad():
        return np.concatenate(
            [
                probe(torch.from_numpy(np.ascontiguousarray(x[s : s + block]))).argmax(1).numpy()
                for s in range(0, x.shape[0], block)
            ]
        )


# ----------------------------------------------------------------------------- scikit-learn


def sklearn_probe(spec: dict) -> dict:
    """``LogisticRegression`` elastic net with ``saga`` on neuronviz's standardised features;
    ``C`` and ``l1_ratio`` make its objective, divided by ``C * n``, equal neuronviz's."""
    import warnings

    import sklearn
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    work = Path(spec["work"])
    l1, l2 = spec["lambda1"], spec["lambda2"]
    x, load_s = timed(lambda: np.load(work / "features_train.npy"))
    y = np.load(work / "y_train.npy")
    x_test = np.load(work / "features_test.npy").astype(np.float32)
    y_test = np.load(work / "y_test.npy")
    n = len(y)
    params = {
        "C": 1.0 / (n * (l1 + 2 * l2)),
        "l1_ratio": l1 / (l1 + 2 * l2),
        "solver": "saga",
        "max_iter": spec["saga_max_iter"],
    }
    if _version(sklearn.__version__) < (1, 8):  # from 1.8 l1_ratio alone selects the penalty
        params["penalty"] = "elasticnet"
    clf = LogisticRegression(**params)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        _, train_s = timed(clf.fit, x, y)
    pred_idx, test_s = timed(clf.predict, x_test)
    weights = np.zeros((x.shape[1], int(y.max()) + 1), dtype=np.float32)
    bias = np.full(weights.shape[1], -1e9, dtype=np.float32)  # classes absent from y_train
    weights[:, clf.classes_] = clf.coef_.T
    bias[clf.classes_] = clf.intercept_
    return {
        "train_words": n,
        "load_s": load_s,
        "train_s": train_s,
        "test_s": test_s,
        "test_accuracy": float(np.mean(pred_idx == y_test)),
        "iterations": int(np.max(clf.n_iter_)),
        "max_iter": spec["saga_max_iter"],
        "converged": not any(issubclass(w.category, ConvergenceWarning) for w in caught),
        "params": {k: v for k, v in params.items() if k != "solver"},
        **objective(x, y, weights, bias, l1, l2),
        "peak_rss_mib": peak_rss_mib(),
    }


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".")[:2] if p.isdigit())


# ----------------------------------------------------------------------------- agreement


def _normal(word: str) -> str:
    """A word as an uncased WordPiece tokenizer gives it back: lower case, accents stripped."""
    text = unicodedata.normalize("NFD", word.lower())
    return "".join(c for c in text if unicodedata.category(c) != "Mn")


def compare_activations(spec: dict) -> dict:
    """Word for word, NeuroX's hdf5 vectors against neuronviz's float16 cache rows.

    A value agrees when ``|neuronviz - neurox| <= 2**-10 * |neurox| + 2**-14``: twice float16's
    relative rounding (it keeps 11 significant bits), plus float16's smallest normal number for
    values near zero, where the two tools' different batching (padded batches against one
    sentence at a time) moves float32 results by a few 1e-6. Also reported: the largest
    difference left after rounding NeuroX's value to float16 as neuronviz stores it, in float16
    units in the last place (zero when both computed the same float32 up to rounding; one where
    float32 noise moved a value across a rounding boundary), counted where ``|NeuroX| >= 2**-6``:
    nearer zero float16's spacing falls below the float32 noise of a different batching.
    """
    import h5py

    rtol, atol = 2.0**-10, 2.0**-14
    stats: dict = {
        "sentences": 0,
        "words": 0,
        "word_count_mismatches": 0,
        "word_text_mismatches": 0,
        "examples": [],
    }
    per_layer: dict[int, dict] = {}
    for name in ("train", "test"):
        entry = Path(spec["entries"][name])
        manifest = json.loads((entry / "manifest.json").read_text())
        layers = [np.load(entry / f["file"], mmap_mode="r") for f in manifest["layers"]]
        tokens = json.loads((entry / "tokens.json").read_text())
        with h5py.File(Path(spec["work"]) / f"nx-{name}.hdf5", "r") as f:
            index = json.loads(f["sentence_to_index"][0])
            words_of = {int(v): k for k, v in index.items()}
            row = 0
            for s, sentence in enumerate(tokens):
                nx = f[str(s)][()]  # (layers, words, hidden) float32
                n = len(sentence)
                stats["sentences"] += 1
                stats["words"] += n
                theirs = words_of[s].split(" (Occurrence ")[0].split(" ")
                if nx.shape[1] != n:
                    stats["word_count_mismatches"] += 1
                    row += n
                    continue
                mine = [_normal(w) for w in sentence]
                theirs = [w.replace("##", "") for w in theirs]
                bad = [(a, b) for a, b in zip(mine, theirs, strict=False) if a != b]
                if bad:
                    stats["word_text_mismatches"] += len(bad)
                    if len(stats["examples"]) < 5:
                        stats["examples"].extend(bad[: 5 - len(stats["examples"])])
                for li, layer in enumerate(layers):
                    ours = np.asarray(layer[row : row + n], dtype=np.float32)
                    ref = nx[li]
                    diff = np.abs(ours - ref)
                    ref16 = ref.astype(np.float16)
                    rounded = np.abs(ours - ref16.astype(np.float32))
                    sizable = np.abs(ref) >= ULP_FROM
                    ulps = rounded[sizable] / np.spacing(np.abs(ref16[sizable])).astype(np.float32)
                    allowed = rtol * np.abs(ref) + atol
                    acc = per_layer.setdefault(
                        li,
                        {
                            "max_abs_diff": 0.0,
                            "max_after_rounding": 0.0,
                            "sq_diff": 0.0,
                            "sq_ref": 0.0,
                            "n": 0,
                            "out": 0,
                            "unequal_after_rounding": 0,
                            "max_ulps": 0.0,
                        },
                    )
                    acc["max_abs_diff"] = max(acc["max_abs_diff"], float(diff.max()))
                    acc["max_after_rounding"] = max(acc["max_after_rounding"], float(rounded.max()))
                    acc["unequal_after_rounding"] += int((rounded > 0).sum())
                    acc["max_ulps"] = max(acc["max_ulps"], float(ulps.max(initial=0.0)))
                    acc["sq_diff"] += float(np.square(diff, dtype=np.float64).sum())
                    acc["sq_ref"] += float(np.square(ref, dtype=np.float64).sum())
                    acc["n"] += diff.size
                    acc["out"] += int((diff > allowed).sum())
                row += n
    layers_out = []
    for li in sorted(per_layer):
        acc = per_layer[li]
        rms_ref = (acc["sq_ref"] / acc["n"]) ** 0.5
        layers_out.append(
            {
                "layer": li,
                "max_abs_diff": acc["max_abs_diff"],
                "rms_diff": (acc["sq_diff"] / acc["n"]) ** 0.5,
                "rms_value": rms_ref,
                "max_abs_diff_over_rms": acc["max_abs_diff"] / max(rms_ref, 1e-30),
                "max_abs_diff_after_float16_rounding": acc["max_after_rounding"],
                "values_unequal_after_float16_rounding": acc["unequal_after_rounding"],
                "max_float16_ulps": acc["max_ulps"],
                "values_outside_tolerance": acc["out"],
                "values": acc["n"],
            }
        )
    stats["layers"] = layers_out
    stats["max_abs_diff"] = max(layer["max_abs_diff"] for layer in layers_out)
    stats["max_abs_diff_over_rms"] = max(layer["max_abs_diff_over_rms"] for layer in layers_out)
    stats["values_outside_tolerance"] = sum(
        layer["values_outside_tolerance"] for layer in layers_out
    )
    stats["values"] = sum(layer["values"] for layer in layers_out)
    stats["max_abs_diff_after_float16_rounding"] = max(
        layer["max_abs_diff_after_float16_rounding"] for layer in layers_out
    )
    stats["values_unequal_after_float16_rounding"] = sum(
        layer["values_unequal_after_float16_rounding"] for layer in layers_out
    )
    stats["max_float16_ulps"] = max(layer["max_float16_ulps"] for layer in layers_out)
    stats["tolerance"] = "|neuronviz - NeuroX| <= 2^-10 |NeuroX| + 2^-14"
    return stats


def versions(_spec: dict) -> dict:
    """Versions of the peers' environment (and a check that NeuroX imports)."""
    import importlib.metadata as md

    import_neurox()
    import torch

    names = ("neurox", "torch", "transformers", "tokenizers", "numpy", "scikit-learn", "h5py")
    out = {name: md.version(name) for name in names}
    out["python"] = sys.version.split()[0]
    out["torch_threads"] = torch.get_num_threads()
    out["cuda"] = torch.cuda.is_available()
    return out


TASKS: dict[str, Callable[[dict], dict]] = {
    "neuronviz-extract": neuronviz_extract,
    "neuronviz-probe": neuronviz_probe,
    "neuronviz-probe-at": neuronviz_probe_at,
    "neurox-extract": neurox_extract,
    "neurox-probe": neurox_probe,
    "sklearn-probe": sklearn_probe,
    "compare-activations": compare_activations,
    "versions": versions,
}


def main() -> None:
    task, spec_path, out_path = sys.argv[1:4]
    spec = json.loads(Path(spec_path).read_text()) if spec_path != "-" else {}
    result = TASKS[task](spec)
    text = json.dumps(result, indent=1)
    if out_path == "-":
        print(text)
    else:
        Path(out_path).write_text(text + "\n")


if __name__ == "__main__":
    main()
