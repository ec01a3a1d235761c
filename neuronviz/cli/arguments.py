"""Reading what the user typed: task lists (a path keeps its commas), comma-separated values, lambda pairs."""

from __future__ import annotations

from neuronviz.errors import ConfigError, NeuronvizError


def split_commas(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def task_names(groups: list[str], required: bool = True) -> list[str]:
    """Task names from ``--task`` values (repeated or comma-separated), each checked before any
    work starts. A path keeps its commas: after ``upos:PATH`` or ``parallel:PATH``, items that
    are not task names belong to the path (``parallel:S,L``, ``upos:a,b.conllu``)."""
    from neuronviz.corpora.tasks import TASKS, parse_task_name

    def is_task(item: str) -> bool:
        return item.partition(":")[0].strip().lower() in TASKS

    tasks = []
    for group in groups:
        items = split_commas(group)
        while items:
            item = items.pop(0)
            spec = TASKS.get(item.partition(":")[0].strip().lower())
            if spec is not None and spec.needs_path:
                while items and not is_task(items[0]):
                    item = f"{item},{items.pop(0)}"
            tasks.append(item)
    if required and not tasks:
        raise ConfigError(
            f"no task given ({', '.join(map(repr, groups)) or 'nothing'})",
            hint="name one, e.g. --task pos (neuronviz tasks lists them)",
        )
    for task in tasks:
        parse_task_name(task)
    return tasks


def lambda_pairs(text: str) -> list[tuple[float, float]]:
    """Parse "1e-3:1e-3,1e-4:0" into pairs; a single number means (x, x)."""
    pairs = []
    for item in split_commas(text):
        a, _, b = item.partition(":")
        try:
            pairs.append((float(a), float(b or a)))
        except ValueError:
            raise NeuronvizError(
                f"cannot read lambda pair {item!r}", hint="write lambda1:lambda2, e.g. 1e-3:1e-4"
            ) from None
    return pairs
