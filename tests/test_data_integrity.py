"""Data integrity (issue 19 items 8, 9, 11, 13): what a run trained on, what ships, what label pairs read.

- a clip copied under another name is still a clip the run trained on (its audio's sha256);
- every shipped file in assets/ is recorded in assets/SHA256SUMS and checked where it is read;
- label-pair CSVs and `train --train` refuse what would silently train on nothing or twice;
- `search --memmap` works on a store the user cannot write to.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from clapdemo.cli import main as cli

from clapdemo.data import sample_set
from clapdemo.evaluation.evaluate import in_sample_mask
from clapdemo.training.runs import load_run, trained_audio_hashes, trained_clip_ids

REPO = Path(__file__).resolve().parent.parent
ASSETS = REPO / "assets"
SHIPPED_RUN = ASSETS / "projection"


# ----------------------------------------------------------------------------- item 8: leakage by content


def _copied_folder(tmp_path: Path, n_trained: int = 10, n_held: int = 3) -> tuple[Path, list[str], list[str]]:
    """A folder dataset of `n_trained` clips the shipped projection trained on and `n_held` it held out,
    each copied under a new name, captioned by its class as ESC-50's prompts are."""
    table = pd.read_csv(sample_set.SAMPLE_ROOT / "esc50.csv")
    trained = trained_clip_ids(SHIPPED_RUN)
    table["clip_id"] = table["filename"].str.removesuffix(".ogg")
    seen = table[table["clip_id"].isin(trained)].head(n_trained)
    held = table[~table["clip_id"].isin(trained)].head(n_held)
    folder = tmp_path / "mine"
    folder.mkdir()
    rows, copies, fresh = [], [], []
    for kind, part in (("copy", seen), ("new", held)):
        for i, row in enumerate(part.itertuples()):
            name = f"{kind}-{i:02d}.ogg"
            shutil.copyfile(sample_set.SAMPLE_ROOT / "audio" / row.filename, folder / name)
            rows.append({"file": name, "caption": f"the sound of {row.category.replace('_', ' ')}"})
            (copies if kind == "copy" else fresh).append(name)  # a folder's clip id is the file's name
    pd.DataFrame(rows).to_csv(folder / "captions.csv", index=False)
    return folder, copies, fresh


def test_shipped_run_records_the_sha256_of_its_training_audio():
    hashes = trained_audio_hashes(SHIPPED_RUN)
    clips = json.loads((SHIPPED_RUN / "train_clips.json").read_text())
    in_sample_set = {p.stem for p in (sample_set.SAMPLE_ROOT / "audio").glob("*.ogg")}
    assert len(hashes) == len(in_sample_set & (set(clips["train"]) | set(clips["val"]))) > 100


def test_copies_of_training_clips_under_new_names_are_in_sample(tmp_path, capsys):
    """On main, ids alone decided: the 10 copies evaluated as held out (a2t acc@1 1.000)."""
    folder, copies, fresh = _copied_folder(tmp_path)
    store = tmp_path / "store"
    assert cli.main(["precompute", "--dataset", "folder", "--data-root", str(folder), "--out", str(store),
                     "--audio-encoder", sample_set.AUDIO_ENCODER, "--text-encoder", sample_set.TEXT_ENCODER]) == 0
    from clapdemo.stores.audio_hashes import attach_audio_hashes
    from clapdemo.stores.store import Store, open_store
    from clapdemo.encoders.weights import sha256_file

    recorded = Store(store).audio_hashes()  # precompute keeps each clip's sha256 in its shard's sidecar
    assert recorded == {name: sha256_file(folder / name) for name in copies + fresh}
    for emb in (attach_audio_hashes(open_store(store), store), open_store(store)):  # recorded, or hashed now
        mask = in_sample_mask(SHIPPED_RUN, emb)
        assert {c for c, m in zip(emb.clip_ids, mask) if m} == set(copies) and len(mask) == len(copies) + len(fresh)

    from types import SimpleNamespace

    from clapdemo.app.tab_evaluate import EvaluateTab
    from clapdemo.training.runs import load_run
    from clapdemo.search.searcher import Searcher

    session, emb = SimpleNamespace(projection=str(SHIPPED_RUN)), open_store(store)
    assert "trained (or validated) on 10 of these 13 clips" in EvaluateTab.sample_note(None, session, emb, False)
    held = EvaluateTab.held_out_searcher(None, session, Searcher(emb, load_run(SHIPPED_RUN)[0]))
    assert sorted(held.embeddings.clip_ids) == sorted(fresh)  # the app's "held-out clips only"

    capsys.readouterr()
    assert cli.main(["evaluate", "--run", str(SHIPPED_RUN), "--store", str(store)]) == 1  # refused: in-sample
    assert "10 of its 13 clips were in the run's training" in capsys.readouterr().err
    out = tmp_path / "m.json"
    assert cli.main(["evaluate", "--run", str(SHIPPED_RUN), "--store", str(store), "--unseen-only",
                     "--json", str(out)]) == 0
    metrics = json.loads(out.read_text())
    assert metrics["in_sample"] is False and metrics["n_clips"] == len(fresh)


