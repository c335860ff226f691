"""Dataset readers on the real tables in ../shared, with small FLAC/WAV fixtures written here.

The AudioCaps tables are real; their audio is not on our machines, so each test
builds the layout in a temporary folder (tables linked, a few clips written
with soundfile) and checks which clips are paired with files and which are
reported missing.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from clapdemo.data.dataset import Dataset, resolve_inside
from clapdemo.data.datasets import load_dataset
from clapdemo.data.esc50 import DEFAULT_TEMPLATES, esc50_class_names, parse_folds
from conftest import AUDIOCAPS_META, ESC50

COURSE = AUDIOCAPS_META / "course-format"
ORIGINAL = AUDIOCAPS_META / "original"


def write_clip(path: Path, seconds: float = 0.1, sr: int = 16000) -> Path:
    """A short real audio file (format from the extension)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(path.name))
    sf.write(path, (0.1 * rng.standard_normal(int(seconds * sr))).astype("float32"), sr)
    return path


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def texts(split: str) -> dict[str, list[str]]:
    return json.loads((COURSE / f"{split}_texts.json").read_text())


# --------------------------------------------------------------------------- AudioCaps, course zip


@pytest.fixture()
def course_root(tmp_path) -> Path:
    """<tmp>/data/audiocaps/{tsv,json} linked from ../shared, clips 0, 5, 17 of test written."""
    folder = tmp_path / "data" / "audiocaps"
    folder.mkdir(parents=True)
    for name in ("audiocaps_test_new.tsv", "audiocaps_val_new.tsv", "test_texts.json", "val_texts.json"):
        (folder / name).symlink_to(COURSE / name)
    for uid in ("0", "5", "17"):
        write_clip(folder / "audio" / "test" / f"{uid}.flac")
    return tmp_path / "data"


@pytest.mark.parametrize("which", ["parent", "audiocaps"])
def test_course_layout_pairs_rows_with_audio(course_root, which):
    root = course_root if which == "parent" else course_root / "audiocaps"
    ds = load_dataset("audiocaps", root, "test")
    assert isinstance(ds, Dataset) and (ds.name, ds.split) == ("audiocaps", "test")
    assert list(ds.clips["clip_id"]) == ["0", "5", "17"]
    expected = [str(course_root / "audiocaps" / "audio" / "test" / f"{u}.flac") for u in ("0", "5", "17")]
    assert list(ds.clips["audio_path"]) == expected
    gold = texts("test")
    assert [list(c) for c in ds.clips["captions"]] == [gold["0"], gold["5"], gold["17"]]
    assert len(ds.missing) == 963 - 3 and "1" in ds.missing and "5" not in ds.missing
    assert ds.warnings == []
    assert ds.summary() == "3 clips, 15 captions, 960 missing"


def test_course_layout_parses_every_clip_of_test_and_val(course_root):
    """All 963 test / 495 val clips with 5 captions each, audio linked to one real clip."""
    folder = course_root / "audiocaps"
    clip = folder / "audio" / "test" / "0.flac"
    for split, n in (("test", 963), ("val", 495)):
        (folder / "audio" / split).mkdir(parents=True, exist_ok=True)
        for uid in texts(split):
            target = folder / "audio" / split / f"{uid}.flac"
            if not target.exists():
                target.symlink_to(clip)
        ds = load_dataset("audiocaps", course_root, split)
        assert ds.summary() == f"{n} clips, {5 * n} captions, 0 missing"
        assert ds.clips["clip_id"].is_unique
        assert all(p.endswith(f"/audio/{split}/{c}.flac") for c, p in zip(ds.clips["clip_id"], ds.clips["audio_path"]))


def test_course_layout_without_audio_lists_all_missing():
    """The shared tables alone (flat folder, no audio): detected as the course layout, nothing found."""
    ds = load_dataset("audiocaps", COURSE, "val")
    assert ds.summary() == "0 clips, 0 captions, 495 missing"
    assert list(ds.clips.columns) == ["clip_id", "audio_path", "captions"]


def test_course_layout_tables_in_a_subfolder_and_audio_dir(tmp_path):
    """Tables found below the root; clips found by uniq_id in audio_dir with another extension."""
    meta = tmp_path / "zip" / "meta"
    meta.mkdir(parents=True)
    for name in ("audiocaps_val_new.tsv", "val_texts.json"):
        (meta / name).symlink_to(COURSE / name)
    clips = tmp_path / "elsewhere"
    write_clip(clips / "val" / "3.wav")
    ds = load_dataset("audiocaps", tmp_path / "zip", "val", audio_dir=clips)
    assert list(ds.clips["clip_id"]) == ["3"]
    assert ds.clips["audio_path"][0] == str(clips / "val" / "3.wav")
    assert len(ds.clips["captions"][0]) == 5 and len(ds.missing) == 494


