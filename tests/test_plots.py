"""plots.py: each figure holds the traces and points its data call for (no UMAP run here)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from clapdemo.evaluation import plots
from clapdemo.training.loop import EpochLog


def _history(n, with_val=True):
    return [EpochLog(epoch=i + 1, train_loss=2.0 / (i + 1), val_loss=2.5 / (i + 1) if with_val else None,
                     val_a2t_acc1=min(1.0, 0.1 * i) if with_val else None,
                     val_t2a_acc1=min(1.0, 0.05 * i) if with_val else None, logit_scale=14.3, seconds=0.01)
            for i in range(n)]


def test_loss_curve_has_train_val_and_accuracy_traces():
    fig = plots.loss_curve(_history(5))
    assert isinstance(fig, go.Figure)
    by_name = {t.name: t for t in fig.data}
    assert set(by_name) == {"train loss", "validation loss", "val accuracy@1 audio→text", "val accuracy@1 text→audio"}
    assert list(by_name["train loss"].x) == [1, 2, 3, 4, 5]
    assert by_name["validation loss"].y[-1] == pytest.approx(0.5)
    assert by_name["val accuracy@1 audio→text"].yaxis == "y2"  # accuracy on its own 0-1 axis
    assert "5 epochs" in fig.layout.title.text


def test_loss_curve_accepts_run_json_dicts_and_no_validation():
    from dataclasses import asdict

    fig = plots.loss_curve([asdict(log) for log in _history(3, with_val=False)])
    assert [t.name for t in fig.data] == ["train loss"]
    assert plots.loss_curve([]).layout.title.text.endswith("no epochs yet")


def test_loss_curve_thins_long_runs_but_keeps_the_last_epoch():
    fig = plots.loss_curve(_history(5000), max_points=200)
    train = fig.data[0]
    assert len(train.x) <= 200 and train.x[0] == 1 and train.x[-1] == 5000
    assert train.mode == "lines"  # no per-point markers on a long run
    assert "5000 epochs" in fig.layout.title.text
    assert fig.layout.yaxis.type == "log"  # 2.0 down to 0.0004: a linear axis would hide the tail
    assert plots.loss_curve(_history(5)).layout.yaxis.type == "linear"


def test_metrics_vs_random_groups_model_exact_and_empirical():
    metrics = {"a2t_acc@1": 0.5, "t2a_acc@1": 0.4, "random_a2t_acc@1": 0.1, "random_t2a_acc@1": 0.1,
               "random_empirical_a2t_acc@1": 0.12, "random_empirical_t2a_acc@1": 0.09, "n_clips": 10}
    fig = plots.metrics_vs_random(metrics)
    assert [t.name for t in fig.data] == ["model", "random (exact)", "random (empirical)"]
    assert all(t.type == "bar" for t in fig.data) and fig.layout.barmode == "group"
    assert list(fig.data[0].x) == ["a2t_acc@1", "t2a_acc@1"]  # counts and random_* are not metrics
    assert list(fig.data[0].y) == [0.5, 0.4] and list(fig.data[2].y) == [0.12, 0.09]
    only = plots.metrics_vs_random(metrics, keys=["t2a_acc@1"])
    assert list(only.data[1].x) == ["t2a_acc@1"] and list(only.data[1].y) == [0.1]


def test_joint_space_by_modality_with_pair_lines():
    audio, text = np.random.default_rng(0).normal(size=(6, 2)), np.random.default_rng(1).normal(size=(2, 2))
    fig = plots.joint_space(audio, text, [f"clip{i}.wav" for i in range(6)], ["a dog", "rain"],
                            pairs=[(i, i % 2) for i in range(6)])
    by_name = {t.name: t for t in fig.data}
    assert set(by_name) == {"true pairs", "audio", "text"}
    assert len(by_name["audio"].x) == 6 and len(by_name["text"].x) == 2
    assert by_name["audio"].marker.symbol != by_name["text"].marker.symbol
    assert list(by_name["text"].text) == ["a dog", "rain"]  # hover shows the caption
    assert len(by_name["true pairs"].x) == 6 * 3  # one segment per pair, None-separated
    assert by_name["true pairs"].x[1] == pytest.approx(text[0, 0]) and by_name["true pairs"].x[4] == pytest.approx(text[1, 0])
    assert "true pairs" not in {t.name for t in plots.joint_space(audio, text, ["a"] * 6, ["t"] * 2).data}


def test_joint_space_by_class_colours_each_class_and_keeps_modality_symbols():
    audio, text = np.zeros((4, 2)), np.ones((2, 2))
    fig = plots.joint_space(audio, text, ["a0", "a1", "a2", "a3"], ["the sound of dog", "the sound of rain"],
                            audio_class=["dog", "dog", "rain", "rain"], text_class=["dog", "rain"], color_by="class")
    names = [t.name for t in fig.data]
    assert names == ["dog (audio)", "dog (text)", "rain (audio)", "rain (text)"]
    colours = {t.name: t.marker.color for t in fig.data}
    assert colours["dog (audio)"] == colours["dog (text)"] != colours["rain (audio)"]
    assert fig.data[0].marker.symbol == plots.AUDIO_SYMBOL and fig.data[1].marker.symbol == plots.TEXT_SYMBOL


def test_umap_2d_refuses_too_few_points():
    with pytest.raises(ValueError, match="at least 4"):
        plots.umap_2d(np.zeros((3, 8)))


def test_joint_space_with_many_classes_keeps_the_plot_readable():
    """50 classes: no 100-entry legend squeezing the plot; hovering a point names its class (issue 12)."""
    rng = np.random.default_rng(0)
    classes = [f"class {i}" for i in range(50)]
    audio_class = [classes[i % 50] for i in range(200)]
    fig = plots.joint_space(rng.random((200, 2)), rng.random((50, 2)), [f"clip{i}" for i in range(200)], classes,
                            audio_class=audio_class, text_class=classes, color_by="class")
    assert not any(t.showlegend for t in fig.data)
    assert "class 7" in fig.data[0].hovertemplate or any("class: class 7" in t.hovertemplate for t in fig.data)
    assert all("class: " in t.hovertemplate for t in fig.data)
    few = plots.joint_space(rng.random((8, 2)), rng.random((2, 2)), [str(i) for i in range(8)], ["a", "b"],
                            audio_class=["a", "b"] * 4, text_class=["a", "b"], color_by="class")
    assert all(t.showlegend is not False for t in few.data) and len(few.data) == 4
