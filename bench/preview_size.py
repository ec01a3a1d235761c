"""How large a preview must be: previews of one model x task at several sentence counts.

For each count it prints one JSON line: time (extraction included), training words, oracle test
accuracy with its interval, the minimal set with its interval (or why it is undecided), the
ranking-quality verdicts, top-1% accuracy with its interval, and the Jaccard overlap of its top-5%
neurons with those of the largest count (how stable the ranking a preview shows is).

    NEURONVIZ_DATA=../shared/data python bench/preview_size.py minilm pos 100,150,300
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neuronviz.analyses.previews import preview_settings, undecided
from neuronviz.analyses.run import run_analysis


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("task")
    parser.add_argument("sizes", help="sentence counts, comma-separated")
    parser.add_argument("--cache-dir", help="default: a fresh temporary folder")
    args = parser.parse_args()
    cache = args.cache_dir or tempfile.mkdtemp(prefix="neuronviz-preview-size-")
    sizes = sorted(int(x) for x in args.sizes.split(","))
    rows, tops = {}, {}
    for n in sizes:
        start = time.time()
        r = run_analysis(
            args.model,
            args.task,
            settings=preview_settings(),
            cache=cache,
            max_sentences=n,
            preview=True,
        )
        q = r.ranking_quality
        tops[n] = {int(x) for x in r.order[: max(1, r.n_neurons // 20)]}
        rows[n] = {
            "model": args.model,
            "task": args.task,
            "sentences": n,
            "seconds": round(time.time() - start, 1),
            "train_words": r.words["train"],
            "oracle": round(100 * r.oracle.test_accuracy, 2),
            "oracle_ci": [round(100 * v, 2) for v in r.oracle.test_accuracy_ci],
            "minimal": r.minimal.size,
            "minimal_interval": r.minimal.size_interval,
            "undecided": undecided(r),
            "beats_random": {p: bool(v.beats_random) for p, v in q.items()},
            "top1": round(100 * q["1"]["top"], 1),
            "top1_ci": [round(100 * v, 1) for v in q["1"]["top_ci"]],
        }
    largest = tops[sizes[-1]]
    for n in sizes:
        rows[n]["top5_jaccard_vs_largest"] = round(
            len(tops[n] & largest) / len(tops[n] | largest), 3
        )
        print(json.dumps(rows[n]), flush=True)


if __name__ == "__main__":
    main()