def test_course_train_groups_per_caption_rows(tmp_path):
    folder = tmp_path / "audiocaps"
    write_text(folder / "audiocaps_train.tsv", (
        "uniq_id\taudio\ttext\tduration\n"
        "7\taudiocaps/audio/train/7.flac\tA dog barks\t10.0\n"
        "9\taudiocaps/audio/train/9.flac\tRain falls\t10.0\n"
        "7\taudiocaps/audio/train/7.flac\tA dog barks twice\t10.0\n"
        "9\taudiocaps/audio/train/9.flac\t   \t10.0\n"
        "8\taudiocaps/audio/train/8.flac\tWind\t10.0\n"
    ))
    write_clip(folder / "audio" / "train" / "7.flac")
    write_clip(folder / "audio" / "train" / "9.flac")
    ds = load_dataset("audiocaps", folder, "train")
    assert dict(zip(ds.clips["clip_id"], ds.clips["captions"])) == {
        "7": ["A dog barks", "A dog barks twice"], "9": ["Rain falls"]}
    assert ds.missing == ["8"]
    assert len(ds.warnings) == 1 and "audiocaps_train.tsv: line 5: empty caption" in ds.warnings[0]


def test_course_new_tsv_duplicates_and_escapes_are_warned(tmp_path):
    """Also: the audio column is relative to the folder holding audiocaps/, even when
    data_root is audiocaps/ itself and the clip is not where the zip puts them."""
    folder = tmp_path / "audiocaps"
    write_text(folder / "audiocaps_test_new.tsv", (
        "uniq_id\taudio\ttext\tduration\n"
        "1\taudiocaps/custom/1.flac\tA car passes\t10.0\n"
        "1\taudiocaps/audio/test/1.flac\tA car passes again\t10.0\n"
        "2\t../../../etc/passwd\tA secret\t10.0\n"
    ))
    write_text(folder / "test_texts.json", json.dumps({"1": ["A car passes", "An engine", ""]}))
    write_clip(folder / "custom" / "1.flac")
    ds = load_dataset("audiocaps", folder, "test")
    assert list(ds.clips["clip_id"]) == ["1"] and ds.clips["captions"][0] == ["A car passes", "An engine"]
    assert ds.clips["audio_path"][0] == str(folder / "custom" / "1.flac")
    assert ds.missing == []
    joined = "\n".join(ds.warnings)
    assert "audiocaps_test_new.tsv: line 3: uniq_id '1' already on line 2" in joined
    assert "test_texts.json: uniq_id '1' caption 3: empty caption" in joined
    assert "audiocaps_test_new.tsv: line 4: audio path '../../../etc/passwd' is outside" in joined
    assert "/etc/passwd" not in "".join(ds.clips["audio_path"])


# --------------------------------------------------------------------------- AudioCaps, original CSVs


def test_original_layout_finds_every_naming_pattern(tmp_path):
    table = pd.read_csv(ORIGINAL / "test.csv", dtype=str)
    clips = table.drop_duplicates(["youtube_id", "start_time"])
    dash = clips[clips["youtube_id"].str.startswith("-")].iloc[0]
    picks = [clips.iloc[i] for i in range(5)] + [dash]
    (tmp_path / "test.csv").symlink_to(ORIGINAL / "test.csv")
    names = [
        tmp_path / f"{picks[0].youtube_id}.wav",
        tmp_path / "audio" / f"Y{picks[1].youtube_id}.flac",
        tmp_path / "audio" / "test" / f"{picks[2].youtube_id}_{picks[2].start_time}.wav",
        tmp_path / "audio" / f"Y{picks[3].youtube_id}_{picks[3].start_time}.ogg",
        tmp_path / "audio" / f"Y{picks[4].youtube_id}_{int(picks[4].start_time):.3f}_{int(picks[4].start_time) + 10:.3f}.wav",
        tmp_path / "audio" / "test" / f"{picks[5].youtube_id}.flac",
    ]
    for name in names:
        write_clip(name)
    write_clip(tmp_path / "audio" / "notaclip.wav")
    ds = load_dataset("audiocaps", tmp_path, "test")
    found = dict(zip(ds.clips["clip_id"], ds.clips["audio_path"]))
    assert found == {p.youtube_id: str(n) for p, n in zip(picks, names)}
    assert len(ds.missing) == 975 - 6 and picks[0].youtube_id not in ds.missing
    captions = dict(zip(ds.clips["clip_id"], ds.clips["captions"]))
    gold = table[table["youtube_id"] == picks[1].youtube_id]["caption"].tolist()
    assert captions[picks[1].youtube_id] == gold and len(gold) == 5
    assert ds.warnings == []


