"""Runs that die: SIGKILL at random moments, damaged shards, a disk that fills up, a read-only
store, two processes on one store, training killed mid-run. Nothing saved is lost or misread.

Real processes are killed for real (`python -m clapdemo ...` under SIGKILL); a full disk and, for
root (where chmod stops nothing), a read-only folder are simulated by making os.open/os.mkdir/
os.replace fail below the output folder with the errno the kernel would give.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clapdemo.cli import main as cli
from clapdemo.data.datasets import load_dataset
from clapdemo.stores.precompute import precompute
from clapdemo.stores.store import Store, StoreBusy, StoreWriteError, open_store
from conftest import ESC50, REPO
from floats import assert_rows_close

ENV = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")


def esc50_subset(folder: Path, n: int) -> Path:
    """An ESC-50 folder with the first `n` clips of the shared subset: its own esc50.csv, audio linked."""
    lines = (ESC50 / "esc50.csv").read_text(encoding="utf-8").splitlines()
    (folder / "audio").mkdir(parents=True)
    (folder / "esc50.csv").write_text("\n".join(lines[: n + 1]) + "\n", encoding="utf-8")
    for line in lines[1 : n + 1]:
        name = line.split(",")[0]
        (folder / "audio" / name).symlink_to(ESC50 / "audio" / name)
    return folder


def precompute_cli(root: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "clapdemo", "precompute", "--dataset", "esc50", "--data-root", str(root),
            "--out", str(out), "--audio-encoder", "mn04_as", "--text-encoder", "minilm", *extra]


def sidecar_ids(store: Path) -> Counter:
    """How many committed shards hold each clip id."""
    counts: Counter = Counter()
    for sidecar in (store / "shards").glob("shard-*.json"):
        counts.update(json.loads(sidecar.read_text(encoding="utf-8"))["clip_ids"])
    return counts


def wait_for(condition, proc: subprocess.Popen, what: str, timeout: float = 300.0) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert proc.poll() is None, f"the process ended (rc {proc.returncode}) before {what}"
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def assert_same_store(got, expected) -> None:
    assert got.clip_ids == expected.clip_ids
    assert got.captions == expected.captions
    np.testing.assert_array_equal(got.text_clip, expected.text_clip)
    assert_rows_close(got.audio, expected.audio, what="audio vectors")
    assert_rows_close(got.text, expected.text, what="text vectors")


def use_fixture_encoders(monkeypatch, mn04, minilm) -> None:
    """`cli.main` in this process, with the session's loaded encoders instead of loading new ones."""
    import clapdemo.encoders as encoders

    monkeypatch.setattr(encoders, "load_audio_encoder", lambda name, device="cpu": mn04)
    monkeypatch.setattr(encoders, "load_text_encoder", lambda name, device="cpu": minilm)


def refuse_writes(monkeypatch, under: Path, code: int, after: int | None = None) -> None:
    """Make writes below `under` fail with `code`, as the kernel would.

    after=None: every write fails at once (a read-only folder: EACCES).
    after=N: N shard files are written whole; the next fails when its bytes are synced to disk
    (a disk that fills up in the middle of a file: ENOSPC), and every write after it fails too.
    Reads go on as before."""
    under = os.path.abspath(under)
    state = {"shards": 0, "full": after is None}
    real_open, real_mkdir, real_fsync = os.open, os.mkdir, os.fsync
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT

    def below(path) -> bool:
        return os.path.abspath(os.fspath(path)).startswith(under)

    def fail(path):
        raise OSError(code, os.strerror(code), os.fspath(path))

    def fake_open(path, flags, *args, **kwargs):
        if state["full"] and flags & writing and below(path):
            fail(path)
        return real_open(path, flags, *args, **kwargs)

    def fake_mkdir(path, *args, **kwargs):
        if state["full"] and below(path) and not os.path.isdir(path):
            fail(path)
        return real_mkdir(path, *args, **kwargs)

    def fake_fsync(fd):
        path = os.readlink(f"/proc/self/fd/{fd}")
        if below(path) and ".safetensors." in os.path.basename(path):
            state["shards"] += 1
            state["full"] = state["full"] or state["shards"] > after
        if state["full"] and below(path):
            fail(path)
        return real_fsync(fd)

    monkeypatch.setattr(os, "open", fake_open)
    monkeypatch.setattr(os, "mkdir", fake_mkdir)
    monkeypatch.setattr(os, "fsync", fake_fsync)


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# ----------------------------------------------------------------------------- SIGKILL x 5


