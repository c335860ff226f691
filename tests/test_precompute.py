"""Precompute into a store: resumable after a real kill, checksummed, bad clips listed, no stale reuse."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from clapdemo.data.datasets import load_dataset
from clapdemo.stores.precompute import precompute
from clapdemo.stores.store import Store, StoreMismatch, open_store
from conftest import ESC50, REPO
from floats import assert_rows_close


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "clapdemo", *args]


ESC50_PRECOMPUTE = ("precompute", "--dataset", "esc50", "--data-root", str(ESC50),
                    "--audio-encoder", "mn04_as", "--text-encoder", "minilm")


def test_full_store_has_every_clip_and_caption(esc50_store):
    data = open_store(esc50_store)
    assert data.n_clips == 414
    assert data.n_captions == 414  # one template -> one caption per clip
    assert data.audio.shape == (414, data.meta["audio_dim"]) and data.audio.dtype == np.float32
    assert data.text.shape == (414, 384)
    assert len(set(data.clip_ids)) == 414
    assert data.captions[0] == f"the sound of {data.labels[0]}"
    assert Store(esc50_store).status() == {"clips": 414, "done": 414, "failed": 0, "missing": 0,
                                           "shards": Store(esc50_store).status()["shards"]}


@pytest.mark.slow
def test_killed_precompute_resumes_to_the_same_vectors(esc50_store, tmp_path):
    out = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(cli(*ESC50_PRECOMPUTE, "--out", str(out), "--checkpoint-every", "32",
                                "--batch-size", "16"), cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while len(list((out / "shards").glob("*.json"))) < 3 and time.time() < deadline:
        assert proc.poll() is None, "precompute ended before it could be killed"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_at_kill = len(Store(out).done_clip_ids())
    assert 0 < done_at_kill < 414

    resumed = subprocess.run(cli(*ESC50_PRECOMPUTE, "--out", str(out)), cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{done_at_kill} from earlier runs" in resumed.stdout

    expected, got = open_store(esc50_store), open_store(out)
    assert got.clip_ids == expected.clip_ids
    assert got.captions == expected.captions
    np.testing.assert_array_equal(got.text_clip, expected.text_clip)
    assert_rows_close(got.audio, expected.audio, what="audio vectors")
    assert_rows_close(got.text, expected.text, what="text vectors")


@pytest.fixture
def small_esc50():
    dataset = load_dataset("esc50", ESC50)
    dataset.clips = dataset.clips.head(24)
    return dataset


def test_damaged_shard_is_detected_and_recomputed(small_esc50, mn04, minilm, tmp_path):
    out = tmp_path / "store"
    precompute(small_esc50, mn04, minilm, out, batch_size=8, checkpoint_every=8, progress=False)
    before = open_store(out)
    shard = sorted((out / "shards").glob("*.safetensors"))[0]
    data = bytearray(shard.read_bytes())
    data[-5] ^= 0xFF  # flip bits inside the vectors: the header still parses
    shard.write_bytes(bytes(data))

    problems = Store(out).verify()
    assert len(problems) == 1 and "checksum mismatch" in problems[0] and shard.name in problems[0]
    assert len(Store(out).done_clip_ids()) == 16  # the damaged shard's 8 clips no longer count

    report = precompute(small_esc50, mn04, minilm, out, batch_size=8, checkpoint_every=8, progress=False)
    assert report.computed == 8 and report.already_done == 16
    after = open_store(out)
    assert after.clip_ids == before.clip_ids
    assert_rows_close(after.audio, before.audio, what="audio vectors")


def test_bad_clips_are_skipped_listed_and_the_run_goes_on(mn04, minilm, tmp_path):
    root = tmp_path / "clips"
    root.mkdir()
    good, _ = sf.read(ESC50 / "audio" / sorted(os.listdir(ESC50 / "audio"))[0], dtype="float32")
    sf.write(root / "good one.flac", good, 44100)
    (root / "not audio.wav").write_text("this is text, not sound")
    (root / "empty.wav").write_bytes(b"")
    (root / "captions.csv").write_text(
        "file,caption\ngood one.flac,a cow moos\nnot audio.wav,text\nempty.wav,nothing\n", encoding="utf-8")
    dataset = load_dataset("folder", root)

    report = precompute(dataset, mn04, minilm, tmp_path / "store", progress=False)
    assert report.computed == 1
    assert set(report.failed) == {"not audio.wav", "empty.wav"}
    assert "not a readable audio file" in report.failed["not audio.wav"]["error"]
    assert "empty file" in report.failed["empty.wav"]["error"]
    assert Store(tmp_path / "store").failed().keys() == report.failed.keys()
    assert open_store(tmp_path / "store").clip_ids == ["good one.flac"]


def test_a_store_made_by_other_encoders_is_not_reused(small_esc50, mn04, minilm, tmp_path):
    from clapdemo.encoders import load_audio_encoder

    small_esc50.clips = small_esc50.clips.head(4)
    precompute(small_esc50, mn04, minilm, tmp_path / "store", progress=False)
    other_output = load_audio_encoder("mn04_as:head")
    with pytest.raises(StoreMismatch, match="choose another --out"):
        precompute(small_esc50, other_output, minilm, tmp_path / "store", progress=False)


def test_course_pickle_export_has_the_course_layout(esc50_store, tmp_path):
    from clapdemo.stores.course_export import export_course_pickle

    n = export_course_pickle(esc50_store, tmp_path / "course.pkl")
    with open(tmp_path / "course.pkl", "rb") as f:
        records = pickle.load(f)  # trusted: the file this test just wrote
    assert n == len(records) == 414
    first = records[0]
    assert {"uniq_id", "audio_embedding", "text_embedding"} <= set(first)
    data = open_store(esc50_store)
    np.testing.assert_array_equal(first["audio_embedding"], data.audio[0])
    np.testing.assert_array_equal(first["text_embedding"], data.text[0])


def test_caption_vectors_are_embedded_once_per_shard_and_not_kept_beyond_one():
    """Streaming: one text call per shard, and the cache holds one shard's captions however long the run."""
    import pandas as pd

    from clapdemo.stores.precompute import ShardWriter

    class Text:
        dim, calls = 3, []

        def embed(self, texts):
            self.calls.append(list(texts))
            return np.asarray([[len(t), 0.0, 1.0] for t in texts], np.float32)

    class Shards:
        written = []

        def write_shard(self, clip_ids, audio, text, text_clip, captions):
            self.written.append((clip_ids, text, list(text_clip), captions))

    text, shards = Text(), Shards()
    writer = ShardWriter(shards, 4, text)
    for start in range(0, 40, 2):  # 20 batches of 2 clips; "shared" repeats in every clip, the rest are unique
        ids = [f"c{i}" for i in range(start, start + 2)]
        rows = pd.DataFrame({"clip_id": ids, "captions": [["shared", f"only {i}"] for i in ids]})
        writer.add(rows, np.zeros((2, 5), np.float32))
        writer.flush_if_full()
        assert len(writer.text_cache) <= 1 + 4
    writer.flush()
    assert len(shards.written) == len(text.calls) == 10
    assert sum(c.count("shared") for c in text.calls) == 1  # kept from shard to shard
    ids, vectors, text_clip, captions = shards.written[-1]
    assert ids == ["c36", "c37", "c38", "c39"] and text_clip == [0, 0, 1, 1, 2, 2, 3, 3]
    np.testing.assert_array_equal(vectors[:, 0], [len(c) for c in captions])
