"""Background analysis jobs with a record on disk, run one after another from a queue.

A job runs ``neuronviz probe`` work (extraction and analysis of one model for one or more tasks,
or a preview of it: :mod:`neuronviz.analyses.previews`) in a worker process, so the page that queued it
stays responsive. Its record, ``<cache>/jobs/<id>.json``, holds the request, the state
(queued, running, done, failed, cancelled), its place in the queue, the current stage, percent,
detail and an ETA, and on failure the error message; any page (or a reloaded browser) reads it.
The id is a hash of the request, so identical requests share one job.

One queue runner per cache (``python -m neuronviz.dashboard.jobs --runner``, started by
:meth:`JobStore.ensure_runner`, kept single by a lock file) starts the queued jobs in order, one
at a time, each in its own worker process, and reaps it; two browser tabs or two servers on one
cache therefore never run a job twice or two jobs at once. Jobs can be cancelled and queued
jobs moved; a worker that died without finishing is reported as failed.

Run a worker by hand with ``python -m neuronviz.dashboard.jobs JOB_ID --cache-dir DIR``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import logging
import math
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from neuronviz.engines.choose import check_engine
from neuronviz.errors import ConfigError, NeuronvizError
from neuronviz.settings import resolve_cache_dir
from neuronviz.store.files import atomic_write_json

__all__ = ["JobRecord", "JobRequest", "JobStore", "first_run_plan"]

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
    engine: str = "local"  # or "ray" (neuronviz.engines.ray_engine)
    preview: bool = False  # a preview on a sentence sample (neuronviz.analyses.previews)

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
        if not fields["preview"]:
            del fields["preview"]
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
    order: float = 0.0  # place in the queue: lower runs first
    submitted: float = 0.0
    finished: float = 0.0
    detail: str = ""  # progress inside the stage: "iteration 84", "37 of 120 probes"

    @property
    def label(self) -> str:
        kind = "preview of " if self.request.preview else ""
        return f"{kind}{self.request.model} x {', '.join(self.request.tasks)}"

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

    def queued(self) -> list[JobRecord]:
        """The jobs waiting to run, in the order they will run."""
        return sorted((r for r in self.all() if r.state == "queued"), key=lambda r: r.order)

    def submit(self, request: JobRequest, *, spawn: bool = True, first: bool = False) -> JobRecord:
        """Queue ``request`` (at the end, or ``first``) and make sure a runner serves the queue;
        returns the job already queued or running for the same request instead, if any."""
        existing = self.get(request.job_id)
        if existing is not None and existing.state in ACTIVE:
            return existing
        now = time.time()
        waiting = [r.order for r in self.queued()]
        order = (min(waiting, default=now) - 1.0) if first else max([now, *waiting]) + 1e-3
        record = JobRecord(
            request.job_id, request, state="queued", submitted=now, updated=now, order=order
        )
        self.write(record)
        if spawn:
            self.ensure_runner()
        return record

    def submit_all(self, requests: list[JobRequest], *, spawn: bool = True) -> list[JobRecord]:
        """Queue several requests in this order, then start the runner once."""
        records = [self.submit(r, spawn=False) for r in requests]
        if spawn:
            self.ensure_runner()
        return records

    def move(self, job_id: str, step: int) -> None:
        """Move a queued job ``step`` places earlier (negative) or later in the queue."""
        queue = self.queued()
        ids = [r.job_id for r in queue]
        if job_id not in ids:
            return
        i = ids.index(job_id)
        j = min(max(i + step, 0), len(queue) - 1)
        if i == j:
            return
        moved = queue.pop(i)
        queue.insert(j, moved)
        base = min(r.order for r in queue)
        for k, r in enumerate(queue):  # renumber: plain, stable order values
            if r.order != base + k:
                current = self.get(r.job_id)
                if current is not None and current.state == "queued":
                    self.write(replace(current, order=base + k))

    def cancel(self, job_id: str) -> JobRecord | None:
        """Stop a running job (its worker and children) or drop a queued one; mark it cancelled."""
        record = self.get(job_id)
        if record is None or record.state not in ACTIVE:
            return record
        if record.state == "running" and record.pid is not None and _alive(record.pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(record.pid, signal.SIGTERM)
        now = time.time()
        record = replace(
            record,
            state="cancelled",
            stage="",
            detail="",
            eta_seconds=None,
            updated=now,
            finished=now,
        )
        self.write(record)
        return record

    # -- the queue runner -------------------------------------------------------------------

    def _lock(self):
        """The runner's lock file, opened (not yet locked)."""
        self.base.mkdir(parents=True, exist_ok=True)
        return open(self.base / "runner.lock", "a+b")

    def runner_alive(self) -> bool:
        """Whether a runner serves this cache's queue now (it holds the lock)."""
        with self._lock() as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(fh, fcntl.LOCK_UN)
            return False

    def ensure_runner(self) -> None:
        """Start a queue runner unless one is running. The runner is reaped by a thread of this
        process when it ends (no zombie under a long-lived server)."""
        if self.runner_alive() or not self.queued():
            return
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "neuronviz.dashboard.jobs",
                "--runner",
                "--cache-dir",
                str(self.cache_dir),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # survives the Streamlit script run and browser reloads
        )
        threading.Thread(target=proc.wait, name="neuronviz-runner-reaper", daemon=True).start()

    def serve(self, idle: float = 2.0) -> int:
        """Run queued jobs one at a time until the queue stays empty for ``idle`` seconds;
        returns how many ran (0 at once when another runner holds the lock)."""
        ran = 0
        while True:
            with self._lock() as fh:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return ran
                quiet_since = time.time()
                while True:
                    queue = self.queued()
                    if queue:
                        self._run_worker(queue[0])
                        ran += 1
                        quiet_since = time.time()
                    elif time.time() - quiet_since > idle:
                        break
                    else:
                        time.sleep(0.2)
            # A job queued between the last look and the unlock found the lock still held and
            # started no runner: look once more, now that the lock is free.
            if not self.queued():
                return ran

    def _run_worker(self, record: JobRecord) -> None:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "neuronviz.dashboard.jobs",
                record.job_id,
                "--cache-dir",
                str(self.cache_dir),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # cancel() stops the worker and its children as a group
        )
        current = self.get(record.job_id)
        if current is not None and current.state == "queued":
            self.write(replace(current, pid=proc.pid))
        proc.wait()
        self.get(record.job_id)  # a worker that died mid-run is marked failed here

    def run(self, job_id: str) -> JobRecord:
        """Execute a queued job in this process, updating its record as it goes."""
        from neuronviz.analyses.previews import preview_sentences, preview_settings
        from neuronviz.analyses.run import run_analysis
        from neuronviz.analyses.settings import AnalysisSettings
        from neuronviz.progress import set_heartbeat

        record = self.get(job_id)
        if record is None:
            raise ConfigError(f"no job {job_id!r} in {self.base}")
        if record.state != "queued":  # cancelled (or taken) while it waited
            return record
        request = record.request
        record = replace(
            record, state="running", pid=os.getpid(), started=time.time(), updated=time.time()
        )
        self.write(record)
        tracker = _Tracker(self, record, len(request.tasks))
        try:
            settings = AnalysisSettings(**_settings(request.settings))
            sentences = request.max_sentences
            if request.preview:
                settings = preview_settings(settings)
                sentences = sentences or preview_sentences()
            set_heartbeat(tracker.beat)
            for i, task in enumerate(request.tasks):
                tracker.task(i, task)
                result = run_analysis(
                    request.model,
                    task,
                    settings=settings,
                    cache=self.cache_dir,
                    data_dir=request.data_dir,
                    max_sentences=sentences,
                    device=request.device,
                    callback=tracker,
                    engine=request.engine,
                    preview=request.preview,
                )
                tracker.finished(task, result.key)
        except NeuronvizError as exc:
            return tracker.fail(str(exc))
        except Exception as exc:
            log.exception("job %s failed", job_id)
            return tracker.fail(f"unexpected error: {type(exc).__name__}: {exc}")
        finally:
            set_heartbeat(None)
        return tracker.done()


