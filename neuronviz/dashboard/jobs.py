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
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

from neuronviz.dashboard.job_progress import JobTracker
from neuronviz.dashboard.job_records import ACTIVE, JobRecord, JobRequest, request_settings
from neuronviz.errors import ConfigError, NeuronvizError
from neuronviz.settings import resolve_cache_dir
from neuronviz.store.files import atomic_write_json

__all__ = ["JobStore"]

log = logging.getLogger(__name__)


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
        tracker = JobTracker(self, record, len(request.tasks))
        try:
            settings = AnalysisSettings(**request_settings(request.settings))
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
