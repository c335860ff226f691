"""Hostile tables, for every reader: missing columns, duplicate ids, blank captions, malformed rows,
audio paths that leave the data root. Whole-file problems raise naming the file; row problems skip
the row with a warning naming the file and the line; nothing outside the data root is ever read.

(test_datasets.py has the detailed per-reader cases; this is the matrix over all readers, and the CLI.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from clapdemo.cli import main as cli
from clapdemo.data.datasets import load_dataset


def clip(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, (0.1 * np.random.default_rng(0).standard_normal(8000)).astype(np.float32), 16000)


def text(path: Path, content: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


# Each builder writes one table with: a good row (line 2), then one hostile row per line, and
# returns (kind, data_root, table path, id of the good clip, {line: words its warning must hold}).
# Decoy files sit where `../../etc/passwd` would lead, so a failed check would find a real file.

def folder_case(tmp: Path):
    root = tmp / "data"
    clip(root / "good.wav")
    table = text(root / "captions.csv", (
        "file,caption\n"
        "good.wav,a good clip\n"
        "blank.wav,\"  \t \"\n"
        "good.wav,one,two\n"
        "../../etc/passwd,sneaky\n"
        "/etc/passwd,sneaky\n"
    ))
    # (several rows per file are one clip's captions here, so a repeated file is not an error)
    return "folder", root, table, "good.wav", {3: "empty caption", 4: "3 values but the header names 2",
                                              5: "is outside", 6: "is outside"}


def esc50_case(tmp: Path):
    root = tmp / "data"
    clip(root / "audio" / "1-1-A-0.wav")
    table = text(root / "esc50.csv", (
        "filename,fold,target,category,esc10,src_file,take\n"
        "1-1-A-0.wav,1,0,dog,False,1,A\n"
        "1-1-A-0.wav,1,0,dog,False,1,A\n"
        "1-2-A-0.wav,1,0,\"   \",False,2,A\n"
        "1-3-A-0.wav,1,0,dog,False,3,A,extra,more\n"
        "../../etc/passwd,1,0,dog,False,4,A\n"
        "/etc/passwd,1,0,dog,False,5,A\n"
    ))
    return "esc50", root, table, "1-1-A-0", {3: "already on line 2", 4: "empty category", 5: "9 values",
                                            6: "points outside", 7: "points outside"}


def clotho_case(tmp: Path):
    root = tmp / "data"
    clip(root / "evaluation" / "good.wav")
    table = text(root / "clotho_captions_evaluation.csv", (
        "file_name,caption_1,caption_2,caption_3,caption_4,caption_5\n"
        "good.wav,a,b,c,d,e\n"
        "good.wav,f,g,h,i,j\n"
        "blank.wav, ,  ,\t, ,\n"
        "x.wav,a,b,c,d,e,f,g\n"
        "../../etc/passwd,a,b,c,d,e\n"
        "/etc/passwd,a,b,c,d,e\n"
    ))
    return "clotho", root, table, "good.wav", {3: "already on line 2", 4: "no non-empty caption",
                                              5: "8 values", 6: "points outside", 7: "points outside"}


def audiocaps_case(tmp: Path):
    root = tmp / "data"
    clip(root / "audiocaps" / "audio" / "test" / "1.wav")
    table = text(root / "audiocaps" / "audiocaps_test_new.tsv", (
        "uniq_id\taudio\ttext\tduration\n"
        "1\taudiocaps/audio/test/1.wav\tA good clip\t10.0\n"
        "1\taudiocaps/audio/test/1.wav\tthe same id again\t10.0\n"
        "2\taudiocaps/audio/test/2.wav\t   \t10.0\n"
        "3\taudiocaps/audio/test/3.wav\tt\t10.0\textra\tmore\n"
        "4\t../../etc/passwd\tt\t10.0\n"
        "5\t/etc/passwd\tt\t10.0\n"
    ))
    return "audiocaps", root, table, "1", {3: "already on line 2", 4: "no non-empty caption", 5: "6 values",
                                           6: "is outside", 7: "is outside"}


CASES = [folder_case, esc50_case, clotho_case, audiocaps_case]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_hostile_rows_are_skipped_with_file_and_line(case, tmp_path):
    for decoy in (tmp_path / "etc" / "passwd", tmp_path / "data" / "etc" / "passwd"):
        text(decoy, "root:x:0:0")
    kind, root, table, good, expected = case(tmp_path)
    ds = load_dataset(kind, root)
    assert list(ds.clips["clip_id"]) == [good]
    assert all(Path(p).resolve().is_relative_to(root.resolve()) for p in ds.clips["audio_path"])
    for line, words in expected.items():
        hits = [w for w in ds.warnings if w.startswith(f"{table}: line {line}:") and words in w]
        assert hits, f"no warning for line {line} ({words!r}) in {ds.warnings}"


# reader -> (file to write, its content lacking a required column, the column named in the error)
MISSING = {
    "folder": ("captions.csv", "file,text\na.wav,hi\n", "'caption'"),
    "esc50": ("esc50.csv", "filename,target,category\na.wav,0,dog\n", "'fold'"),
    "clotho": ("clotho_captions_evaluation.csv", "file,caption_1\na.wav,hi\n", "'file_name'"),
    "audiocaps": ("audiocaps_test_new.tsv", "uniq_id\taudio\tduration\n1\ta.wav\t10\n", "'text'"),
}


@pytest.mark.parametrize("kind", MISSING)
def test_missing_columns_stop_with_the_file_and_the_columns(kind, tmp_path):
    name, content, column = MISSING[kind]
    table = text(tmp_path / name, content)
    with pytest.raises(ValueError) as err:
        load_dataset(kind, tmp_path)
    assert str(err.value).startswith(f"{table}: missing column") and column in str(err.value)
    assert "expected columns" in str(err.value)


def test_cli_refuses_a_table_without_its_columns(tmp_path, capsys):
    table = text(tmp_path / "clotho_captions_evaluation.csv", "file,caption_1\na.wav,hi\n")
    code = cli.main(["precompute", "--dataset", "clotho", "--data-root", str(tmp_path), "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith(f"error: {table}: missing column 'file_name'")
    assert not (tmp_path / "s").exists()


def test_cli_prints_each_skipped_row_and_embeds_the_rest(tmp_path, mn04, minilm, monkeypatch, capsys):
    import clapdemo.encoders as encoders
    from clapdemo.stores.store import open_store

    text(tmp_path / "etc" / "passwd", "root:x:0:0")
    _, root, table, good, expected = folder_case(tmp_path)
    monkeypatch.setattr(encoders, "load_audio_encoder", lambda name, device="cpu": mn04)
    monkeypatch.setattr(encoders, "load_text_encoder", lambda name, device="cpu": minilm)
    code = cli.main(["precompute", "--dataset", "folder", "--data-root", str(root), "--out", str(tmp_path / "s")])
    out = capsys.readouterr().out
    assert code == 0
    for line in expected:
        assert f"  warning {table}: line {line}:" in out
    assert "  warning " + f"{table}: line 5: file '../../etc/passwd' is outside {root}; row skipped" in out
    assert open_store(tmp_path / "s").clip_ids == [good]


# ----------------------------------------------------------------------------- runaway quotes, huge values


def three_clips(root: Path, middle_row: str) -> Path:
    """A folder of a.wav, b.wav, c.wav whose captions.csv has `middle_row` as its line 3."""
    for name in "abc":
        clip(root / f"{name}.wav")
    return text(root / "captions.csv", f"file,caption\na.wav,a dog\n{middle_row}\nc.wav,a cat\n")


def test_an_unclosed_quote_skips_its_row_not_the_rows_after_it(tmp_path):
    """The probe: one stray quote swallowed the rows after it, with no warning (2 of 3 clips lost)."""
    table = three_clips(tmp_path, 'b.wav,"a bird')
    ds = load_dataset("folder", tmp_path)
    assert list(ds.clips["clip_id"]) == ["a.wav", "c.wav"]
    assert ds.clips["captions"].tolist() == [["a dog"], ["a cat"]]
    assert ds.warnings == [f"{table}: line 3: a quoted value runs on to line 4 (a quote that is never closed?); "
                           "row skipped, reading on from line 4"]


def test_an_unclosed_quote_in_a_tsv_is_caught_too(tmp_path):
    clip(tmp_path / "audiocaps" / "audio" / "test" / "1.wav")
    clip(tmp_path / "audiocaps" / "audio" / "test" / "3.wav")
    table = text(tmp_path / "audiocaps" / "audiocaps_test_new.tsv", (
        "uniq_id\taudio\ttext\tduration\n"
        "1\taudiocaps/audio/test/1.wav\t\"A quote\t10.0\n"
        "3\taudiocaps/audio/test/3.wav\tthe last\t10.0\n"))
    ds = load_dataset("audiocaps", tmp_path)
    assert list(ds.clips["clip_id"]) == ["3"]
    assert any(w.startswith(f"{table}: line 2: a quoted value runs on to line 3") for w in ds.warnings)


def test_a_10_mb_caption_skips_its_row_and_the_run_goes_on(tmp_path, mn04, minilm, monkeypatch, capsys):
    """The probe: "field larger than field limit" stopped the whole run."""
    import clapdemo.encoders as encoders
    from clapdemo.stores.store import open_store

    table = three_clips(tmp_path / "data", "b.wav," + "noise " * 1_750_000)
    monkeypatch.setattr(encoders, "load_audio_encoder", lambda name, device="cpu": mn04)
    monkeypatch.setattr(encoders, "load_text_encoder", lambda name, device="cpu": minilm)
    code = cli.main(["precompute", "--dataset", "folder", "--data-root", str(tmp_path / "data"),
                     "--out", str(tmp_path / "s")])
    out = capsys.readouterr().out
    assert code == 0
    assert f"  warning {table}: line 3: a value longer than 131,072 characters; row skipped" in out
    assert open_store(tmp_path / "s").clip_ids == ["a.wav", "c.wav"]
