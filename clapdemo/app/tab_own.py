"""Your own clips, in "Data & embeddings": uploaded audio files, or one zip of them with an optional
captions.csv, become the session's own dataset, embedded with a progress bar, then searchable,
evaluable and trainable like any other.

Same library calls as `python -m clapdemo precompute --dataset folder --data-root FOLDER`, on a
folder of the session's own below the cache (`search.visitor_uploads.import_uploads` copies the upload there,
within the upload limits: bad files are listed and skipped, zip entries that leave the folder are
refused, and a zip's total is capped while it is unpacked; the session's and all sessions' uploads
count against disk quotas). The store goes beside that folder, not among the cache's shared stores,
so no other session lists it; the session's folder is deleted when the session expires.

"Active data" says, and switches, what Try it, Evaluate and Train use: the dataset above or one of
the session's uploads (an upload made itself active, and only Precompute switched back before).
"""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from clapdemo.app.core import AppCore
from clapdemo.app.errors import on, user_errors
from clapdemo.app.session import Session
from clapdemo.app.widgets import file_name
from clapdemo.data.folder import FOLDER_CAPTIONS

CAPTIONS = FOLDER_CAPTIONS  # the folder reader's table: file,caption (clapdemo.data.folder.read_folder)
DATASET = "dataset"  # the active-data choice for the dataset above (an upload's choice is its folder's name)


class OwnClipsTab(AppCore):
    def __init__(self, settings):
        super().__init__(settings)
        from clapdemo.search.visitor_uploads import remove_session_files, remove_stale_uploads

        self.expiry_hooks.append(lambda session: remove_session_files(settings.cache, session.id))
        remove_stale_uploads(settings.cache)  # sessions of an earlier run of the app are gone

    def own_clips_folder(self, session: Session):
        """A new folder of this session's own for one upload (a second upload is a new dataset)."""
        from clapdemo.search.own_clips import own_clips_folder

        return own_clips_folder(self.settings.cache, session.id)

    def embed_own_clips(self, session: Session, paths):
        """Import the upload into the session's folder, read it as a `folder` dataset, embed it.
        Every file that is not used (refused, not named by captions.csv, failed to embed) is listed
        and deleted; the counts shown are those of the finished store.

        Yields (progress bar, log, header, Evaluate's store list)."""
        from clapdemo.data.audio import check_upload
        from clapdemo.data.datasets import load_dataset
        from clapdemo.data.folder import folder_dataset_root
        from clapdemo.search.own_clips import discard_upload, only_tables, own_store_dir, remove_files, remove_unused
        from clapdemo.search.visitor_uploads import import_uploads

        s = self.settings
        if not paths:
            raise gr.Error("Choose audio files, or one zip of them with an optional captions.csv, first "
                           f"({s.upload_limits()}).", duration=None)
        base = self.own_clips_folder(session)
        with user_errors("Reading your upload"):
            imported, skipped = import_uploads(
                paths, base / "clips", int(s.max_upload_mb * 1e6), tables=(CAPTIONS,),
                quota=s.upload_quota(session.id), check=lambda p: check_upload(p, s.max_upload_mb, s.max_upload_seconds))
        if only_tables(imported, (CAPTIONS,)):
            discard_upload(base)
            raise gr.Error(f"No audio in your upload.{listed(skipped)}", duration=None)
        root = folder_dataset_root(base / "clips")
        with user_errors("Reading your clips"):
            dataset = load_dataset("folder", root, "all")
        skipped |= remove_unused(base / "clips", imported, dataset.clips["audio_path"], CAPTIONS)
        if dataset.n_clips == 0:
            discard_upload(base)
            raise gr.Error(f"{CAPTIONS} names none of the uploaded files ({len(dataset.missing)} listed without "
                           f"audio, e.g. {', '.join(dataset.missing[:3])}).{listed(skipped)}", duration=None)
        for progress, log, header, stores in self.embed(session, dataset, own_store_dir(base)):
            if isinstance(header, str):  # done: what the store holds, the failed files deleted
                report = session.jobs["precompute"].result
                remove_files(info["audio_path"] for info in report.failed.values())
                log = log.replace(report.store, file_name(report.store))  # a name, not the server's path
                log = f"{log}  \n{about_store(dataset, report)}{listed(skipped)}"
            yield progress, log, header, stores

    # ---- active data ---------------------------------------------------------------------

    def own_stores(self, session: Session) -> list:
        """(choice, store) of each upload of this session that has a store, oldest first."""
        from clapdemo.search.own_clips import own_stores

        return own_stores(self.settings.cache, session.id)

    def data_choices(self, session: Session):
        """The active-data control: the dataset above and this session's uploads, the active one selected
        (names only: no server path reaches the page)."""
        from clapdemo.search.own_clips import same_folder
        from clapdemo.stores.store import Store

        choices, active = [("the dataset above", DATASET)], DATASET
        for n, (choice, store) in enumerate(self.own_stores(session), 1):
            try:  # wired to the header's change without a status line: it must not fail
                count = f" ({Store(store).status()['done']} clips)"
            except Exception:  # noqa: BLE001  a damaged store: listed, and use_data says what is wrong
                count = ""
            choices.append((f"your clips, upload {n}{count}", choice))
            if session.store_dir and same_folder(session.store_dir, store):
                active = choice
        return gr.update(choices=choices, value=active)

    def use_data(self, session: Session, choice: str, kind: str, split: str):
        """Make `choice` the session's data: the dataset above (its store for the kind and split chosen
        there) or one of its uploads. Returns (header, Evaluate's store list, note)."""
        from clapdemo.stores.store import Store

        self.ensure_open(session)
        if choice == DATASET:
            with user_errors("Loading the encoders"):
                folder = self.store_dir(kind, split)
            if not Store(folder).exists():
                raise gr.Error(f"No embeddings for {kind} {split} yet: click **Precompute embeddings** above; "
                               "it becomes the active data when done.", duration=None)
            note = f"Active data: the dataset above, {kind} {split}."
        else:
            found = dict(self.own_stores(session))
            if choice not in found:
                raise gr.Error("That upload is gone (uploads end with their session): upload your clips again.",
                               duration=None)
            folder, note = found[choice], "Active data: your clips."
        session.store_dir = str(folder)
        return self.header(session), self.store_choices(session), f"{note} Try it, Evaluate and Train use it now."


