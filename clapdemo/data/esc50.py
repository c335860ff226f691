"""The ESC-50 reader: `meta/esc50.csv` or `esc50.csv` + `audio/`, captions from class names through
prompt templates; with the fold-split syntax (`parse_folds`), the class names (`esc50_class_names`,
`human_class_name`) and the fold, class and template checks UrbanSound8K's reader shares.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import pandas as pd

from clapdemo.data.dataset import AudioIndex, Dataset, clip_record, existing_dir, make_dataset, resolve_inside
from clapdemo.data.tables import drop_blank, first_duplicates, read_table

DEFAULT_TEMPLATES = ("the sound of {}",)


def read_esc50(
    data_root,
    split: str = "all",
    *,
    folds: Sequence[int] | None = None,
    classes: Sequence[str] | None = None,
    exclude_classes: Sequence[str] | None = None,
    templates: Sequence[str] = DEFAULT_TEMPLATES,
) -> Dataset:
    """ESC-50 with one caption per prompt template per clip ("the sound of crying baby").

    split: fold selection, see `parse_folds` ("all", "fold4", "folds1-3", "1,2,3").
    folds: the same as a list; combined with `split` (both must hold).
    classes / exclude_classes: keep only / drop these classes (zero-shot holdouts);
    names as in the CSV ("crying_baby") or in human form ("crying baby").
    """
    root = existing_dir(data_root)
    templates = check_templates(templates)
    warnings: list[str] = []
    path, table = _esc50_table(root, warnings)
    table = select_folds_and_classes(table, split, folds, classes, exclude_classes, path, warnings)
    audio_folder = root / "audio"
    index = AudioIndex([audio_folder])
    records, missing = [], []
    for name, label, fold, line in zip(table["filename"], table["label"], table["fold"], table["_line"]):
        listed = resolve_inside(audio_folder, name)
        if listed is None:
            warnings.append(f"{path}: line {line}: filename {name!r} points outside {audio_folder}; row skipped")
            continue
        audio = listed if listed.is_file() else index.find(Path(name).stem)
        clip_id = Path(name).stem
        if audio is None:
            missing.append(clip_id)
        else:
            records.append(clip_record(clip_id, audio, [t.format(label) for t in templates], label=label, fold=fold))
    return make_dataset("esc50", _esc50_split_name(split, folds), records, missing, warnings)


def esc50_class_names(data_root) -> list[str]:
    """The class names in human form ("crying baby"), ordered by ESC-50's target index.

    This is the candidate list for zero-shot classification: caption i is class i.
    """
    _, table = _esc50_table(existing_dir(data_root), [])
    target = pd.to_numeric(table["target"], errors="coerce") if "target" in table else None
    if target is not None and target.notna().all():
        table = table.assign(_t=target).sort_values(["_t", "_line"])
        return list(dict.fromkeys(table["label"]))
    return sorted(set(table["label"]))


def human_class_name(category: str) -> str:
    """ESC-50's "crying_baby" -> "crying baby": the form a text encoder has seen in sentences."""
    return " ".join(str(category).replace("_", " ").split())


def parse_folds(split: str) -> set[int] | None:
    """The folds a split string names; None for every fold.

    Mini-syntax (case and spaces ignored): "all" -> None; "fold4" or "4" -> {4};
    "folds1-3" or "1-3" -> {1, 2, 3}; "folds1,2,3" or "1,2,3" -> {1, 2, 3};
    ranges and lists mix: "folds1-2,5" -> {1, 2, 5}.
    """
    text = re.sub(r"\s+", "", str(split).lower())
    if text in ("", "all"):
        return None
    match = re.fullmatch(r"(?:folds?)?(\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*)", text)
    if match is None:
        raise ValueError(
            f"ESC-50 split {split!r} not understood; use 'all', 'fold4', 'folds1-3' or '1,2,3' (or folds=[...])"
        )
    folds: set[int] = set()
    for item in match.group(1).split(","):
        low, _, high = item.partition("-")
        if high and int(high) < int(low):
            raise ValueError(f"ESC-50 split {split!r}: range {item!r} runs backwards; write {high}-{low}")
        folds.update(range(int(low), int(high or low) + 1))
    return folds


def _esc50_split_name(split: str, folds) -> str:
    return split if folds is None else f"{split}&folds{','.join(map(str, sorted(folds)))}"


def whole_folds(table: pd.DataFrame, path: Path, warnings: list[str]) -> pd.DataFrame:
    """Rows whose `fold` is a whole number, as int64; the others skipped with a warning naming the line
    (ESC-50 and UrbanSound8K share the rule)."""
    fold = pd.to_numeric(table["fold"].str.strip(), errors="coerce")
    bad = fold.isna() | (fold != fold.round())
    for value, line in zip(table["fold"][bad], table["_line"][bad]):
        warnings.append(f"{path}: line {line}: fold {value!r} is not a whole number; row skipped")
    return table[~bad].assign(fold=fold[~bad].astype("int64"))


def _esc50_table(root: Path, warnings: list[str]) -> tuple[Path, pd.DataFrame]:
    """(csv path, rows with a filename, an integer fold and a human `label`)."""
    path = next((p for p in (root / "meta" / "esc50.csv", root / "esc50.csv") if p.is_file()), None)
    if path is None:
        raise FileNotFoundError(f"{root}: neither meta/esc50.csv (official repo layout) nor esc50.csv found; "
                                "point data_root at the ESC-50 folder")
    table = read_table(path, ["filename", "fold", "category"], warnings)
    table = drop_blank(drop_blank(table, "filename", path, warnings), "category", path, warnings)
    table = whole_folds(table, path, warnings)
    table = first_duplicates(table, "filename", path, warnings)
    return path, table.assign(label=table["category"].map(human_class_name))


def select_folds_and_classes(table, split, folds, classes, exclude_classes, path, warnings) -> pd.DataFrame:
    """Rows in the asked folds and classes; unknown class names raise, empty folds warn."""
    for wanted in (parse_folds(split), None if folds is None else {int(f) for f in folds}):
        if wanted is not None:
            for empty in sorted(wanted - set(table["fold"])):
                warnings.append(f"{path}: no clips in fold {empty}")
            table = table[table["fold"].isin(wanted)]
    if classes is not None:
        table = table[table["label"].isin(_known_classes(classes, table, path))]
    if exclude_classes is not None:
        table = table[~table["label"].isin(_known_classes(exclude_classes, table, path))]
    return table


def _known_classes(names: Sequence[str], table: pd.DataFrame, path: Path) -> set[str]:
    """`names` in human form, each checked against the CSV's classes (a typo must not
    silently empty a zero-shot split)."""
    if isinstance(names, str):
        names = [names]
    valid = set(table["label"])
    wanted = {human_class_name(n).lower() for n in names}
    unknown = sorted(wanted - {v.lower() for v in valid})
    if unknown:
        raise ValueError(f"{path}: unknown class(es) {', '.join(map(repr, unknown))}; valid: {', '.join(sorted(valid))}")
    return {v for v in valid if v.lower() in wanted}


def check_templates(templates: Sequence[str]) -> tuple[str, ...]:
    """Templates as a tuple; each must have one `{}` where the class name goes."""
    templates = (templates,) if isinstance(templates, str) else tuple(templates)
    if not templates:
        raise ValueError("templates is empty; give at least one, e.g. ('the sound of {}',)")
    for template in templates:
        if not isinstance(template, str) or template.count("{}") != 1:
            raise ValueError(f"template {template!r} must contain exactly one '{{}}' where the class name goes")
    return templates