# Training-word cap of a model's full analyses on a first run, where all words would take many
# hours on a laptop's cores (smollm2-135m has 17,856 neurons); the reproduction uses the same.
FIRST_RUN_CAPS = {"smollm2-135m": 30_000}


def first_run_plan(
    models: tuple[str, ...], tasks: tuple[str, ...], data_dir: str | None = None
) -> list[JobRequest]:
    """What a fresh dashboard queues, in order: a preview of the first task for each model (so
    every view shows each model within minutes), the previews of the other tasks, then the
    full analyses, first model first."""
    if not models or not tasks:
        return []
    first, rest = tasks[:1], tasks[1:]
    plan = [JobRequest(m, first, preview=True, data_dir=data_dir) for m in models]
    if rest:
        plan += [JobRequest(m, rest, preview=True, data_dir=data_dir) for m in models]
    for m in models:
        cap = FIRST_RUN_CAPS.get(m)
        settings = {"max_train_words": cap} if cap else {}
        plan += [JobRequest(m, (t,), settings, data_dir=data_dir) for t in tasks]
    return plan


def _settings(d: dict) -> dict:
    out = dict(d)
    if "lambdas" in out:
        out["lambdas"] = tuple(tuple(p) for p in out["lambdas"])
    if "percents" in out:
        out["percents"] = tuple(out["percents"])
    return out


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


class _Tracker:
    """Turns progress reports into job-record updates: every new stage, and within a stage
    (extraction's words, solver iterations, retrained probes) at most twice a second.

    Inside a stage whose length is not known in advance (a solver runs until it converges) the
    share moves with time against the stage's expected length, estimated from the time the
    stages before it took per unit of weight; it approaches the stage's end without reaching it,
    so the bar keeps moving and the ETA is re-estimated from measured rates.
    """

    interval = 0.5  # seconds between record writes within a stage

    def __init__(self, store: JobStore, record: JobRecord, n_tasks: int) -> None:
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
    parser = argparse.ArgumentParser(description="Run a queued neuronviz job, or the queue.")
    parser.add_argument("job_id", nargs="?")
    parser.add_argument("--runner", action="store_true", help="serve the queue until it is empty")
    parser.add_argument("--cache-dir")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    if args.runner:
        JobStore(args.cache_dir).serve()
        return 0
    if not args.job_id:
        parser.error("give a JOB_ID or --runner")
    from neuronviz.progress import set_bars_enabled

    set_bars_enabled(False)
    record = JobStore(args.cache_dir).run(args.job_id)
    return 0 if record.state == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
