"""Background analysis jobs with a record on disk, for the dashboard.

A job runs ``neuronviz probe`` work (extraction and analysis of one model for one or more tasks)
in a separate worker process, so the page that started it stays responsive. Its record,
``<cache>/jobs/<id>.json``, holds the request, the state, the current stage and percent, an ETA
and, on failure, the error message; any page (or a reloaded browser) reads it. The id is a hash
of the request, so identical requests share one job. A job can be cancelled; a worker that died
without finishing is reported as failed.

Run a worker by hand with ``python -m neuronviz.jobs JOB_ID --cache-dir DIR``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from neuronviz.engine import check_engine
from neuronviz.errors import ConfigError, NeuronvizError
from neuronviz.fileutil import atomic_write_json
from neuronviz.settings import resolve_cache_dir

__all__ = ["JobRecord", "JobRequest", "JobStore"]

log = logging.getLogger(__name__)

ACTIVE = ("queued", "running")
FINAL = ("done", "failed", "cancelled")


@dataclass(frozen=True)
class JobRequest:
    """What to analyse: one model, one or more tasks, and the analysis settings."""

    model: str
    tasks: tuple[str, ...]
    settings: dict = field(default_factory=dict)
    device: str = "auto"
    max_sentences: int | None = None
    data_dir: str | None = None
    aggregation: str = "last"
    engine: str = "local"  # or "ray" (neuronviz.distributed)

    def __post_init__(self) -> None:
        if not self.model.strip():
            raise ConfigError("choose a model")
        if not self.tasks:
            raise ConfigError("choose at least one task")
        check_engine(self.engine)

    @property
    def job_id(self) -> str:
        fields = asdict(self)
        if fields["engine"] == "local":  # ids of jobs from before engines existed stay the same
            del fields["engine"]
        text = json.dumps(fields, sort_keys=True, default=list)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class JobRecord:
    """The state of a job as stored on disk."""

    job_id: str
    request: JobRequest
    state: str = "queued"
    stage: str = ""
    task: str = ""
    percent: float = 0.0
    eta_seconds: float | None = None
    started: float = 0.0
    updated: float = 0.0
    error: str = ""
    pid: int | None = None
    result_keys: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["request"]["tasks"] = list(self.request.tasks)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> JobRecord:
        request = d["request"]
        return cls(**{**d, "request": JobRequest(**{**request, "tasks": tuple(request["tasks"])})})


class JobStore:
    """Job records under ``<cache>/jobs`` and the workers that update them."""

    def __init__(self, cache_dir: str | Path | None = None) -> None:
        self.cache_dir = resolve_cache_dir(cache_dir)
        self.base = self.cache_dir / "jobs"

    def path(self, job_id: str) -> Path:
        return self.base / f"{job_id}.json"

    def get(self, job_id: str) -> JobRecord | None:
        """The job's record, with a dead worker's job reported as failed."""
        try:
            record = JobRecord.from_dict(json.loads(self.path(job_id).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if record.state in ACTIVE and record.pid is not None and not _alive(record.pid):
            record = replace(
                record,
                state="failed",
                error=record.error or "the worker process stopped unexpectedly",
            )
            self.write(record)
        return record

    def write(self, record: JobRecord) -> None:
        atomic_write_json(self.path(record.job_id), record.to_dict())

    def all(self) -> list[JobRecord]:
        found = (
            [self.get(p.stem) for p in sorted(self.base.glob("*.json"))]
            if self.base.is_dir()
            else []
        )
        return sorted((r for r in found if r is not None), key=lambda r: -r.updated)

    def submit(self, request: JobRequest, *, spawn: bool = True) -> JobRecord:
        """Start a worker for ``request``, or return the job already running it."""
        existing = self.get(request.job_id)
        if existing is not None and existing.state in ACTIVE:
            return existing
        now = time.time()
        record = JobRecord(request.job_id, request, state="queued", started=now, updated=now)
        self.write(record)
        if spawn:
            cmd = [
                sys.executable,
                "-m",
                "neuronviz.jobs",
                request.job_id,
                "--cache-dir",
                str(self.cache_dir),
            ]
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # survives the Streamlit script run and browser reloads
            )
            record = replace(record, pid=proc.pid)
            self.write(record)
        return record

    def cancel(self, job_id: str) -> JobRecord | None:
        """Stop a running job (its worker and children) and mark it cancelled."""
        record = self.get(job_id)
        if record is None or record.state not in ACTIVE:
            return record
        if record.pid is not None and _alive(record.pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(record.pid, signal.SIGTERM)
        record = replace(record, state="cancelled", updated=time.time())
        self.write(record)
        return record

    def run(self, job_id: str) -> JobRecord:
        """Execute a queued job in this process, updating its record as it goes."""
        from neuronviz.analysis import AnalysisSettings, run_analysis

        record = self.get(job_id)
        if record is None:
            raise ConfigError(f"no job {job_id!r} in {self.base}")
        request = record.request
        record = replace(
            record, state="running", pid=os.getpid(), started=time.time(), updated=time.time()
        )
        self.write(record)
        tracker = _Tracker(self, record, len(request.tasks))
        try:
            settings = AnalysisSettings(**_settings(request.settings))
            for i, task in enumerate(request.tasks):
                tracker.task(i, task)
                result = run_analysis(
                    request.model,
                    task,
                    settings=settings,
                    cache=self.cache_dir,
                    data_dir=request.data_dir,
                    max_sentences=request.max_sentences,
                    device=request.device,
                    callback=tracker,
                    engine=request.engine,
                )
                tracker.finished(task, result.key)
        except NeuronvizError as exc:
            return tracker.fail(str(exc))
        except Exception as exc:
            log.exception("job %s failed", job_id)
            return tracker.fail(f"unexpected error: {type(exc).__name__}: {exc}")
        return tracker.done()


def _settings(d: dict) -> dict:
    out = dict(d)
    if "lambdas" in out:
        out["lambdas"] = tuple(tuple(p) for p in out["lambdas"])
    if "percents" in out:
        out["percents"] = tuple(out["percents"])
    return out


# Rough share of a task's time spent in each stage (from minilm x pos on 2 CPU cores).
STAGE_WEIGHTS = {
    "extract": 0.10,
    "lambda search": 0.06,
    "oracle": 0.14,
    "ranking": 0.01,
    "minimal set": 0.12,
    "curves": 0.40,
    "control": 0.09,
    "layers": 0.08,
    "stability": 0.0,
}


class _Tracker:
    """Turns progress callbacks into job-record updates: every new stage, and within a stage at
    most twice a second."""

    def __init__(self, store: JobStore, record: JobRecord, n_tasks: int) -> None:
        self.store, self.record, self.n_tasks = store, record, n_tasks
        self.index = 0
        self.last = 0.0

    def task(self, index: int, task: str) -> None:
        self.index = index
        self._update(stage="starting", task=task, percent=100.0 * index / self.n_tasks, force=True)

    def __call__(self, stage: str, done: int, total: int) -> None:
        name = "extract" if stage.startswith("extract") else stage
        order = list(STAGE_WEIGHTS)
        before = (
            sum(STAGE_WEIGHTS[s] for s in order[: order.index(name)])
            if name in STAGE_WEIGHTS
            else 0.0
        )
        within = STAGE_WEIGHTS.get(name, 0.0) * (done / total if total else 0.0)
        share = min((before + within) / sum(STAGE_WEIGHTS.values()), 0.999)
        percent = max(self.record.percent, 100.0 * (self.index + share) / self.n_tasks)
        self._update(stage=stage, percent=percent, force=stage != self.record.stage)

    def finished(self, task: str, key: str) -> None:
        keys = {**self.record.result_keys, task: key}
        self._update(
            stage="done",
            result_keys=keys,
            percent=100.0 * (self.index + 1) / self.n_tasks,
            force=True,
        )

    def _update(self, *, force: bool = False, **changes) -> None:
        now = time.time()
        if not force and now - self.last < 0.5:
            return
        self.last = now
        percent = changes.get("percent", self.record.percent)
        elapsed = now - self.record.started
        eta = elapsed * (100 - percent) / percent if percent > 1 else None
        self.record = replace(self.record, updated=now, eta_seconds=eta, **changes)
        self.store.write(self.record)

    def fail(self, message: str) -> JobRecord:
        self.record = replace(self.record, state="failed", error=message, updated=time.time())
        self.store.write(self.record)
        return self.record

    def done(self) -> JobRecord:
        self.record = replace(
            self.record,
            state="done",
            stage="done",
            percent=100.0,
            eta_seconds=0.0,
            updated=time.time(),
        )
        self.store.write(self.record)
        return self.record


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a finished child that was never reaped is a zombie: not alive
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a queued neuronviz job.")
    parser.add_argument("job_id")
    parser.add_argument("--cache-dir")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    from neuronviz.progress import set_bars_enabled

    set_bars_enabled(False)
    record = JobStore(args.cache_dir).run(args.job_id)
    return 0 if record.state == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
