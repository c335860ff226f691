"""Deterministic shards: N processes fill one store at once and give the single-process result."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from clapdemo.data.datasets import load_dataset
from clapdemo.stores.precompute import precompute
from clapdemo.stores.work_split import parse_shard, select_shard, shard_of, shard_status
from clapdemo.stores.store import Store, open_store
from conftest import ESC50, REPO
from floats import assert_rows_close

N_CLIPS = 30


def test_shard_of_is_stable_across_processes_and_covers_every_clip():
    ids = [f"clip-{i}.wav" for i in range(200)]
    here = [shard_of(c, 3) for c in ids]
    code = "from clapdemo.stores.work_split import shard_of; print([shard_of(f'clip-{i}.wav', 3) for i in range(200)])"
    other = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                           env=dict(os.environ, PYTHONPATH=str(REPO), PYTHONHASHSEED="123"), check=True)
    assert eval(other.stdout) == here  # noqa: S307 - our own subprocess's list literal
    assert set(here) == {0, 1, 2}
    assert shard_of("1-100038-A-14.wav", 4) == shard_of("1-100038-A-14.wav", 4)


def test_parse_shard_rejects_bad_values_with_an_example():
    assert parse_shard("2/4") == (2, 4)
    for bad in ("4/4", "1", "a/b", "-1/3"):
        with pytest.raises(ValueError, match="--shard"):
            parse_shard(bad)


@pytest.mark.slow
def test_three_shard_processes_at_once_equal_one_process(mn04, minilm, tmp_path):
    dataset = load_dataset("esc50", ESC50)
    dataset.clips = dataset.clips.head(N_CLIPS)
    precompute(dataset, mn04, minilm, tmp_path / "single", batch_size=8, progress=False)

    out = tmp_path / "sharded"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    command = [sys.executable, "-m", "clapdemo", "precompute", "--dataset", "esc50", "--data-root", str(ESC50),
               "--audio-encoder", "mn04_as", "--text-encoder", "minilm", "--out", str(out),
               "--limit", str(N_CLIPS), "--batch-size", "4", "--checkpoint-every", "4", "--workers", "1"]
    procs = [subprocess.Popen([*command, "--shard", f"{i}/3"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(3)]
    results = [p.communicate(timeout=600) for p in procs]
    for proc, (stdout, stderr) in zip(procs, results):
        assert proc.returncode == 0, stderr

    sidecar_ids = [c for s in (out / "shards").glob("*.json") for c in json.loads(s.read_text())["clip_ids"]]
    assert len(sidecar_ids) == len(set(sidecar_ids)) == N_CLIPS  # no duplicates, no gaps
    expected, got = open_store(tmp_path / "single"), open_store(out)
    assert got.clip_ids == expected.clip_ids and got.captions == expected.captions
    np.testing.assert_array_equal(got.text_clip, expected.text_clip)
    assert_rows_close(got.audio, expected.audio, what="audio vectors")
    assert_rows_close(got.text, expected.text, what="text vectors")

    reports = [json.loads((out / "reports" / f"shard-{i}-of-3.json").read_text()) for i in range(3)]
    assert [r["computed"] for r in reports] == [len(select_shard(i, 3)(dataset.clips)) for i in range(3)]
    assert not (out / "report.json").exists()  # one report per shard process: none overwrites another

    status = subprocess.run([sys.executable, "-m", "clapdemo", "store", "status", str(out)], cwd=REPO, env=env,
                            capture_output=True, text=True, check=True).stdout
    sizes = [len(select_shard(i, 3)(dataset.clips)) for i in range(3)]
    for i in range(3):
        assert f"shard {i}/3: {sizes[i]}/{sizes[i]} done, 0 missing, 0 failed" in status


def test_shard_status_counts_missing_and_failed(mn04, minilm, tmp_path):
    dataset = load_dataset("esc50", ESC50)
    dataset.clips = dataset.clips.head(12)
    precompute(dataset, mn04, minilm, tmp_path / "s", progress=False, select=select_shard(0, 2), job="shard-0-of-2")
    store = Store(tmp_path / "s")
    bad = str(select_shard(1, 2)(dataset.clips)["clip_id"][0])  # a clip of shard 1, as if it failed
    store.write_failed({bad: {"audio_path": "x", "error": "test"}}, owned={bad})
    rows = shard_status(store, 2)
    assert rows[0]["missing"] == 0 and rows[0]["done"] == rows[0]["clips"]
    assert rows[1]["done"] == 0 and rows[1]["failed"] == 1 and rows[1]["missing"] == rows[1]["clips"] - 1
    assert rows[0]["clips"] + rows[1]["clips"] == 12
