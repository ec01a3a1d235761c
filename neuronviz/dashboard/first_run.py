"""What a fresh dashboard queues on its own: previews of every default model and task first, then the full analyses."""

from __future__ import annotations

from neuronviz.dashboard.job_records import JobRequest

__all__ = ["FIRST_RUN_CAPS", "first_run_plan"]


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