def test_original_layout_same_id_two_starts(tmp_path):
    write_text(tmp_path / "val.csv", (
        "audiocap_id,youtube_id,start_time,caption\n"
        "1,abcDEF12345,30,A bell rings\n"
        "2,abcDEF12345,50,A bird sings\n"
        "3,abcDEF12345,30,A bell rings twice\n"
        "4,zzzDEF12345,later,Broken row\n"
    ))
    write_clip(tmp_path / "abcDEF12345.wav")  # ambiguous: must not be taken for either clip
    write_clip(tmp_path / "audio" / "Yabcdef12345_30.wav")  # other case: another video
    write_clip(tmp_path / "audio" / "val" / "abcDEF12345_50.flac")
    ds = load_dataset("audiocaps", tmp_path, "val", layout="original")
    assert list(ds.clips["clip_id"]) == ["abcDEF12345_50"]
    assert ds.missing == ["abcDEF12345_30"]
    assert len(ds.warnings) == 1 and "val.csv: line 5: start_time 'later' is not a number" in ds.warnings[0]


def test_original_csvs_in_shared_parse_without_audio():
    ds = load_dataset("audiocaps", ORIGINAL, "val")
    assert ds.summary() == "0 clips, 0 captions, 495 missing" and ds.warnings == []


def test_audiocaps_layout_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="audiocaps_test_new.tsv.*test.csv"):
        load_dataset("audiocaps", tmp_path, "test")
    with pytest.raises(ValueError, match="course, original"):
        load_dataset("audiocaps", COURSE, "test", layout="zip")


# --------------------------------------------------------------------------- ESC-50


def test_esc50_subset_all():
    ds = load_dataset("esc50", ESC50)
    assert ds.summary() == "414 clips, 414 captions, 0 missing"
    assert ds.clips["label"].nunique() == 50
    assert ds.clips["fold"].value_counts().to_dict() == {4: 400, 2: 11, 5: 2, 3: 1}
    row = ds.clips.set_index("clip_id").loc["2-103426-A-3"]
    assert (row["label"], row["captions"], row["fold"]) == ("cow", ["the sound of cow"], 2)
    assert Path(row["audio_path"]).is_file() and Path(row["audio_path"]).is_absolute()
    assert ds.warnings == []


@pytest.mark.parametrize("split, options, n", [
    ("fold4", {}, 400),
    ("folds1-3", {}, 12),
    ("1,2,3", {}, 12),
    ("folds2-3,5", {}, 14),
    ("all", {"folds": [5]}, 2),
    ("folds4-5", {"folds": [5, 1]}, 2),
])
def test_esc50_fold_splits(split, options, n):
    ds = load_dataset("esc50", ESC50, split, **options)
    assert ds.n_clips == n
    wanted = parse_folds(split) or {1, 2, 3, 4, 5}
    assert set(ds.clips["fold"]) <= wanted & set(options.get("folds", wanted))


def test_esc50_class_splits_for_zero_shot():
    held_out = ["crying_baby", "dog", "chainsaw"]
    seen = load_dataset("esc50", ESC50, exclude_classes=held_out)
    unseen = load_dataset("esc50", ESC50, classes=held_out)
    assert set(unseen.clips["label"]) == {"crying baby", "dog", "chainsaw"}
    assert not set(seen.clips["label"]) & set(unseen.clips["label"])
    assert seen.n_clips + unseen.n_clips == 414 and unseen.n_clips >= 24
    assert load_dataset("esc50", ESC50, classes=["Crying Baby"]).n_clips == (unseen.clips["label"] == "crying baby").sum()
    with pytest.raises(ValueError, match="unknown class.*'cryingbaby'.*valid: .*crying baby"):
        load_dataset("esc50", ESC50, classes=["cryingbaby"])


