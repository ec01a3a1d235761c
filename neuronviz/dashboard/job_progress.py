"""A running job's progress as its record shows it: the stage, the share done and the time left, estimated from each stage's usual share of a task and the rates measured so far."""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Protocol

from neuronviz.dashboard.job_records import JobRecord

__all__ = ["STAGE_WEIGHTS", "JobTracker", "RecordKeeper"]


# Rough share of a task's time spent in each stage: minilm x pos with converged fits on 2 CPU
# cores (docs/benchmarks.md, "First run": extraction 60 s, search 69, oracle 222, minimal set 50,
# curves 328, control 167, per-layer probes 45). Only the first estimate: within a task the ETA
# follows the rates measured so far.
STAGE_WEIGHTS = {
    "extract": 0.06,
    "lambda search": 0.07,
    "oracle": 0.24,
    "ranking": 0.005,
    "minimal set": 0.05,
    "curves": 0.35,
    "intervals": 0.005,
    "control": 0.18,
    "layers": 0.05,
    "stability": 0.0,
}


class RecordKeeper(Protocol):
    """Where job records are kept (:class:`neuronviz.dashboard.jobs.JobStore`)."""

    def write(self, record: JobRecord) -> None: ...

    def get(self, job_id: str) -> JobRecord | None: ...


class JobTracker:
    """Turns progress reports into job-record updates: every new stage, and within a stage
    (extraction's words, solver iterations, retrained probes) at most twice a second.

    Inside a stage whose length is not known in advance (a solver runs until it converges) the
    share moves with time against the stage's expected length, estimated from the time the
    stages before it took per unit of weight; it approaches the stage's end without reaching it,
    so the bar keeps moving and the ETA is re-estimated from measured rates.
    """

    interval = 0.5  # seconds between record writes within a stage

    def __init__(self, store: RecordKeeper, record: JobRecord, n_tasks: int) -> None:
        self.store, self.record, self.n_tasks = store, record, n_tasks
        self.index = 0
        self.last = 0.0
        self.stage_name = ""
        self.stage_start = time.time()
        self.task_start = time.time()
        self.weight_done = 0.0  # weight of the finished stages of the current task
        self.counts: dict[str, int] = {}
        self.probe_detail = ""  # "37 of 73 retrained probes", once a stage counts its probes

    def task(self, index: int, task: str) -> None:
        self.index = index
        self.task_start = time.time()
        self.weight_done = 0.0
        self.stage_name = ""
        self._update(stage="starting", task=task, detail="", percent=self._percent(0.0), force=True)

    def _percent(self, share: float) -> float:
        share = min(share / sum(STAGE_WEIGHTS.values()), 0.999)
        return max(self.record.percent, 100.0 * (self.index + share) / self.n_tasks)

    def _weight(self, name: str) -> float:
        return STAGE_WEIGHTS.get("extract" if name.startswith("extract") else name, 0.0)

    def __call__(self, stage: str, done: int, total: int) -> None:
        """A stage's own report: ``done`` of ``total`` units (0 of 1 when a stage starts)."""
        if stage != self.stage_name:
            if self.stage_name:
                self.weight_done += self._weight(self.stage_name)
            self.stage_name, self.stage_start = stage, time.time()
            self.counts = {}
            self.probe_detail = ""
        within = self._weight(stage) * (done / total if total else 0.0)
        self._update(
            stage=stage,
            detail="" if total <= 1 else f"{done:,} of {total:,}",
            percent=self._percent(self.weight_done + within),
            force=stage != self.record.stage,
        )

    def beat(self, done: int, total: int, unit: str) -> None:
        """A report from inside a stage (``neuronviz.progress.beat``): a solver iteration or a
        retrained probe."""
        self.counts[unit] = self.counts.get(unit, 0) + 1
        if unit == "step" and self.probe_detail:
            # a solver step of the next retrained probe: the bar stays where the counted probes
            # put it, the line under it moves
            self._update(detail=f"{self.probe_detail} (next: step {done})")
            return
        weight = self._weight(self.stage_name)
        if unit == "probes" and total:
            within = weight * min(done / total, 1.0)
            detail = self.probe_detail = f"{done:,} of {total:,} retrained probes"
        else:
            elapsed = time.time() - self.task_start - (time.time() - self.stage_start)
            rate = elapsed / self.weight_done if self.weight_done > 0 else 60.0
            expected = max(weight * rate, 1.0)
            within = weight * (1.0 - math.exp(-(time.time() - self.stage_start) / expected))
            detail = f"{unit} {done:,}" if unit != "probes" else f"{done:,} retrained probes"
        self._update(detail=detail, percent=self._percent(self.weight_done + within))

    def finished(self, task: str, key: str) -> None:
        keys = {**self.record.result_keys, task: key}
        self._update(
            stage="done",
            detail="",
            result_keys=keys,
            percent=100.0 * (self.index + 1) / self.n_tasks,
            force=True,
        )

    def _update(self, *, force: bool = False, **changes) -> None:
        now = time.time()
        if not force and now - self.last < self.interval:
            return
        self.last = now
        percent = changes.get("percent", self.record.percent)
        elapsed = now - self.record.started
        eta = elapsed * (100 - percent) / percent if percent > 1 else None
        self.record = replace(self.record, updated=now, eta_seconds=eta, **changes)
        if self._cancelled():
            raise SystemExit(1)  # the record says cancelled: stop without overwriting it
        self.store.write(self.record)

    def _cancelled(self) -> bool:
        on_disk = self.store.get(self.record.job_id)
        return on_disk is not None and on_disk.state == "cancelled"

    def fail(self, message: str) -> JobRecord:
        now = time.time()
        self.record = replace(self.record, state="failed", error=message, updated=now, finished=now)
        self.store.write(self.record)
        return self.record

    def done(self) -> JobRecord:
        now = time.time()
        self.record = replace(
            self.record,
            state="done",
            stage="done",
            detail="",
            percent=100.0,
            eta_seconds=0.0,
            updated=now,
            finished=now,
        )
        self.store.write(self.record)
        return self.record
