"""Training on synthetic pairs: it learns, it is reproducible, it stops, it leaves a usable run directory."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from clapdemo.training import loop as train_module
from clapdemo.stores.embedding_set import EmbeddingSet
from clapdemo.training.losses import contrastive_loss
from clapdemo.training.model import AudioProjection, ProjectionConfig, load_projection, read_projection_info, save_projection
from clapdemo.training.loop import EpochLog, TrainConfig, train

AUDIO_DIM, TEXT_DIM = 24, 16
META = {"audio_encoder": {"name": "synthetic-audio"}, "text_encoder": {"name": "synthetic-text"}, "dataset": "toy"}


def _synthetic(n_clips: int, seed: int, captions_per_clip: int = 1, noise: float = 0.3) -> EmbeddingSet:
    """text = audio @ W + noise, W shared by every split (fixed seed)."""
    w = np.random.default_rng(123).standard_normal((AUDIO_DIM, TEXT_DIM)).astype(np.float32)
    rng = np.random.default_rng(seed)
    audio = (rng.standard_normal((n_clips, AUDIO_DIM)) * 2 + 1).astype(np.float32)
    text_clip = np.repeat(np.arange(n_clips), captions_per_clip)
    text = audio[text_clip] @ w + noise * rng.standard_normal((len(text_clip), TEXT_DIM)).astype(np.float32)
    return EmbeddingSet(audio, text.astype(np.float32), text_clip, [f"c{i}" for i in range(n_clips)],
                        [""] * n_clips, [f"caption {seed} {j}" for j in range(len(text_clip))], meta=dict(META))


@pytest.fixture(scope="module")
def data():
    return _synthetic(600, seed=1), _synthetic(150, seed=2, captions_per_clip=3)


FAST = dict(epochs=12, batch_size=64, lr=1e-2, patience=0)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny batches gain nothing from two threads, and on a busy 2-core machine OpenMP's
    thread hand-offs make them 10x slower; restore the setting afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_learns_the_map(data):
    train_set, val_set = data
    result = train(TrainConfig(**FAST), train_set, val_set)
    first, last = result.history[0], result.history[-1]
    assert last.val_a2t_acc1 > 0.9 and last.val_t2a_acc1 > 0.9
    assert last.train_loss < first.train_loss and last.val_loss < first.val_loss
    assert result.metrics["a2t_acc@1"] > 0.9 and result.metrics["t2a_R@1"] > 0.9
    assert result.metrics["random_a2t_acc@1"] == pytest.approx(1 / 150)
    assert result.best_epoch == int(np.argmin([h.val_loss for h in result.history])) + 1
    assert not result.stopped_early and result.stop_reason == "finished"


def test_same_seed_same_weights_other_seed_other_weights(data):
    train_set, val_set = data
    cfg = TrainConfig(**(FAST | {"epochs": 3}))
    a, b = train(cfg, train_set, val_set), train(cfg, train_set, val_set)
    c = train(TrainConfig(**(FAST | {"epochs": 3, "seed": 1})), train_set, val_set)
    for key, value in a.model.state_dict().items():
        assert torch.equal(value, b.model.state_dict()[key]), key
    assert [h.train_loss for h in a.history] == [h.train_loss for h in b.history]
    assert not torch.equal(a.model.linear.weight, c.model.linear.weight)


class _ReferenceSampler:
    """The (clip, caption) pairs of one epoch as TrainConfig.caption_sampling defines them, written
    plainly: "random": every clip with a caption once, with one of its captions drawn by the seeded
    generator (one float64 draw per clip, captions grouped by clip in their order); "all": every pair."""

    def __init__(self, text_clip, n_clips: int, mode: str):
        text_clip = np.asarray(text_clip, dtype=np.int64)
        counts = np.bincount(text_clip, minlength=n_clips)
        self.mode, self.text_clip = mode, text_clip
        self.order = torch.as_tensor(np.argsort(text_clip, kind="stable"))
        self.clips_with_captions = torch.as_tensor(np.flatnonzero(counts))
        self.first = torch.as_tensor((np.cumsum(counts) - counts)[counts > 0])
        self.count = torch.as_tensor(counts[counts > 0])

    def epoch(self, rng: torch.Generator):
        if self.mode == "all":
            return torch.as_tensor(self.text_clip), torch.arange(len(self.text_clip))
        pick = (torch.rand(len(self.count), generator=rng, dtype=torch.float64) * self.count).long()
        return self.clips_with_captions, self.order[self.first + pick]


def _reference_fit(cfg: TrainConfig, data: EmbeddingSet):
    """The plain loop train() was before its speed-ups: per step, model(audio[c]) and the
    masked loss on the raw batch, single-tensor AdamW, one .item() per step. Returns the
    state and mean training loss after each epoch."""
    rng = torch.Generator().manual_seed(cfg.seed)
    audio = torch.as_tensor(data.audio)
    text = F.normalize(torch.as_tensor(data.text), dim=-1)
    text_ids = torch.as_tensor(np.unique(np.asarray(data.captions, dtype=object), return_inverse=True)[1])
    sampler = _ReferenceSampler(data.text_clip, data.n_clips, cfg.caption_sampling)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = AudioProjection(ProjectionConfig(AUDIO_DIM, TEXT_DIM))
    model.set_input_stats(audio[sampler.clips_with_captions])
    optimizer = torch.optim.AdamW([{"params": [model.linear.weight], "weight_decay": cfg.weight_decay},
                                   {"params": [model.linear.bias, model.logit_scale], "weight_decay": 0.0}],
                                  lr=cfg.lr, foreach=False)
    states, epoch_losses = [], []
    for _ in range(cfg.epochs):
        clips, caps = sampler.epoch(rng)
        losses = []
        for batch in torch.randperm(len(clips), generator=rng).split(cfg.batch_size):
            c, j = clips[batch], caps[batch]
            loss = contrastive_loss(model(audio[c]), text[j], model.scale(), c, text_ids[j])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        states.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        epoch_losses.append(float(np.mean(losses)))
    return states, epoch_losses


@pytest.mark.parametrize("sampling", ["random", "all"])
def test_same_weights_as_the_plain_loop(sampling):
    # 3 captions per clip, caption strings repeating across clips: batches with and without duplicates.
    pairs = _synthetic(200, seed=6, captions_per_clip=3)
    pairs.captions = [f"caption {j % 250}" for j in range(pairs.n_captions)]
    cfg = TrainConfig(epochs=3, batch_size=48, lr=1e-2, patience=0, caption_sampling=sampling)
    states, epoch_losses = _reference_fit(cfg, pairs)
    result = train(cfg, pairs)
    assert [h.train_loss for h in result.history] == epoch_losses
    for key, value in result.model.state_dict().items():
        assert torch.equal(value, states[result.best_epoch - 1][key]), key


def test_threads_are_set_for_the_run_and_restored_even_on_errors(data):
    seen = []
    train(TrainConfig(**(FAST | {"epochs": 2, "threads": 2})), *data,
          callbacks=[lambda log: seen.append(torch.get_num_threads())])
    assert seen == [2, 2] and torch.get_num_threads() == 1

    def crash(log):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        train(TrainConfig(**(FAST | {"threads": 2})), *data, callbacks=[crash])
    assert torch.get_num_threads() == 1
    with pytest.raises(ValueError, match="threads"):
        TrainConfig(threads=0)


def test_default_threads_one_on_small_cpu_machines_else_left_alone(data, monkeypatch):
    def threads_inside(cfg: TrainConfig) -> int:
        seen = []
        train(cfg, data[0], callbacks=[lambda log: seen.append(torch.get_num_threads())])
        return seen[0]

    cfg = dict(FAST, epochs=1)
    torch.set_num_threads(3)  # the caller's count (the fixture restores its own afterwards)
    monkeypatch.setattr(train_module.os, "cpu_count", lambda: 2)
    assert threads_inside(TrainConfig(**cfg)) == 1 and torch.get_num_threads() == 3
    assert threads_inside(TrainConfig(**cfg, threads=2)) == 2 and torch.get_num_threads() == 3
    monkeypatch.setattr(train_module.os, "cpu_count", lambda: 16)
    assert threads_inside(TrainConfig(**cfg)) == 3  # left alone


def test_training_does_not_touch_the_global_rng(data):
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    train(TrainConfig(**(FAST | {"epochs": 1})), *data)
    assert torch.equal(torch.rand(3), expected)


def test_early_stopping_on_validation_loss(data):
    train_set, _ = data
    unrelated = _synthetic(100, seed=3)
    unrelated.text = np.random.default_rng(4).standard_normal(unrelated.text.shape).astype(np.float32)
    result = train(TrainConfig(epochs=60, batch_size=64, lr=1e-2, patience=3), train_set, unrelated)
    val_losses = [h.val_loss for h in result.history]
    assert result.stopped_early and result.stop_reason == "early_stopping"
    assert len(result.history) == result.best_epoch + 3 < 60
    assert result.best_epoch == int(np.argmin(val_losses)) + 1


def test_callback_stops_after_the_current_epoch_and_all_callbacks_see_it(data):
    seen, also_seen = [], []
    stop = threading.Event()

    def stop_at_three(log: EpochLog) -> bool:
        seen.append(log)
        if log.epoch == 3:
            stop.set()  # what a Stop button does
        return stop.is_set()

    result = train(TrainConfig(**FAST), *data, callbacks=[stop_at_three, also_seen.append])
    assert [log.epoch for log in seen] == [1, 2, 3] == [log.epoch for log in also_seen]
    assert len(result.history) == 3 and result.stopped_early and result.stop_reason == "callback"
    assert all(log.seconds > 0 and log.logit_scale > 1 for log in seen)


def test_run_dir_holds_best_checkpoint_and_run_json(data, tmp_path):
    result = train(TrainConfig(**(FAST | {"epochs": 4})), *data, run_dir=tmp_path / "run")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["projection.safetensors", "run.json",
                                                                      "train_clips.json"]
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    clips = json.loads((tmp_path / "run" / run["clips_file"]).read_text())
    # what the leakage check reads; "sha256": the clips' audio files' hashes (these toy clips have no files)
    assert clips == {"train": data[0].clip_ids, "val": data[1].clip_ids, "sha256": []}
    assert run["best_epoch"] == result.best_epoch and run["status"] == "finished"
    assert run["config"]["batch_size"] == 64 and run["projection"]["audio_dim"] == AUDIO_DIM
    assert run["data"] == META and run["monitor"] == "val_loss"
    assert len(run["history"]) == 4 and run["history"][0]["epoch"] == 1
    assert run["metrics"]["a2t_acc@1"] == result.metrics["a2t_acc@1"]
    model, config = load_projection(tmp_path / "run")
    x = torch.as_tensor(data[1].audio)
    assert torch.equal(model(x), result.model(x)) and torch.equal(model.scale(), result.model.scale())
    assert read_projection_info(tmp_path / "run")["extra"]["best_epoch"] == result.best_epoch
    assert "status" not in read_projection_info(tmp_path / "run")["extra"]  # the finished file's plain summary


def test_run_json_and_train_clips_written_once_per_run(data, tmp_path, monkeypatch):
    """Checkpoint on each improvement; train_clips.json once; run.json at the first checkpoint
    ("running") and once, whole, at the end: two writes however many epochs improve."""
    from clapdemo import files

    written = []
    real = files.atomic_write

    def counting(path, data, *args, **kwargs):
        written.append(Path(path).name)
        return real(path, data, *args, **kwargs)

    monkeypatch.setattr(train_module, "atomic_write", counting)
    result = train(TrainConfig(**(FAST | {"epochs": 10})), *data, run_dir=tmp_path / "run")
    assert sum(h.val_loss <= min(g.val_loss for g in result.history[:i + 1])
               for i, h in enumerate(result.history)) > 2  # several improvements, each checkpointed
    assert written == ["train_clips.json", "run.json", "run.json"]


def test_interrupted_run_keeps_its_best_checkpoint(data, tmp_path):
    def crash(log: EpochLog):
        if log.epoch == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(**FAST), *data, callbacks=[crash], run_dir=tmp_path)
    from clapdemo.training.run_record import load_run_info

    run = json.loads((tmp_path / "run.json").read_text())  # written once, at the first checkpoint
    assert run["status"] == "running" and run["best_epoch"] == 1
    info = load_run_info(tmp_path)  # the latest checkpoint's epochs: what the app lists as "interrupted"
    assert info.status == "running" and 1 <= info.best_epoch <= 3 and len(info.history) == info.best_epoch
    model, _ = load_projection(tmp_path / "projection.safetensors")
    assert read_projection_info(tmp_path)["extra"]["best_epoch"] == info.best_epoch
    assert sorted(p.name for p in tmp_path.iterdir()) == ["projection.safetensors", "run.json", "train_clips.json"]


def test_fixed_temperature_stays_fixed(data):
    result = train(TrainConfig(**(FAST | {"epochs": 2, "learn_temperature": False, "init_temperature": 0.05})), *data)
    assert result.model.scale().item() == pytest.approx(20.0, rel=1e-6)
    learned = train(TrainConfig(**(FAST | {"epochs": 2})), *data)
    assert learned.model.scale().item() != pytest.approx(1 / 0.07, rel=1e-4)


def test_random_caption_sampling_takes_each_clip_once_with_one_of_its_captions():
    text_clip = np.array([2, 0, 2, 1, 2, 0])  # clip 3 has no caption and is left out
    sampler = _ReferenceSampler(text_clip, n_clips=4, mode="random")  # what train() draws: see the test above
    drawn = set()
    rng = torch.Generator().manual_seed(0)
    for _ in range(50):
        clips, caps = sampler.epoch(rng)
        assert clips.tolist() == [0, 1, 2]
        assert (torch.as_tensor(text_clip)[caps] == clips).all()
        drawn.update(caps.tolist())
    assert drawn == set(range(6))
    clips, caps = _ReferenceSampler(text_clip, 4, "all").epoch(rng)
    assert caps.tolist() == list(range(6)) and clips.tolist() == text_clip.tolist()


def test_all_captions_mode_trains(data):
    _, val_set = data
    result = train(TrainConfig(**(FAST | {"epochs": 3, "caption_sampling": "all"})), val_set)
    assert len(result.history) == 3 and result.metrics == {} and result.history[0].val_loss is None


def test_mismatched_validation_set_is_refused(data):
    train_set, val_set = data
    other = _synthetic(20, seed=5)
    other.meta = {**META, "audio_encoder": {"name": "another"}}
    with pytest.raises(ValueError, match="the training vectors has audio encoder .* but the validation vectors has audio encoder another"):
        train(TrainConfig(**FAST), train_set, other)
    with pytest.raises(ValueError, match="caption_sampling"):
        TrainConfig(caption_sampling="every")


# ----------------------------------------------------------------------------- the projection file


def test_projection_round_trip(tmp_path):
    config = ProjectionConfig(6, 4, learn_temperature=False, init_temperature=0.1)
    model = AudioProjection(config)
    model.set_input_stats(torch.randn(50, 6) * 3 + 2)
    path = save_projection(model, config, tmp_path / "p.safetensors", extra={"note": "x"})
    loaded, loaded_config = load_projection(path)
    x = torch.randn(5, 6)
    assert loaded_config == config and not loaded.logit_scale.requires_grad
    assert torch.equal(loaded(x), model(x)) and torch.equal(loaded.embed(x), model.embed(x))
    assert read_projection_info(path)["extra"] == {"note": "x"}


def test_load_refuses_damaged_or_foreign_files(tmp_path):
    config = ProjectionConfig(6, 4)
    path = save_projection(AudioProjection(config), config, tmp_path)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(ValueError, match="(?s)foreign.safetensors.*not a clapdemo projection"):
        load_projection(foreign)
    bad = tmp_path / "bad.safetensors"
    tensors = {k: v for k, v in AudioProjection(config).state_dict().items() if k != "linear.bias"}
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
    save_file(tensors, str(bad), metadata=metadata)
    with pytest.raises(ValueError, match="(?s)bad.safetensors.*linear.bias"):
        load_projection(bad)
    with pytest.raises(FileNotFoundError, match="missing"):
        load_projection(tmp_path / "missing")


def test_one_run_record_read_back_by_one_function(data, tmp_path):
    """run.json and the projection file's summary are one RunInfo: `load_run_info` reads run.json
    when it is there, the projection file's own summary when the file was copied alone."""
    import shutil

    from clapdemo.training.run_record import RunInfo, load_run_info

    result = train(TrainConfig(**(FAST | {"epochs": 3})), *data, run_dir=tmp_path / "run")
    info = load_run_info(tmp_path / "run")
    assert isinstance(info, RunInfo) and info.status == "finished" and info.best_epoch == result.best_epoch
    assert info.data == META and len(info.history) == 3 and info.config["batch_size"] == 64
    assert info.encoders == {k: META[k] for k in ("audio_encoder", "text_encoder")}

    alone = tmp_path / "alone" / "projection.safetensors"
    alone.parent.mkdir()
    shutil.copy(tmp_path / "run" / "projection.safetensors", alone)
    summary = load_run_info(alone)
    assert (summary.best_epoch, summary.data, summary.config) == (info.best_epoch, info.data, info.config)
    assert summary.status == "" and summary.history == []

    (tmp_path / "run" / "run.json").write_text("{not json")
    with pytest.raises(ValueError, match="run.json: not a readable run record"):
        load_run_info(tmp_path / "run")


