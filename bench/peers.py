"""neuronviz side by side with its peers, NeuroX and scikit-learn, in one run (issue 8).

Usage (from the repository root, NEURONVIZ_DATA pointing at shared/data):

    python bench/peers.py                                   # the whole comparison, printed
    python bench/peers.py --json peers.json --markdown peers.md
    python bench/peers.py --parts extract                   # only extraction (and agreement)
    python bench/peers.py --sentences 200 --test-sentences 200 --saga-max-iter 5   # smoke run

Same machine, model (``minilm``), data and labels for every tool: the first ``--sentences``
sentences of the CoNLL-2000 training file (POS tags) and its whole test file (or the first
``--test-sentences``), written once as NeuroX-format text files (one sentence a line, words and
labels separated by spaces) from neuronviz's reader, and read by both tools from there. Every
measured tool runs in a child process of its own (``bench/peer_worker.py``); its peak memory is
that process's high-water mark. Children exchange arrays through ``.npy`` files (no pickle).

1. **Extraction**: words/s over train + test for neuronviz (``extract_task`` into a fresh
   cache, float16) and NeuroX (``transformers_extractor.extract_representations``, ``last``
   aggregation, ``hdf5``, its fastest output: the ``json`` writer rounds and prints every value
   through Python), model loading left out of both; the raw forward pass of the same model over
   neuronviz's batches (``output_hidden_states=True``) as the ceiling; peak memory of each. Then
   NeuroX's vectors are compared with neuronviz's word for word (same words, values within
   float16 tolerance). NeuroX prints several lines per sentence; its stdout goes to /dev/null.
2. **Probe**, lambda1 = lambda2 = 1e-3 (``--lambda1/--lambda2``), same standardised features
   (each neuron centred and scaled by its training mean and standard deviation, as neuronviz
   does; NeuroX's pipeline has no such step, so the bench applies the same formula to NeuroX's
   matrices after its loader): neuronviz (``load_probe_data`` + ``fit_sparse`` OWL-QN, the
   analysis's iteration cap ``--max-iter``), NeuroX (its loader ``load_activations`` +
   ``load_data`` + ``create_tensors``, then ``train_logistic_regression_probe`` with its defaults:
   Adam, 10 epochs, batch 32, lr 1e-3), scikit-learn ``LogisticRegression`` elastic net with
   ``saga`` (``C = 1 / (n (lambda1 + 2 lambda2))``, ``l1_ratio = lambda1 / (lambda1 + 2
   lambda2)``, which makes its objective divided by ``C n`` equal neuronviz's; up to
   ``--saga-max-iter`` passes). Each: load time, training time, test accuracy (words whose tag
   never occurs in training count as errors), the objective it reached, peak memory. Ceiling:
   the bare products of one full-batch epoch (``X @ W`` and ``X.T @ G``, float32 torch).
   Loss scaling: neuronviz minimises ``mean CE + l1 sum|W| + l2 sum W^2``; NeuroX adds
   ``l1 sum|W| + l2 sqrt(sum W^2)`` (the L2 *norm*) to each minibatch's mean CE, so the same
   lambdas weigh its L2 term differently; the report gives both tools' weights scored by
   neuronviz's objective.
3. **Ranking**: neuronviz's ``lca`` ordering (``neuronviz.analyses.oracle.rank``) and a ridge probe
   retrained on its top 10% (``Retrainer``), against NeuroX's ``get_neuron_ordering`` and a
   probe retrained with ``train_logistic_regression_probe`` (same lambdas) on its top 10%; time,
   accuracy and the overlap of the two top-10% sets. As a check, neuronviz's ``neurox`` ranking
   mode is run on NeuroX's own weights and must give NeuroX's ordering.

The peers' environment (``--peer-venv``, default ``bench/.peers``, git-ignored) is created by
this script with ``python -m venv`` when missing or broken, and reused otherwise:
``pip install torch==2.13.0`` first (a local CPU wheel), then ``neurox==1.0.9`` with
``--no-deps``, then its few needed dependencies pinned to the versions of the project's
environment (``PEER_DEPS``) under a ``torch==2.13.0`` constraint. NeuroX 1.0.9 declares exact
pins from 2021 (torch 1.8.1, numpy 1.19.5, scipy 1.5.4, transformers 4.6.1, ...) that have no
wheels for Python 3.11: resolving them would build numpy and scipy from source (it fails) and
replace torch. What it imports needs only numpy, torch, h5py, transformers (model and
tokenizer), scikit-learn and scipy (metrics), imbalanced-learn (imported by its utils) and
tqdm; matplotlib, seaborn and svgwrite serve its plotting modules, which the bench does not
import. It uses ``np.int`` (removed in numpy 1.24); ``peer_worker.import_neurox`` restores the
alias at import time. Nothing is downloaded besides these packages: the model is the local
folder neuronviz's registry resolves (``HF_HUB_OFFLINE=1`` in every child, and
``TQDM_DISABLE=1``: no progress bars, for NeuroX's training loop either).

On a GPU (``--device auto`` finds it): neuronviz extracts in half precision by default
(``--dtype auto``) while NeuroX runs float32, so pass ``--dtype float32`` for the activation
check, and run the default too for the speed figures; NeuroX's probe trains on the GPU whenever
one is visible (its own rule). The peers' environment must be built where the package registry
is reachable (or copied there).

Output: Markdown tables (tool, figure, value, ratio to neuronviz) with the machine, versions and
the exact command, printed and written to ``--markdown``; everything in ``--json``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.extract import environment  # noqa: E402
from neuronviz.corpora.readers import read_conll2000  # noqa: E402
from neuronviz.corpora.sources import locate_corpus  # noqa: E402
from neuronviz.models.registry import resolve_model_source  # noqa: E402
from neuronviz.probing.design import MIN_SCALE  # noqa: E402
from neuronviz.probing.ranking import lca_ranking  # noqa: E402

WORKER = ROOT / "bench" / "peer_worker.py"
PEER_TORCH = "torch==2.13.0"
PEER_NEUROX = "neurox==1.0.9"
PEER_DEPS = (
    "numpy==2.4.6",
    "h5py==3.16.0",
    "scikit-learn==1.9.1",
    "scipy==1.17.1",
    "imbalanced-learn==0.14.2",
    "tqdm==4.70.1",
    "transformers==5.24.0",
    "tokenizers==0.23.3",
    "safetensors==0.8.0",
)
DEV_SENTENCES = 100  # load_probe_data needs a dev split; it plays no part in any figure
PARTS = ("extract", "probe", "ranking")


# ----------------------------------------------------------------------------- environment


def peer_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def child_env(threads: int | None = None) -> dict[str, str]:
    """Environment of every child: offline, no progress bars, optionally a thread count."""
    env = dict(os.environ)
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TQDM_DISABLE": "1"})
    env.pop("PYTHONPATH", None)
    if threads:
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[name] = str(threads)
    return env


def peer_versions(venv: Path) -> dict | None:
    """The peers' environment's versions, or None when it is missing or broken."""
    python = peer_python(venv)
    if not python.exists():
        return None
    done = subprocess.run(
        [str(python), str(WORKER), "versions", "-", "-"],
        capture_output=True,
        text=True,
        env=child_env(),
    )
    if done.returncode != 0:
        return None
    found = json.loads(done.stdout)
    return found if found.get("torch", "").split("+")[0] == PEER_TORCH.split("==")[1] else None


def ensure_peer_venv(venv: Path, rebuild: bool = False) -> dict:
    """Create (or reuse) the peers' virtual environment; return its versions and build time."""
    found = None if rebuild else peer_versions(venv)
    if found is not None:
        return {"path": str(venv), "built": False, "versions": found}
    if venv.exists():
        if not (venv / "pyvenv.cfg").is_file():
            raise SystemExit(f"{venv} exists and is not a virtual environment; choose another path")
        shutil.rmtree(venv)
    print(f"[peers] creating {venv} (torch, neurox and their needed dependencies)", flush=True)
    start = time.perf_counter()
    steps = []
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(peer_python(venv)), "-m", "pip", "install", "--quiet"]
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as constraints:
        constraints.write(PEER_TORCH + "\n")
    try:
        for args in (
            [PEER_TORCH],
            ["--no-deps", PEER_NEUROX],
            ["-c", constraints.name, *PEER_DEPS],
        ):
            t = time.perf_counter()
            subprocess.run(pip + args, check=True, env=child_env())
            steps.append(
                {"pip install": " ".join(args), "seconds": round(time.perf_counter() - t, 1)}
            )
    finally:
        os.unlink(constraints.name)
    found = peer_versions(venv)
    if found is None:
        raise SystemExit(f"the peers' environment {venv} was built but NeuroX does not import")
    return {
        "path": str(venv),
        "built": True,
        "build_s": round(time.perf_counter() - start, 1),
        "steps": steps,
        "versions": found,
    }


