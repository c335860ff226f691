"""The "Evaluate" tab: the active projection's metrics on a store, beside ceilings and chance.

Same library calls as `python -m clapdemo evaluate --run PROJECTION --store STORE` (in-sample on
purpose when asked: the note says so), plus `evaluation.evaluate.extreme_queries` (`--extremes N` there).
"""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import pandas as pd

from clapdemo.app.core import AppCore
from clapdemo.app.errors import on, user_errors
from clapdemo.app.session import Session
from clapdemo.app.widgets import EVAL_COLUMNS, N_EXTREMES, NAME, TIMES, audio_update, plain_table, table, file_name


class EvaluateTab(AppCore):
    def evaluate(self, session: Session, store_choice: str | None, held_out: bool = False):
        """`python -m clapdemo evaluate --run PROJECTION --store STORE`, plus best and worst queries.

        Each figure is shown beside its ceiling (`metrics.best_possible`: repeated captions cap
        text->audio) and chance; `held_out` leaves out the clips the projection was trained on."""
        from clapdemo.evaluation import plots
        from clapdemo.training.model import projection_file
        from clapdemo.evaluation.evaluate import evaluate_run, extreme_queries, metrics_table
        from clapdemo.evaluation.held_out import one_caption_per_clip

        store = self.store_by_name(session, store_choice) if store_choice else None  # a name, never a path
        if store and store != session.store_dir:
            session = Session(id=session.id, store_dir=store, projection=session.projection)
        searcher = self.searcher(session)
        if searcher.embeddings.n_captions == 0:  # e.g. your own clips uploaded without a captions.csv
            raise gr.Error(f"The clips of {file_name(session.store_dir)} have no captions, and Evaluate measures how "
                           "well clips and their captions find each other. Upload them again with a captions.csv "
                           "(columns file,caption), or evaluate on the sample set.", duration=None)
        emb, sample = searcher.embeddings, self.sample_note(session, searcher.embeddings, held_out)
        if held_out:
            searcher = self.held_out_searcher(session, searcher)
            emb = searcher.embeddings
        with user_errors("Evaluation"):  # in-sample on purpose when asked: the note says so
            metrics = evaluate_run(projection_file(session.projection), emb, allow_overlap=True)
        table_ = plain_table(metrics_table(metrics))
        course = table_[table_["metric"].str.contains("acc@")]
        papers = table_[~table_["metric"].str.contains("acc@")]
        note = (f"**{self.projection_name(session.projection).strip('`')}** on **{file_name(session.store_dir)}**: "
                f"{emb.n_clips} clips, {emb.n_captions} captions ({len(set(emb.captions))} distinct). accuracy@k: "
                f"each clip with its first caption, candidates = the whole split ({metrics['n_course_pairs']} pairs). "
                "*best possible*: identical captions rank their clips alike, so only one of them can be first "
                "(text→audio); a tie counts as a hit, and chance counts ties the same way.  \n" + sample)
        if one_caption_per_clip(emb):
            note += " Each clip has one caption here, so R@k equals accuracy@k."
        fig = plots.metrics_vs_random(metrics, keys=list(course["metric"]), title="accuracy@k: model vs random")
        extremes, players = extremes_table(extreme_queries(searcher, N_EXTREMES))
        return note, course, papers, fig, extremes, legend(table_, metrics, emb), *players

    def sample_note(self, session: Session, emb, held_out: bool) -> str:
        """Which of these clips the projection was trained on: in-sample numbers are marked as such."""
        from clapdemo.evaluation.held_out import sample_status

        status = sample_status(session.projection, emb)  # by id or identical audio
        if status.recorded:
            inside = status.inside
            if held_out:
                return (f"**Held out:** only the {emb.n_clips - inside} clips the projection never saw "
                        f"({inside} training and validation clips left out)"
                        + ("; their classes are ones it trained on: held-out clips of seen classes, not "
                           "zero-shot." if status.seen_classes else "."))
            return (f"⚠ **In-sample:** the projection was trained (or validated) on {inside} of these "
                    f"{emb.n_clips} clips; tick "
                    "*held-out clips only* for numbers on the rest." if inside else
                    "**Held out:** the projection was trained on none of these clips.")
        if held_out:
            raise gr.Error("This projection does not record which clips it was trained on (runs trained in this "
                           "app do): evaluate it on a split it was not trained on instead.", duration=None)
        if status.same_dataset:
            return ("⚠ **In-sample:** the projection was trained on this dataset split (its clip list is not "
                    "recorded): expect optimistic numbers; precompute another split to test it on unseen clips.")
        return "The projection was trained on another dataset or split: these clips are unseen."

    def held_out_searcher(self, session: Session, searcher):
        """A Searcher over the clips the projection never saw (neither trained nor validated on)."""
        from clapdemo.evaluation.held_out import TooFewHeldOut, held_out_searcher

        try:
            return held_out_searcher(session.projection, searcher)
        except TooFewHeldOut as error:
            raise gr.Error(f"Only {error.n_held_out} of these {error.n_clips} clips were left out of training: too "
                           "few to evaluate: untick *held-out clips only* for in-sample numbers, or evaluate on "
                           "another split.", duration=None) from error


