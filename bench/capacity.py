"""Capacity plan: activation volume, extraction GPU-hours, probe time and Ray workers for models of
110M to 70B parameters and corpora of 50k to 1M words, from figures measured on this machine.

    python bench/capacity.py            # prints the Markdown tables of docs/scaling.md

The measured inputs and the assumptions are constants below, each with where it comes from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# ---- measured here (2-core Xeon, AVX-512, torch 2.13 CPU; docs/benchmarks.md, 2026-11-25)
TOKENS_PER_WORD = 60_599 / 47_377  # CoNLL-2000 test through minilm's tokenizer, specials included
# minilm extraction, end to end: 10,432 subword tokens/s through 10.6M non-embedding parameters;
# smollm2-135m: 833 words/s = 1,065 tokens/s through 106.5M. Both are about 0.22 TFLOP/s at
# 2 FLOPs per parameter per token (embedding lookups cost no FLOPs).
CPU_EXTRACT_FLOPS = 2 * 10.6e6 * 10_432
# Complete `neuronviz probe` (lambda search, oracle, minimal set, curves, control, layer probes)
# per 1e9 (training words x neurons x classes): minilm x pos 381 s for 190,731 x 2,688 x 44;
# smollm2-135m x pos 2,010 s for 30,000 x 17,856 x 44 (more iterations: weak L1, 30 layer probes).
CPU_PROBE_S_PER_G = {
    "small": 381 / (190_731 * 2_688 * 44 / 1e9),
    "large": 2_010 / (30_000 * 17_856 * 44 / 1e9),
}
# Share of minilm x pos's analysis in independent fits (minimal set 42 s, curves 141 s, control
# 41 s, layer probes 33 s of 381 s): what the Ray engine runs in parallel. The rest (lambda search
# 54 s, oracle 59 s, ranking) is a chain of warm-started fits.
PARALLEL_SHARE = (42 + 141 + 41 + 33) / 381
DISK_WRITE = 1.1e9  # bytes/s, dd oflag=direct here (a cluster's shared store: per worker, assumed)

# ---- assumptions (not measured: no GPU was available to this session)
GPU_EXTRACT_FLOPS = 300e12  # bf16 forward on one H100, about 30% of its dense peak
GPU_PROBE_SPEEDUP = 100  # float32 probe products on one H100 against these 2 CPU cores
PROBE_WORDS_CAP = 150_000  # the paper's training cap: probes need not grow with the corpus
CLASSES = 44  # POS; cost grows linearly with the number of classes
FIT_TASKS = 40  # independent fits in one analysis (curves ~25, coarse minimal sizes, layers)
GPU_MEMORY = 80e9
WALL_TARGET_MIN = 10  # extraction wall time the worker count is sized for


@dataclass(frozen=True)
class Model:
    name: str
    example: str
    layers: int  # transformer blocks; neurons = (layers + 1) x hidden
    hidden: int
    params_nonemb: float  # FLOPs per token = 2 x this

    @property
    def neurons(self) -> int:
        return (self.layers + 1) * self.hidden

    @property
    def gpus_per_worker(self) -> int:
        return max(1, math.ceil(self.params_nonemb * 2 * 1.2 / GPU_MEMORY))  # bf16 + 20%


MODELS = [
    Model("110M", "BERT-base", 12, 768, 85e6),
    Model("1B", "Llama-3.2-1B", 16, 2048, 0.97e9),
    Model("7B", "Llama-2-7B", 32, 4096, 6.5e9),
    Model("70B", "Llama-2-70B", 80, 8192, 68.7e9),
]
CORPORA = [50_000, 250_000, 1_000_000]


def volume(m: Model, words: int) -> float:
    return words * m.neurons * 2  # float16


def extract_gpu_hours(m: Model, words: int) -> float:
    tokens = words * TOKENS_PER_WORD
    compute = tokens * 2 * m.params_nonemb / GPU_EXTRACT_FLOPS
    write = volume(m, words) / DISK_WRITE
    return max(compute, write) * m.gpus_per_worker / 3600


def extract_cpu_hours(m: Model, words: int) -> float:
    return words * TOKENS_PER_WORD * 2 * m.params_nonemb / CPU_EXTRACT_FLOPS / 3600


def probe_cpu_hours(m: Model, words: int) -> float:
    n = min(words, PROBE_WORDS_CAP)
    per_g = CPU_PROBE_S_PER_G["large" if m.neurons > 5_000 else "small"]
    return n * m.neurons * CLASSES / 1e9 * per_g / 3600


def amdahl(workers: int) -> float:
    return (1 - PARALLEL_SHARE) + PARALLEL_SHARE / workers


def human_bytes(b: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if b >= size:
            return f"{b / size:,.1f} {unit}"
    return f"{b:,.0f} B"


def human_hours(h: float) -> str:
    if h < 1 / 60:
        return f"{h * 3600:.0f} s"
    if h < 1:
        return f"{h * 60:.0f} min"
    return f"{h:,.1f} h"


def main() -> None:
    print(
        "| model | neurons | words | activations (float16) | extraction, 2 CPU cores | extraction GPU-hours | "
        "probe, 2 CPU cores | probe, 1 GPU | probe, 8 GPU workers (Ray) | extraction workers for 10 min |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for m in MODELS:
        for words in CORPORA:
            gpu_h = extract_gpu_hours(m, words)
            cpu_probe = probe_cpu_hours(m, words)
            gpu_probe = cpu_probe / GPU_PROBE_SPEEDUP
            workers = max(1, math.ceil(gpu_h / m.gpus_per_worker / (WALL_TARGET_MIN / 60)))
            per_worker = f" x {m.gpus_per_worker} GPUs" if m.gpus_per_worker > 1 else ""
            print(
                f"| {m.name} ({m.example}) | {m.neurons:,} | {words:,} | {human_bytes(volume(m, words))} "
                f"| {human_hours(extract_cpu_hours(m, words))} | {human_hours(gpu_h)} | {human_hours(cpu_probe)} | {human_hours(gpu_probe)} "
                f"| {human_hours(gpu_probe * amdahl(8))} | {workers}{per_worker} |"
            )
    print()
    print(
        f"Inputs: {TOKENS_PER_WORD:.2f} tokens/word; CPU extraction {CPU_EXTRACT_FLOPS / 1e12:.2f} "
        f"TFLOP/s; probe {CPU_PROBE_S_PER_G['small']:.1f} / {CPU_PROBE_S_PER_G['large']:.1f} s per "
        f"1e9 word x neuron x class (small / large models); parallel share {PARALLEL_SHARE:.0%} "
        f"(8 workers: {1 / amdahl(8):.2f}x, unbounded: {1 / (1 - PARALLEL_SHARE):.2f}x); "
        f"disk {DISK_WRITE / 1e9:.1f} GB/s."
    )


if __name__ == "__main__":
    main()
