"""What the library says while it works goes to the `clapdemo` logger, never to print().

Library modules take their logger from `get(__name__)`. As a library should, clapdemo puts only a
`logging.NullHandler` on the "clapdemo" logger: imported into someone else's program it prints
nothing of its own, and that program's logging configuration decides where the records go.
Programs configure output: the CLI (`cli.main`) and the app call `to_console` at start, which
puts progress lines (INFO) on standard output, as the prints they replaced did, and warnings and
errors on standard error prefixed "warning:" / "error:". A program that wants otherwise (quieter,
a file, JSON) configures the "clapdemo" logger with the standard `logging` calls instead, e.g.
`logging.getLogger("clapdemo").setLevel(logging.WARNING)`.
"""

from __future__ import annotations

import logging
import sys

NAME = "clapdemo"

logging.getLogger(NAME).addHandler(logging.NullHandler())


class ConsoleHandler(logging.Handler):
    """INFO and below to the current sys.stdout, WARNING and above to sys.stderr, as plain lines
    (the current streams at each record, so a test's captured output and a redirected CLI both see them)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            warn = record.levelno >= logging.WARNING
            stream = sys.stderr if warn else sys.stdout
            stream.write((f"{record.levelname.lower()}: {text}" if warn else text) + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


def get(name: str) -> logging.Logger:
    """The logger for library module `name` (a child of "clapdemo"); it adds no output of its own."""
    return logging.getLogger(name)


def to_console(verbose: bool = True) -> logging.Logger:
    """For programs (the CLI, the app), called once at start: the "clapdemo" logger's records on the
    console (`ConsoleHandler`), progress included when `verbose`, else warnings and errors only.
    Calling it again changes the level and adds no second handler. Returns the "clapdemo" logger."""
    base = logging.getLogger(NAME)
    if not any(isinstance(h, ConsoleHandler) for h in base.handlers):
        base.addHandler(ConsoleHandler())
    base.setLevel(logging.INFO if verbose else logging.WARNING)
    return base