def test_a_run_records_the_audio_it_trained_on(tmp_path):
    """train_clips.json gains "sha256": the audio files of its training and validation clips."""
    from clapdemo.stores.embedding_set import EmbeddingSet
    from clapdemo.training.loop import TrainConfig, train

    import numpy as np

    files = sorted((sample_set.SAMPLE_ROOT / "audio").glob("*.ogg"))[:6]
    rng = np.random.default_rng(0)
    emb = EmbeddingSet(audio=rng.normal(size=(6, 4)).astype(np.float32), text=rng.normal(size=(6, 3)).astype(np.float32),
                       text_clip=np.arange(6), clip_ids=[f"c{i}" for i in range(6)], audio_paths=[str(f) for f in files],
                       captions=[f"t{i}" for i in range(6)])
    train(TrainConfig(epochs=1, batch_size=2), emb.subset([0, 1, 2, 3]), emb.subset([4, 5]), run_dir=tmp_path / "run")
    recorded = json.loads((tmp_path / "run" / "train_clips.json").read_text())["sha256"]
    from clapdemo.encoders.weights import sha256_file

    assert recorded == sorted(sha256_file(f) for f in files)


# ----------------------------------------------------------------------------- item 9: shipped files


def test_asset_manifest_matches_the_files_in_the_repository():
    """A retrained projection, a rebuilt store or a new file in assets/ must come with a new manifest."""
    problems = sample_set.asset_manifest_problems()
    assert not problems, ("assets/ differs from assets/SHA256SUMS; if the change is meant, run "
                          "`python -m clapdemo sample-set hashes` and commit the manifest:\n" + "\n".join(problems))


@pytest.fixture
def assets_copy(tmp_path) -> Path:
    """A copy of assets/ (manifest included) whose files a test may damage."""
    copy = tmp_path / "assets"
    shutil.copytree(ASSETS, copy)
    return copy


def _flip(path: Path, at: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2 if at is None else at] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name", ["projection.safetensors", "run.json", "train_clips.json"])
def test_a_flipped_byte_in_the_shipped_projection_is_named(assets_copy, name):
    load_run(assets_copy / "projection")  # intact: loads
    _flip(assets_copy / "projection" / name, at=-3 if name.endswith(".json") else None)
    with pytest.raises(sample_set.DamagedAsset, match=f"assets/projection/{name} is damaged.*git checkout"):
        load_run(assets_copy / "projection")


@pytest.mark.parametrize("part", ["shards", "umap", "manifest.json", "clips.parquet"])
def test_a_flipped_byte_in_the_shipped_store_or_layout_stops_the_install(assets_copy, tmp_path, part):
    store = assets_copy / "esc50-sample-store"
    target = next((store / part).glob("*.safetensors")) if part == "shards" else (
        next((store / part).glob("*.npy")) if part == "umap" else store / part)
    _flip(target, at=len(target.read_bytes()) - 2 if part == "manifest.json" else None)
    from clapdemo.encoders import load_audio_encoder, load_text_encoder

    encoders = load_audio_encoder(sample_set.AUDIO_ENCODER), load_text_encoder(sample_set.TEXT_ENCODER)
    with pytest.raises(sample_set.DamagedAsset, match=f"{target.relative_to(assets_copy.parent)} is damaged"):
        sample_set.install_sample_store(tmp_path / "cache" / "store", *encoders, sample_root=ASSETS / "esc50-sample",
                                        shipped=store)
    assert not (tmp_path / "cache" / "store").exists()


