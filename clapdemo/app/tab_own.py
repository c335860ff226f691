"""Your own clips, in "Data & embeddings": uploaded audio files, or one zip of them with an optional
captions.csv, become the session's own dataset, embedded with a progress bar, then searchable,
evaluable and trainable like any other.

Same library calls as `python -m clapdemo precompute --dataset folder --data-root FOLDER`, on a
folder of the session's own below the cache (`library.import_uploads` copies the upload there,
within the upload limits: bad files are listed and skipped, zip entries that leave the folder are
refused, and a zip's total is capped while it is unpacked). The store goes beside that folder, not
among the cache's shared stores, so no other session lists it.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from clapdemo.app.core import AppCore
from clapdemo.app.errors import on, user_errors
from clapdemo.app.session import Session

CAPTIONS = "captions.csv"  # the folder reader's table: file,caption (clapdemo.datasets.read_folder)


class OwnClipsTab(AppCore):
    def own_clips_folder(self, session: Session) -> Path:
        """A new folder of this session's own for one upload (a second upload is a new dataset)."""
        return self.settings.cache / "own-clips" / session.id / uuid.uuid4().hex[:8]

    def embed_own_clips(self, session: Session, paths):
        """Import the upload into the session's folder, read it as a `folder` dataset, embed it.

        Yields (progress bar, log, header, Evaluate's store list)."""
        from clapdemo.datasets import load_dataset
        from clapdemo.library import import_uploads

        if not paths:
            raise gr.Error("Choose audio files, or one zip of them with an optional captions.csv, first.")
        base = self.own_clips_folder(session)
        with user_errors("Reading your upload"):
            imported, skipped = import_uploads(paths, base / "clips", int(self.settings.max_upload_mb * 1e6),
                                               tables=(CAPTIONS,))
        bad = "".join(f"\n- skipped `{name}`: {why}" for name, why in skipped.items())
        if not any(Path(name).name != CAPTIONS for name in imported):
            raise gr.Error(f"No audio in your upload.{bad}", duration=None)
        root = dataset_root(base / "clips")
        with user_errors("Reading your clips"):
            dataset = load_dataset("folder", root, "all")
        if dataset.n_clips == 0:
            raise gr.Error(f"{CAPTIONS} names none of the uploaded files ({len(dataset.missing)} listed without "
                           f"audio, e.g. {', '.join(dataset.missing[:3])}).{bad}", duration=None)
        captioned = int(dataset.clips["captions"].map(len).gt(0).sum())
        about = (f"{dataset.n_clips} clips, {captioned} with captions from {CAPTIONS}: searchable in **Try it**, "
                 "evaluable in **Evaluate**, trainable in **Train**." if captioned else
                 f"{dataset.n_clips} clips, no {CAPTIONS}: searchable in **Try it**; Evaluate and Train need "
                 f"captions (add a {CAPTIONS} with the columns file,caption to the zip).")
        about += "".join(f"\n- warning: {w}" for w in dataset.warnings[:5]) + bad
        for progress, log, header, stores in self.embed(session, dataset, base / f"your-clips-{base.name}"):
            yield progress, (f"{log}  \n{about}" if isinstance(header, str) else log), header, stores


def dataset_root(folder: Path) -> Path:
    """Where the dataset starts: the folder holding the one captions.csv of the upload (a zip may
    wrap everything in a folder), else the upload's folder itself."""
    tables = sorted(folder.rglob(CAPTIONS))
    return tables[0].parent if len(tables) == 1 else folder


def build(settings) -> SimpleNamespace:
    """The section's components (call inside the Data & embeddings tab)."""
    c = SimpleNamespace()
    gr.Markdown("### Your own clips\nUpload audio files, or one zip of them with an optional `captions.csv` "
                "(columns `file,caption`): they become this session's dataset, embedded here, then searchable, "
                "evaluable and trainable like the sample set. Only this session sees them.")
    with gr.Row():
        c.files = gr.File(file_count="multiple", file_types=["audio", ".zip", ".csv"], elem_id="own-upload", scale=4,
                          label=f"audio files, a zip, a captions.csv (up to {settings.max_upload_mb:g} MB a file)")
        c.run = gr.Button("Embed my clips", variant="primary", elem_id="own-embed")
    c.progress = gr.HTML(elem_id="own-progress")
    c.log = gr.Markdown(elem_id="own-log")
    return c


def wire(h: OwnClipsTab, ui) -> None:
    """The section's events; `ui` holds every tab's components, the session and the header."""
    c = ui.own
    on(c.run.click, h.embed_own_clips, [ui.session, c.files], [c.progress, c.log, ui.header, ui.evaluate.store],
       c.log, **ui.long_job)
