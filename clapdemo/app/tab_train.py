"""The "Train" tab: train the projection on the active store, follow it, pick the active projection.

Same library calls as `python -m clapdemo train --train STORE --out RUN [--init INIT] [--lr LR]`.
Training runs in the session's own thread (`clapdemo.app.jobs`) and goes on when the page is
closed or reloaded; the new page follows it (`follow_training`).
"""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from clapdemo.app.core import AppCore
from clapdemo.app.errors import on, user_errors
from clapdemo.app.jobs import Job, is_running, watch
from clapdemo.app.session import Session
from clapdemo.app.widgets import EVAL_COLUMNS, NAME, TIMES, plain_table, table, file_name
from clapdemo.training.projection_init import DEFAULT_INIT, INITS

STOP_REASONS = {"finished": "finished all epochs", "early_stopping": "stopped early (no better validation loss)",
                "callback": "stopped by you"}
RUN_STATES = {"finished": "finished", "early_stopping": "stopped early", "callback": "stopped by you",
              "running": "running"}  # run.json's status as the past-runs list words it


class TrainTab(AppCore):
    def train(self, session: Session, epochs, batch_size, lr, weight_decay, learn_temperature, patience,
              val_fraction, init=DEFAULT_INIT, label_pairs=None):
        """`python -m clapdemo train --train STORE --out RUN [--init INIT] [--lr LR]`: yields (curve, status,
        metrics table). An empty learning rate follows the init, as the CLI's default does. `label_pairs`:
        a label-pair store folder trained on beside the active store (`--train LABELS --train STORE`)."""
        from clapdemo.training.runs import new_run_dir
        from clapdemo.training.plan import load_training_data, plan_training
        from clapdemo.training.request import check_training_request

        if is_running(session.jobs.get("train")):
            raise gr.Error("This session is already training; press Stop first.")
        store = self.need_store(session)
        # label pairs only from a store this session may use: `allowed_store`, the Library's rule
        extra = [str(self.allowed_store(session, label_pairs))] if str(label_pairs or "").strip() else []
        with user_errors("Training settings"):
            request = check_training_request(
                store, extra, init=init, lr=lr, epochs=epochs, batch_size=batch_size, weight_decay=weight_decay,
                learn_temperature=learn_temperature, patience=patience, val_fraction=val_fraction,
                max_epochs=self.settings.max_epochs)
        start, cfg, settings, stores = request.start, request.cfg, request.settings, request.stores
        lr_note = " (follows the init)" if request.lr_follows_init else ""
        run_dir = new_run_dir(self.settings.cache / "runs", session.id)

        def work(job: Job):
            data = load_training_data(stores, None, float(val_fraction), 0.0, cfg.seed)
            # the CLI's one way in (plan_training: the init's recipe adds its name pairs, as `train` does)
            run = plan_training(data, start, lr=cfg.lr, **settings)
            job.message = (f"train {run.data.train_set.n_clips} clips / val {run.data.val_set.n_clips} clips "
                           f"from {' + '.join(f'`{file_name(p)}`' for p in stores)}; init {start.describe()}, lr {cfg.lr:g}{lr_note}")

            def on_epoch(log):
                job.events.append(log)
                return job.stop.is_set()

            result = run.start(run_dir, callbacks=[on_epoch])
            session.last_run = str(run_dir)  # here, not in the page's generator: a reload may have closed it
            return result

        job = Job("train", work)
        job.epochs, job.lr_text, job.run_dir = cfg.epochs, f"lr {cfg.lr:g}{lr_note}", run_dir
        session.jobs["train"] = self.start_training(job)  # or "busy, try again" when MAX_TRAININGS run
        yield from self.follow_training(session, job)

    def follow_training(self, session: Session, job: Job | None = None):
        """Yields (curve, status, metrics table) of this session's training job until it ends.

        Also called on page load: training goes on when the page is closed or reloaded (the
        session comes back with the browser, see `SessionRegistry`), and the new page shows it."""
        from clapdemo.evaluation import plots
        from clapdemo.evaluation.evaluate import metrics_table

        job = job or session.jobs.get("train")
        if job is None:
            yield gr.skip(), gr.skip(), gr.skip()
            return
        shown = -1
        with user_errors("Training"):
            for _ in watch(job, interval=1.0, stop_on_close=False):
                self.sessions.touch(session)  # a page watching its training: the session is in use
                logs = list(job.events)
                if len(logs) != shown or job.finished.is_set():
                    shown = len(logs)
                    last = logs[-1] if logs else None
                    status = (f"Training ({job.message}): epoch {last.epoch}/{job.epochs}, "
                              f"train loss {last.train_loss:.4f}, val loss {last.val_loss:.4f}" if last
                              else "Starting training…")
                    yield plots.loss_curve(logs), status, gr.skip()
            if job.error:
                raise job.error
            result = job.result
            status = (f"**Done:** {STOP_REASONS[result.stop_reason]} after {len(result.history)} epochs "
                      f"({job.lr_text}); best epoch {result.best_epoch}. Saved as run `{file_name(job.run_dir)}`. Validation "
                      "metrics below; press **Use this projection** to make it the active one.")
            yield plots.loss_curve(result.history), status, plain_table(metrics_table(result.metrics))

    def own_runs(self, session: Session, store_manifest: dict | None = None) -> list:
        """(run folder, record) of this session's runs with a checkpoint, newest first (`runs_with_checkpoints`
        tagged with the session id). Another visitor's runs are never listed: their folders hold what that
        visitor trained on."""
        from clapdemo.training.runs import runs_with_checkpoints

        return runs_with_checkpoints(self.settings.cache / "runs", store_manifest, tag=session.id)

    def run_choices(self, session: Session):
        """The Train tab's list of this session's past runs of the active store: (label, run name).
        A run run.json calls "running" that no training of this app is writing was cut off (the app
        stopped or crashed): "interrupted"; its best checkpoint so far can still be made active."""
        from clapdemo.training.runs import best_epoch_of
        from clapdemo.stores.store import Store

        if not session.store_dir or not Store(session.store_dir).exists():
            return gr.update(choices=[], value=None)
        live, runs = self.live_runs(), []
        for run, info in self.own_runs(session, Store(session.store_dir).manifest()):
            state = RUN_STATES.get(info.status, info.status or "?")
            if info.status == "running" and str(run) not in live:
                state = "interrupted"
            runs.append((f"{run_time(run.name)} — {state}, {len(info.history)} epochs, best epoch "
                         f"{best_epoch_of(info)}", run.name))
        return gr.update(choices=runs, value=runs[0][1] if runs else None)

    def use_run(self, session: Session, run: str | None):
        """"Make active": a past run of this session (finished or cut short: its best checkpoint)."""
        from clapdemo.training.model import projection_file

        mine = {p.name: p for p, _ in self.own_runs(session)}
        if not run or str(run) not in mine or not projection_file(mine[str(run)]).is_file():
            raise gr.Error("Pick a past run of yours first (this session's trained runs of the active store "
                           "are listed here).")
        return self.activate(session, str(mine[str(run)]), f"a past run ({run})", f"Active projection: `{run}`.")

    def use_last_run(self, session: Session):
        if not session.last_run:
            raise gr.Error("Nothing trained in this session yet: press Start training first.")
        name = file_name(session.last_run)
        return self.activate(session, session.last_run, f"trained in this session ({name})",
                             f"Active projection: `{name}`.")

    def use_shipped(self, session: Session):
        return self.activate(session, str(self.settings.projection), "shipped with the app",
                             "Active projection: the shipped one.")

    def activate(self, session: Session, projection: str, why: str, message: str):
        """Make `projection` the session's own; (message, header)."""
        session.projection, session.projection_why = projection, why
        return message, self.header(session)


