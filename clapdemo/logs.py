"""What the library says while it works goes to the `clapdemo` logger, never to print().

Library modules take their logger from `get(__name__)`. Until a program puts its own handler on
the "clapdemo" logger, `get` gives it one (`ConsoleHandler`): progress lines (INFO) on standard
output, as the prints they replaced did, warnings and errors on standard error prefixed
"warning:" / "error:". A program that wants otherwise (quieter, a file, JSON) configures the
"clapdemo" logger with the standard `logging` calls before or after, e.g.
`logging.getLogger("clapdemo").setLevel(logging.WARNING)`.
"""

from __future__ import annotations

import logging
import sys

NAME = "clapdemo"


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
    """The logger for library module `name` (a child of "clapdemo"), the console handler put in
    place first if the program has configured none."""
    base = logging.getLogger(NAME)
    if not base.handlers:
        base.addHandler(ConsoleHandler())
        if base.level == logging.NOTSET:
            base.setLevel(logging.INFO)
    return logging.getLogger(name)