def listed(skipped: dict) -> str:
    """Markdown lines, one per file not used and why ("" for none)."""
    return "".join(f"\n- skipped `{name}`: {why}" for name, why in skipped.items())


def about_store(dataset, report) -> str:
    """What the finished store holds and where it can be used, counted from the precompute report, so
    it agrees with the line above it ("1/2 embedded, 1 failed" was followed by "2 clips")."""
    embedded = report.already_done + report.computed
    failed = set(report.failed)
    captioned = int(sum(bool(c) for cid, c in zip(dataset.clips["clip_id"], dataset.clips["captions"])
                        if cid not in failed))
    clips = f"{embedded} clip{'s' if embedded != 1 else ''} embedded"
    about = (f"{clips}, {captioned} with captions from {CAPTIONS}: searchable in **Try it**, evaluable in "
             "**Evaluate**, trainable in **Train**." if captioned else
             f"{clips}, no {CAPTIONS}: searchable in **Try it**; Evaluate and Train need captions (add a "
             f"{CAPTIONS} with the columns file,caption to the zip).")
    if report.failed:
        about += f" {len(report.failed)} could not be decoded: listed above and deleted."
    return about + "".join(f"\n- warning: {w}" for w in dataset.warnings[:5])


def build(settings) -> SimpleNamespace:
    """The section's components (call inside the Data & embeddings tab)."""
    c = SimpleNamespace()
    c.active = gr.Radio([("the dataset above", DATASET)], value=DATASET, elem_id="active-data",
                        label="active data: what Try it, Evaluate and Train use")
    c.active_note = gr.Markdown(elem_id="active-data-note")
    gr.Markdown("### Your own clips\nUpload audio files, or one zip of them with an optional `captions.csv` "
                "(columns `file,caption`): they become this session's dataset, embedded here, then searchable, "
                "evaluable and trainable like the sample set. Only this session sees them.")
    with gr.Row():
        c.files = gr.File(file_count="multiple", file_types=["audio", ".zip", ".csv"], elem_id="own-upload", scale=4,
                          label=f"audio files, a zip, a captions.csv (up to {settings.max_upload_mb:g} MB a file, "
                          f"{settings.session_quota_mb:g} MB in all)")
        c.run = gr.Button("Embed my clips", variant="primary", elem_id="own-embed")
    c.progress = gr.HTML(elem_id="own-progress")
    c.log = gr.Markdown(elem_id="own-log")
    return c


def wire(h: OwnClipsTab, ui) -> None:
    """The section's events; `ui` holds every tab's components, the session and the header."""
    c = ui.own
    on(c.run.click, h.embed_own_clips, [ui.session, c.files], [c.progress, c.log, ui.header, ui.evaluate.store],
       c.log, **ui.long_job)
    # the header changes whenever the session's store does (page load, Precompute, an upload, this control)
    ui.header.change(h.data_choices, [ui.session], [c.active], show_progress="hidden")
    on(c.active.input, h.use_data, [ui.session, c.active, ui.data.kind, ui.data.split],
       [ui.header, ui.evaluate.store, c.active_note], c.active_note)