def test_esc50_templates_give_one_caption_each():
    templates = ["the sound of {}", "a recording of {} outdoors"]
    ds = load_dataset("esc50", ESC50, "fold4", templates=templates, classes=["crying_baby"])
    assert ds.n_captions == 2 * ds.n_clips > 0
    assert all(c == ["the sound of crying baby", "a recording of crying baby outdoors"] for c in ds.clips["captions"])
    assert DEFAULT_TEMPLATES == ("the sound of {}",)
    with pytest.raises(ValueError, match="exactly one"):
        load_dataset("esc50", ESC50, templates=["no slot"])


def test_esc50_class_names_in_target_order():
    names = esc50_class_names(ESC50)
    assert len(names) == 50 and names[:4] == ["dog", "rooster", "pig", "cow"]
    assert "crying baby" in names and not any("_" in n for n in names)


def test_esc50_official_layout_and_missing_audio(tmp_path):
    (tmp_path / "meta").mkdir()
    shutil.copy(ESC50 / "esc50.csv", tmp_path / "meta" / "esc50.csv")
    (tmp_path / "audio").mkdir()
    for name in sorted(os.listdir(ESC50 / "audio"))[:10]:
        (tmp_path / "audio" / name).symlink_to(ESC50 / "audio" / name)
    ds = load_dataset("esc50", tmp_path)
    assert ds.summary() == "10 clips, 10 captions, 404 missing"


@pytest.mark.parametrize("text, folds", [
    ("all", None), ("fold4", {4}), ("4", {4}), ("folds1-3", {1, 2, 3}), ("1,2,3", {1, 2, 3}),
    ("Folds 1-2, 5", {1, 2, 5}),
])
def test_parse_folds(text, folds):
    assert parse_folds(text) == folds


@pytest.mark.parametrize("bad", ["train", "fold", "folds3-1", "1;2"])
def test_parse_folds_rejects(bad):
    with pytest.raises(ValueError, match="split"):
        parse_folds(bad)


# --------------------------------------------------------------------------- folder


def test_folder_csv_merges_rows_per_file_with_unicode_names(tmp_path):
    write_clip(tmp_path / "a.wav")
    write_clip(tmp_path / "café sounds" / "Straße nr 1.flac")
    write_text(tmp_path / "captions.csv", (
        "file,caption\n"
        "a.wav,A door slams\n"
        "café sounds/Straße nr 1.flac,\"Traffic, far away\"\n"
        "./a.wav,Someone shuts a door\n"
        "gone.wav,Never recorded\n"
    ))
    ds = load_dataset("folder", tmp_path)
    assert dict(zip(ds.clips["clip_id"], ds.clips["captions"])) == {
        "a.wav": ["A door slams", "Someone shuts a door"],
        "café sounds/Straße nr 1.flac": ["Traffic, far away"],
    }
    assert ds.clips["audio_path"][1] == str(tmp_path / "café sounds" / "Straße nr 1.flac")
    assert ds.missing == ["gone.wav"] and ds.warnings == []


def test_folder_csv_option_path(tmp_path):
    write_clip(tmp_path / "clips" / "x.ogg")
    table = write_text(tmp_path / "elsewhere.csv", "file,caption\nx.ogg,Water drips\n")
    ds = load_dataset("folder", tmp_path / "clips", csv=table)
    assert ds.summary() == "1 clips, 1 captions, 0 missing"
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        load_dataset("folder", tmp_path / "clips", csv="nope.csv")


def test_folder_without_csv_finds_audio_recursively(tmp_path):
    for rel in ("b.flac", "sub/a.WAV", "sub/deeper/ü space.ogg"):
        write_clip(tmp_path / rel)
    write_text(tmp_path / "notes.txt", "not audio")
    write_clip(tmp_path / ".hidden" / "c.wav")
    write_text(tmp_path / "._b.flac", "macOS resource fork, not audio")
    ds = load_dataset("folder", tmp_path)
    assert list(ds.clips["clip_id"]) == ["b.flac", "sub/a.WAV", "sub/deeper/ü space.ogg"]
    assert all(c == [] for c in ds.clips["captions"]) and ds.n_captions == 0
    assert ds.clips["audio_path"][2] == str(tmp_path / "sub" / "deeper" / "ü space.ogg")
    assert all(sf.info(p).frames > 0 for p in ds.clips["audio_path"])


# --------------------------------------------------------------------------- bad tables


def test_missing_columns_name_file_and_expected_columns(tmp_path):
    table = write_text(tmp_path / "captions.csv", "file,text\na.wav,hello\n")
    with pytest.raises(ValueError) as err:
        load_dataset("folder", tmp_path)
    assert str(err.value) == (f"{table}: missing column 'caption' (found: file, text); expected columns file,caption")
    write_text(tmp_path / "esc50.csv", "filename,target\n1-1-A-0.wav,0\n")
    with pytest.raises(ValueError, match=r"esc50.csv: missing columns 'fold', 'category'"):
        load_dataset("esc50", tmp_path)


