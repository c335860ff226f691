"""The "Joint space" tab: a UMAP picture of the store's projected clips and captions.

Same library calls as `python -m clapdemo joint-space` (`clapdemo.evaluation.joint_layout`): the layout is
computed once per (store, projection), in the session's own thread, and cached as .npy.
"""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from clapdemo.app.core import AppCore
from clapdemo.app.errors import on, user_errors
from clapdemo.app.jobs import Job, is_running, watch
from clapdemo.app.session import Session


class JointTab(AppCore):
    def joint_space(self, session: Session, color_by: str, pair_lines: bool):
        """UMAP of projected audio and text, computed once per (store, projection) and cached as .npy."""
        from clapdemo.evaluation.joint_layout import CENTRED_NOTE, plan_layout

        layout = plan_layout(self.searcher(session), session.projection, session.store_dir)
        n = len(layout.rows) + len(layout.used)
        if not layout.cached():
            job = session.jobs.get("umap")
            if not (is_running(job) and job.message == str(layout.cache)):  # opening the tab twice: one job
                job = session.jobs["umap"] = Job("umap", lambda job: layout.compute())
                job.message = str(layout.cache)
                job.start()
            with user_errors("UMAP"):
                for _ in watch(job, interval=1.0):
                    if not job.finished.is_set():
                        yield (f"Computing the UMAP layout of {n} points (once per store and projection; the "
                               f"first one takes ~30 s)… {job.seconds:.0f} s", gr.skip())
                if job.error:
                    raise job.error
        fig = layout.figure(layout.load(), color_by, pair_lines)
        yield (f"UMAP of {len(layout.rows)} projected clips and {len(layout.used)} captions "
               f"(computed once per store and projection, then reused).  \n{CENTRED_NOTE}", fig)


def build() -> SimpleNamespace:
    """The tab's components (call inside `with gr.Tab(...)`)."""
    c = SimpleNamespace()
    with gr.Row():
        c.color_by = gr.Radio(["modality", "class"], value="modality", label="colour by", elem_id="umap-color")
        c.pair_lines = gr.Checkbox(False, label="lines between true pairs", elem_id="umap-lines")
        c.run = gr.Button("Redraw", variant="primary", elem_id="umap")
    c.note = gr.Markdown(elem_id="umap-note")
    c.plot = gr.Plot(label="UMAP of projected audio and text", elem_id="umap-plot")
    return c


def wire(h: JointTab, ui) -> None:
    """The tab's events; `ui` holds every tab's components, the session and the header."""
    c = ui.joint
    inputs, outputs = [ui.session, c.color_by, c.pair_lines], [c.note, c.plot]
    on(c.run.click, h.joint_space, inputs, outputs, c.note, **ui.long_job)
    on(ui.joint_tab.select, h.joint_space, inputs, outputs, c.note, **ui.long_job)  # opens already drawn
