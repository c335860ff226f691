"""The Clotho reader: `clotho_captions_<split>.csv` (file_name, caption_1..caption_5) + audio in
`<split>/` or `clotho_audio_<split>/`.
"""

from __future__ import annotations

import re
from pathlib import Path

from clapdemo.data.dataset import Dataset, clip_record, existing_dir, find_meta, make_dataset, resolve_inside
from clapdemo.data.tables import clean_captions, drop_blank, first_duplicates, has_captions, read_table


def read_clotho(data_root, split: str = "evaluation", *, audio_dir=None) -> Dataset:
    """Clotho: `clotho_captions_<split>.csv` (file_name, caption_1..caption_5) and audio in
    `<split>/` or `clotho_audio_<split>/` next to it (or `audio_dir`)."""
    root = existing_dir(data_root)
    path = find_meta(root, f"clotho_captions_{split}.csv")
    if path is None:
        raise FileNotFoundError(f"{root}: clotho_captions_{split}.csv not found here or below; "
                                "point data_root at the folder that holds it")
    warnings: list[str] = []
    table = read_table(path, ["file_name", "caption_1"], warnings)
    table = first_duplicates(drop_blank(table, "file_name", path, warnings), "file_name", path, warnings)
    caption_columns = sorted((c for c in table.columns if re.fullmatch(r"caption_\d+", c)), key=lambda c: int(c[8:]))
    folders = [Path(audio_dir)] if audio_dir else [
        d / name for d in dict.fromkeys([path.parent, root]) for name in (split, f"clotho_audio_{split}")]
    records, missing = [], []
    for row in table.to_dict("records"):
        where = f"{path}: line {row['_line']}"
        captions = clean_captions([(row[c], where) for c in caption_columns], warnings)
        if has_captions(captions, row["file_name"], where, warnings):
            _place_clotho(row["file_name"], captions, folders, where, records, missing, warnings)
    return make_dataset("clotho", split, records, missing, warnings)


def _place_clotho(name: str, captions, folders, where, records, missing, warnings) -> None:
    """Add the clip to `records` if its file is in one of `folders`, else to `missing`."""
    candidates = [resolve_inside(folder, name) for folder in folders]
    if all(c is None for c in candidates):
        warnings.append(f"{where}: file_name {name!r} points outside the audio folder; row skipped")
        return
    found = next((c for c in candidates if c is not None and c.is_file()), None)
    if found is None:
        missing.append(name)
    else:
        records.append(clip_record(name, found, captions))
