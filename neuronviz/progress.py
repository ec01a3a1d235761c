"""Progress reporting shared by the CLI (tqdm bars) and the dashboard (callbacks).

Long steps report through a :class:`Progress`: it drives a tqdm bar unless bars are switched
off (``--quiet``) and forwards ``(stage, done, total)`` to an optional callback, which is how a
background dashboard job records its progress on disk.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from tqdm.auto import tqdm

__all__ = [
    "Progress",
    "ProgressCallback",
    "bars_enabled",
    "beat",
    "set_bars_enabled",
    "set_heartbeat",
]

ProgressCallback = Callable[[str, int, int], None]

_state: dict = {"bars": True, "heartbeat": None}


def set_bars_enabled(enabled: bool) -> None:
    """Switch terminal progress bars on or off for this process (the CLI's ``--quiet``)."""
    _state["bars"] = bool(enabled)


def bars_enabled() -> bool:
    """Whether terminal progress bars are shown."""
    return _state["bars"]


def set_heartbeat(fn: Callable[[int, int, str], None] | None) -> None:
    """Receive :func:`beat` reports from inside long stages (a dashboard job's tracker)."""
    _state["heartbeat"] = fn


def beat(done: int, total: int, unit: str) -> None:
    """Report progress inside a stage: a solver's iteration ``done`` of at most ``total``
    (unit "iteration"; "step" for the L-BFGS steps of a retrained probe), or the ``done``-th
    retrained probe of ``total`` planned (unit "probes"; 0: not known). Cheap when nobody
    listens."""
    fn = _state["heartbeat"]
    if fn is not None:
        fn(done, total, unit)


class Progress:
    """Progress of one stage of ``total`` units; use as a context manager."""

    def __init__(
        self,
        stage: str,
        total: int,
        *,
        unit: str = "it",
        callback: ProgressCallback | None = None,
        initial: int = 0,
        bar: bool | None = None,
    ) -> None:
        self.stage = stage
        self.total = int(total)
        self.done = int(initial)
        self._callback = callback
        self._bar = (
            tqdm(
                total=self.total,
                initial=self.done,
                desc=stage,
                unit=unit,
                unit_scale=True,
                leave=False,
            )
            if (bars_enabled() if bar is None else bar)
            else None
        )
        self._report()

    def update(self, n: int = 1) -> None:
        """Record ``n`` more units as done."""
        self.done += int(n)
        if self._bar is not None:
            self._bar.update(n)
        self._report()

    def _report(self) -> None:
        if self._callback is not None:
            self._callback(self.stage, self.done, self.total)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
