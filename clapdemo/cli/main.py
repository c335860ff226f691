"""`python -m clapdemo <command>`: the pipeline from a terminal.

Each command parses its flags into a small config, calls the library, prints
what it did. No logic lives here that the app lacks, and no `args` object
reaches the library. The commands live by pipeline stage beside this file
(data_commands, training_commands, evaluation_commands, search_commands,
index_and_doctor); this module builds the parser from them, sets up logging
and reports errors.
"""

from __future__ import annotations

import argparse
import sys

from clapdemo import logs
from clapdemo.cli.data_commands import (add_caption_pool, add_encoders, add_export, add_precompute, add_sample_set,
                                        add_store)
from clapdemo.cli.evaluation_commands import add_benchmark, add_evaluate, add_joint_space, add_report
from clapdemo.cli.index_and_doctor import add_doctor, add_index
from clapdemo.cli.search_commands import add_search
from clapdemo.cli.training_commands import add_recipes, add_train


def main(argv: list[str] | None = None) -> int:
    logs.to_console()  # a program: the library's progress and warnings on the console
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return args.handler(args) or 0
    except Exception as error:
        if not _is_user_error(error):
            raise  # a bug: keep the traceback
        print(f"error: {_message(error)}", file=sys.stderr)
        return 1


def _message(error: Exception) -> str:
    """The error's message; a bare full-disk OSError gets its path and what to do (the store's words)."""
    import errno

    from clapdemo.stores.store import StoreWriteError

    if isinstance(error, OSError) and not isinstance(error, StoreWriteError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return str(StoreWriteError(error.filename or "the output folder", error))
    return str(error)


def _is_user_error(error: Exception) -> bool:
    """Errors whose message already says what is wrong and what to do: bad input, a full disk,
    a busy store (OSError covers StoreWriteError and StoreBusy), a missing weight file."""
    from clapdemo.encoders.weights import WeightsError

    return isinstance(error, (ValueError, OSError, KeyError, WeightsError))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m clapdemo", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(title="commands")
    add_precompute(commands)
    add_train(commands)
    add_evaluate(commands)
    add_search(commands)
    add_joint_space(commands)
    add_export(commands)
    add_encoders(commands)
    add_store(commands)
    add_sample_set(commands)
    add_report(commands)
    add_recipes(commands)
    add_benchmark(commands)
    add_caption_pool(commands)
    add_index(commands)
    add_doctor(commands)
    return parser
