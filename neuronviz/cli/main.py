"""The ``neuronviz`` command line.

``neuronviz extract --model minilm --task pos`` fills the activation cache; ``neuronviz cache
list|remove|verify`` manages it; ``neuronviz models`` and ``neuronviz tasks`` list what can be
analysed. The CLI only parses arguments, calls package functions and prints their results.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from neuronviz.errors import CacheError, ConfigError, NeuronvizError, visible
from neuronviz.progress import set_bars_enabled
from neuronviz.version import __version__

__all__ = ["main"]

log = logging.getLogger("neuronviz")


def _table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    """Plain aligned text table."""
    cells = [[visible(str(c)) for c in header]] + [[visible(str(c)) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _tasks(groups: list[str], required: bool = True) -> list[str]:
    """Task names from ``--task`` values (repeated or comma-separated), each checked before any
    work starts. A path keeps its commas: after ``upos:PATH`` or ``parallel:PATH``, items that
    are not task names belong to the path (``parallel:S,L``, ``upos:a,b.conllu``)."""
    from neuronviz.corpora.tasks import TASKS, parse_task_name

    def is_task(item: str) -> bool:
        return item.partition(":")[0].strip().lower() in TASKS

    tasks = []
    for group in groups:
        items = _csv(group)
        while items:
            item = items.pop(0)
            spec = TASKS.get(item.partition(":")[0].strip().lower())
            if spec is not None and spec.needs_path:
                while items and not is_task(items[0]):
                    item = f"{item},{items.pop(0)}"
            tasks.append(item)
    if required and not tasks:
        raise ConfigError(
            f"no task given ({', '.join(map(repr, groups)) or 'nothing'})",
            hint="name one, e.g. --task pos (neuronviz tasks lists them)",
        )
    for task in tasks:
        parse_task_name(task)
    return tasks


def _engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine",
        default="local",
        choices=["local", "ray"],
        help="local (default) or ray: a Ray cluster at $RAY_ADDRESS, else a local one "
        "(pip install 'neuronviz[ray]')",
    )
    parser.add_argument(
        "--workers", type=int, help="Ray workers (default: one per GPU, else per CPU)"
    )


# ---------------------------------------------------------------- commands


def cmd_extract(args: argparse.Namespace) -> int:
    from neuronviz.extraction.extract import ExtractionSettings
    from neuronviz.extraction.fill_cache import extract_task

    settings = ExtractionSettings(
        aggregation=args.aggregation, max_length=args.max_length, batch_tokens=args.batch_tokens
    )
    rows = []
    for task in _tasks(args.task):
        result = extract_task(
            args.model,
            task,
            splits=_csv(args.splits),
            settings=settings,
            cache=args.cache_dir,
            data_dir=args.data_dir,
            max_sentences=args.max_sentences,
            device=args.device,
            dtype=args.dtype,
            revision=args.revision,
            engine=args.engine,
            workers=args.workers,
            shard_words=args.shard_words,
        )
        for split, entry in result.entries.items():
            m = entry.manifest
            seconds = m.extraction.get("seconds", 0.0)
            rows.append(
                [
                    result.model,
                    task,
                    split,
                    m.n_sentences,
                    m.n_words,
                    f"{m.shape[0]} x {m.shape[1]}",
                    "cached" if result.cached[split] else f"extracted in {seconds:.1f}s",
                    entry.path,
                ]
            )
    _out(_table(rows, ["model", "task", "split", "sentences", "words", "shape", "status", "path"]))
    return 0


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}"


def _weighting(result) -> str:
    if result.method not in ("lca", "lasso"):
        return ""
    return f", {result.ranking.get('weighting', 'uniform')} class weighting"


def _separations(point: dict) -> str:
    by = point.get("separation_by_weighting") or {}
    if not by:
        return "-" if point.get("separation") is None else f"{100 * point['separation']:.2f}"
    return " ".join(f"{v[0]}:{100 * s:.2f}" for v, s in by.items())


def _ci(value: float | None, ci, scale: float = 100, digits: int = 2) -> str:
    """``94.87 [94.61, 95.13]``: a value with its 95% interval ("-" when there is none)."""
    from neuronviz.reports.tables import with_ci

    return with_ci(value, ci, scale, digits) or "-"


def _fit(record: dict | None) -> str:
    if not record or record.get("kkt_max") is None:
        return ""
    state = "converged" if record.get("converged") else "NOT CONVERGED"
    return f"KKT {record['kkt_max']:.1e} ({state}, tol {record.get('kkt_tol', 1e-4):.0e}, {record.get('n_iter')} it)"


def _quality_rows(q: dict) -> list[list[object]]:
    return [
        [
            f"{p}%",
            v["size"],
            _ci(v["top"], v.get("top_ci"), digits=1),
            f"{_pct(v['random_mean'])} +- {_pct(v['random_std'])} ({len(v.get('random_draws') or [])})",
            "-" if v.get("top_percentile") is None else f"{v['top_percentile']:.0f}",
            "-" if v.get("p_top_vs_random") is None else f"{v['p_top_vs_random']:.3g}",
            _ci(v["bottom"], v.get("bottom_ci"), digits=1),
            "-" if v.get("p_random_vs_bottom") is None else f"{v['p_random_vs_bottom']:.3g}",
            "yes" if v["beats_random"] else "NO",
        ]
        for p, v in q.items()
    ]


def format_summary(result) -> str:
    """A short text report of one analysis (what ``neuronviz probe`` prints): every accuracy
    with its 95% interval (bootstrap over sentences), every fit with its convergence."""
    o, m, q = result.oracle, result.minimal, result.ranking_quality
    ranked = result.neuron_ranking().ranked
    lines = [
        f"{result.model} x {result.task}  ({result.n_neurons} neurons, {result.words['train']} training words, ranking: {result.method}{_weighting(result)}; the ranking orders {ranked} neurons, the rest tie)",
        "",
        "lambda search ({rule} rule, tolerance {tol} points; dev accuracy on a {n}-word prefix):".format(
            rule=result.lambda_search["rule"],
            tol=result.lambda_search["tolerance"],
            n=result.lambda_search["grid_words"],
        ),
    ]
    rows = [
        [
            f"{p['lambda1']:g}",
            f"{p['lambda2']:g}",
            _pct(p["dev_accuracy"]),
            _separations(p),
            f"{p['zero_weight_fraction']:.3f}",
            f"{p['kkt_max']:.1e}" + ("" if p.get("converged") else " NOT converged"),
            "<- chosen"
            if (p["lambda1"], p["lambda2"]) == tuple(result.lambda_search["chosen"])
            else "",
        ]
        for p in result.lambda_search["points"]
    ]
    lines += [
        "  " + line
        for line in _table(
            rows,
            [
                "lambda1",
                "lambda2",
                "dev %",
                "separation (u: uniform, f: frequency)",
                "zero w",
                "KKT",
                "",
            ],
        ).splitlines()
    ]
    lines += [
        "",
        "95% intervals in brackets (bootstrap over sentences)",
        f"oracle (all neurons): test {_ci(o['test_accuracy'], o.get('test_accuracy_ci'))}%  dev {_pct(o['dev_accuracy'])}%  macro-F1 {_pct(o['macro_f1'])}  "
        f"objective {o['objective']:.4f}  {_fit(o)}  zero weights {100 * o['zero_weight_fraction']:.1f}%  "
        f"unused neurons {o['unused_neurons']}",
        f"minimal set: {_ci(m['size'], m.get('size_interval'), 1, 0)} neurons ({_ci(m['fraction'], m.get('fraction_interval'))}%)  "
        f"test {_ci(m['test_accuracy'], m.get('test_accuracy_ci'))}%  dev {_pct(m['dev_accuracy'])}% "
        f"(threshold {_pct(m['threshold'])}%{'' if m['reached'] else ', NOT reached'})",
    ]
    if m.get("chance_share") is not None:
        lines.append(
            f"  chance level: random neurons need {_ci(m['chance_share'], m.get('chance_share_interval'), digits=1)}% "
            f"of the neurons for the same dev accuracy; minimal / chance {_ci(m['localization'], m.get('localization_interval'), 1, 3)}"
        )
        if m.get("chance_extrapolated"):
            lines.append(
                f"  (in {100 * m['chance_extrapolated']:.0f}% of the resamples random sets stay "
                "below the threshold at every measured size: the crossing is interpolated toward "
                "all neurons, which reach the oracle's accuracy)"
            )
    if m.get("beyond_ranked"):
        lines.append(
            f"  note: the minimal set is larger than the {ranked} neurons the ranking orders; "
            "its last neurons are a random choice among the tied rest"
        )
    if result.control:
        c = result.control
        lines.append(
            f"control task: test {_ci(c['test_accuracy'], c.get('test_accuracy_ci'))}%  {_fit(c)}; "
            f"selectivity {_ci(c['selectivity'], c.get('selectivity_ci'))} points; "
            f"minimal set control {_pct(c['minimal_test_accuracy'])}%  selectivity {_ci(c['minimal_selectivity'], c.get('minimal_selectivity_ci'))}"
        )
    if o.get("retrained"):
        lines.append(
            f"retrained probes: {o['retrained_converged']} of {o['retrained']} reached their "
            f"gradient tolerance (largest gradient {o['retrained_grad_max']:.1e})"
        )
    lines += [
        "",
        "ranking quality (retrained, test %; random: mean +- sd (draws); top percentile among "
        "the random draws and one-sided p; bottom: the method's lowest, over tie orders):",
    ]
    lines += [
        "  " + line
        for line in _table(
            _quality_rows(q),
            [
                "neurons",
                "size",
                "top",
                "random",
                "top pct",
                "p",
                "bottom",
                "p random>bottom",
                "beats random",
            ],
        ).splitlines()
    ]
    if not all(v["beats_random"] for v in q.values()):
        lines.append(
            "  WARNING: the ranking does not beat random neurons (p < 0.05) at every size; "
            "top-neuron charts are not meaningful there."
        )
    counts = result.layers["minimal"]["count"]
    lines += [
        "",
        "minimal set by layer: "
        + "  ".join(f"{name}: {c}" for name, c in zip(result.layer_names, counts, strict=True)),
    ]
    if "probe_test_accuracy" in result.layers:
        lines.append(
            "per-layer probes (test %): "
            + "  ".join(f"{_pct(a)}" for a in result.layers["probe_test_accuracy"])
        )
    lines += [f"note: {w}" for w in result.warnings]
    lines.append("time (s): " + ", ".join(f"{k} {v:.0f}" for k, v in result.timings.items()))
    return "\n".join(lines)


def cmd_probe(args: argparse.Namespace) -> int:
    import json

    from neuronviz.analyses.run import AnalysisSettings, run_analysis

    settings = AnalysisSettings(
        lambdas=tuple(_lambda_pairs(args.lambdas)) if args.lambdas else AnalysisSettings.lambdas,
        rule=args.lambda_rule,
        rule_tolerance=args.rule_tolerance,
        method=args.method,
        weighting=args.weighting,
        delta=args.delta,
        relative_delta=args.relative_delta,
        seed=args.seed,
        seeds=args.seeds,
        max_train_words=args.max_train_words,
        control=not args.no_control,
        layers=not args.no_layers,
        kkt_tol=args.kkt_tol,
        random_draws=args.random_draws,
        tie_draws=args.tie_draws,
    )
    summaries = []
    for task in _tasks(args.task):
        result = run_analysis(
            args.model,
            task,
            settings=settings,
            cache=args.cache_dir,
            data_dir=args.data_dir,
            max_sentences=args.max_sentences,
            extract=not args.no_extract,
            device=args.device,
            force=args.force,
            engine=args.engine,
            workers=args.workers,
        )
        _out(format_summary(result))
        _out()
        summaries.append(result.summary())
    if args.json:
        from pathlib import Path

        Path(args.json).write_text(
            json.dumps(summaries[0] if len(summaries) == 1 else summaries, indent=1) + "\n"
        )
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    import json

    from neuronviz.analyses.run import run_analysis
    from neuronviz.models.registry import display_name
    from neuronviz.reports.compare import compare_models, verdicts
    from neuronviz.settings import resolve_cache_dir
    from neuronviz.store.results import ResultStore

    store = ResultStore(resolve_cache_dir(args.cache_dir))
    results = []
    for model in _csv(args.models):
        for task in _csv(args.tasks):
            result = store.latest(display_name(model), task)
            if result is None and args.run:
                result = run_analysis(
                    model, task, cache=args.cache_dir, data_dir=args.data_dir, device=args.device
                )
            if result is None:
                raise NeuronvizError(
                    f"no analysis of {model} x {task} in the cache",
                    hint=f"run: neuronviz probe --model {model} --task {task}  (or add --run)",
                )
            results.append(result)
    report = compare_models(results)
    rows = [
        [
            r["model"],
            r["task"],
            r["neurons"],
            _ci(r["oracle_test_accuracy"], r["oracle_test_accuracy_ci"]),
            _ci(r["minimal_share"], r["minimal_share_interval"]),
            _ci(r["chance_share"], r["chance_share_interval"], digits=1),
            _ci(r["localization"], r["localization_interval"], 1, 3),
            *(
                "-" if r["reach"][k] is None else f"{100 * r['reach'][k]:.2f}"
                for k in ("0.9", "0.95", "0.99")
            ),
            " ".join(f"{100 * v:.0f}" for v in r["depth_profile"]),
            _ci(r["selectivity"], r["selectivity_ci"]),
        ]
        for r in report["rows"]
    ]
    header = [
        "model",
        "task",
        "neurons",
        "oracle %",
        "minimal %",
        "chance %",
        "minimal/chance",
        "90% at",
        "95% at",
        "99% at",
        "depth profile (5 bins, %)",
        "selectivity",
    ]
    _out("95% intervals in brackets; chance %: the share of neurons random sets need for the")
    _out("same accuracy; minimal/chance below 1: more localized than random neurons")
    _out(_table(rows, header))
    for line in verdicts(report["rows"], results):
        _out(line.replace("**", ""))
    for model, overlap in report["task_overlap"].items():
        _out(
            f"\n{model}: {overlap['shared_by_two_or_more']} of {overlap['union']} minimal-set neurons serve two or more tasks"
        )
        _out(
            _table(
                [
                    [
                        " & ".join(p["tasks"]),
                        p["intersection"],
                        _ci(p["jaccard"], p["jaccard_interval"], 1, 3),
                        f"{p['expected_jaccard']:.3f}",
                        _ci(p["ratio"], p["ratio_interval"], 1, 2),
                        f"{p['p_value']:.2g}",
                    ]
                    for p in overlap["pairs"]
                ],
                ["tasks", "shared", "jaccard", "chance jaccard", "observed/chance", "p"],
            )
        )
    if args.json:
        from pathlib import Path

        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    return 0


def _lambda_pairs(text: str) -> list[tuple[float, float]]:
    """Parse "1e-3:1e-3,1e-4:0" into pairs; a single number means (x, x)."""
    pairs = []
    for item in _csv(text):
        a, _, b = item.partition(":")
        try:
            pairs.append((float(a), float(b or a)))
        except ValueError:
            raise NeuronvizError(
                f"cannot read lambda pair {item!r}", hint="write lambda1:lambda2, e.g. 1e-3:1e-4"
            ) from None
    return pairs


def cmd_cache_list(args: argparse.Namespace) -> int:
    from neuronviz.store.activations import ActivationCache

    cache = ActivationCache(args.cache_dir)
    entries = cache.entries(model=args.model)
    rows = [
        [
            e.manifest.key.model,
            e.manifest.entry_id,
            e.manifest.key.split,
            e.manifest.n_words,
            f"{e.shape[0]} x {e.shape[1]}",
            ",".join(sorted(e.manifest.labels)) or "-",
            f"{e.nbytes / 2**20:.1f}",
            len(e.manifest.shards) or "-",
            e.manifest.created,
        ]
        for e in entries
    ]
    if not rows:
        _out(f"no cache entries in {cache.base}")
    else:
        headers = ["model", "entry", "split", "words", "shape", "tasks", "MiB", "shards", "created"]
        _out(_table(rows, headers))
    for partial in cache.partials():
        _out(f"interrupted (resumed by the next identical extract): {partial}")
    for partial in sorted((cache.root / "results").glob("*/*.partial")):
        _out(f"interrupted analysis (continued by the next identical probe): {partial}")
    return 0


def cmd_cache_remove(args: argparse.Namespace) -> int:
    from neuronviz.store.activations import ActivationCache

    cache = ActivationCache(args.cache_dir)
    if args.ids:
        targets = [cache.find(i) for i in args.ids]
    elif args.model:
        targets = cache.entries(model=args.model)
    else:
        raise NeuronvizError("say what to remove", hint="give entry ids, or --model NAME")
    for entry in targets:
        cache.remove(entry)
        _out(f"removed {entry.manifest.key.model}/{entry.manifest.entry_id}")
    if not targets:
        _out("nothing to remove")
    return 0


def cmd_cache_verify(args: argparse.Namespace) -> int:
    """Checks every activation entry and analysis result (or the ones named) and names each
    with what is wrong; exits 1 when anything is damaged."""
    from neuronviz.store.activations import ActivationCache
    from neuronviz.store.results import audit_results

    cache = ActivationCache(args.cache_dir)
    if not cache.root.is_dir():
        raise CacheError(
            "no cache folder here" if not cache.root.exists() else "the cache is not a folder",
            path=cache.root,
            hint="give the folder with --cache-dir (or set NEURONVIZ_CACHE)",
        )
    if args.ids:
        wanted = {cache.find(i).path for i in args.ids}
        found = [(p, problems) for p, problems in cache.audit() if p in wanted]
    else:
        found = cache.audit() + audit_results(cache.root)
    bad = 0
    for folder, problems in found:
        bad += bool(problems)
        status = "ok" if not problems else "DAMAGED: " + "; ".join(problems)
        _out(f"{folder.relative_to(cache.root)}: {status}")
    if not found:
        _out(f"nothing to verify in {cache.root}")
    elif bad:
        _out(
            f"{bad} of {len(found)} damaged: remove an activation entry with "
            "`neuronviz cache remove ID` (the next extract or probe rebuilds it), a result "
            "folder with rm -r, or run the probe again with --force"
        )
    return 1 if bad else 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from neuronviz.reports.reproduce import PAPER_TASKS, ReproduceSettings, reproduce

    common_cap: int | None = 150_000
    model_caps: list[tuple[str, int | None]] = []
    for value in args.token_cap:
        model, _, cap = value.rpartition("=")
        try:
            number = int(cap)
        except ValueError:
            raise ConfigError(
                f"--token-cap {value!r}: expected a number of words (0 = all) or MODEL=N"
            ) from None
        if model:
            model_caps.append((model, number or None))
        else:
            common_cap = number or None
    settings = ReproduceSettings(
        models=tuple(m for group in args.models or ["minilm,smollm2-135m"] for m in _csv(group)),
        tasks=tuple(t for group in args.tasks for t in _csv(group)) or PAPER_TASKS,
        token_cap=common_cap,
        model_caps=tuple(model_caps),
        delta=args.delta,
        seed=args.seed,
        quick=args.quick,
        paper=args.paper,
    )
    name = args.name or "-".join(
        [*(["quick"] if args.quick else list(settings.models)), *(["paper"] if args.paper else [])]
    )
    out = Path(args.out) if args.out.endswith(".md") else Path(args.out) / name
    start = time.perf_counter()
    report, decided = reproduce(
        settings,
        out,
        cache=args.cache_dir,
        data_dir=args.data_dir,
        device=args.device,
        images=not args.no_images,
    )
    _out(_table([[f.verdict, f.claim] for f in decided], ["verdict", "finding"]))
    _out(f"report: {report} ({(time.perf_counter() - start) / 60:.1f} minutes)")
    return 0


def cmd_intervene(args: argparse.Namespace) -> int:
    import json

    from neuronviz.interventions.effects import (
        MAX_EFFECT_SENTENCES,
        build_intervention,
        probe_effects,
        select_neurons,
        spec_task,
    )
    from neuronviz.interventions.generation import MAX_NEW_TOKENS
    from neuronviz.models.loading import load_model
    from neuronviz.models.registry import display_name
    from neuronviz.settings import resolve_cache_dir
    from neuronviz.store.activations import ActivationCache
    from neuronviz.store.results import ResultStore

    root = resolve_cache_dir(args.cache_dir)
    store = ResultStore(root)
    name = display_name(args.model)
    latest = {t: store.latest(name, t) for t in sorted({r.task for r in store.all(name)})}
    analysed = {t: r for t, r in latest.items() if r is not None}
    if not analysed:
        raise NeuronvizError(
            f"no analysis of {args.model} in the cache: interventions are measured on its probes",
            hint=f"run: neuronviz probe --model {args.model} --task pos",
        )
    tasks = _tasks(args.task, required=False) or sorted(analysed)
    missing = [t for t in tasks if t not in analysed]
    if missing:
        raise NeuronvizError(
            f"no analysis of {args.model} x {', '.join(missing)}",
            hint=f"analysed: {', '.join(sorted(analysed))}",
        )
    if not 1 <= args.sentences <= MAX_EFFECT_SENTENCES:
        raise ConfigError(
            f"--sentences must lie in 1..{MAX_EFFECT_SENTENCES}, got {args.sentences}",
            hint="the effect is measured on the first N test sentences of each task",
        )
    if not 1 <= args.draws <= 1000:
        raise ConfigError(f"--draws must lie in 1..1000, got {args.draws}")
    if not math.isfinite(args.factor):
        raise ConfigError(f"--factor must be a finite number, got {args.factor}")
    if args.prompt and not 1 <= args.new_tokens <= MAX_NEW_TOKENS:
        raise ConfigError(f"--new-tokens must lie in 1..{MAX_NEW_TOKENS}, got {args.new_tokens}")
    neurons = select_neurons(args.neurons, list(analysed.values()))
    source = next(iter(analysed.values()))
    named = spec_task(args.neurons, analysed) or ""
    intervention = build_intervention(neurons, args.mode, analysed.get(named, source), args.factor)
    model = load_model(
        source.model_source or args.model, device=args.device, with_head=bool(args.prompt)
    )
    effects = probe_effects(
        model,
        intervention,
        [analysed[t] for t in tasks],
        cache=ActivationCache(root),
        sentences=args.sentences,
        random_draws=args.draws,
        seed=args.seed,
        means_from=analysed.get(named, source),
    )
    what = f"{args.mode}" + (f" x{args.factor:g}" if args.mode == "scale" else "")
    _out(
        f"{name}: {what} on {len(neurons)} neurons ({args.neurons}); "
        f"words scored: {', '.join(f'{e.task} {e.words}' for e in effects)} "
        f"(first {args.sentences} test sentences at most)"
    )
    rows = [
        [
            e.task,
            e.words,
            _pct(e.before),
            _pct(e.after),
            f"{100 * e.drop:+.2f}",
            f"{_pct(e.random_after)} +- {100 * e.random_std:.2f}",
            f"{100 * e.random_drop:+.2f}",
        ]
        for e in effects
    ]
    header = ["task", "words", "before %", "after %", "drop", "random after %", "random drop"]
    _out(_table(rows, header))
    _out(f"random: {args.draws} draws of {len(neurons)} neurons from the same layers")
    output = None
    if args.prompt:
        from neuronviz.interventions.effects import random_controls
        from neuronviz.interventions.generation import output_effect

        [control] = random_controls(model, intervention, analysed.get(named, source), 1, args.seed)
        output = output_effect(
            model, intervention, args.prompt, new_tokens=args.new_tokens, control=control
        )
        _out(f"\nprompt: {output.prompt}")
        _out(f"before: ...{output.continuation_before}")
        _out(f"after:  ...{output.continuation_after}")
        _out(f"random: ...{output.random_continuation}")
        _out(
            f"next-token KL(before || after) = {output.kl:.3f} nats "
            f"(random neurons: {output.random_kl:.3f})"
        )
        _out(
            "top next tokens before: "
            + ", ".join(f"{t!r} {p:.2f}" for t, p in output.top_before)
            + "\n                 after: "
            + ", ".join(f"{t!r} {p:.2f}" for t, p in output.top_after)
        )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "model": name,
                    "neurons": list(neurons),
                    "spec": args.neurons,
                    "mode": args.mode,
                    "factor": args.factor,
                    "effects": [e.to_dict() for e in effects],
                    "output": None if output is None else output.to_dict(),
                },
                indent=1,
            )
        )
    return 0


def cmd_bundle_export(args: argparse.Namespace) -> int:
    from neuronviz.store.bundles import export_bundle

    tasks = _tasks(args.task)
    models = [m for group in args.model for m in _csv(group)]
    pairs = [(m, t) for m in models for t in tasks]
    info = export_bundle(
        pairs,
        args.output,
        cache_dir=args.cache_dir,
        activations=not args.no_activations,
        overwrite=args.force,
    )
    size = Path(args.output).stat().st_size / 2**20
    _out(
        f"wrote {args.output}: {len(info.pairs)} analyses, {len(info.files)} files, {size:.1f} MiB"
    )
    return 0


def cmd_bundle_import(args: argparse.Namespace) -> int:
    from neuronviz.store.bundles import import_bundle

    info = import_bundle(args.path, cache_dir=args.cache_dir)
    pairs = ", ".join(f"{m} x {t}" for m, t in info.pairs)
    _out(f"imported {args.path}: {pairs}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from neuronviz.models.registry import MODELS

    rows = [[s.name, s.kind, s.layers, s.hidden, s.neurons, s.description] for s in MODELS.values()]
    _out(_table(rows, ["name", "kind", "layers", "hidden", "neurons", "description"]))
    _out("\nAny Hugging Face id or local folder saved with save_pretrained works as --model too.")
    return 0


def cmd_tasks(args: argparse.Namespace) -> int:
    from neuronviz.corpora.sources import CORPORA
    from neuronviz.corpora.tasks import TASKS
    from neuronviz.settings import resolve_cache_dir, resolve_data_dir

    data_dir = resolve_data_dir(args.data_dir)
    cache_data = resolve_cache_dir(args.cache_dir) / "data"
    rows = []
    for spec in TASKS.values():
        if spec.needs_path:
            where = "your file"
        else:
            source = CORPORA[spec.corpus]
            here = [
                d for d in (data_dir, cache_data) if d and source.is_complete(d / source.folder)
            ]
            where = str(here[0] / source.folder) if here else "downloaded on first use"
        rows.append([spec.name, spec.corpus, spec.column, where, spec.description])
    _out(_table(rows, ["task", "corpus", "column", "data", "description"]))
    return 0


# ---------------------------------------------------------------- parser


def _common_options(top_level: bool) -> argparse.ArgumentParser:
    """Options accepted before or after the subcommand.

    Subcommands use SUPPRESS defaults so they do not overwrite a value given before them.
    """
    kw: dict[str, Any] = {} if top_level else {"default": argparse.SUPPRESS}
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--cache-dir", help="cache folder (default: $NEURONVIZ_CACHE or ./cache)", **kw
    )
    common.add_argument(
        "--data-dir",
        help="corpus folder laid out like shared/data (default: $NEURONVIZ_DATA)",
        **kw,
    )
    common.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="only warnings and errors, no progress bars",
        **kw,
    )
    common.add_argument("-v", "--verbose", action="store_true", help="debug logging", **kw)
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common_options(top_level=False)
    parser = argparse.ArgumentParser(
        prog="neuronviz",
        description="Neuron-level analysis of pre-trained language models (Durrani et al., EMNLP 2020).",
        parents=[_common_options(top_level=True)],
    )
    parser.add_argument("--version", action="version", version=f"neuronviz {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    ex = sub.add_parser(
        "extract", parents=[common], help="extract and cache activations for a task"
    )
    ex.add_argument(
        "--model", default="minilm", help="registry name, Hugging Face id or local folder"
    )
    ex.add_argument(
        "--task", action="append", required=True, help="task name (repeat or comma-separate)"
    )
    ex.add_argument(
        "--splits", default="train,dev,test", help="comma-separated splits (default: all)"
    )
    ex.add_argument("--max-sentences", type=int, help="cap on sentences per split")
    ex.add_argument("--aggregation", default="last", choices=["last", "first", "mean"])
    ex.add_argument(
        "--max-length", type=int, help="tokens per forward pass (default: model window)"
    )
    ex.add_argument(
        "--batch-tokens", type=int, help="padded tokens per batch (default: 4096 CPU, 32768 GPU)"
    )
    ex.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    ex.add_argument("--dtype", default="auto", help="auto, float32, float16 or bfloat16")
    ex.add_argument("--revision", help="model revision on the hub")
    _engine_options(ex)
    ex.add_argument(
        "--shard-words",
        type=int,
        help="write the entry as shards of about N words (the Ray engine's layout; "
        "default with --engine ray: 50000)",
    )
    ex.set_defaults(func=cmd_extract)

    pr = sub.add_parser(
        "probe", parents=[common], help="run the full neuron analysis of a model x task"
    )
    pr.add_argument(
        "--model", default="minilm", help="registry name, Hugging Face id or local folder"
    )
    pr.add_argument(
        "--task", action="append", required=True, help="task name (repeat or comma-separate)"
    )
    pr.add_argument(
        "--method", default="lca", help="ranking: lca, lasso, probeless, random, neurox"
    )
    pr.add_argument(
        "--weighting",
        default="auto",
        help="class weighting of the weight-mass ranking: auto (chosen on dev), uniform "
        "(the paper's) or frequency",
    )
    pr.add_argument("--lambdas", help="grid of lambda1:lambda2 pairs, e.g. 0:0,1e-4:1e-4,1e-3:1e-3")
    pr.add_argument("--lambda-rule", default="separation", help="separation (default) or accuracy")
    pr.add_argument(
        "--rule-tolerance", type=float, default=1.5, help="points below the best dev accuracy"
    )
    pr.add_argument(
        "--delta",
        type=float,
        default=1.0,
        help="minimal set: within this many points of the oracle",
    )
    pr.add_argument(
        "--relative-delta", action="store_true", help="delta is a percentage of the oracle"
    )
    pr.add_argument("--seed", type=int, default=0)
    pr.add_argument(
        "--seeds", type=int, default=1, help="stability of the minimal set over N resamples"
    )
    pr.add_argument(
        "--max-train-words", type=int, help="cap on training words (the paper used 150000)"
    )
    pr.add_argument("--max-sentences", type=int, help="cap on sentences per split when extracting")
    pr.add_argument(
        "--kkt-tol",
        type=float,
        default=1e-4,
        help="a fit is converged when its largest KKT violation is at most this",
    )
    pr.add_argument(
        "--random-draws", type=int, default=20, help="random neuron sets per size (up to 5%%)"
    )
    pr.add_argument(
        "--tie-draws",
        type=int,
        default=3,
        help="tie orders a bottom-k among all-zero-weight neurons is averaged over",
    )
    pr.add_argument("--no-control", action="store_true", help="skip the control task")
    pr.add_argument("--no-layers", action="store_true", help="skip per-layer probes")
    pr.add_argument(
        "--no-extract", action="store_true", help="fail instead of extracting missing activations"
    )
    pr.add_argument("--force", action="store_true", help="recompute even if a cached result exists")
    pr.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    pr.add_argument("--json", help="also write the summary as JSON to this file")
    _engine_options(pr)
    pr.set_defaults(func=cmd_probe)

    cp = sub.add_parser(
        "compare", parents=[common], help="compare tasks and models from stored analyses"
    )
    cp.add_argument("--models", default="minilm", help="comma-separated models")
    cp.add_argument("--tasks", default="pos,chunk,sem,ccg", help="comma-separated tasks")
    cp.add_argument("--run", action="store_true", help="run missing analyses with default settings")
    cp.add_argument("--device", default="auto")
    cp.add_argument("--json", help="also write the comparison as JSON to this file")
    cp.set_defaults(func=cmd_compare)

    iv = sub.add_parser(
        "intervene",
        parents=[common],
        help="change neurons inside the model and measure the probes before and after",
    )
    iv.add_argument("--model", default="minilm")
    iv.add_argument(
        "--neurons",
        required=True,
        help="TASK:minimal, TASK:top50, TASK:CLASS:top10 or layer:index,layer:index",
    )
    iv.add_argument("--mode", default="zero", help="zero, mean (training mean) or scale")
    iv.add_argument("--factor", type=float, default=0.0, help="scale factor (--mode scale)")
    iv.add_argument(
        "--task", action="append", default=[], help="probes to measure (default: every analysed)"
    )
    iv.add_argument("--sentences", type=int, default=300, help="test sentences per task")
    iv.add_argument("--draws", type=int, default=3, help="random same-layer controls")
    iv.add_argument("--seed", type=int, default=0)
    iv.add_argument(
        "--prompt", help="causal models: also continue this text before and after the change"
    )
    iv.add_argument("--new-tokens", type=int, default=20, help="length of the continuation")
    iv.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    iv.add_argument("--json", help="also write the effects as JSON to this file")
    iv.set_defaults(func=cmd_intervene)

    cache = sub.add_parser("cache", parents=[common], help="list, remove or verify cache entries")
    cache_sub = cache.add_subparsers(dest="cache_command", required=True)
    ls = cache_sub.add_parser("list", parents=[common], help="list cache entries")
    ls.add_argument("--model", help="only this model")
    ls.set_defaults(func=cmd_cache_list)
    rm = cache_sub.add_parser("remove", parents=[common], help="remove cache entries")
    rm.add_argument("ids", nargs="*", help="entry ids (or unique prefixes)")
    rm.add_argument("--model", help="remove every entry of this model")
    rm.set_defaults(func=cmd_cache_remove)
    vf = cache_sub.add_parser("verify", parents=[common], help="check sizes and SHA-256 sums")
    vf.add_argument("ids", nargs="*", help="entry ids (default: all)")
    vf.set_defaults(func=cmd_cache_verify)

    rp = sub.add_parser(
        "reproduce",
        parents=[common],
        help="the paper's study: every model x task with its settings, and a report",
    )
    rp.add_argument(
        "--models",
        action="extend",
        nargs="+",
        default=None,
        help="models, space- or comma-separated (default: minilm smollm2-135m)",
    )
    rp.add_argument(
        "--tasks",
        action="extend",
        nargs="+",
        default=[],
        help="tasks, space- or comma-separated (default: pos chunk sem ccg)",
    )
    rp.add_argument(
        "--token-cap",
        action="append",
        default=[],
        metavar="[MODEL=]N",
        help="training tokens per task (the paper: 150000; 0 = all); MODEL=N for one model, "
        "e.g. smollm2-135m=30000 (repeatable)",
    )
    rp.add_argument(
        "--delta", type=float, default=1.0, help="minimal set: within delta%% of the oracle"
    )
    rp.add_argument("--seed", type=int, default=0)
    rp.add_argument("--quick", action="store_true", help="a small smoke version (minutes)")
    rp.add_argument(
        "--paper",
        action="store_true",
        help="the paper's lambda rule (best dev accuracy, uniform class weighting) instead of "
        "neuronviz's separation rule; the report shows where the verdicts differ when both "
        "are cached",
    )
    rp.add_argument("--name", help="report folder name (default: the models)")
    rp.add_argument(
        "--out",
        default="reports",
        help="parent folder of the report, or a .md file (figures go to the folder beside it)",
    )
    rp.add_argument("--no-images", action="store_true", help="skip PNG/SVG figures")
    rp.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    rp.set_defaults(func=cmd_reproduce)

    bundle = sub.add_parser(
        "bundle", parents=[common], help="export or import a demo bundle (results for a talk)"
    )
    bundle_sub = bundle.add_subparsers(dest="bundle_command", required=True)
    bx = bundle_sub.add_parser(
        "export", parents=[common], help="write chosen model x task results to one file"
    )
    bx.add_argument("--model", action="append", required=True, help="model(s), comma-separated")
    bx.add_argument("--task", action="append", required=True, help="task(s), comma-separated")
    bx.add_argument("-o", "--output", required=True, help="bundle file to write (.zip)")
    bx.add_argument(
        "--no-activations",
        action="store_true",
        help="results only (smaller; corpus views of the explorer are then unavailable)",
    )
    bx.add_argument(
        "--force",
        action="store_true",
        help="replace an existing file at -o even if it is not a neuronviz bundle",
    )
    bx.set_defaults(func=cmd_bundle_export)
    bi = bundle_sub.add_parser("import", parents=[common], help="add a bundle to the cache")
    bi.add_argument("path", help="bundle file")
    bi.set_defaults(func=cmd_bundle_import)

    sub.add_parser("models", parents=[common], help="list registered models").set_defaults(
        func=cmd_models
    )
    sub.add_parser(
        "tasks", parents=[common], help="list tasks and where their data is"
    ).set_defaults(func=cmd_tasks)
    return parser


class _OneLineFormatter(logging.Formatter):
    """One log record, one line: control characters in a message (a newline in a file name)
    are written as escapes, so nothing a user named can forge a line of the log."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return visible(super().formatMessage(record))


def _configure_logging(quiet: bool, verbose: bool) -> None:
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    # Other libraries speak at warning level unless --verbose (kaleido's browser driver, for
    # one, logs every temporary folder it removes at info level).
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLineFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, handlers=[handler])
    logging.getLogger("neuronviz").setLevel(level)
    set_bars_enabled(not quiet)
    if quiet:
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            hf_logging.set_verbosity_error()
        except ImportError:
            pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 check failed, 2 error, 130 interrupted)."""
    args = build_parser().parse_args(argv)
    _configure_logging(args.quiet, args.verbose)
    try:
        return int(args.func(args))
    except NeuronvizError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("interrupted: run the same command again to resume\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