@pytest.mark.slow
def test_five_random_kills_then_resume_equal_an_uninterrupted_run(mn04, minilm, tmp_path):
    """72 clips, a shard every 6: the first kill lands at a random time during start-up (imports,
    encoders, store creation), the other four a random moment after the run's next shard. While a
    killed-to-be run is alive, a second precompute on the store is refused; after each SIGKILL the
    lock is free again (the next run starts). The final store equals an uninterrupted run's."""
    root = esc50_subset(tmp_path / "esc50", 72)
    reference = tmp_path / "reference"
    precompute(load_dataset("esc50", root), mn04, minilm, reference, batch_size=6, checkpoint_every=6,
               progress=False)
    out = tmp_path / "killed"
    args = precompute_cli(root, out, "--checkpoint-every", "6", "--batch-size", "6", "--workers", "1")
    rng = random.Random(20261125)
    done_at_kill = []
    for kill in range(5):
        before = sum(sidecar_ids(out).values()) if out.exists() else 0
        with open(tmp_path / f"run{kill}.log", "w") as log:
            proc = subprocess.Popen(args, cwd=REPO, env=ENV, stdout=log, stderr=subprocess.STDOUT)
        try:
            if kill == 0:  # within the CLI's start-up: up to 6 s let a quick machine embed half the set first
                time.sleep(rng.uniform(0.5, 3.0))
            else:
                wait_for(lambda: sum(sidecar_ids(out).values()) > before, proc, f"a new shard in run {kill}")
                if kill == 2:
                    with pytest.raises(StoreBusy, match=rf"already running job 'all'.*pid {proc.pid}"):
                        precompute(load_dataset("esc50", root), mn04, minilm, out, progress=False)
                if kill == 3:  # a reader during the run sees whole shards only: no warning, right vectors
                    with warnings.catch_warnings():
                        warnings.simplefilter("error")
                        partial = open_store(out)
                    expected = open_store(reference)
                    assert_same_store(partial, expected.subset([expected.clip_ids.index(c) for c in partial.clip_ids]))
                time.sleep(rng.uniform(0.0, 0.5))
            assert proc.poll() is None, f"run {kill} finished before its kill"
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        done_at_kill.append(len(Store(out).done_clip_ids()) if (out / "manifest.json").exists() else 0)
    assert done_at_kill == sorted(done_at_kill) and done_at_kill[-1] < 72
    assert len(set(done_at_kill[1:])) == 4, done_at_kill  # every later kill came after new progress

    final = subprocess.run(args, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stdout + final.stderr
    assert f"{done_at_kill[-1]} from earlier runs" in final.stdout

    per_clip = sidecar_ids(out)
    assert set(per_clip) == set(open_store(reference).clip_ids)  # no gaps
    assert set(per_clip.values()) == {1}  # no duplicates: each clip in exactly one shard
    assert_same_store(open_store(out), open_store(reference))


# ----------------------------------------------------------------------------- damaged shards


@pytest.fixture
def sixteen():
    dataset = load_dataset("esc50", ESC50)
    dataset.clips = dataset.clips.head(16)
    return dataset


def test_half_written_and_damaged_shards_are_never_read_as_data(sixteen, mn04, minilm, tmp_path):
    out = tmp_path / "store"
    precompute(sixteen, mn04, minilm, out, batch_size=4, checkpoint_every=4, progress=False)
    before = open_store(out)
    sidecars = sorted((out / "shards").glob("shard-*.json"))
    assert len(sidecars) == 4
    kept = json.loads(sidecars[3].read_text())["clip_ids"]

    half = sidecars[0].with_suffix(".safetensors")
    half.write_bytes(half.read_bytes()[: half.stat().st_size // 2])  # a half-written shard
    sidecars[1].write_text(sidecars[1].read_text()[:25])  # a half-written sidecar
    sidecars[2].with_suffix(".safetensors").unlink()  # a shard lost, its sidecar still there
    # what a kill leaves: a shard whose sidecar never came (garbage inside) and a temp file
    orphan = out / "shards" / "shard-0123456789abcdef.safetensors"
    orphan.write_bytes(sidecars[3].with_suffix(".safetensors").read_bytes()[::-1])
    (out / "shards" / ".shard-feedfeedfeedfeed.safetensors.x1y2.tmp").write_bytes(b"half a shard")

    with pytest.warns(UserWarning) as warned:
        partial = Store(out).load()  # reading alone checks every shard
    messages = sorted(str(w.message) for w in warned)
    assert len(messages) == 3
    assert any(str(half) in m and "checksum mismatch" in m for m in messages)
    assert any(str(sidecars[1]) in m and "unreadable sidecar" in m for m in messages)
    assert any("missing (its sidecar exists)" in m for m in messages)
    assert sorted(partial.clip_ids) == sorted(kept)
    assert sorted(p.name for p in Store(out).leftovers()) == [
        ".shard-feedfeedfeedfeed.safetensors.x1y2.tmp", orphan.name]

    report = precompute(sixteen, mn04, minilm, out, batch_size=4, checkpoint_every=4, progress=False)
    assert (report.already_done, report.computed) == (4, 12)
    assert_same_store(open_store(out), before)
    assert half.name in {p.name for p in (out / "corrupt").iterdir()}  # kept aside, never read


# ----------------------------------------------------------------------------- disk full, read-only


def test_disk_full_mid_run_is_a_clear_error_and_saved_shards_stay_valid(mn04, minilm, monkeypatch, tmp_path,
                                                                       capsys):
    root = esc50_subset(tmp_path / "esc50", 16)
    out = tmp_path / "store"
    use_fixture_encoders(monkeypatch, mn04, minilm)
    refuse_writes(monkeypatch, out, errno.ENOSPC, after=2)  # the third shard finds the disk full
    flags = ["--checkpoint-every", "4", "--batch-size", "4"]
    code = cli.main(["precompute", "--dataset", "esc50", "--data-root", str(root), "--out", str(out), *flags])
    err = capsys.readouterr().err.splitlines()[-1]  # (after the progress bar)
    assert code == 1
    assert err.startswith(f"error: {out / 'shards'}/shard-") and "cannot write: the disk is full" in err
    assert "Everything saved before is intact; rerun the same command to resume." in err
    monkeypatch.undo()

    store = Store(out)
    assert store.verify() == [] and store.leftovers() == []  # no half file left by the failed write
    assert len(open_store(out).clip_ids) == 8 and store.failed() == {}
    use_fixture_encoders(monkeypatch, mn04, minilm)
    assert cli.main(["precompute", "--dataset", "esc50", "--data-root", str(root), "--out", str(out), *flags]) == 0
    assert "8 now" in capsys.readouterr().out and len(open_store(out).clip_ids) == 16


def make_read_only(folder: Path, monkeypatch, request) -> str:
    """chmod the folder read-only; where that stops nothing (root), simulate EACCES instead."""
    paths = [folder, *folder.rglob("*")]
    modes = {p: p.stat().st_mode for p in paths}
    request.addfinalizer(lambda: [p.chmod(m) for p, m in modes.items()])
    for p in paths:
        p.chmod(modes[p] & ~0o222)
    try:
        (folder / "probe").write_text("x")
    except PermissionError:
        return "chmod"
    (folder / "probe").unlink()
    refuse_writes(monkeypatch, folder, errno.EACCES)
    return "simulated (running as root: chmod does not stop root)"


def test_read_only_store_is_a_clear_error_and_nothing_changes(mn04, minilm, monkeypatch, request, tmp_path,
                                                             capsys):
    root = esc50_subset(tmp_path / "esc50", 12)
    out = tmp_path / "store"
    use_fixture_encoders(monkeypatch, mn04, minilm)
    base = ["precompute", "--dataset", "esc50", "--data-root", str(root), "--out", str(out)]
    assert cli.main([*base, "--limit", "6"]) == 0
    before = snapshot(out)
    how = make_read_only(out, monkeypatch, request)
    capsys.readouterr()

    code = cli.main([*base, "--limit", "12"])
    err = capsys.readouterr().err.splitlines()[-1]
    assert code == 1, how
    assert err.startswith(f"error: {out}") and "cannot write: the folder is read-only for this user" in err, how
    assert "choose another --out" in err
    assert snapshot(out) == before, how
    assert len(open_store(out).clip_ids) == 6


# ----------------------------------------------------------------------------- two processes, one store


@pytest.mark.slow
def test_a_second_precompute_on_the_same_job_is_refused_and_a_dead_holder_frees_it(sixteen, mn04, minilm,
                                                                                  tmp_path):
    out = tmp_path / "store"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from clapdemo.stores.store import Store\n"
         "with Store(sys.argv[1]).lock('all'):\n    print('held', flush=True); time.sleep(600)", str(out)],
        cwd=REPO, env=ENV, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreBusy) as err:
            precompute(sixteen, mn04, minilm, out, progress=False)
        assert str(err.value).startswith(f"{out}: another precompute is already running job 'all'")
        assert f"pid {holder.pid}" in str(err.value) and "finished clips are kept" in str(err.value)
        # another job key (one part of the store, as a future --shard I/N would use) may run beside it
        part = precompute(sixteen, mn04, minilm, out, progress=False, job="shard-1-of-2",
                          select=lambda clips: clips.iloc[::2])
        assert part.computed == 8
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    report = precompute(sixteen, mn04, minilm, out, progress=False)  # the kernel freed the dead holder's lock
    assert (report.already_done, report.computed) == (8, 8)
    assert set(sidecar_ids(out).values()) == {1}


def test_cli_says_the_store_is_busy(mn04, minilm, monkeypatch, tmp_path, capsys):
    root = esc50_subset(tmp_path / "esc50", 4)
    out = tmp_path / "store"
    use_fixture_encoders(monkeypatch, mn04, minilm)
    with Store(out).lock("all"):
        code = cli.main(["precompute", "--dataset", "esc50", "--data-root", str(root), "--out", str(out)])
    err = capsys.readouterr().err.splitlines()[-1]
    assert code == 1 and err.startswith(f"error: {out}: another precompute is already running job 'all' on this "
                                        f"store (pid {os.getpid()} on ")


# ----------------------------------------------------------------------------- training


def synthetic_store(folder: Path, n: int = 3000, audio_dim: int = 32, text_dim: int = 16) -> Path:
    """A store of learnable pairs (text = audio @ W + noise), written through the Store API."""
    rng = np.random.default_rng(0)
    audio = rng.standard_normal((n, audio_dim)).astype(np.float32)
    text = (audio @ rng.standard_normal((audio_dim, text_dim)) + 0.5 * rng.standard_normal((n, text_dim)))
    ids = [f"c{i}" for i in range(n)]
    captions = [f"caption {i}" for i in range(n)]
    identity = {"name": "synthetic", "weights_sha256": "0" * 64}
    manifest = {"format_version": 1, "audio_encoder": identity, "text_encoder": identity, "audio_dim": audio_dim,
                "text_dim": text_dim, "dataset": {"name": "synthetic", "split": "all"}}
    store = Store(folder)
    store.create_or_check(manifest, pd.DataFrame({"clip_id": ids, "audio_path": [""] * n,
                                                  "captions": [[c] for c in captions]}))
    store.write_shard(ids, audio, text.astype(np.float32), np.arange(n), captions)
    return folder


@pytest.mark.slow
def test_training_killed_at_random_moments_leaves_a_readable_best_checkpoint(tmp_path):
    from clapdemo.training.model import load_projection, read_projection_info

    store = synthetic_store(tmp_path / "store")
    run = tmp_path / "run"
    args = [sys.executable, "-m", "clapdemo", "train", "--train", str(store), "--out", str(run),
            "--epochs", "100000", "--patience", "0", "--batch-size", "64", "--lr", "3e-4"]
    rng = random.Random(7)
    for kill in range(3):
        proc = subprocess.Popen(args, cwd=REPO, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            checkpoint = run / "projection.safetensors"
            start = checkpoint.stat().st_mtime if checkpoint.exists() else 0
            wait_for(lambda: checkpoint.exists() and checkpoint.stat().st_mtime > start, proc, "a checkpoint")
            time.sleep(rng.uniform(0.0, 1.5))
            assert proc.poll() is None, "training ended before its kill"
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        model, config = load_projection(run)  # whole and loadable, whatever moment the kill hit
        assert (config.audio_dim, config.text_dim) == (32, 16)
        best = read_projection_info(run)["extra"]["best_epoch"]
        assert best >= 1
        if (run / "run.json").exists():  # written just after the checkpoint: it may lag it, never lead
            info = json.loads((run / "run.json").read_text())
            assert info["status"] == "running" and 1 <= info["best_epoch"] <= best


def test_training_on_a_full_disk_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    from clapdemo.training.model import load_projection, read_projection_info
    from clapdemo.training.loop import TrainConfig, train

    data = open_store(synthetic_store(tmp_path / "store", n=400))
    run = tmp_path / "run"
    real_fsync, saves = os.fsync, []

    def disk_fills_on_the_third_save(fd):
        """The third checkpoint's bytes are written, then the disk is full when they are synced."""
        name = os.readlink(f"/proc/self/fd/{fd}")
        if ".projection.safetensors." in name:
            saves.append(name)
            if len(saves) > 2:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), name)
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", disk_fills_on_the_third_save)
    with pytest.raises(OSError, match=r"cannot save the checkpoint \(No space left on device\); the one saved "
                                      r"before is intact") as err:
        train(TrainConfig(epochs=50, batch_size=64, lr=3e-3, patience=0), data, data, run_dir=run)
    assert err.value.errno == errno.ENOSPC and len(saves) == 3
    load_projection(run)
    assert read_projection_info(run)["extra"]["best_epoch"] == 2  # the second improvement, saved whole
    assert not list(run.glob("*.tmp"))


