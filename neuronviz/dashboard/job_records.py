"""A background job on disk: what was asked (the request) and where it stands (the record)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

from neuronviz.engines.choose import check_engine
from neuronviz.errors import ConfigError

__all__ = ["ACTIVE", "FINAL", "JobRecord", "JobRequest"]


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


def request_settings(d: dict) -> dict:
    out = dict(d)
    if "lambdas" in out:
        out["lambdas"] = tuple(tuple(p) for p in out["lambdas"])
    if "percents" in out:
        out["percents"] = tuple(out["percents"])
    return out