def test_manifest_problems_name_changed_new_and_missing_files(assets_copy):
    sample_set.write_asset_manifest(assets_copy)  # whatever assets/ holds now, recorded
    _flip(assets_copy / "projection" / "projection.safetensors")
    (assets_copy / "projection" / "extra.txt").write_text("new")
    (assets_copy / "weights" / "README.md").unlink()
    assert sample_set.asset_manifest_problems(assets_copy) == [
        "projection/projection.safetensors: changed (sha256 differs from SHA256SUMS)",
        "projection/extra.txt: not listed in SHA256SUMS",
        "weights/README.md: listed in SHA256SUMS but missing"]
    sample_set.write_asset_manifest(assets_copy)
    assert sample_set.asset_manifest_problems(assets_copy) == []


def test_a_damaged_weights_file_is_named_as_such(tmp_path, monkeypatch):
    """Not "failed unexpectedly": a ValueError the app and CLI show as the user's to fix."""
    from clapdemo.encoders import weights

    folder = tmp_path / "w"
    folder.mkdir()
    bad = folder / weights.WEIGHTS["mn04_as"].filename
    shutil.copyfile(ASSETS / "weights" / bad.name, bad)
    _flip(bad)
    monkeypatch.setenv(weights.ENV_DIR, str(folder))
    with pytest.raises(ValueError, match=f"weights file {bad} damaged \\(sha256 mismatch\\)"):
        weights.find_weights("mn04_as")


# ----------------------------------------------------------------------------- item 13: read-only stores