def project_versions() -> dict:
    import importlib.metadata as md

    import neuronviz

    out = {"neuronviz": neuronviz.__version__}
    for name in ("torch", "transformers", "tokenizers", "numpy"):
        out[name] = md.version(name)
    return out


def machine() -> dict:
    """What the figures depend on, beyond ``bench.extract.environment``."""
    import torch

    out = environment()
    try:
        import psutil

        out["memory_gib"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:  # pragma: no cover - psutil is a dependency
        pass
    out["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    with contextlib.suppress(OSError):
        out["load_average"] = [round(v, 2) for v in os.getloadavg()]
    return out


# ----------------------------------------------------------------------------- data and children


def write_data(work: Path, data_dir: str | None, n_train: int, n_test: int | None) -> dict:
    """The bench's sentences as NeuroX-format files: ``{split}.word`` and ``{split}.label``."""
    folder = locate_corpus("conll2000", data_dir=data_dir)
    train = read_conll2000(folder / "train.txt")
    test = read_conll2000(folder / "test.txt")
    if n_train > len(train.tokens):
        raise SystemExit(f"--sentences {n_train}: the training file has {len(train.tokens)}")
    dev_start = n_train if n_train + DEV_SENTENCES <= len(train.tokens) else -DEV_SENTENCES
    chosen = {
        "train": (train.tokens[:n_train], train.columns["pos"][:n_train]),
        "dev": (
            train.tokens[dev_start : dev_start + DEV_SENTENCES or None],
            train.columns["pos"][dev_start : dev_start + DEV_SENTENCES or None],
        ),
        "test": (test.tokens[:n_test], test.columns["pos"][:n_test]),
    }
    files = {}
    for split, (tokens, tags) in chosen.items():
        if any(any(c.isspace() for c in w) for s in tokens for w in s):
            raise SystemExit(f"a {split} word contains white space; the text format cannot hold it")
        words, labels = work / f"{split}.word", work / f"{split}.label"
        words.write_text("".join(" ".join(s) + "\n" for s in tokens), encoding="utf-8")
        labels.write_text("".join(" ".join(s) + "\n" for s in tags), encoding="utf-8")
        files[split] = {
            "words": str(words),
            "labels": str(labels),
            "sentences": len(tokens),
            "word_count": sum(len(s) for s in tokens),
        }
    return files


def run_child(task: str, spec: dict, python: Path | str, work: Path, env: dict[str, str]) -> dict:
    """Run one worker task in a fresh process; return its JSON result."""
    spec_path, out_path = work / f"{task}.spec.json", work / f"{task}.result.json"
    log_path = work / "logs" / f"{task}.log"
    log_path.parent.mkdir(exist_ok=True)
    spec_path.write_text(json.dumps(spec, indent=1))
    print(f"[peers] {task} ...", flush=True)
    start = time.perf_counter()
    with open(log_path, "w") as log:
        done = subprocess.run(
            [str(python), str(WORKER), task, str(spec_path), str(out_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
        )
    if done.returncode != 0:
        tail = "".join(log_path.read_text(errors="replace").splitlines(keepends=True)[-30:])
        raise SystemExit(f"{task} failed (exit {done.returncode}); end of {log_path}:\n{tail}")
    print(f"[peers] {task} done in {time.perf_counter() - start:.0f} s", flush=True)
    return json.loads(out_path.read_text())


def ranking_check(work: Path) -> dict:
    """neuronviz's ``neurox`` mode on NeuroX's weights against NeuroX's own ordering."""
    weights = np.load(work / "nx_weights.npy")
    classes = json.loads((work / "nx_classes.json").read_text())
    theirs = np.load(work / "nx_ordering.npy")
    ours = lca_ranking(weights, classes, neurox_order=True).order[: len(theirs)]
    differ = np.flatnonzero(ours != theirs)
    return {
        "identical": bool(len(differ) == 0),
        "neurons_compared": len(theirs),
        "first_difference": int(differ[0]) if len(differ) else None,
    }


# ----------------------------------------------------------------------------- report


def _num(value: float, digits: int = 3) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def _ratio(value: float | None, reference: float | None) -> str:
    if value is None or not reference:
        return ""
    r = value / reference
    return f"{r:.2f}x" if r >= 0.1 else f"{r:.2g}x"


def _points(value: float, reference: float) -> str:
    return f"{100 * (value - reference):+.2f} pts"


def equal_objective_points(trace: list, peers: dict[str, dict | None]) -> dict[str, int]:
    """Per peer, the first iteration at which neuronviz's objective was at most the peer's.

    The peers stop short of the optimum (NeuroX after its 10 epochs, saga at its pass cap), so
    besides the time to convergence the report gives neuronviz's time to the same objective,
    measured by rerunning the fit cut at that iteration.
    """
    out = {}
    for name, peer in peers.items():
        if not peer:
            continue
        reached = [it for _, it, obj in trace if obj <= peer["objective"]]
        if reached:
            out[name] = int(reached[0])
    return out


def build_rows(report: dict) -> dict[str, list[tuple[str, str, str, str]]]:
    """Table rows by part: (tool, figure, value, vs neuronviz)."""
    tables: dict[str, list[tuple[str, str, str, str]]] = {}
    ext = report.get("extract")
    if ext:
        nv, nx, agree = ext["neuronviz"], ext["neurox"], ext["agreement"]
        wps = nv["words_per_s"]
        tables["Extraction"] = [
            (
                "raw forward (ceiling)",
                "words/s",
                _num(nv["raw_forward_words_per_s"]),
                _ratio(nv["raw_forward_words_per_s"], wps),
            ),
            ("neuronviz", "words/s", _num(wps), "1.00x"),
            ("NeuroX", "words/s", _num(nx["words_per_s"]), _ratio(nx["words_per_s"], wps)),
            ("neuronviz", "seconds (model load left out)", _num(nv["extract_s"]), "1.00x"),
            (
                "NeuroX",
                "seconds (model load left out)",
                _num(nx["extract_s"]),
                _ratio(nx["extract_s"], nv["extract_s"]),
            ),
            ("neuronviz", "peak RSS, MiB", _num(nv["peak_rss_mib"]), "1.00x"),
            (
                "NeuroX",
                "peak RSS, MiB",
                _num(nx["peak_rss_mib"]),
                _ratio(nx["peak_rss_mib"], nv["peak_rss_mib"]),
            ),
            (
                "both",
                "words compared (count / text mismatches)",
                f"{agree['words']:,} ({agree['word_count_mismatches']} / {agree['word_text_mismatches']})",
                "",
            ),
            (
                "both",
                "max abs difference (max / layer RMS)",
                f"{agree['max_abs_diff']:.2e} ({agree['max_abs_diff_over_rms']:.1e})",
                "",
            ),
            (
                "both",
                "values outside float16 tolerance",
                f"{agree['values_outside_tolerance']:,} of {agree['values']:,}",
                "",
            ),
            (
                "both",
                "values unequal after rounding NeuroX's to float16 (max ULPs at size >= 2^-6)",
                f"{agree['values_unequal_after_float16_rounding']:,} "
                f"({agree['max_float16_ulps']:g})",
                "",
            ),
        ]
    probe = report.get("probe")
    if probe:
        nv, nx = probe["neuronviz"], probe["neurox"]
        rows = [
            ("neuronviz", "load cached activations, s", _num(nv["load_s"]), "1.00x"),
            (
                "NeuroX",
                "load cached activations, s",
                _num(nx["load_s"]),
                _ratio(nx["load_s"], nv["load_s"]),
            ),
            ("neuronviz", "train, s", _num(nv["train_s"]), "1.00x"),
            ("NeuroX", "train, s", _num(nx["train_s"]), _ratio(nx["train_s"], nv["train_s"])),
        ]
        sk = probe.get("sklearn")
        if sk:
            rows.append(
                (
                    f"scikit-learn saga ({sk['iterations']} passes)",
                    "train, s",
                    _num(sk["train_s"]),
                    _ratio(sk["train_s"], nv["train_s"]),
                )
            )
        at = probe.get("neuronviz_at") or {}
        stops = [
            (f"{peer}{suffix}", f"{label} {what}")
            for suffix, what in (("_accuracy", "test accuracy"), ("", "objective"))
            for peer, label in (("neurox", "NeuroX's"), ("sklearn", "saga's"))
        ]
        for key, what in stops:
            if key in at:
                r = at[key]
                rows.append(
                    (
                        f"neuronviz, stopped at {what} ({r['iterations']} iterations)",
                        "train, s / test accuracy",
                        f"{_num(r['train_s'])} / {100 * r['test_accuracy']:.2f}%",
                        _ratio(r["train_s"], nv["train_s"]),
                    )
                )
        ceiling = nv["ceiling"]
        rows.append(
            (
                "bare matmuls, one full-batch epoch (ceiling)",
                "s",
                _num(ceiling["epoch_s"]),
                _ratio(ceiling["epoch_s"], nv["train_s"]),
            )
        )
        for name, r in (("neuronviz", nv), ("NeuroX", nx), ("scikit-learn saga", sk)):
            if r:
                rows.append(
                    (
                        name,
                        "test accuracy",
                        f"{100 * r['test_accuracy']:.2f}%",
                        "" if r is nv else _points(r["test_accuracy"], nv["test_accuracy"]),
                    )
                )
        for name, r in (("neuronviz", nv), ("NeuroX", nx), ("scikit-learn saga", sk)):
            if r:
                rows.append(
                    (
                        name,
                        "objective (neuronviz's)",
                        f"{r['objective']:.5f}",
                        _ratio(r["objective"], nv["objective"]),
                    )
                )
        for name, r in (("neuronviz", nv), ("NeuroX", nx), ("scikit-learn saga", sk)):
            if r:
                rows.append(
                    (
                        name,
                        "peak RSS, MiB",
                        _num(r["peak_rss_mib"]),
                        _ratio(r["peak_rss_mib"], nv["peak_rss_mib"]),
                    )
                )
        tables["Probe"] = rows
    ranking = report.get("ranking")
    if ranking:
        nv, nx = ranking["neuronviz"], ranking["neurox"]
        nv_total = nv["rank_s"] + nv["retrain_s"]
        nx_total = nx["rank_s"] + nx["retrain_s"]
        tables["Ranking and top-10% retraining"] = [
            ("neuronviz", "ranking, s", _num(nv["rank_s"]), "1.00x"),
            ("NeuroX", "ranking, s", _num(nx["rank_s"]), _ratio(nx["rank_s"], nv["rank_s"])),
            ("neuronviz", f"retrain on top {nv['top_k']}, s", _num(nv["retrain_s"]), "1.00x"),
            (
                "NeuroX",
                f"retrain on top {nx['top_k']}, s",
                _num(nx["retrain_s"]),
                _ratio(nx["retrain_s"], nv["retrain_s"]),
            ),
            ("neuronviz", "ranking + retraining, s", _num(nv_total), "1.00x"),
            ("NeuroX", "ranking + retraining, s", _num(nx_total), _ratio(nx_total, nv_total)),
            ("neuronviz", "top-10% test accuracy", f"{100 * nv['top_test_accuracy']:.2f}%", ""),
            (
                "NeuroX",
                "top-10% test accuracy",
                f"{100 * nx['top_test_accuracy']:.2f}%",
                _points(nx["top_test_accuracy"], nv["top_test_accuracy"]),
            ),
            (
                "both",
                "top-10% sets overlap",
                f"{ranking['overlap']:,} of {nv['top_k']:,} ({100 * ranking['overlap'] / nv['top_k']:.0f}%)",
                "",
            ),
            (
                "neuronviz `neurox` mode",
                "reproduces NeuroX's ordering from its weights",
                "yes"
                if ranking["neurox_mode_check"]["identical"]
                else f"no (first difference at {ranking['neurox_mode_check']['first_difference']})",
                "",
            ),
        ]
    return tables


def targets(report: dict) -> list[dict]:
    """The issue's targets, each with the measured figure and whether it is met."""
    out = []

    def add(name: str, measured: str, met: bool) -> None:
        out.append({"target": name, "measured": measured, "met": bool(met)})

    ext = report.get("extract")
    if ext:
        nv, nx, agree = ext["neuronviz"], ext["neurox"], ext["agreement"]
        r = nv["words_per_s"] / nv["raw_forward_words_per_s"]
        add("extraction >= 0.8x the raw forward ceiling", f"{r:.2f}x", r >= 0.8)
        r = nv["words_per_s"] / nx["words_per_s"]
        add("extraction >= 3x NeuroX's words/s", f"{r:.1f}x", r >= 3)
        same = (
            agree["word_count_mismatches"] == 0
            and agree["word_text_mismatches"] == 0
            and agree["values_outside_tolerance"] == 0
        )
        add(
            "identical activations (same words, float16 tolerance)",
            f"{agree['values_outside_tolerance']} values outside, "
            f"{agree['word_count_mismatches'] + agree['word_text_mismatches']} word mismatches",
            same,
        )
    probe = report.get("probe")
    if probe:
        nv, nx, sk = probe["neuronviz"], probe["neurox"], probe.get("sklearn")
        add(
            "loading cached activations well under a second",
            f"{nv['load_s']:.2f} s (NeuroX {nx['load_s']:.1f} s)",
            nv["load_s"] < 1,
        )
        at = probe.get("neuronviz_at") or {}
        r = nx["train_s"] / nv["train_s"]
        add(
            "probe training >= 3x faster than NeuroX (neuronviz to convergence)",
            f"{r:.1f}x",
            r >= 3,
        )
        if "neurox_accuracy" in at:
            r = nx["train_s"] / at["neurox_accuracy"]["train_s"]
            add(
                "probe training >= 3x faster than NeuroX (neuronviz to NeuroX's test accuracy)",
                f"{r:.1f}x ({at['neurox_accuracy']['iterations']} iterations, "
                f"{100 * at['neurox_accuracy']['test_accuracy']:.2f}%)",
                r >= 3,
            )
        elif at:
            add(
                "probe training >= 3x faster than NeuroX (neuronviz to NeuroX's test accuracy)",
                "neuronviz's fit never reached NeuroX's test accuracy",
                False,
            )
        if sk:
            r = sk["train_s"] / nv["train_s"]
            add(
                "probe training >= 10x faster than scikit-learn saga (neuronviz to convergence)",
                f"{r:.1f}x (saga: {sk['iterations']} passes, converged: {sk['converged']})",
                r >= 10,
            )
        best = max(p["test_accuracy"] for p in (nx, sk) if p)
        diff = 100 * (nv["test_accuracy"] - best)
        add(
            "test accuracy within 0.5 points of the best peer or better",
            f"{diff:+.2f} pts",
            diff >= -0.5,
        )
        r = nv["peak_rss_mib"] / nx["peak_rss_mib"]
        add("probe peak memory <= half of NeuroX's", f"{r:.2f}x", r <= 0.5)
    ranking = report.get("ranking")
    if ranking:
        nv, nx = ranking["neuronviz"], ranking["neurox"]
        t_nv, t_nx = nv["rank_s"] + nv["retrain_s"], nx["rank_s"] + nx["retrain_s"]
        add("ranking + top-10% retraining faster than NeuroX", f"{t_nx / t_nv:.1f}x", t_nv < t_nx)
        diff = 100 * (nv["top_test_accuracy"] - nx["top_test_accuracy"])
        add("top-10% accuracy within 1 point of NeuroX's or better", f"{diff:+.2f} pts", diff >= -1)
    return out


def markdown(report: dict) -> str:
    env, settings = report["environment"], report["settings"]
    lines = [
        f"### neuronviz, NeuroX and scikit-learn side by side ({report['date']})",
        "",
        "```bash",
        report["command"],
        "```",
        "",
        f"Machine: {env.get('processor')}, {env.get('cpu_count')} cores, "
        f"{env.get('memory_gib', '?')} GiB, GPU: {env.get('gpu') or 'none'}; load average at the "
        f"start {env.get('load_average')}. Python {env['python']}, {env.get('torch_threads')} torch "
        f"threads, torch BLAS {env.get('torch_blas')}.",
        "",
        "Versions: neuronviz environment "
        + ", ".join(f"{k} {v}" for k, v in report["versions"]["neuronviz"].items())
        + "; peers' environment "
        + ", ".join(
            f"{k} {v}"
            for k, v in report["versions"]["peers"].items()
            if k not in ("cuda", "torch_threads", "python")
        )
        + ".",
        "",
        f"Data: `{settings['model']}` on the first {settings['train_sentences']:,} CoNLL-2000 "
        f"training sentences ({settings['train_words']:,} words) and "
        f"{settings['test_sentences']:,} test sentences ({settings['test_words']:,} words), POS "
        f"tags; lambda1 = {settings['lambda1']:g}, lambda2 = {settings['lambda2']:g}; device "
        f"{settings['device']}; threads {settings.get('threads') or 'library defaults'}. Ratios "
        "are each tool's figure divided by neuronviz's (accuracy: difference in points).",
        "",
    ]
    for part, rows in build_rows(report).items():
        lines += [
            f"**{part}**",
            "",
            "| tool | figure | value | vs neuronviz |",
            "|---|---|---|---|",
        ]
        lines += [f"| {t} | {f} | {v} | {r} |" for t, f, v, r in rows]
        lines.append("")
    if report["targets"]:
        lines += ["**Targets**", "", "| target | measured | met |", "|---|---|---|"]
        lines += [
            f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else '**no**'} |"
            for t in report["targets"]
        ]
        lines.append("")
    if report["notes"]:
        lines += ["Notes:", ""] + [f"- {n}" for n in report["notes"]] + [""]
    return "\n".join(lines)


def notes(report: dict) -> list[str]:
    """Plain statements about what the figures mean, from the numbers."""
    out = []
    ext = report.get("extract")
    if ext:
        nv, nx = ext["neuronviz"], ext["neurox"]
        loads = ", ".join(f"{s:.1f}" for s in nx["model_load_s"])
        out.append(
            f"Model loading left out of both extraction times: neuronviz {nv['model_load_s']:.1f} s, "
            f"NeuroX {loads} s (it loads the model once per file). NeuroX's stdout (several "
            "lines per sentence) went to /dev/null."
        )
        agree = ext["agreement"]
        layers = agree["layers"]
        worst = max(layers, key=lambda layer: layer["max_abs_diff_over_rms"])
        exact = [
            str(la["layer"]) for la in layers if la["values_unequal_after_float16_rounding"] == 0
        ]
        out.append(
            f"Activation agreement, {agree['tolerance']}: largest difference in layer "
            f"{worst['layer']} ({worst['max_abs_diff']:.2e}, RMS of its values "
            f"{worst['rms_value']:.3g}). neuronviz stores float16, NeuroX float32: rounded to "
            f"float16, NeuroX's values equal neuronviz's in layer(s) {', '.join(exact) or 'none'}; "
            f"elsewhere {agree['values_unequal_after_float16_rounding']:,} of "
            f"{agree['values']:,} values "
            f"({100 * agree['values_unequal_after_float16_rounding'] / agree['values']:.2f}%) "
            f"differ, by at most {agree['max_float16_ulps']:g} float16 ULP where |value| >= "
            "2^-6: float32 noise of the different batching (neuronviz runs padded batches, NeuroX "
            "one sentence at a time) moving a value across a rounding boundary."
        )
    probe = report.get("probe")
    if probe:
        nv, nx, sk = probe["neuronviz"], probe["neurox"], probe.get("sklearn")
        out.append(
            f"neuronviz: OWL-QN, {nv['iterations']} iterations, KKT {nv['kkt_max']:.1e}, "
            f"{100 * nv['zero_weight_fraction']:.1f}% zero weights. NeuroX: Adam, 10 epochs, its "
            f"own loss {nx['neurox_loss']:.5f} (L2 term as the norm), "
            f"{100 * nx['zero_weight_fraction']:.1f}% zero weights."
        )
        if sk:
            out.append(
                f"scikit-learn saga: {sk['iterations']} of at most {sk['max_iter']} passes, "
                f"converged: {sk['converged']} (C = {sk['params']['C']:.4g}, l1_ratio = "
                f"{sk['params']['l1_ratio']:.4g})."
            )
        out.append(
            f"Loading: neuronviz `load_probe_data` of train + dev ({DEV_SENTENCES} sentences, "
            "needed by the function, no figure uses it) + test from the float16 cache; NeuroX "
            "`load_activations` + `load_data` + `create_tensors` of train + test from its hdf5 "
            "files. Peak memory covers the whole child: loading, training and testing."
        )
        ceiling = nv["ceiling"]
        out.append(
            f"Ceiling: one full-batch epoch of bare products on {ceiling['shape'][0]:,} x "
            f"{ceiling['shape'][1]:,} takes {ceiling['epoch_s']:.3f} s ({ceiling['gflops']:.0f} "
            f"GFLOP/s); neuronviz's training took {nv['train_s'] / ceiling['epoch_s']:.0f} "
            f"such epochs of time for {nv['iterations']} iterations."
        )
    return out


# ----------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sentences", type=int, default=2000, help="training sentences")
    parser.add_argument(
        "--test-sentences", type=int, help="test sentences (default: the whole test file)"
    )
    parser.add_argument("--parts", default=",".join(PARTS), help="extract,probe,ranking")
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto", help="neuronviz's model dtype")
    parser.add_argument("--data-dir", default=os.environ.get("NEURONVIZ_DATA"))
    parser.add_argument("--lambda1", type=float, default=1e-3)
    parser.add_argument("--lambda2", type=float, default=1e-3)
    parser.add_argument("--max-iter", type=int, default=300, help="neuronviz's OWL-QN cap")
    parser.add_argument("--saga-max-iter", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=1, help="extraction runs (median)")
    parser.add_argument(
        "--threads", type=int, help="OMP/MKL/OpenBLAS threads of every child (default: theirs)"
    )
    parser.add_argument("--peer-venv", type=Path, default=ROOT / "bench" / ".peers")
    parser.add_argument("--rebuild-peers", action="store_true")
    parser.add_argument("--work-dir", type=Path, help="keep intermediate files here")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    if not parts or parts - set(PARTS):
        parser.error(f"--parts takes a comma-separated subset of {','.join(PARTS)}")
    for name in ("sentences", "repeat", "max_iter", "saga_max_iter"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.test_sentences is not None and args.test_sentences < 1:
        parser.error("--test-sentences must be at least 1")
    command = "python bench/peers.py" + (
        "" if len(sys.argv) == 1 else " " + shlex.join(sys.argv[1:])
    )
    if os.environ.get("NEURONVIZ_DATA"):
        command = f"NEURONVIZ_DATA={os.environ['NEURONVIZ_DATA']} {command}"
    started = time.perf_counter()
    report: dict = {
        "command": command,
        "date": datetime.date.today().isoformat(),
        "environment": machine(),
    }
    peers = ensure_peer_venv(args.peer_venv.resolve(), args.rebuild_peers)
    report["peer_venv"] = {k: v for k, v in peers.items() if k != "versions"}
    report["versions"] = {"neuronviz": project_versions(), "peers": peers["versions"]}
    py_peer = peer_python(args.peer_venv.resolve())
    env = child_env(args.threads)
    keep = args.work_dir is not None
    work = args.work_dir.resolve() if keep else Path(tempfile.mkdtemp(prefix="nvpeers-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        files = write_data(work, args.data_dir, args.sentences, args.test_sentences)
        report["settings"] = {
            "model": args.model,
            "model_path": resolve_model_source(args.model)[1],
            "train_sentences": files["train"]["sentences"],
            "train_words": files["train"]["word_count"],
            "test_sentences": files["test"]["sentences"],
            "test_words": files["test"]["word_count"],
            "lambda1": args.lambda1,
            "lambda2": args.lambda2,
            "max_iter": args.max_iter,
            "saga_max_iter": args.saga_max_iter,
            "device": args.device,
            "dtype": args.dtype,
            "parts": sorted(parts),
            "threads": args.threads,
        }
        base = {
            "work": str(work),
            "splits": files,
            "model": args.model,
            "model_path": report["settings"]["model_path"],
            "device": args.device,
            "dtype": args.dtype,
            "repeat": args.repeat,
            "lambda1": args.lambda1,
            "lambda2": args.lambda2,
            "max_iter": args.max_iter,
            "saga_max_iter": args.saga_max_iter,
            "min_scale": MIN_SCALE,
            "ranking": "ranking" in parts,
        }
        # Extraction always runs: probes and rankings read what it writes.
        nv_ext = run_child("neuronviz-extract", base, sys.executable, work, env)
        nx_ext = run_child("neurox-extract", base, py_peer, work, env)
        entries = _entry_paths(Path(nv_ext["cache"]))
        if "extract" in parts:
            agreement = run_child(
                "compare-activations", {**base, "entries": entries}, py_peer, work, env
            )
            report["extract"] = {"neuronviz": nv_ext, "neurox": nx_ext, "agreement": agreement}
        if parts & {"probe", "ranking"}:
            spec = {**base, "cache": nv_ext["cache"]}
            nv = run_child("neuronviz-probe", spec, sys.executable, work, env)
            nx = run_child("neurox-probe", spec, py_peer, work, env)
            sk = run_child("sklearn-probe", spec, py_peer, work, env) if "probe" in parts else None
            report["probe"] = {"neuronviz": nv, "neurox": nx, "sklearn": sk}
            stop_at = equal_objective_points(nv["trace"], {"neurox": nx, "sklearn": sk})
            reach = {name: p["test_accuracy"] for name, p in (("neurox", nx), ("sklearn", sk)) if p}
            if "probe" in parts:
                at = run_child(
                    "neuronviz-probe-at",
                    {**spec, "stop_at": stop_at, "reach_accuracy": reach},
                    sys.executable,
                    work,
                    env,
                )
                report["probe"]["neuronviz_at"] = at
            if "ranking" in parts:
                top_nv = np.load(work / "nv_top.npy")
                top_nx = np.load(work / "nx_ordering.npy")[: len(top_nv)]
                report["ranking"] = {
                    "neuronviz": nv["ranking"],
                    "neurox": nx["ranking"],
                    "overlap": len(np.intersect1d(top_nv, top_nx)),
                    "neurox_mode_check": ranking_check(work),
                }
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    with contextlib.suppress(OSError):
        report["environment"]["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    report["targets"] = targets(report)
    report["notes"] = notes(report)
    report["wall_s"] = round(time.perf_counter() - started, 1)
    text = markdown(report)
    print(text)
    if args.markdown:
        args.markdown.write_text(text)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")


def _entry_paths(cache: Path) -> dict[str, str]:
    """The train and test entry folders of the bench's cache, by split."""
    out = {}
    for manifest in cache.glob("activations/*/*/manifest.json"):
        split = json.loads(manifest.read_text())["key"]["split"]
        out[split] = str(manifest.parent)
    return out


if __name__ == "__main__":
    main()
