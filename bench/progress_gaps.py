"""Progress that moves: how long the Start page's bar of a running job goes without a change.

Queues one analysis as the dashboard does (a job run by the queue's worker process), reads its
record every 0.5 s as the Start page would, and records each moment what it shows (stage, the
detail inside the stage, percent rounded to 0.1, the ETA in whole minutes) changes; prints the
longest gap between two changes, per stage, and the ETA's first and last estimates against the
time the job really took.

    NEURONVIZ_DATA=../shared/data python bench/progress_gaps.py minilm sem --json gaps.json

The cache is a fresh temporary folder (extraction included), so the analysis really runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neuronviz.dashboard.job_records import JobRequest
from neuronviz.dashboard.jobs import JobStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("task")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    cache = tempfile.mkdtemp(prefix="neuronviz-progress-")
    store = JobStore(cache)
    job = store.submit_all([JobRequest(args.model, (args.task,))])[0]
    shown, changes, etas = None, [], []
    while True:
        record = store.get(job.job_id)
        if record.state in ("done", "failed", "cancelled"):
            break
        if record.state == "running":
            eta = None if record.eta_seconds is None else round(record.eta_seconds / 60)
            now_shown = (record.stage, record.detail, round(record.percent, 1), eta)
            if now_shown != shown:
                changes.append((time.time(), record.stage))
                shown = now_shown
                if record.eta_seconds is not None:
                    etas.append((time.time(), record.eta_seconds))
        time.sleep(0.5)
    end = record.finished or time.time()
    gaps: dict[str, float] = {}
    for (t0, stage), (t1, _) in zip(changes, [*changes[1:], (end, "")], strict=True):
        gaps[stage] = max(gaps.get(stage, 0.0), t1 - t0)
    out = {
        "job": record.label,
        "state": record.state,
        "ran_s": round(end - record.started, 1),
        "changes": len(changes),
        "longest_gap_s": round(max(gaps.values(), default=0.0), 1),
        "longest_gap_by_stage_s": {k: round(v, 1) for k, v in gaps.items()},
        "eta_first": None
        if not etas
        else {
            "at_s": round(etas[0][0] - record.started),
            "said_s": round(etas[0][1]),
            "really_s": round(end - etas[0][0]),
        },
        "eta_half_way": None,
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "command": f"python bench/progress_gaps.py {args.model} {args.task}",
    }
    half = [e for e in etas if e[0] - record.started >= (end - record.started) / 2]
    if half:
        out["eta_half_way"] = {
            "at_s": round(half[0][0] - record.started),
            "said_s": round(half[0][1]),
            "really_s": round(end - half[0][0]),
        }
    print(json.dumps(out, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
