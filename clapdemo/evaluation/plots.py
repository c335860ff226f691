"""Plotly figures for the app: loss curve, model vs random, the joint space.

Pure functions: each takes plain data (EpochLogs or their dicts, a metrics
dict, 2-D coordinates) and returns a `plotly.graph_objects.Figure`. None of
them shows or saves anything; `umap_2d` is the one that computes (lazily
importing umap-learn), and its caller decides where the result is cached.
"""

from __future__ import annotations

import html
from dataclasses import asdict, is_dataclass
from typing import Iterable, Sequence

import numpy as np
import plotly.graph_objects as go

MODEL_COLOUR = "#1f77b4"
RANDOM_COLOURS = ("#bbbbbb", "#888888")
AUDIO_SYMBOL, TEXT_SYMBOL = "circle", "diamond"
LEGEND_MAX_CLASSES = 12  # above this, colour by class keeps no legend: hover names the class
_LAYOUT = dict(template="plotly_white", margin=dict(l=50, r=20, t=50, b=40), legend=dict(orientation="h", y=-0.18))


def _as_dict(log) -> dict:
    return asdict(log) if is_dataclass(log) else dict(log)


def loss_curve(history: Iterable, title: str = "Training", max_points: int = 1000) -> go.Figure:
    """Train and validation loss per epoch (left axis) and validation accuracy@1 both
    ways (right axis, 0-1). `history`: EpochLogs or their dicts (run.json's "history").

    Above `max_points` epochs the curve is thinned evenly (first and last kept), and
    markers are drawn only for short runs, so a long run stays cheap to redraw live."""
    rows = [_as_dict(log) for log in history]
    n_epochs = len(rows)
    if n_epochs > max_points:
        keep = np.unique(np.linspace(0, n_epochs - 1, max_points).round().astype(int))
        rows = [rows[i] for i in keep]
    epochs = [r["epoch"] for r in rows]
    mode = "lines+markers" if len(rows) <= 60 else "lines"

    def column(key):
        return [r.get(key) for r in rows]

    fig = go.Figure()
    fig.add_scatter(x=epochs, y=column("train_loss"), name="train loss", mode=mode, line=dict(color="#1f77b4"))
    if any(v is not None for v in column("val_loss")):
        fig.add_scatter(x=epochs, y=column("val_loss"), name="validation loss", mode=mode,
                        line=dict(color="#ff7f0e"))
    for key, name, colour in (("val_a2t_acc1", "val accuracy@1 audio→text", "#2ca02c"),
                              ("val_t2a_acc1", "val accuracy@1 text→audio", "#9467bd")):
        if any(v is not None for v in column(key)):
            fig.add_scatter(x=epochs, y=column(key), name=name, mode="lines", yaxis="y2",
                            line=dict(color=colour, dash="dot"))
    losses = [v for key in ("train_loss", "val_loss") for v in column(key) if v is not None and v > 0]
    log_scale = bool(losses) and max(losses) / min(losses) > 100  # long runs: see the tail move
    fig.update_layout(
        title=f"{title}: {n_epochs} epoch{'s' if n_epochs != 1 else ''}" if rows else f"{title}: no epochs yet",
        xaxis=dict(title="epoch", rangemode="tozero"),
        yaxis=dict(title="contrastive loss" + (" (log scale)" if log_scale else ""),
                   type="log" if log_scale else "linear", **({} if log_scale else {"rangemode": "tozero"})),
        yaxis2=dict(title="accuracy@1", overlaying="y", side="right", range=[0, 1.02], showgrid=False),
        **_LAYOUT,
    )
    return fig


def metric_keys(metrics: dict) -> list[str]:
    """The model's metric names in `metrics` (no random_*, no n_* counts), in their order."""
    return [k for k in metrics if not k.startswith(("random", "n_"))]


def metrics_vs_random(metrics: dict, keys: Sequence[str] | None = None, title: str = "Model vs random") -> go.Figure:
    """Grouped bars per metric: the model, the exact random baseline, the empirical one.

    `metrics` is what `metrics.evaluate` / `evaluation.evaluate.evaluate_run` return; `keys`
    picks and orders the metrics shown (default: all the model's metrics)."""
    keys = list(keys) if keys is not None else metric_keys(metrics)
    fig = go.Figure()
    fig.add_bar(x=keys, y=[metrics[k] for k in keys], name="model", marker_color=MODEL_COLOUR,
                text=[f"{metrics[k]:.2f}" for k in keys], textposition="outside")
    for (prefix, name), colour in zip((("random_", "random (exact)"), ("random_empirical_", "random (empirical)")),
                                      RANDOM_COLOURS):
        values = [metrics.get(prefix + k) for k in keys]
        if any(v is not None for v in values):
            fig.add_bar(x=keys, y=values, name=name, marker_color=colour)
    fig.update_layout(title=title, barmode="group", yaxis=dict(title="score", range=[0, 1.1]), **_LAYOUT)
    return fig


