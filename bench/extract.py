"""Extraction benchmark: neuronviz extraction vs the raw forward pass, and peak memory.

Usage (from the repository root, with NEURONVIZ_DATA pointing at shared/data):

    python bench/extract.py                      # both parts, minilm, prints a summary and JSON
    python bench/extract.py --part speed         # only the throughput comparison
    python bench/extract.py --part memory        # only peak memory on the full train file
    python bench/extract.py --part batches       # raw forward words/s by batch token budget

Speed: on the full CoNLL-2000 test split (47,377 words) the raw forward pass of the same model
on the same batches (tokenised once, same padding, no gather, no saving) is timed against the
complete neuronviz extraction into a fresh cache entry (tokenisation, forward, gather, float16
conversion, writes, checksums). Runs alternate so both see the same machine state; the median
of ``--repeat`` runs is reported.

Memory: the whole CoNLL-2000 train file (8,936 sentences, 211,727 words) is extracted in a
child process whose peak resident memory (ru_maxrss) is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from neuronviz.corpora.readers import read_conll2000  # noqa: E402
from neuronviz.corpora.sources import locate_corpus  # noqa: E402
from neuronviz.corpora.tasks import TaskSplit  # noqa: E402
from neuronviz.extraction.extract import ExtractionSettings, plan_batches, tokenize_words  # noqa: E402
from neuronviz.extraction.fill_cache import extract_split  # noqa: E402
from neuronviz.models.loading import load_model  # noqa: E402
from neuronviz.progress import set_bars_enabled  # noqa: E402
from neuronviz.store.activation_cache import ActivationCache  # noqa: E402
from neuronviz.store.manifests import EntryKey  # noqa: E402


def environment() -> dict:
    """What the numbers depend on: CPU, threads, BLAS and its settings."""
    from threadpoolctl import threadpool_info

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "processor": _cpu_name(),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"),
        "blas": [
            {k: i.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for i in threadpool_info()
        ],
        "torch_blas": torch.__config__.show().split("BLAS_INFO=")[-1].split(",")[0]
        if "BLAS_INFO=" in torch.__config__.show()
        else None,
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def corpus_split(name: str, data_dir: str | None) -> TaskSplit:
    folder = locate_corpus("conll2000", data_dir=data_dir)
    corpus = read_conll2000(folder / f"{name}.txt")
    return TaskSplit(
        "pos", name, "conll2000-bench", corpus.source, corpus.tokens, corpus.columns["pos"]
    )


def raw_forward(model, tok, batches, hidden_states: bool) -> float:
    """Seconds for the model's forward pass alone over the same padded batches."""
    pad = model.tokenizer.pad_token_id or 0
    start = time.perf_counter()
    with torch.inference_mode():
        for batch in batches:
            seqs = [tok.ids[p] for p in batch.pieces]
            width = max(len(s) for s in seqs)
            ids = np.full((len(seqs), width), pad, dtype=np.int64)
            mask = np.zeros_like(ids)
            for b, s in enumerate(seqs):
                ids[b, : len(s)] = s
                mask[b, : len(s)] = 1
            model.model(
                input_ids=torch.from_numpy(ids).to(model.device),
                attention_mask=torch.from_numpy(mask).to(model.device),
                output_hidden_states=hidden_states,
            )
    if model.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def neuronviz_extract(model, split: TaskSplit, settings: ExtractionSettings) -> float:
    """Seconds for the full neuronviz extraction of ``split`` into a fresh cache."""
    with tempfile.TemporaryDirectory(prefix="nvbench-") as tmp:
        key = EntryKey(
            model.name,
            model.fingerprint,
            split.corpus,
            split.split,
            split.digest,
            settings.aggregation,
            0,
        )
        start = time.perf_counter()
        extract_split(model, split, key, ActivationCache(tmp), settings)
        return time.perf_counter() - start


