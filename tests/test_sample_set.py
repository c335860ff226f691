"""The sample set that ships in assets/ (issue #14): an ordinary ESC-50 folder, a store that matches
its audio and weights, installed into the cache without writing into assets/, and the app's default."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from clapdemo.data.audio import load_audio, load_clip
from clapdemo.data.esc50 import read_esc50
from clapdemo.data.sample_set import (AUDIO_ENCODER, SAMPLE_ROOT, SAMPLE_STORE, TEXT_ENCODER, build_sample_set,
                                 install_sample_store, sample_set_size)
from clapdemo.stores.store import Store
from conftest import ESC50, copy_esc50_subset


def _snapshot(folder: Path) -> dict:
    """Every file under `folder` with its size and mtime: any write into assets/ changes it."""
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


@pytest.fixture(scope="module")
def sample_encoders():
    from clapdemo.encoders import cached_audio_encoder, cached_text_encoder

    return cached_audio_encoder(AUDIO_ENCODER), cached_text_encoder(TEXT_ENCODER)


def test_sample_folder_is_an_ordinary_esc50_folder():
    dataset = read_esc50(SAMPLE_ROOT)
    assert len(dataset.clips) == 414 and dataset.clips["label"].nunique() == 50
    assert dataset.missing == [] and dataset.warnings == []
    assert dataset.clips.groupby("label").size().min() >= 8
    info = sf.info(dataset.clips["audio_path"][0])
    assert (info.format, info.subtype, info.channels) == ("OGG", "OPUS", 1)
    licence = (SAMPLE_ROOT / "LICENSE").read_text()
    assert "CC BY-NC 3.0" in licence and "Piczak" in licence and "2015" in licence


def test_sample_set_and_store_stay_under_10_mb():
    sizes = sample_set_size()
    assert sum(sizes.values()) < 10e6, sizes


def test_shipped_clips_are_the_build_of_the_shared_originals(tmp_path):
    """Rebuilding from ESC-50 gives the same decoded audio as the shipped files (the Ogg stream's
    random serial number makes the bytes differ; the samples do not)."""
    source = copy_esc50_subset(tmp_path / "src", ["dog", "rain"], per_class=2)
    (source / "audio" / "bad.flac").write_bytes(b"not audio")
    with open(source / "esc50.csv", "a") as f:
        f.write("bad.flac,1,0,dog,False,0,A\n")
    report = build_sample_set(source, tmp_path / "out", per_class=3)
    assert report.written == 4 and list(report.skipped) == ["bad"]
    built = read_esc50(tmp_path / "out")
    assert sorted(built.clips["label"]) == ["dog", "dog", "rain", "rain"]
    for clip_id, path in zip(built.clips["clip_id"], built.clips["audio_path"]):
        shipped, _ = sf.read(SAMPLE_ROOT / "audio" / f"{clip_id}.ogg")
        rebuilt, _ = sf.read(path)
        assert np.array_equal(shipped, rebuilt)
    with pytest.raises(ValueError, match="not empty"):
        build_sample_set(source, tmp_path / "out")


def test_build_keeps_only_per_class(tmp_path):
    source = copy_esc50_subset(tmp_path / "src", ["dog", "rain", "cow"])
    report = build_sample_set(source, tmp_path / "out", per_class=1)
    assert report.written == 3 and read_esc50(tmp_path / "out").clips["label"].nunique() == 3


def test_shipped_store_matches_its_audio_and_weights(tmp_path, sample_encoders):
    """Re-embedding sample clips gives the stored vectors: the store cannot drift from the clips or weights."""
    audio_encoder, text_encoder = sample_encoders
    before = _snapshot(SAMPLE_STORE.parent)
    assert install_sample_store(tmp_path / "store", audio_encoder, text_encoder) is None
    stored = Store(tmp_path / "store").load()
    assert len(stored.clip_ids) == 414
    rows = [0, 97, 205, 333, 413]
    waves = np.stack([load_clip(stored.audio_paths[r], audio_encoder.sample_rate, audio_encoder.clip_seconds)
                      for r in rows])
    fresh = audio_encoder.embed(waves)
    for r, vector in zip(rows, fresh):
        assert Path(stored.audio_paths[r]) == SAMPLE_ROOT.resolve() / "audio" / f"{stored.clip_ids[r]}.ogg"
        assert np.linalg.norm(vector - stored.audio[r]) <= 1e-5 * np.linalg.norm(stored.audio[r])
    caption_rows = [int(np.flatnonzero(stored.text_clip == r)[0]) for r in rows]
    texts = text_encoder.embed([stored.captions[i] for i in caption_rows])
    for i, vector in zip(caption_rows, texts):
        assert np.linalg.norm(vector - stored.text[i]) <= 1e-5 * np.linalg.norm(stored.text[i])
    assert _snapshot(SAMPLE_STORE.parent) == before  # assets/ untouched


def test_install_is_current_once_and_refuses_other_encoders(tmp_path, sample_encoders):
    audio_encoder, text_encoder = sample_encoders
    target = tmp_path / "store"
    assert install_sample_store(target, audio_encoder, text_encoder) is None
    stamp = (target / "clips.parquet").stat().st_mtime_ns
    assert install_sample_store(target, audio_encoder, text_encoder) is None
    assert (target / "clips.parquet").stat().st_mtime_ns == stamp  # already current: not copied again
    assert [p.name for p in target.parent.iterdir()] == ["store"]  # no temp folder left behind

    other = SimpleNamespace(identity=SimpleNamespace(to_dict=lambda: {"name": "clip", "weights_sha256": "f" * 64}),
                            dim=512)
    why = install_sample_store(tmp_path / "other", audio_encoder, other)
    assert "the active encoders are" in why and "clip" in why and "precompute" in why
    assert not (tmp_path / "other").exists()


def test_damaged_shipped_shard_is_caught_in_the_copy(tmp_path, sample_encoders):
    shipped = tmp_path / "shipped"
    shutil.copytree(SAMPLE_STORE, shipped)
    shard = next((shipped / "shards").glob("*.safetensors"))
    data = bytearray(shard.read_bytes())
    data[-10] ^= 0xFF
    shard.write_bytes(bytes(data))
    before = _snapshot(shipped)
    assert install_sample_store(tmp_path / "store", *sample_encoders, shipped=shipped) is None
    assert Store(tmp_path / "store").status()["done"] == 0  # quarantined in the copy: never read as data
    assert _snapshot(shipped) == before  # the source is only read


def test_app_defaults_to_the_sample_set_and_searches_it(tmp_path, monkeypatch):
    """No data root and no CLAPDEMO_WEIGHTS_DIR: the app opens on the sample set and its shipped store."""
    from clapdemo.app import Handlers, Settings

    monkeypatch.delenv("CLAPDEMO_WEIGHTS_DIR", raising=False)
    settings = Settings.from_env([], env={"CLAPDEMO_CACHE": str(tmp_path / "cache")})
    assert settings.data_root == SAMPLE_ROOT and settings.dataset == "esc50" and settings.data_problem is None
    assert "sample set" in settings.why["CLAPDEMO_DATA_ROOT"]
    before = _snapshot(SAMPLE_ROOT.parent)
    handlers = Handlers(settings)
    session, _ = handlers.init_session(None)
    assert session.store_dir and Path(session.store_dir).is_relative_to(tmp_path / "cache")
    hits = handlers.searcher(session).text_to_audio("dog barking", k=5)
    assert sum("dog" in h.caption for h in hits) >= 3, hits
    assert _snapshot(SAMPLE_ROOT.parent) == before

    mine = Settings.from_env(["--data-root", str(ESC50)], env={})
    assert mine.data_root == ESC50 and mine.why["CLAPDEMO_DATA_ROOT"] == "from --data-root"
    assert Settings.from_env([], env={"CLAPDEMO_DATA_ROOT": str(ESC50)}).data_root == ESC50


def test_cli_builds_a_sample_set(tmp_path, capsys):
    from clapdemo.cli.main import main

    source = copy_esc50_subset(tmp_path / "src", ["dog"], per_class=2)
    assert main(["sample-set", "build", "--from", str(source), "--out", str(tmp_path / "out")]) == 0
    assert "2 clips" in capsys.readouterr().out
    assert sorted(os.listdir(tmp_path / "out")) == ["LICENSE", "audio", "esc50.csv"]
