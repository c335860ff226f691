"""Issue 20: UrbanSound8K as a dataset, the out-of-domain benchmark, and a projection that keeps
what the encoder hears (real clips, real mn04 and MiniLM; small subsets to stay CPU-cheap)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import SHARED

US8K = SHARED / "data" / "urbansound8k-fold10"


def test_urbansound8k_reads_both_layouts(tmp_path):
    from clapdemo.datasets import guess_dataset_kind, load_dataset

    flat = load_dataset("urbansound8k", US8K)
    assert flat.n_clips == 250 and not flat.missing and not flat.warnings
    assert sorted(flat.clips["label"].value_counts()) == [25] * 10
    row = flat.clips.iloc[0]
    assert row["captions"] == [f"the sound of {row['label']}"] and row["fold"] == 10
    assert "children playing" in set(flat.clips["label"])  # "children_playing" in human form
    assert guess_dataset_kind(US8K)[0] == "urbansound8k"
    assert load_dataset("urbansound8k", US8K, "folds1-9").n_clips == 0

    # the release's layout: metadata/UrbanSound8K.csv, audio/fold<N>/<name>.wav (here a link to a .flac)
    (tmp_path / "metadata").mkdir()
    (tmp_path / "audio" / "fold10").mkdir(parents=True)
    lines = (US8K / "metadata.csv").read_text().splitlines()[:4]
    (tmp_path / "metadata" / "UrbanSound8K.csv").write_text("\n".join(lines) + "\n")
    for line in lines[1:]:
        name = line.split(",")[0]
        (tmp_path / "audio" / "fold10" / name).symlink_to(US8K / "audio" / name)
    release = load_dataset("urbansound8k", tmp_path, "fold10", templates=("a recording of {}",))
    assert release.n_clips == 3 and not release.missing
    assert all("/fold10/" in p for p in release.clips["audio_path"])
    assert release.clips["captions"].iloc[0][0].startswith("a recording of ")
    assert load_dataset("urbansound8k", tmp_path, classes=["car horn"]).n_clips == 3
    with pytest.raises(ValueError, match="unknown class"):
        load_dataset("urbansound8k", tmp_path, classes=["cat"])