def test_one_training_entry_point_lr_follows_the_init(data, tmp_path):
    """plan_training: the init resolved against the data, the lr given or the init's, the data's
    standardisation; start() trains and writes the run (as the CLI, the app, recipes and the report do)."""
    from clapdemo.training.projection_init import DEFAULT_LR, ProjectionInit
    from clapdemo.training.run_record import load_run_info
    from clapdemo.training.plan import assemble, plan_training

    clips = data[0].subset(np.arange(data[0].n_clips))
    clips.meta = {**META, "dataset": {"name": "toy"}}
    prepared = assemble([clips], ["toy"], val_fraction=0.2, seed=0)
    auto = plan_training(prepared, "auto", epochs=2, batch_size=64, seed=None)
    assert auto.init.name == "random"  # synthetic vectors are no AudioSet outputs
    assert auto.config.lr == TrainConfig.lr and auto.config.epochs == 2 and auto.config.seed == 0
    bridge = ProjectionInit("audioset-labels", None, {"name": "audioset-labels"})
    assert plan_training(prepared, bridge).config.lr == DEFAULT_LR["audioset-labels"]
    assert plan_training(prepared, bridge, lr=0.02).config.lr == 0.02
    with pytest.raises(ValueError, match="S: init 'audioset-labels' needs"):
        plan_training(prepared, "audioset-labels", where="S")

    result = auto.start(tmp_path / "run")
    info = load_run_info(tmp_path / "run")
    assert info.n_train_clips == prepared.train_set.n_clips == 480 and info.n_val_clips == 120
    assert info.config["standardize_audio"] is True and info.init == {"name": "random", "requested": "auto"}
    assert info.best_epoch == result.best_epoch and info.training["stores"][0]["store"] == "toy"


