"""Loading a dataset: `load_dataset(kind, ...)` picks the reader of its format, `guess_dataset_kind`
names the format of a folder, `usable_kinds` the kinds whose reader finds clips there. Every
format becomes the same table of clips (id, audio path, captions; `clapdemo.data.dataset.Dataset`).

Precompute, training, evaluation and search never ask where clips came from;
they read `Dataset.clips` (columns in `clapdemo.data.dataset`'s docstring).

Readers, one per format, each in its module `clapdemo.data.<kind>` (`load_dataset(kind, ...)` picks one;
the tables they read go through `clapdemo.data.tables`):

    audiocaps   the course zip (`audiocaps_<split>[_new].tsv`, `<split>_texts.json`,
                audio at `audiocaps/audio/<split>/<uniq_id>.flac`) or the original
                release (`<split>.csv`: audiocap_id, youtube_id, start_time, caption,
                with clips named by YouTube id); the layout is detected.
    clotho      `clotho_captions_<split>.csv` + audio in `<split>/` or `clotho_audio_<split>/`.
    esc50       `meta/esc50.csv` or `esc50.csv` + `audio/`; captions from class names
                through prompt templates. Split syntax in `parse_folds`.
    urbansound8k  `metadata/UrbanSound8K.csv` + `audio/fold<N>/` (the release), or a flat
                `metadata.csv` + `audio/`; captions from class names through templates, as ESC-50.
    folder      audio below a folder, captions from `captions.csv` (file,caption; several
                rows per file allowed) or, without a CSV, every audio file uncaptioned.

Whole-file problems (no table, missing columns) raise with the file and what to
do. Row problems never stop a run: a clip whose audio is not found goes to
`Dataset.missing`; a malformed row, an empty caption, a duplicate id or a path
that escapes the data root is skipped and described in `Dataset.warnings`,
each message naming the file and the line.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from clapdemo.data.audiocaps import read_audiocaps
from clapdemo.data.clotho import read_clotho
from clapdemo.data.dataset import DATASET_KINDS, Dataset, listdir
from clapdemo.data.esc50 import read_esc50
from clapdemo.data.folder import read_folder
from clapdemo.data.urbansound8k import read_urbansound8k, urbansound8k_header


def load_dataset(kind: str, data_root, split: str | None = None, **options) -> Dataset:
    """Read one split of a dataset of `kind` (see DATASET_KINDS) found under `data_root`.

    `split=None` takes each reader's default ("test" for AudioCaps, "evaluation"
    for Clotho, "all" otherwise). `options` go to the reader (`read_<kind>`); an
    unknown one raises with the valid names rather than being ignored.
    """
    readers = {"audiocaps": read_audiocaps, "clotho": read_clotho, "esc50": read_esc50,
               "urbansound8k": read_urbansound8k, "folder": read_folder}
    reader = readers.get(str(kind).strip().lower())
    if reader is None:
        raise ValueError(f"unknown dataset kind {kind!r}; valid kinds: {', '.join(DATASET_KINDS)}")
    params = inspect.signature(reader).parameters
    valid = [n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise TypeError(f"load_dataset({kind!r}): unknown option(s) {', '.join(unknown)}; valid: {', '.join(valid)}")
    args = (data_root,) if split is None else (data_root, split)
    return reader(*args, **options)


def guess_dataset_kind(root) -> tuple[str, str]:
    """(kind, reason) from the files at the top of `root` (or one folder down), so a user can
    point at a dataset folder without naming its format (`precompute --dataset auto`, the app)."""
    root = Path(root)
    def names(folder: Path) -> list[str]:
        return [name.lower() for name in listdir(folder)]

    top = names(root)
    below = [n for d in ("meta", "audiocaps", "clotho") if d in top for n in names(root / d)]
    found = top + below
    if "esc50.csv" in found:
        return "esc50", "guessed: esc50.csv found"
    if "urbansound8k.csv" in found or ("metadata.csv" in top and urbansound8k_header(root / "metadata.csv")):
        return "urbansound8k", "guessed: UrbanSound8K's metadata table found"
    if any(n.startswith("clotho_captions_") for n in found):
        return "clotho", "guessed: clotho_captions_*.csv found"
    if "audiocaps" in top or any(n.startswith("audiocaps_") or n in ("test.csv", "val.csv", "train.csv") for n in found):
        return "audiocaps", "guessed: AudioCaps tables found"
    return "folder", "guessed: no known metadata, reading it as a folder of audio"


def usable_kinds(root, configured: str | None = None) -> list[str]:
    """The dataset kinds that work with `root`: `configured`, and each kind whose reader finds captioned
    clips there (its first split). The app offers only these: on a Space holding the sample set,
    "audiocaps", "clotho" and "folder" were offered and could only fail."""
    kinds = []
    for kind in DATASET_KINDS:
        try:
            if kind == configured or load_dataset(kind, root).n_captions > 0:
                kinds.append(kind)
        except Exception:  # noqa: BLE001  any reader's refusal means: not this kind
            continue
    return kinds
