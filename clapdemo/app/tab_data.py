"""The "Data & embeddings" tab: read a dataset split, show it, embed it into its store.

Same library calls as `python -m clapdemo precompute --dataset KIND --data-root ROOT --split SPLIT`.
"""

from __future__ import annotations

import html
import re
from types import SimpleNamespace

import gradio as gr
import pandas as pd

from clapdemo.app.core import AppCore
from clapdemo.app.errors import on, user_errors
from clapdemo.app.jobs import Job, is_running, watch
from clapdemo.app.session import Session
from clapdemo.app.widgets import N_EXAMPLES, audio_update, progress_html, table, file_name
from clapdemo.data.dataset import DATASET_KINDS, SPLITS
from clapdemo.data.datasets import usable_kinds


SPLIT_NAME = re.compile(r"[A-Za-z0-9_-]{1,40}")  # every split a reader knows ("fold1", "folds1-3", "val")


class DataTab(AppCore):
    def load_dataset(self, kind: str, split: str):
        """`clapdemo.data.datasets.load_dataset`, as `python -m clapdemo precompute --dataset KIND --split SPLIT` reads it."""
        from clapdemo.data.datasets import load_dataset

        if self.settings.data_problem:
            raise gr.Error(self.settings.data_problem.replace("**", ""), duration=None)
        if not SPLIT_NAME.fullmatch((split or "").strip() or "all"):  # it names a file: "../../x" must not reach one
            raise gr.Error(f"“{html.escape(str(split))}” is not a split name: use letters, digits, - and _ "
                           f"(e.g. {', '.join(SPLITS.get(kind, ['all']))}).", duration=None)
        with user_errors(f"Reading {kind} ({split}) in {self.data_name()}"):
            dataset = load_dataset(kind, self.settings.data_root, (split or "").strip() or None)
        if dataset.n_clips == 0:
            raise gr.Error(f"{kind} {split} in {self.data_name()}: no clips found "
                           f"({len(dataset.missing)} listed without audio). Check the folder and the split.",
                           duration=None)
        return dataset

    def show_dataset(self, session: Session, kind: str, split: str):
        """Counts, a few examples with players, and the state of this split's store."""
        if self.settings.data_problem:
            return (self.settings.data_problem, pd.DataFrame(), *[audio_update() for _ in range(N_EXAMPLES)], "")
        dataset = self.load_dataset(kind, split)
        self.ensure_open(session)  # page load installs the sample set's store: its status after that
        lines = [f"**{kind} · {dataset.split}:** {dataset.summary()}"]
        if dataset.missing:
            lines.append(f"Missing audio for {len(dataset.missing)} clips, e.g. {', '.join(dataset.missing[:5])}")
        lines += [f"- warning: {w}" for w in dataset.warnings[:5]]
        clips = dataset.clips
        examples = clips.head(8).assign(
            captions=clips.head(8)["captions"].map(lambda c: " | ".join(c)),
            file=clips.head(8)["audio_path"].map(file_name))
        columns = [c for c in ("clip_id", "label", "fold", "captions", "file") if c in examples.columns]
        step = max(1, len(clips) // N_EXAMPLES)
        picks = clips.iloc[::step].head(N_EXAMPLES)
        players = [audio_update(row.audio_path, f"{row.clip_id}: {row.captions[0] if row.captions else ''}")
                   for row in picks.itertuples()]
        players += [audio_update() for _ in range(N_EXAMPLES - len(players))]
        return "  \n".join(lines), examples[columns], *players, self.store_status(kind, split)

    def store_status(self, kind: str, split: str) -> str:
        from clapdemo.stores.store import Store

        try:
            folder = self.store_dir(kind, split)
        except Exception as error:
            return f"Encoders unavailable: {error}"
        store = Store(folder)
        if not store.exists():
            return f"No embeddings for {kind} {split} yet: click **Precompute** (store `{folder.name}`)."
        st = store.status()
        state = "complete" if st["done"] + st["failed"] >= st["clips"] else "half done: Precompute resumes it"
        return (f"Store `{folder.name}`: {st['done']}/{st['clips']} clips embedded, {st['failed']} failed ({state}).")

    def precompute(self, session: Session, kind: str, split: str):
        """`python -m clapdemo precompute`: embed the split into its store.

        Yields (progress bar, log, header, store status, Evaluate's store list)."""
        dataset = self.load_dataset(kind, split)
        with user_errors("Loading the encoders"):
            folder = self.store_dir(kind, split)
        for progress, log, header, stores in self.embed(session, dataset, folder):
            done = isinstance(header, str)  # the header comes with the finished store only
            yield progress, log, header, self.store_status(kind, split) if done else gr.skip(), stores

    def embed(self, session: Session, dataset, folder):
        """Embed `dataset` into the store at `folder` in the session's own thread, which then becomes
        the session's store. Yields (progress bar, log, header, Evaluate's store list); the last
        two are `gr.skip()` until the store is done."""
        from clapdemo.stores.precompute import precompute

        if is_running(session.jobs.get("precompute")):
            raise gr.Error("A precompute is already running in this session; wait for it or press Stop.")
        with user_errors("Loading the encoders"):
            audio, text = self.encoders()

        def work(job: Job):
            def on_progress(done, total):
                job.progress = (done, total)

            return precompute(dataset, audio, text, folder, progress=False, on_progress=on_progress,
                              should_stop=job.stop.is_set)

        job = session.jobs["precompute"] = Job("precompute", work)
        job.progress = (0, dataset.n_clips)
        job.start()
        with user_errors("Precompute"):
            for _ in watch(job):
                done, total = job.progress
                yield (progress_html(done, total, "clips embedded", job.seconds),
                       f"Embedding {dataset.n_clips} clips into `{folder.name}`…", gr.skip(), gr.skip())
            if job.error:
                raise job.error
            report = job.result
            session.store_dir = str(folder)
            yield (progress_html(report.already_done + report.computed + len(report.failed), report.total,
                                 "clips embedded", report.seconds),
                   precompute_log(report), self.header(session), self.store_choices(session))


def precompute_log(report) -> str:
    """The precompute report in a few lines: counts, skipped clips and why, clips without audio."""
    lines = [report.summary(f"`{file_name(report.store)}`")]  # a name, not the server's path
    lines += [f"- skipped `{cid}`: {info['error']}" for cid, info in list(report.failed.items())[:10]]
    if report.missing:
        lines.append(f"- {len(report.missing)} clips listed without an audio file, e.g. "
                     f"{', '.join(report.missing[:5])}")
    return "  \n".join(lines)


def build(settings) -> SimpleNamespace:
    """The tab's components (call inside `with gr.Tab(...)`)."""
    kind0 = settings.dataset if settings.dataset in DATASET_KINDS else "esc50"
    kinds = usable_kinds(settings.data_root, kind0) if settings.data_problem is None else list(DATASET_KINDS)
    c = SimpleNamespace()
    if settings.data_problem:
        gr.Markdown(settings.data_problem, elem_id="data-empty", elem_classes=["clap-empty"])
    with gr.Row():
        c.kind = gr.Dropdown(kinds, value=kind0, label="dataset", elem_id="dataset-kind")  # only kinds that can work
        c.split = gr.Dropdown(SPLITS[kind0], value=SPLITS[kind0][0], label="split", allow_custom_value=True,
                              elem_id="dataset-split")
        c.show = gr.Button("Show dataset", elem_id="show-dataset")
    c.summary = gr.Markdown(elem_id="data-summary")
    c.examples = table("data-examples", "first clips", "clip_id", "label", "captions", "file")
    with gr.Row():
        c.players = [gr.Audio(label="example", visible=False, interactive=False, elem_id=f"example-{i}")
                     for i in range(N_EXAMPLES)]
    c.store_status = gr.Markdown(elem_id="store-status")
    with gr.Row():
        c.precompute = gr.Button("Precompute embeddings", variant="primary", elem_id="precompute")
        c.stop = gr.Button("Stop", elem_id="precompute-stop")
    c.progress = gr.HTML(elem_id="precompute-progress")
    c.log = gr.Markdown(elem_id="precompute-log")
    return c


def wire(h: DataTab, ui) -> None:
    """The tab's events; `ui` holds every tab's components, the session and the header."""
    c, session = ui.data, ui.session
    outputs = [c.summary, c.examples, *c.players, c.store_status]
    if not h.settings.data_problem:
        on(ui.demo.load, h.show_dataset, [session, c.kind, c.split], outputs, c.summary)
    c.kind.change(lambda x: gr.update(choices=SPLITS[x], value=SPLITS[x][0]), [c.kind], [c.split])
    on(c.show.click, h.show_dataset, [session, c.kind, c.split], outputs, c.summary)
    on(c.precompute.click, h.precompute, [session, c.kind, c.split],
       [c.progress, c.log, ui.header, c.store_status, ui.evaluate.store], c.log, **ui.long_job)
    on(c.stop.click, lambda s: h.stop(s, "precompute"), [session], [c.log], c.log, concurrency_limit=None)
