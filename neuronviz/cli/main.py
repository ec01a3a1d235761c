"""The ``neuronviz`` command line.

``neuronviz extract --model minilm --task pos`` fills the activation cache; ``neuronviz cache
list|remove|verify`` manages it; ``neuronviz models`` and ``neuronviz tasks`` list what can be
analysed. The CLI only parses arguments, calls package functions and prints their results.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from neuronviz.cli.parser import build_parser
from neuronviz.errors import NeuronvizError, visible
from neuronviz.progress import set_bars_enabled

__all__ = ["main"]

log = logging.getLogger("neuronviz")


class _OneLineFormatter(logging.Formatter):
    """One log record, one line: control characters in a message (a newline in a file name)
    are written as escapes, so nothing a user named can forge a line of the log."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return visible(super().formatMessage(record))


def _configure_logging(quiet: bool, verbose: bool) -> None:
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    # Other libraries speak at warning level unless --verbose (kaleido's browser driver, for
    # one, logs every temporary folder it removes at info level).
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLineFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, handlers=[handler])
    logging.getLogger("neuronviz").setLevel(level)
    set_bars_enabled(not quiet)
    if quiet:
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            hf_logging.set_verbosity_error()
        except ImportError:
            pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 check failed, 2 error, 130 interrupted)."""
    args = build_parser().parse_args(argv)
    _configure_logging(args.quiet, args.verbose)
    try:
        return int(args.func(args))
    except NeuronvizError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("interrupted: run the same command again to resume\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
