"""The commands that compute: neuronviz extract, probe, compare, reproduce and intervene. Each parses nothing itself: it turns parsed arguments into package calls and prints their results."""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

from neuronviz.cli.arguments import lambda_pairs, split_commas, task_names
from neuronviz.cli.output import ci_text, format_summary, pct, say, text_table
from neuronviz.errors import ConfigError, NeuronvizError

__all__ = ["cmd_compare", "cmd_extract", "cmd_intervene", "cmd_probe", "cmd_reproduce"]


def cmd_extract(args: argparse.Namespace) -> int:
    from neuronviz.extraction.extract import ExtractionSettings
    from neuronviz.extraction.fill_cache import extract_task

    settings = ExtractionSettings(
        aggregation=args.aggregation, max_length=args.max_length, batch_tokens=args.batch_tokens
    )
    rows = []
    for task in task_names(args.task):
        result = extract_task(
            args.model,
            task,
            splits=split_commas(args.splits),
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
    say(
        text_table(
            rows, ["model", "task", "split", "sentences", "words", "shape", "status", "path"]
        )
    )
    return 0


def cmd_probe(args: argparse.Namespace) -> int:
    import json

    from neuronviz.analyses.run import run_analysis
    from neuronviz.analyses.settings import AnalysisSettings

    settings = AnalysisSettings(
        lambdas=tuple(lambda_pairs(args.lambdas)) if args.lambdas else AnalysisSettings.lambdas,
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
    for task in task_names(args.task):
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
        say(format_summary(result))
        say()
        summaries.append(result.summary())
    if args.json:
        from pathlib import Path

        Path(args.json).write_text(
            json.dumps(summaries[0] if len(summaries) == 1 else summaries, indent=1) + "\n"
        )
    return 0


def _compared_results(args: argparse.Namespace) -> list:
    """The latest analysis of every model x task asked for (run with ``--run`` when missing)."""
    from neuronviz.analyses.run import run_analysis
    from neuronviz.models.registry import display_name
    from neuronviz.settings import resolve_cache_dir
    from neuronviz.store.result_store import ResultStore

    store = ResultStore(resolve_cache_dir(args.cache_dir))
    results = []
    for model in split_commas(args.models):
        for task in split_commas(args.tasks):
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
    return results


def _print_comparison_rows(report: dict) -> None:
    rows = [
        [
            r["model"],
            r["task"],
            r["neurons"],
            ci_text(r["oracle_test_accuracy"], r["oracle_test_accuracy_ci"]),
            ci_text(r["minimal_share"], r["minimal_share_interval"]),
            ci_text(r["chance_share"], r["chance_share_interval"], digits=1),
            ci_text(r["localization"], r["localization_interval"], 1, 3),
            *(
                "-" if r["reach"][k] is None else f"{100 * r['reach'][k]:.2f}"
                for k in ("0.9", "0.95", "0.99")
            ),
            " ".join(f"{100 * v:.0f}" for v in r["depth_profile"]),
            ci_text(r["selectivity"], r["selectivity_ci"]),
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
    say("95% intervals in brackets; chance %: the share of neurons random sets need for the")
    say("same accuracy; minimal/chance below 1: more localized than random neurons")
    say(text_table(rows, header))


def _print_task_overlap(report: dict) -> None:
    for model, overlap in report["task_overlap"].items():
        say(
            f"\n{model}: {overlap['shared_by_two_or_more']} of {overlap['union']} minimal-set neurons serve two or more tasks"
        )
        say(
            text_table(
                [
                    [
                        " & ".join(p["tasks"]),
                        p["intersection"],
                        ci_text(p["jaccard"], p["jaccard_interval"], 1, 3),
                        f"{p['expected_jaccard']:.3f}",
                        ci_text(p["ratio"], p["ratio_interval"], 1, 2),
                        f"{p['p_value']:.2g}",
                    ]
                    for p in overlap["pairs"]
                ],
                ["tasks", "shared", "jaccard", "chance jaccard", "observed/chance", "p"],
            )
        )


def cmd_compare(args: argparse.Namespace) -> int:
    import json

    from neuronviz.reports.compare import compare_models, verdicts

    results = _compared_results(args)
    report = compare_models(results)
    _print_comparison_rows(report)
    for line in verdicts(report["rows"], results):
        say(line.replace("**", ""))
    _print_task_overlap(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from neuronviz.reports.reproduce import reproduce
    from neuronviz.reports.study import PAPER_TASKS, ReproduceSettings

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
        models=tuple(
            m for group in args.models or ["minilm,smollm2-135m"] for m in split_commas(group)
        ),
        tasks=tuple(t for group in args.tasks for t in split_commas(group)) or PAPER_TASKS,
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
    say(text_table([[f.verdict, f.claim] for f in decided], ["verdict", "finding"]))
    say(f"report: {report} ({(time.perf_counter() - start) / 60:.1f} minutes)")
    return 0


def _intervene_analyses(args: argparse.Namespace, root: Path) -> tuple[str, dict, list[str]]:
    """The model's display name, its latest analysis of each task, and the tasks to measure."""
    from neuronviz.models.registry import display_name
    from neuronviz.store.result_store import ResultStore

    store = ResultStore(root)
    name = display_name(args.model)
    latest = {t: store.latest(name, t) for t in sorted({r.task for r in store.all(name)})}
    analysed = {t: r for t, r in latest.items() if r is not None}
    if not analysed:
        raise NeuronvizError(
            f"no analysis of {args.model} in the cache: interventions are measured on its probes",
            hint=f"run: neuronviz probe --model {args.model} --task pos",
        )
    tasks = task_names(args.task, required=False) or sorted(analysed)
    missing = [t for t in tasks if t not in analysed]
    if missing:
        raise NeuronvizError(
            f"no analysis of {args.model} x {', '.join(missing)}",
            hint=f"analysed: {', '.join(sorted(analysed))}",
        )
    return name, analysed, tasks


def _check_intervene_args(args: argparse.Namespace) -> None:
    from neuronviz.interventions.effects import MAX_EFFECT_SENTENCES
    from neuronviz.interventions.generation import MAX_NEW_TOKENS

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


def _print_effects(args: argparse.Namespace, name: str, neurons, effects) -> None:
    what = f"{args.mode}" + (f" x{args.factor:g}" if args.mode == "scale" else "")
    say(
        f"{name}: {what} on {len(neurons)} neurons ({args.neurons}); "
        f"words scored: {', '.join(f'{e.task} {e.words}' for e in effects)} "
        f"(first {args.sentences} test sentences at most)"
    )
    rows = [
        [
            e.task,
            e.words,
            pct(e.before),
            pct(e.after),
            f"{100 * e.drop:+.2f}",
            f"{pct(e.random_after)} +- {100 * e.random_std:.2f}",
            f"{100 * e.random_drop:+.2f}",
        ]
        for e in effects
    ]
    header = ["task", "words", "before %", "after %", "drop", "random after %", "random drop"]
    say(text_table(rows, header))
    say(f"random: {args.draws} draws of {len(neurons)} neurons from the same layers")


def _print_output(output) -> None:
    """The prompt's continuation and next-token distribution before, after and under control."""
    say(f"\nprompt: {output.prompt}")
    say(f"before: ...{output.continuation_before}")
    say(f"after:  ...{output.continuation_after}")
    say(f"random: ...{output.random_continuation}")
    say(
        f"next-token KL(before || after) = {output.kl:.3f} nats "
        f"(random neurons: {output.random_kl:.3f})"
    )
    say(
        "top next tokens before: "
        + ", ".join(f"{t!r} {p:.2f}" for t, p in output.top_before)
        + "\n                 after: "
        + ", ".join(f"{t!r} {p:.2f}" for t, p in output.top_after)
    )


def cmd_intervene(args: argparse.Namespace) -> int:
    import json

    from neuronviz.interventions.effects import plan_intervention, probe_effects
    from neuronviz.models.loading import load_model
    from neuronviz.settings import resolve_cache_dir
    from neuronviz.store.activation_cache import ActivationCache

    root = resolve_cache_dir(args.cache_dir)
    name, analysed, tasks = _intervene_analyses(args, root)
    _check_intervene_args(args)
    plan = plan_intervention(args.neurons, args.mode, analysed, args.factor)
    neurons, intervention = plan.neurons, plan.intervention
    source = next(iter(analysed.values()))
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
        means_from=plan.means_from,
    )
    _print_effects(args, name, neurons, effects)
    output = None
    if args.prompt:
        from neuronviz.interventions.effects import random_controls
        from neuronviz.interventions.generation import output_effect

        [control] = random_controls(model, intervention, plan.means_from, 1, args.seed)
        output = output_effect(
            model, intervention, args.prompt, new_tokens=args.new_tokens, control=control
        )
        _print_output(output)
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