# ----------------------------------------------------------------------------- a full disk from the start, outputs


class _FullDiskFile:
    """A file opened for writing on a full disk: it exists (open truncated it), every write fails."""

    def __init__(self, real):
        self.real = real

    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.real.close()

    def __getattr__(self, name):
        return getattr(self.real, name)


def fill_disk(monkeypatch, under: Path) -> None:
    """Files below `under` open for writing as on a full disk: created, but no byte goes in
    (every `open` path: pathlib's write_text, os.fdopen, builtins.open)."""
    import io

    real_open, under = io.open, os.path.abspath(under)

    def full_open(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        name = os.readlink(f"/proc/self/fd/{file}") if isinstance(file, int) else os.path.abspath(file)
        return _FullDiskFile(handle) if set(mode) & set("wax+") and name.startswith(under) else handle

    monkeypatch.setattr(io, "open", full_open)


def test_a_disk_full_before_the_run_starts_names_the_file_and_the_fix(mn04, minilm, monkeypatch, tmp_path, capsys):
    """The probe: a bare "[Errno 28] No space left on device" (the lock file's holder line)."""
    root = esc50_subset(tmp_path / "esc50", 2)
    out = tmp_path / "store"
    use_fixture_encoders(monkeypatch, mn04, minilm)
    monkeypatch.setattr(os, "pwrite", lambda *a: (_ for _ in ()).throw(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))))
    code = cli.main(["precompute", "--dataset", "esc50", "--data-root", str(root), "--out", str(out)])
    err = capsys.readouterr().err.splitlines()[-1]
    assert code == 1
    assert err.startswith(f"error: {out / 'locks' / 'all.lock'}: cannot write: the disk is full") and "Errno" not in err