def test_concurrent_runs_never_restore_the_thread_count_under_each_other(data):
    """torch's thread count is process-wide: a run wanting another count waits for the one in
    progress (whose count stays put), equal counts run side by side, the last one out restores."""
    import time

    seen = []
    a_inside, release_a = threading.Event(), threading.Event()
    one_epoch = dict(FAST, epochs=1)

    def run(name: str, threads: int, hold: bool = False):
        def note(log):
            seen.append((name, torch.get_num_threads()))
            if hold:
                a_inside.set()
                release_a.wait(30)
                seen.append((name + " end", torch.get_num_threads()))
        train(TrainConfig(**one_epoch, threads=threads), data[0], callbacks=[note])

    def run_b():
        a_inside.wait(30)
        run("b", 3)

    threads = [threading.Thread(target=run, args=("a", 2, True)), threading.Thread(target=run_b)]
    for t in threads:
        t.start()
    a_inside.wait(30)
    joiner = threading.Thread(target=run, args=("c", 2))  # the same count joins at once, while b waits
    joiner.start()
    joiner.join(60)
    time.sleep(0.2)
    release_a.set()
    for t in threads:
        t.join(60)
    assert seen == [("a", 2), ("c", 2), ("a end", 2), ("b", 3)]
    assert torch.get_num_threads() == 1  # the last one out restored the count it found (the fixture's)
    run("d", 4)  # nobody is left inside: another count enters at once
    assert seen[-1] == ("d", 4) and torch.get_num_threads() == 1


