"""Search results exported as CSV or JSON (`export_hits`), with CSV cells a spreadsheet shows as text (`csv_safe`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from clapdemo.stores.store import atomic_write_bytes, atomic_write_json


def export_hits(results: dict, path, with_paths: bool = True) -> Path:
    """Write search results ({"clips": [Hit], "captions": [Hit]}) as CSV or JSON, by the file's suffix.
    CSV cells that a spreadsheet would run as a formula are quoted (`csv_safe`); JSON keeps them as they are.
    `with_paths=False` leaves out the audio files' paths (the app's visitors see names, not server paths)."""
    path = Path(path)

    def record(hit) -> dict:
        fields = hit.to_dict()
        return fields if with_paths else {k: v for k, v in fields.items() if k != "audio_path"}

    rows = [{"kind": kind, **{k: csv_safe(v) for k, v in record(hit).items()}}
            for kind, hits in results.items() for hit in hits]
    if path.suffix.lower() == ".json":
        atomic_write_json(path, {kind: [record(h) for h in hits] for kind, hits in results.items()})
    elif path.suffix.lower() == ".csv":
        import csv  # every text cell quoted: a CR inside a name must not end the row

        atomic_write_bytes(path, pd.DataFrame(rows).to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC).encode("utf-8"))
    else:
        raise ValueError(f"{path}: export needs a .csv or .json file name")
    return path


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what makes a spreadsheet read a cell as a formula


def csv_safe(value):
    """A CSV cell a spreadsheet shows as text: a string starting with = + - @, tab or CR gets a leading
    single quote (OWASP's advice on CSV injection): a file named "=HYPERLINK(...)" must not run."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value