def legend(table_: pd.DataFrame, metrics: dict, emb) -> str:
    """What each row and column means, one line each, and why clip → caption top 3 may equal top 1."""
    from clapdemo.evaluation.metrics import COLUMN_MEANINGS, describe_metric, first_caption_of_each_clip

    lines = ["**What the figures mean** (all are shares of queries, 0 to 1):"]
    lines += [f"- *{name}* (`{key}`): {describe_metric(key)[1]}" for name, key in zip(table_[NAME], table_["metric"])]
    lines += [f"- *{TIMES if column == 'x random' else column}*: {meaning}" for column, meaning in COLUMN_MEANINGS.items()]
    first = first_caption_of_each_clip(emb.text_clip, emb.n_clips)
    candidates = [emb.captions[j] for j in first if j >= 0]
    copies = pd.Series(candidates).value_counts()
    if len(copies) < len(candidates):
        fewest = int(copies.min())
        why = (f"**Why clip → caption top 3 {'equals' if metrics.get('a2t_acc@3') == metrics.get('a2t_acc@1') else 'is close to'} "
               f"top 1 here:** the {len(candidates)} candidate captions hold only {len(copies)} distinct ones "
               f"({'ESC-50 gives all clips of a class one caption' if emb.labels else 'clips share captions'}), "
               f"each on {fewest} or more clips. "
               "Copies of a caption score alike, so a wrong caption that beats the right one takes all its copies' "
               f"places at once: a clip that misses first place lands at rank {fewest + 1} or lower")
        lines.append(why + (", never 2 or 3." if fewest >= 3 else ".")
                     + f" *clip → class name* counts each of the {len(copies)} once, as do the best and worst "
                       "queries below.")
    return "\n".join(lines)


RANK = "rank of right answer (1 = first)"


def extremes_table(records: list[dict]) -> tuple[pd.DataFrame, list]:
    """`evaluation.evaluate.extreme_queries` as the tab's table, and a player for each audio query."""
    rows, players = [], []
    for r in records:
        audio = r["direction"] == "audio→text"
        rank = (f"{r['rank']} of {r['out_of']} distinct captions" if audio else
                f"{r['rank']:.1f} of {r['out_of']} clips (mean over its clips)")
        rows.append({"query": f"{r['kind']}: clip {r['query']}" if audio else f"{r['kind']}: “{r['query']}”",
                     "direction": r["direction"], RANK: rank,
                     "right answer": r["right_answer"], "model's top answer": r["top_answer"]})
        if audio:
            players.append(audio_update(r["audio_path"], f"{r['kind']} audio query {r['query']}: "
                                                         f"{rank} ({r['right_answer']})"))
    players += [audio_update() for _ in range(2 * N_EXTREMES - len(players))]
    return pd.DataFrame(rows), players


def build() -> SimpleNamespace:
    """The tab's components (call inside `with gr.Tab(...)`)."""
    c = SimpleNamespace()
    with gr.Row():
        c.store = gr.Dropdown([], label="evaluate on store (default: the active one)", allow_custom_value=False,
                              elem_id="eval-store", scale=3)
        c.refresh = gr.Button("↻ stores", elem_id="eval-refresh", scale=0)
        c.held_out = gr.Checkbox(True, label="held-out clips only", elem_id="eval-held-out",
                                 info="leave out the clips the projection was trained or validated on")
        c.run = gr.Button("Evaluate the active projection", variant="primary", elem_id="evaluate")
    c.note = gr.Markdown(elem_id="eval-note")
    columns = [NAME, *(TIMES if column == "x random" else column for column in EVAL_COLUMNS)]
    c.table = table("eval-table", "top-k accuracy, one caption per clip (the course's protocol), beside chance",
                    *columns)
    c.plot = gr.Plot(label="model vs random", elem_id="eval-plot")
    c.papers = table("eval-papers", "top-k over every caption, and ranking quality (the papers' protocol)", *columns)
    c.legend = gr.Markdown(elem_id="eval-legend")  # one line per figure: what it means
    c.extremes = table("eval-extremes", "best and worst queries", "query", "direction", RANK,
                       "right answer", "model's top answer")
    with gr.Row():
        c.players = [gr.Audio(visible=False, interactive=False, elem_id=f"extreme-{i}") for i in range(2 * N_EXTREMES)]
    return c


def wire(h: EvaluateTab, ui) -> None:
    """The tab's events; `ui` holds every tab's components, the session and the header."""
    c, session = ui.evaluate, ui.session
    outputs = [c.note, c.table, c.papers, c.plot, c.extremes, c.legend, *c.players]
    on(c.refresh.click, h.store_choices, [session], [c.store], c.note)
    on(c.run.click, h.evaluate, [session, c.store, c.held_out], outputs, c.note)
    # opening the tab shows the active projection on the active store at once (held out by default)
    on(ui.evaluate_tab.select(h.store_choices, [session], [c.store]).then, h.evaluate,
       [session, c.store, c.held_out], outputs, c.note)