def umap_2d(points: np.ndarray, seed: int = 0, n_neighbors: int = 15) -> np.ndarray:
    """(N, D) vectors -> (N, 2) UMAP coordinates with the cosine metric, seeded.

    The first call in a process compiles umap's numba code (about 20 s on two
    cores); cache the result rather than calling this per page view."""
    import umap

    points = np.asarray(points, dtype=np.float32)
    if len(points) < 4:
        raise ValueError(f"UMAP needs at least 4 points, got {len(points)}")
    reducer = umap.UMAP(n_components=2, n_neighbors=min(n_neighbors, len(points) - 1), metric="cosine",
                        random_state=seed, init="spectral" if len(points) > 20 else "random")
    return reducer.fit_transform(points).astype(np.float32)


def joint_space(audio_xy: np.ndarray, text_xy: np.ndarray, audio_hover: Sequence[str], text_hover: Sequence[str],
                audio_class: Sequence[str] | None = None, text_class: Sequence[str] | None = None,
                pairs: Sequence[tuple[int, int]] | None = None, color_by: str = "modality",
                title: str = "Joint space (UMAP)") -> go.Figure:
    """One scatter of projected audio (circles) and text (diamonds) in 2-D.

    color_by: "modality" (one colour per modality) or "class" (one colour per
    class, symbols still tell the modality; needs audio_class / text_class).
    pairs: (audio row, text row) true pairs, drawn as thin grey lines.
    Hover shows the file (audio) or the caption (text)."""
    audio_xy, text_xy = np.asarray(audio_xy), np.asarray(text_xy)
    fig = go.Figure()
    if pairs:
        xs, ys = [], []
        for a, t in pairs:
            xs += [float(audio_xy[a, 0]), float(text_xy[t, 0]), None]
            ys += [float(audio_xy[a, 1]), float(text_xy[t, 1]), None]
        fig.add_scatter(x=xs, y=ys, mode="lines", name="true pairs", hoverinfo="skip",
                        line=dict(color="rgba(120,120,120,0.35)", width=1))
    by_class = color_by == "class" and audio_class is not None
    if by_class:
        classes = sorted(set(audio_class) | set(text_class or []))
        palette = _palette(len(classes))
        legend = len(classes) <= LEGEND_MAX_CLASSES  # 50 entries would squeeze the plot into a strip
        for colour, name in zip(palette, classes):
            _add_points(fig, audio_xy, audio_hover, "audio", AUDIO_SYMBOL, colour,
                        [c == name for c in audio_class], f"{name} (audio)", legendgroup=name, cls=name,
                        showlegend=legend)
            if text_class is not None:
                _add_points(fig, text_xy, text_hover, "text", TEXT_SYMBOL, colour,
                            [c == name for c in text_class], f"{name} (text)", legendgroup=name, cls=name,
                            showlegend=legend)
        if not legend:
            title += f" — {len(classes)} classes: hover a point for its class (circles audio, diamonds text)"
    else:
        _add_points(fig, audio_xy, audio_hover, "audio", AUDIO_SYMBOL, "#1f77b4", None, "audio")
        _add_points(fig, text_xy, text_hover, "text", TEXT_SYMBOL, "#d62728", None, "text")
    fig.update_layout(title=title, xaxis=dict(title="UMAP 1", zeroline=False), yaxis=dict(title="UMAP 2", zeroline=False),
                      hovermode="closest", **_LAYOUT)
    return fig


def _add_points(fig, xy, hover, modality, symbol, colour, mask, name, legendgroup=None, cls=None,
                showlegend=True) -> None:
    rows = np.arange(len(xy)) if mask is None else np.flatnonzero(mask)
    if len(rows) == 0:
        return
    named = "" if cls is None else f"<br>class: {html.escape(cls)}"
    fig.add_scatter(x=xy[rows, 0], y=xy[rows, 1], mode="markers", name=name, legendgroup=legendgroup,
                    showlegend=showlegend, text=[hover[i] for i in rows],
                    hovertemplate=f"{modality}: %{{text}}{named}<extra></extra>",
                    marker=dict(symbol=symbol, color=colour, size=8 if modality == "audio" else 10,
                                line=dict(width=0.5, color="white")))


def _palette(n: int) -> list[str]:
    from plotly.colors import qualitative, sample_colorscale

    base = qualitative.D3 + qualitative.Set2 + qualitative.Pastel
    if n <= len(base):
        return base[:n]
    return sample_colorscale("Turbo", [i / max(1, n - 1) for i in range(n)])
