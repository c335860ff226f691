"""The store's identity: a shard belongs to one store and one encoder width, and a damaged or
crafted manifest or clip table is a clear error (or read right), never a traceback or a silent
relabelling. (Kills, disk full and damaged bytes: test_reliability_runs.py.)"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clapdemo.cli import main as cli
from clapdemo.data.datasets import load_dataset
from clapdemo.stores.precompute import precompute
from clapdemo.stores.store import Store, StoreMismatch, open_store
from conftest import ESC50

IDENTITY = {"name": "synthetic", "weights_sha256": "0" * 64}


def small_store(folder: Path, seed: int, dims=(8, 4), shards=((8, 4),)) -> Store:
    """Clips c0..c(k-1) in one shard per entry of `shards` (each the (audio, text) widths of its vectors),
    all written through the Store API; `seed` makes another store's vectors differ."""
    rng = np.random.default_rng(seed)
    n = 3 * len(shards)
    ids = [f"c{i}" for i in range(n)]
    manifest = {"format_version": 1, "audio_encoder": IDENTITY, "text_encoder": IDENTITY, "audio_dim": dims[0],
                "text_dim": dims[1], "dataset": {"name": "synthetic", "split": "all"}}
    store = Store(folder)
    store.create_or_check(manifest, pd.DataFrame({"clip_id": ids, "audio_path": [""] * n,
                                                  "captions": [[f"caption {c}"] for c in ids]}))
    for k, (da, dt) in enumerate(shards):
        mine = ids[3 * k : 3 * k + 3]
        store.write_shard(mine, rng.standard_normal((3, da)).astype(np.float32),
                          rng.standard_normal((3, dt)).astype(np.float32), np.arange(3), [f"caption {c}" for c in mine])
    return store


def edit_manifest(store: Store, **changes) -> None:
    manifest = json.loads(store.manifest_path.read_text())
    manifest.update(changes)
    store.manifest_path.write_text(json.dumps(manifest))


# ----------------------------------------------------------------------------- silent relabelling


def test_a_remade_manifest_over_old_shards_is_refused_not_relabelled(mn04, tmp_path, minilm):
    """The probe: delete manifest.json, rerun with mn04_as:pooled (384-d): the 527-d logits passed as 384-d."""
    from clapdemo.encoders import load_audio_encoder

    dataset = load_dataset("esc50", ESC50)
    dataset.clips = dataset.clips.head(4)
    out = tmp_path / "store"
    precompute(dataset, mn04, minilm, out, progress=False)
    assert open_store(out).audio.shape == (4, 527)
    (out / "manifest.json").unlink()
    pooled = load_audio_encoder("mn04_as:pooled")
    assert pooled.dim != mn04.dim
    with pytest.raises(StoreMismatch, match=r"shards/ holds 1 shards but manifest.json is missing") as err:
        precompute(dataset, pooled, minilm, out, progress=False)
    assert str(err.value).startswith(str(out)) and "Restore manifest.json, or delete" in str(err.value)
    assert not (out / "manifest.json").exists()


def test_a_shard_of_another_width_is_refused_naming_the_file(tmp_path):
    store = small_store(tmp_path / "s", 0)
    edit_manifest(store, audio_dim=6)  # a store made before the store id, its manifest edited
    shard = store.sidecars()[0].with_suffix(".safetensors")
    for read in (store.load, store.verify, lambda: open_store(store.root, memmap=True)):
        with pytest.raises(StoreMismatch) as err:
            read()
        assert str(err.value).startswith(f"{shard}: audio vectors of shape (3, 8), but the store's manifest says 6-d")
    assert store.sidecars() and not (store.root / "corrupt").exists()  # refused, not moved away


def test_mixed_widths_name_the_odd_shard(tmp_path):
    store = small_store(tmp_path / "s", 0, shards=((8, 4), (8, 5)))
    odd = [s for s in store.sidecars() if "c3" in json.loads(s.read_text())["clip_ids"]][0]
    with pytest.raises(StoreMismatch, match="text vectors of shape") as err:
        store.load()
    assert str(err.value).startswith(str(odd.with_suffix(".safetensors")))


def test_huge_manifest_dims_leave_no_huge_file(tmp_path):
    """dims of 1e12 with --memmap made a 180 GB sparse file; checked against the shards first."""
    store = small_store(tmp_path / "s", 0)
    edit_manifest(store, audio_dim=10**12)
    with pytest.raises(StoreMismatch, match="says 1000000000000-d"):
        open_store(store.root, memmap=True)
    assert sum(p.stat().st_size for p in store.root.rglob("*") if p.is_file()) < 1_000_000
    edit_manifest(store, audio_dim=1e12)
    with pytest.raises(ValueError, match=r"manifest.json: damaged or edited manifest: audio_dim must be a positive"):
        open_store(store.root, memmap=True)


def test_a_shard_copied_from_another_store_is_quarantined(tmp_path):
    """Same encoders, same clip ids, other sounds: the copy passed `store verify` and lent its vectors."""
    mine, other = small_store(tmp_path / "mine", 0), small_store(tmp_path / "other", 1)
    expected = open_store(mine.root)
    Store.remove_shard(mine.sidecars()[0])
    for path in (other.sidecars()[0], other.sidecars()[0].with_suffix(".safetensors")):
        shutil.copy(path, mine.shard_dir / path.name)
    problems = mine.verify()
    assert len(problems) == 1 and "belongs to another store" in problems[0]
    assert problems[0].startswith(str(mine.shard_dir / other.sidecars()[0].with_suffix(".safetensors").name))
    assert open_store(mine.root).clip_ids == []  # the copy is not read as this store's clips
    assert (mine.root / "corrupt").is_dir()
    small_store(mine.root, 0)  # recomputed: the same vectors as before the copy
    np.testing.assert_array_equal(open_store(mine.root).audio, expected.audio)


def test_a_store_made_before_the_store_id_keeps_working(tmp_path):
    store = small_store(tmp_path / "s", 0)
    expected = open_store(store.root)
    manifest = json.loads(store.manifest_path.read_text())
    del manifest["store_id"]
    store.manifest_path.write_text(json.dumps(manifest))
    for sidecar in store.sidecars():
        sidecar.write_text(json.dumps({k: v for k, v in json.loads(sidecar.read_text()).items() if k != "store_id"}))
    assert store.verify() == []
    np.testing.assert_array_equal(open_store(store.root).audio, expected.audio)


# ----------------------------------------------------------------------------- crafted files


def test_clip_ids_stored_as_bytes_are_read_as_text(tmp_path):
    store = small_store(tmp_path / "s", 0)
    table = store.clips()
    table["clip_id"] = [c.encode() for c in table["clip_id"]]
    table.to_parquet(store.root / "clips.parquet", index=False)
    assert open_store(store.root).clip_ids == ["c0", "c1", "c2"]


def test_a_deeply_nested_manifest_is_a_clear_error(tmp_path, capsys):
    store = small_store(tmp_path / "s", 0)
    store.manifest_path.write_text("[" * 100_000 + "]" * 100_000)
    assert cli.main(["store", "status", str(store.root)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {store.manifest_path}: not a readable manifest") and len(err) < 300
    store.manifest_path.write_text('["a list"]')
    with pytest.raises(ValueError, match="not a store manifest"):
        store.manifest()