def run_time(name: str) -> str:
    """When a run started, from its folder name (<date>-<time>-<session>[-n]): "2026-12-03 09:15:00 (2)"."""
    parts = name.split("-") + ["", "", "", ""]
    day, clock, n = parts[0], parts[1], parts[3]
    if len(day) != 8 or len(clock) != 6:
        return name
    return f"{day[:4]}-{day[4:6]}-{day[6:]} {clock[:2]}:{clock[2:4]}:{clock[4:]}" + (f" ({n})" if n else "")


def build() -> SimpleNamespace:
    """The tab's components (call inside `with gr.Tab(...)`)."""
    c = SimpleNamespace()
    gr.Markdown("Train the linear projection on the active embeddings (a share of the clips is held "
                "out for validation). Same as `python -m clapdemo train`.")
    with gr.Row():
        c.epochs = gr.Number(50, label="epochs", precision=0, minimum=1, elem_id="epochs")
        c.batch_size = gr.Number(256, label="batch size", precision=0, minimum=2, elem_id="batch-size")
        c.lr = gr.Number(0, label="learning rate (0: follows the init)", minimum=0, elem_id="lr")
        c.weight_decay = gr.Number(1e-4, label="weight decay", elem_id="weight-decay")
    with gr.Row():
        c.init = gr.Dropdown(list(INITS), value=DEFAULT_INIT, label="start from", elem_id="init",
                             info="audioset-labels: the text vectors of the 527 AudioSet label names "
                             "(stores of EfficientAT logits; best on unseen classes); auto: that when "
                             "the store allows, else random")
        c.learn_t = gr.Checkbox(True, label="learnable temperature", elem_id="learn-temperature")
        c.patience = gr.Number(10, label="early-stop patience (0 = never)", precision=0, minimum=0,
                               elem_id="patience")
        c.val_fraction = gr.Number(0.1, label="validation share", minimum=0.01, maximum=0.9, elem_id="val-fraction")
    c.label_pairs = gr.Textbox("", label="also train on label pairs (a store folder; optional)", elem_id="label-pairs",
                               info="captions against AudioSet labels, no audio: `python -m clapdemo precompute "
                               "--dataset audiocaps-labels` (docs/training.md, 'Label pairs')")
    with gr.Row():
        c.start = gr.Button("Start training", variant="primary", elem_id="train-start")
        c.stop = gr.Button("Stop", elem_id="train-stop")
        c.use_run = gr.Button("Use this projection", elem_id="use-run")
        c.use_shipped = gr.Button("Use the shipped projection", elem_id="use-shipped")
    with gr.Row():
        c.past = gr.Dropdown([], label="your past runs of the active store (finished or cut short)",
                             elem_id="past-runs", scale=4)
        c.past_refresh = gr.Button("↻ runs", elem_id="past-refresh", scale=0)
        c.make_active = gr.Button("Make active", elem_id="make-active", scale=0)
    c.status = gr.Markdown(elem_id="train-status")
    c.plot = gr.Plot(label="loss curve", elem_id="loss-curve")
    c.metrics = table("train-metrics", "validation metrics of the best epoch (the held-out validation share)",
                      NAME, *(TIMES if column == "x random" else column for column in EVAL_COLUMNS))
    return c


def wire(h: TrainTab, ui) -> None:
    """The tab's events; `ui` holds every tab's components, the session and the header."""
    c, session = ui.train, ui.session
    on(c.start.click, h.train,
       [session, c.epochs, c.batch_size, c.lr, c.weight_decay, c.learn_t, c.patience, c.val_fraction, c.init,
        c.label_pairs],
       [c.plot, c.status, c.metrics], c.status, **ui.long_job)
    on(c.stop.click, lambda s: h.stop(s, "train"), [session], [c.status], c.status, concurrency_limit=None)
    on(c.use_run.click, h.use_last_run, [session], [c.status, ui.header], c.status)
    on(c.use_shipped.click, h.use_shipped, [session], [c.status, ui.header], c.status)
    on(c.make_active.click, h.use_run, [session, c.past], [c.status, ui.header], c.status)
    on(c.past_refresh.click, h.run_choices, [session], [c.past], c.status)
    ui.train_tab.select(h.run_choices, [session], [c.past])