def test_a_bare_full_disk_error_gets_its_path_and_the_fix(monkeypatch, tmp_path, capsys):
    import clapdemo.data.datasets

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "x"))

    monkeypatch.setattr(clapdemo.data.datasets, "load_dataset", full)
    assert cli.main(["precompute", "--dataset", "esc50", "--data-root", str(tmp_path), "--out", str(tmp_path)]) == 1
    assert capsys.readouterr().err.startswith(f"error: {tmp_path / 'x'}: cannot write: the disk is full (or over quota)")


def test_json_outputs_on_a_full_disk_leave_no_empty_file(tmp_path, monkeypatch, capsys):
    """The probe: `evaluate --json` / `search --json` left 0-byte files; an older file stays whole."""
    from clapdemo.training.model import AudioProjection, ProjectionConfig, save_projection

    store = synthetic_store(tmp_path / "store", n=60)
    config = ProjectionConfig(audio_dim=32, text_dim=16)
    run = save_projection(AudioProjection(config), config, tmp_path / "run")  # untrained: only the file matters
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    (outputs / "old.json").write_text('{"kept": true}')
    fill_disk(monkeypatch, outputs)
    for name in ("metrics.json", "old.json"):
        code = cli.main(["evaluate", "--run", str(run), "--store", str(store), "--json", str(outputs / name)])
        assert code == 1 and "cannot write: the disk is full" in capsys.readouterr().err
    assert not (outputs / "metrics.json").exists() and (outputs / "old.json").read_text() == '{"kept": true}'
    assert not list(outputs.glob(".*.tmp"))


