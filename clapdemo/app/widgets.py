"""Small pieces every tab uses: read-only tables, audio players, a progress bar, shared wording."""

from __future__ import annotations

import html
from pathlib import PurePath

import gradio as gr
import pandas as pd

from clapdemo.app.served import served

N_PLAYERS = 5  # audio players under search results
N_EXAMPLES = 4  # audio players under the dataset summary
N_EXTREMES = 3  # best and worst queries shown with their audio (and nearest clips of an upload)
EVAL_COLUMNS = ("metric", "model", "best possible", "random (exact)", "random (empirical)", "x random")
SHARE = "softmax over shown"  # Hit.relevance: how the model's preference splits among the shown results
SCORES = (f"*score*: cosine in the joint space (-1 to 1); *{SHARE}*: the model's preference split among "
          "these results (softmax with its temperature; they sum to 100%), not the chance that a hit is right.")

NAME, TIMES = "measure", "× chance"  # the plain name column; "x random" as the app shows it
ONE_AT_5 = "zero_shot_acc@5"  # left out: one clip → caption @5 figure (a2t_R@5), not two that differ


def plain_table(table_: pd.DataFrame) -> pd.DataFrame:
    """`evaluation.evaluate.metrics_table` for a visitor: a plain name first (`metrics.describe_metric`), the CLI's
    key beside it (so the number is found in `python -m clapdemo evaluate`), one a2t @5 figure."""
    from clapdemo.evaluation.metrics import describe_metric

    table_ = table_[table_["metric"] != ONE_AT_5].rename(columns={"x random": TIMES})
    table_.insert(0, NAME, [describe_metric(key)[0] for key in table_["metric"]])
    return table_


def table(elem_id: str, label: str | None, *columns: str) -> gr.Dataframe:
    """A read-only table showing its headers before the first result."""
    return gr.Dataframe(pd.DataFrame(columns=list(columns)), label=label, show_label=label is not None,
                        interactive=False, elem_id=elem_id, max_height=420)


def audio_update(path: str | None = None, label: str = ""):
    """A player showing `path` (hidden when None, or when the file is gone), through a copy only
    this page is told the name of (`served`: the cache, where own clips live, is never served)."""
    try:
        copy = served(path)
    except OSError:
        copy = None
    return gr.update(value=copy, label=label or "clip", visible=copy is not None)


def progress_html(done: int, total: int, label: str, seconds: float | None = None) -> str:
    """A progress bar with "label: done / total · seconds"."""
    total = max(total, 0)
    extra = f" · {seconds:.0f} s" if seconds is not None else ""
    return (f'<div class="clap-progress" style="display:flex;align-items:center;gap:0.75em">'
            f'<progress value="{done}" max="{max(total, 1)}" style="width:40%;height:1.1em"></progress>'
            f'<span class="clap-progress-text">{html.escape(label)}: {done} / {total}{extra}</span></div>')


def file_name(path) -> str:
    """A file or folder as a visitor sees it: its last name, never the server's path (tabs show
    names, and a tab module touches no paths: tests/test_faces.py)."""
    return PurePath(str(path)).name
