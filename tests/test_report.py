"""`python -m clapdemo report` on a tiny synthetic setup: the plumbing, the files, the pieces.

No audio is decoded here: clips are class-structured random vectors and the
text encoder is a deterministic stand-in, so the whole report runs in seconds.
The real run (414 ESC-50 clips, ~20 min) is what REPORT.md records.
"""

from __future__ import annotations

import json
import zlib

import numpy as np
import pytest
import torch

from clapdemo import report as R
from clapdemo.cli.main import build_parser
from clapdemo.evaluation.metrics import normalise

N_CLASSES, PER_CLASS = 14, 3


class FakeText:
    """TextEncoder stand-in: 24-d vectors seeded by each word of the text (similar texts, similar vectors)."""

    dim = 24

    def __init__(self):
        from clapdemo.encoders.base import EncoderIdentity

        self.name = "fake-text"
        self.identity = EncoderIdentity("fake-text", "none", {})

    def embed(self, texts):
        out = []
        for text in texts:
            words = [np.random.default_rng(zlib.crc32(w.encode())).standard_normal(self.dim) for w in text.split()]
            out.append(np.sum(words, axis=0) if words else np.zeros(self.dim))
        return np.asarray(out, dtype=np.float32)


def fake_clips() -> R.Clips:
    """Clips whose logits point at their class (plus noise); pooled/head are noisier copies."""
    rng = np.random.default_rng(0)
    classes = [f"class{i} sound" for i in range(N_CLASSES)]
    label = np.repeat(np.arange(N_CLASSES), PER_CLASS)
    centres = rng.standard_normal((N_CLASSES, 527)).astype(np.float32) * 2
    audio = {}
    for window in R.WINDOWS:
        logits = centres[label] + rng.standard_normal((len(label), 527)).astype(np.float32)
        audio[f"logits@{window}"] = logits
        audio[f"head@{window}"] = logits[:, :64] + rng.standard_normal((len(label), 64)).astype(np.float32)
        audio[f"pooled@{window}"] = logits[:, :48] + rng.standard_normal((len(label), 48)).astype(np.float32)
    ids = [f"clip{i}" for i in range(len(label))]
    return R.Clips(ids, [f"/nowhere/{i}.wav" for i in ids], label, classes, audio, {"name": "fake-audio"})


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_report_end_to_end_on_a_tiny_config(tmp_path):
    cfg = R.ReportConfig.quick(tmp_path / "data", tmp_path / "out")
    cfg.n_unseen, cfg.max_epochs = 4, 4
    results = R.run_report(cfg, text_encoders={"minilm": FakeText()}, clips=fake_clips(), log=lambda _: None)

    out = tmp_path / "out"
    assert {p.name for p in out.iterdir()} >= {"report.md", "report.json", "report_topk.png"}
    saved = json.loads((out / "report.json").read_text())
    assert saved["format"] == "clapdemo.report" and len(saved["sweep"]) == 3
    for row in saved["sweep"]:
        assert 0 <= row["unseen_zero_shot_acc@1"]["mean"] <= 1
        assert row["n_runs"] == len(cfg.seeds) * cfg.n_splits
    assert saved["default"]["name"] in [r["name"] for r in saved["sweep"]]
    assert set(saved["retrieval"]["default"]) >= {"a2t_acc@1", "t2a_acc@10", "random_a2t_acc@1"}
    assert results["data"]["n_unseen"] == 4

    md = (out / "report.md").read_text()
    assert "## Headline" in md and "## Zero-shot sweep" in md and "## Supervised retrieval" in md
    assert "from memory" in md and "not measured" in md  # the published table says what it is
    assert "](report_topk.png)" in md

    from PIL import Image

    with Image.open(out / "report_topk.png") as image:
        assert image.size == (900, 560)
    chart = (out / "report_topk.html").read_text()  # the plotly chart, every curve and its chance line
    assert "plotly" in chart and chart.count('"name":') >= 6
    assert not list(out.rglob("*.tmp")) and (out / "cache" / "jobs.json").is_file()  # written atomically


def test_label_bridge_init_starts_at_the_bridge():
    """With init='labels' the untrained projection of probabilities p is exactly p @ label_matrix."""
    from clapdemo.training.model import AudioProjection, ProjectionConfig

    rng = np.random.default_rng(1)
    probs = rng.random((30, 527)).astype(np.float32)
    labels = normalise(rng.standard_normal((527, 16)))
    model = AudioProjection(ProjectionConfig(527, 16))
    model.set_input_stats(torch.from_numpy(probs))
    R.label_bridge_init(labels)(model)
    with torch.no_grad():
        out = model(torch.from_numpy(probs)).numpy()
    np.testing.assert_allclose(out, probs @ labels, rtol=1e-4, atol=1e-4)


def test_splits_and_folds_are_seeded_and_stratified():
    a = R.zero_shot_splits(50, 5, 10, seed=0)
    assert all(len(set(s)) == 10 for s in a)
    assert [s.tolist() for s in a] == [s.tolist() for s in R.zero_shot_splits(50, 5, 10, seed=0)]
    labels = np.repeat(np.arange(10), 5)
    folds = R.stratified_folds(labels, 5, seed=3)
    for c in range(10):  # each class spread over the folds, one clip in each
        assert sorted(folds[labels == c]) == [0, 1, 2, 3, 4]


def test_variant_refuses_a_bridge_init_on_other_outputs():
    with pytest.raises(ValueError, match="527 AudioSet outputs"):
        R.Variant(output="pooled", init="labels")
    assert R.Variant(output="logits", init="labels").init == "labels"  # centred on the training mean


def test_report_sweep_has_the_train_cli_default():
    """The CLI's default recipe is a row of the table it is chosen from (issue #4)."""
    from clapdemo.training.projection_init import DEFAULT_LR
    from clapdemo.training.loop import TrainConfig

    rows = dict(R.sweep_variants("full", with_clip=False))
    cli = next(v for name, v in rows.items() if name.startswith("train CLI default"))
    defaults = TrainConfig()
    assert (cli.output, cli.init, cli.lr) == ("logits", "labels", DEFAULT_LR["audioset-labels"])
    assert (cli.batch_size, cli.max_epochs, cli.weight_decay) == (defaults.batch_size, defaults.epochs,
                                                                 defaults.weight_decay)


def test_cli_has_the_report_command():
    args = build_parser().parse_args(["report", "--data-root", "somewhere", "--quick", "--workers", "1"])
    assert args.quick and args.workers == 1 and args.handler.__name__ == "run_report"
