"""The UrbanSound8K reader: `metadata/UrbanSound8K.csv` + `audio/fold<N>/` (the release), or a flat
`metadata.csv` + `audio/`; captions from class names through templates, as ESC-50.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from clapdemo.data.dataset import AudioIndex, Dataset, clip_record, existing_dir, make_dataset, resolve_inside
from clapdemo.data.esc50 import (DEFAULT_TEMPLATES, check_templates, human_class_name, select_folds_and_classes,
                                 whole_folds)
from clapdemo.data.tables import drop_blank, first_duplicates, read_table

URBANSOUND8K_COLUMNS = ("slice_file_name", "fold", "class")


def read_urbansound8k(
    data_root,
    split: str = "all",
    *,
    classes: Sequence[str] | None = None,
    exclude_classes: Sequence[str] | None = None,
    templates: Sequence[str] = DEFAULT_TEMPLATES,
) -> Dataset:
    """UrbanSound8K (Salamon et al. 2014; 10 classes, 10 folds) with one caption per template per clip
    ("the sound of children playing"), read like ESC-50.

    The release's layout, `metadata/UrbanSound8K.csv` with audio in `audio/fold<N>/`, or a flat
    `metadata.csv` (or `UrbanSound8K.csv`) with audio in `audio/` (a re-encoded file with another
    extension is found by its stem). split: folds in `parse_folds`' syntax ("all", "fold10",
    "folds1-9"). Clip ids are the file stems ("100648-1-0-0"); labels the class in human form."""
    root = existing_dir(data_root)
    templates = check_templates(templates)
    warnings: list[str] = []
    path = next((p for p in (root / "metadata" / "UrbanSound8K.csv", root / "UrbanSound8K.csv",
                             root / "metadata.csv") if p.is_file()), None)
    if path is None:
        raise FileNotFoundError(f"{root}: neither metadata/UrbanSound8K.csv (the release's layout) nor "
                                "metadata.csv found; point data_root at the UrbanSound8K folder")
    table = read_table(path, URBANSOUND8K_COLUMNS, warnings)
    table = drop_blank(drop_blank(table, "slice_file_name", path, warnings), "class", path, warnings)
    table = whole_folds(table, path, warnings)
    table = first_duplicates(table, "slice_file_name", path, warnings)
    table = table.assign(label=table["class"].map(human_class_name))
    table = select_folds_and_classes(table, split, None, classes, exclude_classes, path, warnings)
    audio_folder = root / "audio"
    index = AudioIndex([audio_folder] + [audio_folder / f"fold{f}" for f in sorted(set(table["fold"]))])
    records, missing = [], []
    for name, label, fold, line in zip(table["slice_file_name"], table["label"], table["fold"], table["_line"]):
        listed = [resolve_inside(audio_folder, f"fold{fold}/{name}"), resolve_inside(audio_folder, name)]
        if None in listed:
            warnings.append(f"{path}: line {line}: slice_file_name {name!r} points outside {audio_folder}; row skipped")
            continue
        audio = next((p for p in listed if p.is_file()), None) or index.find(Path(name).stem)
        clip_id = Path(name).stem
        if audio is None:
            missing.append(clip_id)
        else:
            records.append(clip_record(clip_id, audio, [t.format(label) for t in templates], label=label, fold=fold))
    return make_dataset("urbansound8k", split, records, missing, warnings)


def urbansound8k_header(path: Path) -> bool:
    """Whether a metadata.csv is UrbanSound8K's (its first line names slice_file_name and class)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            head = f.readline().lower()
    except OSError:
        return False
    return all(column in head for column in URBANSOUND8K_COLUMNS)