def speed(args) -> dict:
    model = load_model(args.model, device=args.device)
    split = corpus_split("test", args.data_dir)
    settings = ExtractionSettings(batch_tokens=args.batch_tokens)
    tok = tokenize_words(model.tokenizer, split.tokens, settings.window(model))
    batches = plan_batches(tok.lengths, settings.tokens_per_batch(model))
    n_tokens = int(tok.lengths.sum())
    raw_forward(model, tok, batches[:3], True)  # warm-up
    raw, raw_hs, ours = [], [], []
    for _ in range(args.repeat):
        raw.append(raw_forward(model, tok, batches, hidden_states=False))
        raw_hs.append(raw_forward(model, tok, batches, hidden_states=True))
        ours.append(neuronviz_extract(model, split, settings))
    med = {
        name: statistics.median(v) for name, v in (("raw", raw), ("raw_hs", raw_hs), ("ours", ours))
    }
    return {
        "model": model.name,
        "device": str(model.device),
        "split": "conll2000 test",
        "sentences": split.n_sentences,
        "words": split.n_words,
        "subword_tokens": n_tokens,
        "batches": len(batches),
        "batch_tokens": settings.tokens_per_batch(model),
        "runs": args.repeat,
        "raw_forward_s": round(med["raw"], 2),
        "raw_forward_hidden_states_s": round(med["raw_hs"], 2),
        "neuronviz_extract_s": round(med["ours"], 2),
        "raw_forward_words_per_s": round(split.n_words / med["raw"]),
        "raw_forward_tokens_per_s": round(n_tokens / med["raw"]),
        "neuronviz_words_per_s": round(split.n_words / med["ours"]),
        "neuronviz_tokens_per_s": round(n_tokens / med["ours"]),
        "ratio_to_raw_forward": round(med["raw"] / med["ours"], 3),
        "all_runs_s": {"raw": raw, "raw_hidden_states": raw_hs, "neuronviz": ours},
    }


def batch_sweep(args) -> dict:
    """Raw forward throughput over the test split for several padded-token budgets."""
    model = load_model(args.model, device=args.device)
    split = corpus_split("test", args.data_dir)
    tok = tokenize_words(model.tokenizer, split.tokens, model.window)
    out = {}
    for budget in (1024, 2048, 4096, 8192, 16384):
        batches = plan_batches(tok.lengths, budget)
        raw_forward(model, tok, batches[:2], True)
        best = min(raw_forward(model, tok, batches, True) for _ in range(args.repeat))
        out[budget] = round(split.n_words / best)
    return out


MEMORY_CHILD = """
import json, resource, sys, tempfile, time
sys.path.insert(0, sys.argv[1])
from bench.extract import corpus_split, neuronviz_extract
from neuronviz.extraction.extract import ExtractionSettings
from neuronviz.models.loading import load_model
from neuronviz.progress import set_bars_enabled
set_bars_enabled(False)
model = load_model(sys.argv[2], device=sys.argv[4])
split = corpus_split("train", sys.argv[3] or None)
seconds = neuronviz_extract(model, split, ExtractionSettings())
print(json.dumps({"words": split.n_words, "seconds": seconds,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def memory(args) -> dict:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            MEMORY_CHILD,
            str(ROOT),
            args.model,
            args.data_dir or "",
            args.device,
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "split": "conll2000 train (whole file)",
        "words": result["words"],
        "seconds": round(result["seconds"], 1),
        "words_per_s": round(result["words"] / result["seconds"]),
        "peak_rss_mib": round(result["peak_rss_mib"], 1),
        "entry_size_mib": round(result["words"] * 2688 * 2 / 2**20, 1)
        if args.model == "minilm"
        else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--data-dir", default=os.environ.get("NEURONVIZ_DATA"))
    parser.add_argument("--part", choices=["speed", "memory", "batches", "all"], default="all")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch-tokens", type=int)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    set_bars_enabled(False)
    report = {"environment": environment()}
    if args.part in ("speed", "all"):
        report["speed"] = speed(args)
        s = report["speed"]
        print(
            f"[speed] {s['words']} words / {s['subword_tokens']} tokens on {s['device']}: "
            f"raw forward {s['raw_forward_words_per_s']} words/s ({s['raw_forward_tokens_per_s']} tok/s), "
            f"neuronviz {s['neuronviz_words_per_s']} words/s ({s['neuronviz_tokens_per_s']} tok/s), "
            f"ratio {s['ratio_to_raw_forward']}"
        )
    if args.part in ("memory", "all"):
        report["memory"] = memory(args)
        m = report["memory"]
        print(f"[memory] {m['words']} words in {m['seconds']} s: peak RSS {m['peak_rss_mib']} MiB")
    if args.part == "batches":
        report["raw_forward_words_per_s_by_batch_tokens"] = batch_sweep(args)
        print(f"[batches] {report['raw_forward_words_per_s_by_batch_tokens']}")
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
