"""Reading metadata tables and captions: CSV/TSV rows with their line numbers (`read_table`), and
the row clean-ups every reader shares (blank keys, repeated keys, empty captions, grouping rows per
clip), each skipped row described in the warnings with its file and line.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd


def read_table(path: Path, required: Sequence[str], warnings: list[str]) -> pd.DataFrame:
    """A CSV (or TSV, by extension) as strings, with each row's `_line` in the file.

    The csv module is used for parsing because it reports line numbers (which
    pandas drops), so every later message can name the line to fix. Header
    names are stripped and lower-cased. Rows with more values than the header
    are skipped with a warning; short rows are padded with "" and caught by
    the reader's checks of the fields it needs.
    """
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    header, records, lines = _parse_delimited(path, sep, warnings)
    absent = [c for c in required if c not in header]
    if absent:
        raise ValueError(
            f"{path}: missing column{'s' if len(absent) > 1 else ''} {', '.join(map(repr, absent))} "
            f"(found: {', '.join(header)}); expected columns {','.join(required)}"
        )
    table = pd.DataFrame(records, columns=header, dtype=str)
    table["_line"] = lines
    return table


def _parse_delimited(path: Path, sep: str, warnings: list[str]):
    """(header, rows, line numbers) of a delimited text file; see `read_table`.

    Two row problems the csv module passes over in silence or stops at are
    skipped with a warning instead: a quote that opens and never closes (the
    value would swallow the rows after it; the reading starts again on the
    next line) and a value over the csv module's size limit (a 10 MB caption).
    A quoted value over several lines is a runaway quote when those lines
    look like rows themselves (`_holds_rows`), else a caption with line breaks.
    """
    lines = list(io.StringIO(read_text_file(path), newline=""))
    reader = csv.reader(lines, delimiter=sep)
    try:
        header = [h.strip().lower() for h in next(reader, [])]
    except csv.Error as err:
        raise ValueError(f"{path}: line 1: unreadable header ({err}); fix that line") from None
    if not any(header):
        raise ValueError(f"{path}: empty file; expected a header line naming the columns")
    records, numbers, start = [], [], reader.line_num
    while start is not None:
        start = _read_rows(lines, start, sep, len(header), path, records, numbers, warnings)
    return header, records, numbers


def _read_rows(lines: list[str], start: int, sep: str, width: int, path: Path, records: list, numbers: list,
               warnings: list[str]) -> int | None:
    """Parse `lines[start:]` into `records`; the index to read on from after a runaway quote, else None."""
    reader = csv.reader(lines[start:], delimiter=sep)
    first = start + 1  # the line (1-based) the next row starts on
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return None
        except csv.Error as err:
            too_long = "field larger than field limit" in str(err)
            warnings.append(f"{path}: line {first}: " + (
                f"a value longer than {csv.field_size_limit():,} characters" if too_long else f"unreadable ({err})")
                + "; row skipped")
            first = start + reader.line_num + 1
            continue
        last = start + reader.line_num
        if last > first and _holds_rows(lines[first:last], sep, width):
            warnings.append(f"{path}: line {first}: a quoted value runs on to line {last} (a quote that is never "
                            f"closed?); row skipped, reading on from line {first + 1}")
            return first
        row = _fit_row(fields, width, f"{path}: line {first}", warnings)
        if row is not None:
            records.append(row)
            numbers.append(first)
        first = last + 1


def _holds_rows(continuation: list[str], sep: str, width: int) -> bool:
    """Whether the lines a quoted value ran on over look like rows of their own (as many values
    as the header names): then its quote was never closed, and the value swallowed them."""
    return any(len(next(csv.reader([line.replace('"', "")], delimiter=sep), [])) >= width for line in continuation)


def _fit_row(fields: list[str], width: int, where: str, warnings: list[str]) -> list[str] | None:
    """The row padded to the header's width, or None (blank line, or too many values)."""
    if not any(f.strip() for f in fields):
        return None
    if len(fields) > width and any(f.strip() for f in fields[width:]):
        warnings.append(
            f"{where}: {len(fields)} values but the header names {width} columns "
            "(a separator inside an unquoted value?); row skipped"
        )
        return None
    return (fields + [""] * width)[:width]


def read_text_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text ({err}); save it as UTF-8") from None


def clean_captions(pairs: Iterable[tuple[object, str]], warnings: list[str]) -> list[str]:
    """Stripped captions; empty ones dropped with a warning naming `where` they came from."""
    kept = []
    for text, where in pairs:
        text = "" if text is None or (isinstance(text, float) and text != text) else str(text).strip()
        if text:
            kept.append(text)
        else:
            warnings.append(f"{where}: empty caption; dropped")
    return kept


def first_duplicates(table: pd.DataFrame, column: str, path: Path, warnings: list[str]) -> pd.DataFrame:
    """`table` without rows whose `column` repeats an earlier row; each repeat warned about."""
    first_line = table.drop_duplicates(column).set_index(column)["_line"]
    repeats = table[table.duplicated(column)]
    for value, line in zip(repeats[column], repeats["_line"]):
        warnings.append(f"{path}: line {line}: {column} {value!r} already on line {first_line[value]}; row skipped")
    return table.drop(repeats.index)


def drop_blank(table: pd.DataFrame, column: str, path: Path, warnings: list[str]) -> pd.DataFrame:
    """`table` without rows whose `column` is empty; each warned about."""
    table[column] = table[column].str.strip()
    blank = table[table[column] == ""]
    for line in blank["_line"]:
        warnings.append(f"{path}: line {line}: empty {column}; row skipped")
    return table.drop(blank.index)


def group_rows(keys: Iterable, *columns: Iterable) -> dict:
    """key -> [tuple of the row's `columns` values, ...], keys in first-seen order.

    A dict rather than `groupby(...).agg(list)`: pandas calls Python once per
    group there, which takes seconds on AudioCaps train's 50k clips.
    """
    groups: dict = {}
    for key, *values in zip(keys, *columns):
        groups.setdefault(key, []).append(tuple(values))
    return groups


def has_captions(captions: list[str], clip_id: str, where: str, warnings: list[str]) -> bool:
    """A captioned dataset's clip without any caption can't be trained or scored: skip it, say so."""
    if not captions:
        warnings.append(f"{where}: clip {clip_id!r} has no non-empty caption; clip skipped")
    return bool(captions)