@pytest.fixture
def read_only_store(tmp_path, monkeypatch):
    """A copy of the shipped store nobody may write to: chmod a-w, or (as root, whom chmod does not
    stop) a read-only bind mount; where neither bites, writes below it raise EROFS as a mount would."""
    import errno
    import os
    import subprocess

    store = tmp_path / "store"
    shutil.copytree(sample_set.SAMPLE_STORE, store)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    if os.geteuid() != 0:
        for path in [store, *store.rglob("*")]:
            path.chmod(path.stat().st_mode & ~0o222)
        yield store
        for path in [store, *store.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
        return
    ro = tmp_path / "ro"
    ro.mkdir()
    mounted = subprocess.run(["mount", "--bind", "-o", "ro", str(store), str(ro)], capture_output=True).returncode == 0
    if mounted and subprocess.run(["touch", str(ro / "x")], capture_output=True).returncode != 0:
        yield ro
        subprocess.run(["umount", str(ro)], check=False)
        return
    if mounted:
        subprocess.run(["umount", str(ro)], check=False)
    from clapdemo.stores import packed

    real = packed._pack_into

    def refuse(store_dir, folder, *args):
        if Path(store) in Path(folder).parents:
            raise OSError(errno.EROFS, "Read-only file system", str(folder))
        return real(store_dir, folder, *args)

    monkeypatch.setattr(packed, "_pack_into", refuse)
    yield store


def test_search_memmap_on_a_read_only_store(read_only_store, tmp_path, capsys):
    """On main: a bare "[Errno 30] Read-only file system" (or [Errno 13]); now the pack goes to the user cache."""
    out = tmp_path / "hits.json"
    code = cli.main(["search", "--run", str(SHIPPED_RUN), "--store", str(read_only_store), "--text", "a dog barking",
                     "-k", "3", "--memmap", "--json", str(out)])
    assert code == 0, capsys.readouterr().err
    hits = json.loads(out.read_text())["clips"]
    assert len(hits) == 3
    assert not (read_only_store / "packed").exists() and list((tmp_path / "cache" / "clapdemo" / "packed").iterdir())


# ----------------------------------------------------------------------------- item 11: label-pair CSVs

DOG, BARK = "/m/0bt9lr", "/m/05tny_"
SEGMENT_HEADER = "YTID,start_seconds,end_seconds,positive_labels\n"


def _label_root(tmp_path: Path, captions: str, segments: str) -> tuple[Path, Path]:
    root = tmp_path / "audiocaps"
    root.mkdir()
    (root / "train.csv").write_text("audiocap_id,youtube_id,start_time,caption\n" + captions)
    seg = tmp_path / "segments.csv"
    seg.write_text(segments)
    return root, seg


def test_a_huge_field_in_a_segment_csv_skips_that_row_with_a_warning(tmp_path):
    """On main: _csv.Error 'field larger than field limit (131072)' and a traceback."""
    from clapdemo.data.label_pairs import make_label_pairs

    root, seg = _label_root(tmp_path, "1,aaaaaaaaaaa,30,a dog barks\n2,bbbbbbbbbbb,0,a dog barks again\n",
                            SEGMENT_HEADER + f'aaaaaaaaaaa,30.000,40.000,"{DOG}"\n'
                            f'ccccccccccc,0.000,10.000,"{"x" * 140_000}"\n'
                            f'bbbbbbbbbbb,0.000,10.000,"{DOG},{BARK}"\n')
    pairs = make_label_pairs(root, "train", [seg])
    assert sorted(pairs.clips["clip_id"]) == ["aaaaaaaaaaa", "bbbbbbbbbbb"]
    assert any(f"{seg}: line 3" in w and "field limit" in w and "skipped" in w for w in pairs.warnings)


def test_a_huge_caption_field_skips_that_row_with_a_warning(tmp_path):
    from clapdemo.data.label_pairs import make_label_pairs

    root, seg = _label_root(tmp_path, f'1,aaaaaaaaaaa,30,"{"y" * 140_000}"\n2,aaaaaaaaaaa,30,a dog barks\n',
                            SEGMENT_HEADER + f'aaaaaaaaaaa,30.000,40.000,"{DOG}"\n')
    pairs = make_label_pairs(root, "train", [seg])
    assert pairs.clips["captions"].tolist() == [["a dog barks"]]
    assert any("train.csv: line 2" in w for w in pairs.warnings)


@pytest.mark.parametrize("kind", ["missing columns", "tsv", "empty"])
def test_a_segment_csv_that_gives_no_rows_is_an_error_naming_file_and_columns(tmp_path, capsys, kind):
    """On main: 'label pairs: 0 labelled clips' and exit 0."""
    segments = {"missing columns": "YTID,labels\naaaaaaaaaaa,/m/0bt9lr\n",
                "tsv": f"YTID\tstart_seconds\tend_seconds\tpositive_labels\naaaaaaaaaaa\t30.0\t40.0\t{DOG}\n",
                "empty": ""}[kind]
    root, seg = _label_root(tmp_path, "1,aaaaaaaaaaa,30,a dog barks\n", segments)
    code = cli.main(["precompute", "--dataset", "audiocaps-labels", "--data-root", str(root), "--segments", str(seg),
                     "--out", str(tmp_path / "store")])
    err = capsys.readouterr().err
    assert code == 1 and str(seg) in err and "YTID, start_seconds, end_seconds, positive_labels" in err
    assert not (tmp_path / "store").exists()


@pytest.mark.parametrize("kind", ["missing columns", "tsv", "empty"])
def test_a_caption_table_that_gives_no_clips_is_an_error_naming_file_and_columns(tmp_path, capsys, kind):
    root, seg = _label_root(tmp_path, "", SEGMENT_HEADER + f'aaaaaaaaaaa,30.000,40.000,"{DOG}"\n')
    (root / "train.csv").write_text({"missing columns": "id,caption\n1,a dog barks\n",
                                     "tsv": "audiocap_id\tyoutube_id\tstart_time\tcaption\n1\taaaaaaaaaaa\t30\ta dog\n",
                                     "empty": ""}[kind])
    code = cli.main(["precompute", "--dataset", "audiocaps-labels", "--data-root", str(root), "--segments", str(seg),
                     "--out", str(tmp_path / "store")])
    err = capsys.readouterr().err
    assert code == 1 and str(root / "train.csv") in err and ("youtube_id" in err or "header" in err)


def test_captions_with_no_labelled_clip_are_an_error(tmp_path, capsys):
    root, seg = _label_root(tmp_path, "1,zzzzzzzzzzz,30,a dog barks\n", SEGMENT_HEADER + f'aaaaaaaaaaa,30.000,40.000,"{DOG}"\n')
    code = cli.main(["precompute", "--dataset", "audiocaps-labels", "--data-root", str(root), "--segments", str(seg),
                     "--out", str(tmp_path / "store")])
    err = capsys.readouterr().err
    assert code == 1 and "no clip of" in err and str(seg) in err


def test_duplicate_ids_are_warned_with_count_and_ids(tmp_path):
    """On main: the first row of a repeated segment or WavCaps id was kept without a word."""
    from clapdemo.data.label_pairs import make_label_pairs

    root, seg = _label_root(tmp_path, "1,aaaaaaaaaaa,30,a dog barks\n",
                            SEGMENT_HEADER + f'aaaaaaaaaaa,30.000,40.000,"{DOG}"\naaaaaaaaaaa,30.000,40.000,"{BARK}"\n'
                            f'bbbbbbbbbbb,0.000,10.000,"{BARK}"\n')
    wavcaps = tmp_path / "wavcaps.json"
    wavcaps.write_text(json.dumps({"data": [{"id": "Ybbbbbbbbbbb.wav", "caption": "barking"},
                                            {"id": "Ybbbbbbbbbbb.wav", "caption": "a dog"}]}))
    pairs = make_label_pairs(root, "train", [seg], wavcaps)
    assert pairs.clips["mids"].tolist() == [[DOG], [BARK]]
    assert any("1 segment(s) listed twice" in w and "aaaaaaaaaaa at 30 s (line 3)" in w for w in pairs.warnings)
    assert any("1 clip id(s) given twice" in w and "wavcaps:bbbbbbbbbbb" in w for w in pairs.warnings)


@pytest.fixture
def sample_store_copy(tmp_path) -> Path:
    copy = tmp_path / "esc50-store"
    shutil.copytree(sample_set.SAMPLE_STORE, copy)
    return copy


@pytest.mark.parametrize("how", ["the same path twice", "a copy of it"])
def test_train_refuses_one_store_given_twice(sample_store_copy, tmp_path, capsys, how):
    """On main: every clip trained on twice, validation holding copies of training clips."""
    second = sample_store_copy
    if how == "a copy of it":
        second = tmp_path / "copy"
        shutil.copytree(sample_store_copy, second)
    code = cli.main(["train", "--train", str(sample_store_copy), "--train", str(second), "--out", str(tmp_path / "run"),
                     "--epochs", "1"])
    err = capsys.readouterr().err
    assert code == 1 and f"{second}: the same store as {sample_store_copy}" in err and "every clip twice" in err
    assert not (tmp_path / "run").exists()


def test_train_refuses_an_empty_label_store(sample_store_copy, tmp_path, capsys):
    """On main: accepted without a word (the run trained on the audio store alone)."""
    empty = tmp_path / "labels"
    empty.mkdir()
    manifest = json.loads((sample_store_copy / "manifest.json").read_text())
    manifest |= {"store_id": "0" * 32, "audio_source": {"kind": "labels, no audio"},
                 "dataset": {"name": "audiocaps-labels", "split": "train"}}
    (empty / "manifest.json").write_text(json.dumps(manifest))
    pd.DataFrame({"clip_id": pd.Series([], dtype=str), "audio_path": pd.Series([], dtype=str),
                  "captions": pd.Series([], dtype=object)}).to_parquet(empty / "clips.parquet")
    code = cli.main(["train", "--train", str(empty), "--train", str(sample_store_copy), "--out", str(tmp_path / "run"),
                     "--epochs", "1"])
    err = capsys.readouterr().err
    assert code == 1 and f"{empty}: the label-pair store holds no clips" in err


def test_the_app_names_a_damaged_weights_file_in_header_and_status(tmp_path, monkeypatch):
    """On main: "Encoders unavailable: ... has the wrong sha256" in the header, but "No embeddings yet:
    click Precompute" as the status and "failed unexpectedly" from a click."""
    from clapdemo.encoders import weights
    from clapdemo.app.handlers import Handlers
    from clapdemo.app.session import Session
    from clapdemo.app.settings import Settings
    from clapdemo.encoders import cached_audio_encoder

    folder = tmp_path / "w"
    folder.mkdir()
    bad = folder / weights.WEIGHTS["mn04_as"].filename
    shutil.copyfile(ASSETS / "weights" / bad.name, bad)
    _flip(bad)
    monkeypatch.setenv(weights.ENV_DIR, str(folder))
    cached_audio_encoder.cache_clear()
    try:
        handlers = Handlers(Settings.from_env(["--cache", str(tmp_path / "cache")], env={}))
        session, header = handlers.init_session(Session())
        said = f"weights file {bad} damaged (sha256 mismatch)"
        assert said in header and said in handlers.store_problem(session)
        assert "No embeddings yet" not in handlers.store_problem(session)
    finally:
        cached_audio_encoder.cache_clear()  # the next test loads the good file again
