"""The project's one exception family.

Every error a user can cause (bad corpus, unknown model, broken cache entry, invalid setting)
is a :class:`NeuronvizError`. Messages say what was wrong, where, and what to do, so the CLI and
the dashboard can show them as they are, without a traceback.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "CacheError",
    "ConfigError",
    "DataError",
    "ModelError",
    "NeuronvizError",
    "visible",
]


class NeuronvizError(Exception):
    """Base class of every error neuronviz raises on purpose.

    Parameters
    ----------
    message : str
        What was wrong, as one sentence.
    path : str or Path, optional
        The file the problem is in.
    line : int, optional
        1-based line number inside ``path``.
    hint : str, optional
        What the user can do about it.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.hint = hint
        super().__init__(self._format())

    def _format(self) -> str:
        where = ""
        if self.path is not None:
            path = visible(self.path)
            where = f"{path}:{self.line}: " if self.line is not None else f"{path}: "
        text = f"{where}{self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text


def visible(text: str) -> str:
    """``text`` with control characters written as escapes (``\\n``, ``\\x1b``): a file name
    holding a newline must not start a line of its own (a forged log line) in a message."""
    return "".join(
        c if c.isprintable() or c == " " else c.encode("unicode_escape").decode("ascii")
        for c in text
    )


class DataError(NeuronvizError):
    """A corpus or task cannot be read or is malformed."""


class ModelError(NeuronvizError):
    """A model cannot be found, loaded or used for extraction."""


class CacheError(NeuronvizError):
    """A cache entry is missing, damaged or cannot be written."""


class ConfigError(NeuronvizError, ValueError):
    """A setting or argument has an invalid value."""
