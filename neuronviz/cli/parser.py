"""The argument parser of the neuronviz command: its subcommands and options."""

from __future__ import annotations

import argparse
from typing import Any

from neuronviz.cli.analysis_commands import (
    cmd_compare,
    cmd_extract,
    cmd_intervene,
    cmd_probe,
    cmd_reproduce,
)
from neuronviz.cli.cache_commands import (
    cmd_bundle_export,
    cmd_bundle_import,
    cmd_cache_list,
    cmd_cache_remove,
    cmd_cache_verify,
    cmd_models,
    cmd_tasks,
)
from neuronviz.version import __version__

__all__ = ["build_parser"]


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
    _add_extract(sub, common)
    _add_probe(sub, common)
    _add_compare(sub, common)
    _add_intervene(sub, common)
    _add_cache(sub, common)
    _add_reproduce(sub, common)
    _add_bundle(sub, common)
    _add_listings(sub, common)
    return parser


def _model_and_tasks(parser: argparse.ArgumentParser) -> None:
    """``--model`` and ``--task`` (repeatable), as ``extract`` and ``probe`` take them."""
    parser.add_argument(
        "--model", default="minilm", help="registry name, Hugging Face id or local folder"
    )
    parser.add_argument(
        "--task", action="append", required=True, help="task name (repeat or comma-separate)"
    )


def _add_extract(sub, common: argparse.ArgumentParser) -> None:
    """``neuronviz extract``: fill the activation cache for a task."""
    ex = sub.add_parser(
        "extract", parents=[common], help="extract and cache activations for a task"
    )
    _model_and_tasks(ex)
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


def _add_probe(sub, common: argparse.ArgumentParser) -> None:
    """``neuronviz probe``: the full analysis of a model x task."""
    pr = sub.add_parser(
        "probe", parents=[common], help="run the full neuron analysis of a model x task"
    )
    _model_and_tasks(pr)
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


def _add_compare(sub, common: argparse.ArgumentParser) -> None:
    """``neuronviz compare``: tasks and models from stored analyses."""
    cp = sub.add_parser(
        "compare", parents=[common], help="compare tasks and models from stored analyses"
    )
    cp.add_argument("--models", default="minilm", help="comma-separated models")
    cp.add_argument("--tasks", default="pos,chunk,sem,ccg", help="comma-separated tasks")
    cp.add_argument("--run", action="store_true", help="run missing analyses with default settings")
    cp.add_argument("--device", default="auto")
    cp.add_argument("--json", help="also write the comparison as JSON to this file")
    cp.set_defaults(func=cmd_compare)


def _add_intervene(sub, common: argparse.ArgumentParser) -> None:
    """``neuronviz intervene``: change neurons inside the model and measure the probes."""
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


def _add_cache(sub, common: argparse.ArgumentParser) -> None:
    """``neuronviz cache list|remove|verify``."""
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


def _add_reproduce(sub, common: argparse.ArgumentParser) -> None:
    """``neuronviz reproduce``: the paper's study and its report."""
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


def _add_bundle(sub, common: argparse.ArgumentParser) -> None:
    """``neuronviz bundle export|import``: demo bundles."""
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


def _add_listings(sub, common: argparse.ArgumentParser) -> None:
    """``neuronviz models`` and ``neuronviz tasks``."""
    sub.add_parser("models", parents=[common], help="list registered models").set_defaults(
        func=cmd_models
    )
    sub.add_parser(
        "tasks", parents=[common], help="list tasks and where their data is"
    ).set_defaults(func=cmd_tasks)
