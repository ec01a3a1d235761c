"""The commands that look after what is kept: neuronviz cache list|remove|verify, bundle export|import, models and tasks."""

from __future__ import annotations

import argparse
from pathlib import Path

from neuronviz.cli.arguments import split_commas, task_names
from neuronviz.cli.output import say, text_table
from neuronviz.errors import CacheError, NeuronvizError

__all__ = [
    "cmd_bundle_export",
    "cmd_bundle_import",
    "cmd_cache_list",
    "cmd_cache_remove",
    "cmd_cache_verify",
    "cmd_models",
    "cmd_tasks",
]


def cmd_cache_list(args: argparse.Namespace) -> int:
    from neuronviz.store.activation_cache import ActivationCache, entry_rows
    from neuronviz.store.result_store import ResultStore

    cache = ActivationCache(args.cache_dir)
    entries = cache.entries(model=args.model)
    rows = [
        [
            row["model"],
            row["entry"],
            row["split"],
            row["words"],
            row["shape"],
            ",".join(row["tasks"]) or "-",
            f"{row['MiB']:.1f}",
            row["shards"] or "-",
            row["created"],
        ]
        for row in entry_rows(entries)
    ]
    if not rows:
        say(f"no cache entries in {cache.base}")
    else:
        headers = ["model", "entry", "split", "words", "shape", "tasks", "MiB", "shards", "created"]
        say(text_table(rows, headers))
    for partial in cache.partials():
        say(f"interrupted (resumed by the next identical extract): {partial}")
    for partial in ResultStore(cache.root).partials():
        say(f"interrupted analysis (continued by the next identical probe): {partial}")
    return 0


def cmd_cache_remove(args: argparse.Namespace) -> int:
    from neuronviz.store.activation_cache import ActivationCache

    cache = ActivationCache(args.cache_dir)
    if args.ids:
        targets = [cache.find(i) for i in args.ids]
    elif args.model:
        targets = cache.entries(model=args.model)
    else:
        raise NeuronvizError("say what to remove", hint="give entry ids, or --model NAME")
    for entry in targets:
        cache.remove(entry)
        say(f"removed {entry.manifest.key.model}/{entry.manifest.entry_id}")
    if not targets:
        say("nothing to remove")
    return 0


def cmd_cache_verify(args: argparse.Namespace) -> int:
    """Checks every activation entry and analysis result (or the ones named) and names each
    with what is wrong; exits 1 when anything is damaged."""
    from neuronviz.store.activation_cache import ActivationCache
    from neuronviz.store.result_store import audit_results

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
        say(f"{folder.relative_to(cache.root)}: {status}")
    if not found:
        say(f"nothing to verify in {cache.root}")
    elif bad:
        say(
            f"{bad} of {len(found)} damaged: remove an activation entry with "
            "`neuronviz cache remove ID` (the next extract or probe rebuilds it), a result "
            "folder with rm -r, or run the probe again with --force"
        )
    return 1 if bad else 0


def cmd_bundle_export(args: argparse.Namespace) -> int:
    from neuronviz.store.bundles import export_bundle

    tasks = task_names(args.task)
    models = [m for group in args.model for m in split_commas(group)]
    pairs = [(m, t) for m in models for t in tasks]
    info = export_bundle(
        pairs,
        args.output,
        cache_dir=args.cache_dir,
        activations=not args.no_activations,
        overwrite=args.force,
    )
    size = Path(args.output).stat().st_size / 2**20
    say(f"wrote {args.output}: {len(info.pairs)} analyses, {len(info.files)} files, {size:.1f} MiB")
    return 0


def cmd_bundle_import(args: argparse.Namespace) -> int:
    from neuronviz.store.bundle_import import import_bundle

    info = import_bundle(args.path, cache_dir=args.cache_dir)
    pairs = ", ".join(f"{m} x {t}" for m, t in info.pairs)
    say(f"imported {args.path}: {pairs}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from neuronviz.models.registry import MODELS

    rows = [[s.name, s.kind, s.layers, s.hidden, s.neurons, s.description] for s in MODELS.values()]
    say(text_table(rows, ["name", "kind", "layers", "hidden", "neurons", "description"]))
    say("\nAny Hugging Face id or local folder saved with save_pretrained works as --model too.")
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
    say(text_table(rows, ["task", "corpus", "column", "data", "description"]))
    return 0