@pytest.mark.parametrize("flag, value", [("--limit", "-1"), ("--limit", "0"), ("--batch-size", "0"),
                                         ("--checkpoint-every", "0"), ("--batch-size", "two")])
def test_counts_below_one_are_refused_before_anything_runs(flag, value, tmp_path, capsys):
    """The probe: --limit -1 dropped the last clip silently; --batch-size 0 said "range() arg 3 must not be zero"."""
    with pytest.raises(SystemExit) as exit_:
        cli.main(["precompute", "--dataset", "esc50", "--data-root", str(ESC50), "--out", str(tmp_path / "s"), flag, value])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and f"argument {flag}: " in err
    assert ("must be 1 or more" if value != "two" else "is not a whole number") in err
    assert not (tmp_path / "s").exists()


def test_flagged_clips_stay_in_the_report_after_a_resume(mn04, minilm, tmp_path):
    """The probe: a silent clip flagged by the first run vanished from report.json once a rerun finished."""
    import soundfile as sf

    root = tmp_path / "clips"
    root.mkdir()
    sf.write(root / "silent.wav", np.zeros(16000, np.float32), 16000)
    for name in sorted((ESC50 / "audio").iterdir())[:2]:
        (root / name.name).symlink_to(name)
    names = ["silent.wav"] + [p.name for p in sorted((ESC50 / "audio").iterdir())[:2]]
    (root / "captions.csv").write_text("file,caption\n" + "".join(f"{n},a sound\n" for n in names))
    out = tmp_path / "store"
    first = precompute(load_dataset("folder", root), mn04, minilm, out, batch_size=1, checkpoint_every=1,
                       progress=False, should_stop=lambda: True)
    assert first.stopped and set(first.flagged) == {"silent.wav"}
    second = precompute(load_dataset("folder", root), mn04, minilm, out, batch_size=1, checkpoint_every=1,
                        progress=False)
    assert second.computed == 2 and "silent.wav" in second.flagged
    report = json.loads((out / "report.json").read_text())
    assert "silent.wav" in report["flagged"] and "silent" in " ".join(report["flagged"]["silent.wav"]["notes"])
