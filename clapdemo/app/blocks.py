"""The page: what the app does in one sentence, "About this setup" (collapsed), a tab per step.

Each tab module builds its components (`build`) and wires its events (`wire`) against
`ui`, a namespace holding every tab's components, the session state and the header, so
a tab can update another's (Precompute refreshes Evaluate's store list).
"""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from clapdemo.app import tab_data, tab_evaluate, tab_joint, tab_own, tab_search, tab_train, tab_upload
from clapdemo.app.errors import on
from clapdemo.app.handlers import Handlers
from clapdemo.app.session import client_address, new_session
from clapdemo.app.settings import Settings
from clapdemo.app.tab_library import build_library_tab

TITLE = "# clapdemo: find sounds by describing them, and name the sound in a clip"
WHAT_IT_DOES = ("Type what you want to hear, or upload a clip to see its best captions: a frozen audio model "
                "and a frozen text model meet in one space through a single trained linear projection; the "
                "other tabs show that space, measure it against chance, train it again, and take your own clips.")


def build_app(settings: Settings | None = None, warm_up: bool = True) -> gr.Blocks:
    """The Blocks of the app. Returns at once: with `warm_up` (the default) a background thread loads the
    encoders, the sample store and its searcher meanwhile (`clapdemo.app.warmup`), so the first click
    answers as fast as later ones; the page says "Warming up…" until it is done, then "Ready"."""
    settings = settings or Settings.from_env()
    h = Handlers(settings)
    if warm_up:
        h.warm_up.start()
    ui = SimpleNamespace(long_job=dict(concurrency_limit=None, show_progress="minimal"))

    with gr.Blocks(title="clapdemo", analytics_enabled=False) as demo:
        ui.demo = demo
        ui.session = gr.State(new_session)
        browser_key = gr.BrowserState(None, storage_key="clapdemo-session")  # brings the session back on reload
        gr.Markdown(f"{TITLE}\n{WHAT_IT_DOES}", elem_id="title")
        ui.warm = gr.Markdown(h.warm_up.line(), elem_id="warm-status")  # "Warming up…" until the models are in
        ui.warm_timer = gr.Timer(1.0, active=not h.warm_up.done.is_set())
        with gr.Accordion("About this setup (encoders, dataset, embeddings, projection)", open=False,
                          elem_id="about"):
            ui.header = gr.Markdown("Loading encoders…", elem_id="header", elem_classes=["clap-header"])

        with gr.Tabs():  # a visitor's path: try it, see the space, measure it, train it, bring data
            with gr.Tab("Try it", id="try"):
                with gr.Row(equal_height=False):
                    with gr.Column():
                        ui.search = tab_search.build()
                    with gr.Column():
                        ui.upload = tab_upload.build()
            with gr.Tab("Joint space", id="joint") as ui.joint_tab:
                ui.joint = tab_joint.build()
            with gr.Tab("Evaluate", id="evaluate") as ui.evaluate_tab:
                ui.evaluate = tab_evaluate.build()
            with gr.Tab("Train", id="train") as ui.train_tab:
                ui.train = tab_train.build()
            with gr.Tab("Data & embeddings", id="data"):
                ui.data = tab_data.build(settings)
                ui.own = tab_own.build(settings)
            with gr.Tab("Library", id="library"):  # your own folder of sounds
                build_library_tab(settings, h.encoders, ui.session)

        def on_load(s, key, request: gr.Request):
            s, key = h.sessions.attach(s, key, client_address(request))  # a bad key: a new session
            s, text = h.init_session(s)
            return s, key, text, h.store_choices(s), h.run_choices(s)

        loaded = demo.load(on_load, [ui.session, browser_key],
                           [ui.session, browser_key, ui.header, ui.evaluate.store, ui.train.past])
        ui.loaded = loaded  # tabs chain their own page-load updates on it
        on(loaded.then, h.follow_training, [ui.session], [ui.train.plot, ui.train.status, ui.train.metrics],
           ui.train.status, **ui.long_job)  # a job that outlived the last page shows here
        ui.warm_timer.tick(lambda: warm_status(h), None, [ui.warm, ui.warm_timer], queue=False,
                           show_progress="hidden")
        demo.load(lambda: warm_status(h), None, [ui.warm, ui.warm_timer], queue=False, show_progress="hidden")
        for tab in (tab_search, tab_upload, tab_joint, tab_evaluate, tab_train, tab_data, tab_own):
            tab.wire(h, ui)
    demo.queue(default_concurrency_limit=4)
    demo.warm_up = h.warm_up  # what tests and benchmarks watch
    return demo


def warm_status(h: Handlers):
    """The page's warm-up line, and its timer switched off once the warm-up is done."""
    return h.warm_up.line(), gr.Timer(active=not h.warm_up.done.is_set())