def test_blend_saves_start_plus_blend_times_the_trained_step(data, tmp_path):
    """TrainConfig.blend (WiSE-FT): the saved and returned map is start + blend * (trained - start)."""
    train_set, val_set = data
    starts = []

    def remember_start(model):
        starts.append([model.linear.weight.detach().clone(), model.linear.bias.detach().clone()])

    cfg = dict(FAST, epochs=4)
    full = train(TrainConfig(**cfg), train_set, val_set, init=remember_start)
    half = train(TrainConfig(**cfg, blend=0.5), train_set, val_set, init=remember_start, run_dir=tmp_path)
    assert full.best_epoch == half.best_epoch  # training itself goes on from the unblended map
    saved, _ = load_projection(tmp_path)
    for i, name in enumerate(("weight", "bias")):
        start, trained = starts[0][i], getattr(full.model.linear, name).detach()
        assert torch.equal(starts[1][i], start)
        expected = start + 0.5 * (trained - start)
        torch.testing.assert_close(getattr(half.model.linear, name).detach(), expected, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(getattr(saved.linear, name).detach(), expected, rtol=1e-5, atol=1e-6)
    for bad in (0, 1.5, float("nan")):
        with pytest.raises(ValueError, match="blend"):
            TrainConfig(blend=bad)