def test_empty_table_is_an_error(tmp_path):
    write_text(tmp_path / "captions.csv", "")
    with pytest.raises(ValueError, match="captions.csv: empty file"):
        load_dataset("folder", tmp_path)


def test_malformed_and_empty_rows_are_skipped_with_line_numbers(tmp_path):
    write_clip(tmp_path / "a.wav")
    write_clip(tmp_path / "b.wav")
    table = write_text(tmp_path / "captions.csv", (
        "file,caption\n"
        "a.wav,A dog barks\n"
        "b.wav,one,two\n"
        "b.wav,   \n"
        ",orphan caption\n"
        "\n"
        "a.wav,\"A caption\nover two lines\"\n"
        "b.wav\n"
    ))
    ds = load_dataset("folder", tmp_path)
    assert dict(zip(ds.clips["clip_id"], ds.clips["captions"])) == {"a.wav": ["A dog barks", "A caption\nover two lines"]}
    assert ds.warnings == [
        f"{table}: line 3: 3 values but the header names 2 columns (a separator inside an unquoted value?); row skipped",
        f"{table}: line 5: empty file; row skipped",
        f"{table}: line 4: empty caption; dropped",
        f"{table}: line 9: empty caption; dropped",
        f"{table}: line 4: clip 'b.wav' has no non-empty caption; clip skipped",
    ]


@pytest.mark.parametrize("bad", ["../../etc/passwd", "/etc/passwd", "sub/../../outside.wav", "..\\..\\etc\\passwd"])
def test_path_escape_is_refused(tmp_path, bad):
    root = tmp_path / "clips"
    write_clip(root / "ok.wav")
    write_clip(tmp_path / "outside.wav")
    table = write_text(root / "captions.csv", f"file,caption\nok.wav,fine\n\"{bad}\",sneaky\n")
    ds = load_dataset("folder", root)
    assert list(ds.clips["clip_id"]) == ["ok.wav"] and ds.missing == []
    assert ds.warnings == [f"{table}: line 3: file {bad!r} is outside {root}; row skipped"]


def test_resolve_inside(tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "link").symlink_to(tmp_path, target_is_directory=True)
    assert resolve_inside(root, "sub/a.wav") == root / "sub" / "a.wav"
    assert resolve_inside(root, "./sub/../a.wav") == root / "a.wav"
    assert resolve_inside(root, root / "a.wav") == root / "a.wav"
    for bad in ("../x.wav", "/etc/passwd", "sub/../../x", "", ".", str(tmp_path / "rootx" / "a.wav")):
        assert resolve_inside(root, bad) is None, bad
    # `..` after a symlink is collapsed in the name, never followed out through the link
    assert resolve_inside(root, "link/../a.wav") == root / "a.wav"


# --------------------------------------------------------------------------- load_dataset


def test_load_dataset_rejects_unknown_kind_and_option(tmp_path):
    with pytest.raises(ValueError, match="valid kinds: audiocaps, clotho, esc50, urbansound8k, folder"):
        load_dataset("librispeech", tmp_path)
    with pytest.raises(TypeError, match="unknown option.*templtes.*valid: folds, classes"):
        load_dataset("esc50", ESC50, templtes=["{}"])
    with pytest.raises(FileNotFoundError, match="no-such-folder"):
        load_dataset("folder", tmp_path / "no-such-folder")


def test_clotho(tmp_path):
    write_text(tmp_path / "clotho_captions_evaluation.csv", (
        "file_name,caption_1,caption_2,caption_3,caption_4,caption_5\n"
        "Rain on tin.wav,Rain hits a roof,Rain falls,,Drops on metal,Water on a roof\n"
        "gone.wav,a,b,c,d,e\n"
        "../escape.wav,a,b,c,d,e\n"
    ))
    write_clip(tmp_path / "clotho_audio_evaluation" / "Rain on tin.wav")
    ds = load_dataset("clotho", tmp_path)
    assert ds.clips["captions"][0] == ["Rain hits a roof", "Rain falls", "Drops on metal", "Water on a roof"]
    assert ds.summary() == "1 clips, 4 captions, 1 missing, 2 warnings"
    assert "line 2: empty caption" in ds.warnings[0] and "line 4: file_name '../escape.wav'" in ds.warnings[1]
