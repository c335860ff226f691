"""Errors in the app: shown in the tab's own status line, logged once, never a toast.

Handlers say what went wrong by raising `gr.Error` (their unit tests check it),
or let a library error through `user_errors`, which words it. `on(...)` wires a
handler to an event so that whatever it raises lands, rendered as Markdown and
whole, in the status line of its tab, and the server log gets one line per user
error (a traceback only for an unexpected one). Gradio's toasts (sticky, raw
Markdown, cut mid-word, piling up over the buttons) are never used.

Every wired event first clears its status line, so a message stays until the
next action on that tab and no longer.
"""

from __future__ import annotations

import functools
import inspect
import logging
from contextlib import contextmanager

import gradio as gr

log = logging.getLogger("clapdemo.app")
USER_ERRORS = (ValueError, FileNotFoundError, KeyError, OSError)  # bad input, a missing or unreadable file


@contextmanager
def user_errors(what: str):
    """Turn a library error into a `gr.Error` saying `what` failed and why; anything unexpected too."""
    try:
        yield
    except gr.Error:
        raise
    except USER_ERRORS as error:
        raise gr.Error(f"{what}: {error}", duration=None) from error
    except Exception as error:  # never a silent failure: say it, and log the trace
        log.exception("%s failed unexpectedly", what)
        raise gr.Error(f"{what} failed unexpectedly ({type(error).__name__}: {error})", duration=None,
                       print_exception=False) from error


def error_text(error: BaseException, where: str = "") -> str:
    """The status line for `error` (Markdown), after logging it: one line for a user's mistake,
    the traceback for anything else."""
    if isinstance(error, (gr.Error, *USER_ERRORS)):  # already worded (an unexpected cause was logged then)
        message = str(error.message if isinstance(error, gr.Error) else error)
        log.warning("user error%s: %s", f" in {where}" if where else "", " ".join(message.split()))
    else:
        log.error("unexpected error%s", f" in {where}" if where else "", exc_info=error)
        message = f"failed unexpectedly ({type(error).__name__}: {error})"
    return f"⚠ {message}"


def shows_errors(fn, outputs: list, status):
    """`fn` as a generator handler for `outputs` that clears `status` first and puts any error there.

    `status` must be one of `outputs`; `fn` may return or yield (streaming progress).
    Every value of `fn` is passed on unchanged."""
    at, n = outputs.index(status), len(outputs)
    where = getattr(fn, "__name__", "")

    def only_status(text: str):
        values = [gr.skip()] * n
        values[at] = text
        return values[0] if n == 1 else tuple(values)

    @functools.wraps(fn)
    def wrapped(*args):
        yield only_status("")
        try:
            if inspect.isgeneratorfunction(fn) or inspect.isgeneratorfunction(getattr(fn, "__func__", None)):
                yield from fn(*args)
            else:
                yield fn(*args)
        except Exception as error:  # noqa: BLE001  every error goes to the tab, none to a toast
            yield only_status(error_text(error, where))

    wrapped.shows_errors = True  # what tests/test_ui_errors.py checks on every button
    return wrapped


def on(trigger, fn, inputs, outputs, status, **options):
    """`trigger(fn, inputs, outputs)` (e.g. `button.click`) with fn's errors shown in `status`,
    the Markdown status line of the same tab, which is added to the outputs if missing; then
    fn's results carry a `gr.skip()` for it."""
    outputs = list(outputs)
    if status not in outputs:
        inner, n = fn, len(outputs)

        @functools.wraps(inner)
        def fn(*args):
            values = inner(*args)
            results = values if inspect.isgenerator(values) else [values]
            for value in results:
                yield (*(value if n > 1 else (value,)), gr.skip())

        outputs.append(status)
    return trigger(shows_errors(fn, outputs, status), inputs, outputs, **options)
