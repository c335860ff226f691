"""The app's "Library" tab: index a folder of your own sounds and search it.

Same library calls as the CLI: `python -m clapdemo index FOLDER` (index_folder)
and `python -m clapdemo search --store INDEX --text/--audio/--clip ... --export`.
Every result has a player for the span that matched (the window cut out into
the cache), a "whole file" button and a "more like this" button; results can be
downloaded as CSV and JSON.

Where the index lives: FOLDER/.clapdemo-index when it exists (made by the CLI),
else a folder in the app's cache (the user's folder is never written to by the
app). A path that is itself an index (holds manifest.json) is opened as is.
"""

from __future__ import annotations

import hashlib
import html
import shutil
from functools import lru_cache
from pathlib import Path

import gradio as gr
import pandas as pd

N_HITS = 5  # results with a player and buttons
COLUMNS = ("rank", "score", "relevance", "file", "span", "caption")


class LibraryHandlers:
    """The Library tab's buttons; the per-session state is the index path and the shown hits."""

    def __init__(self, settings, encoders):
        self.settings = settings
        self.encoders = encoders  # () -> (audio encoder, text encoder), loaded once per process

    # ---- where things live ---------------------------------------------------------

    def index_dir(self, folder: Path) -> Path:
        if (folder / "manifest.json").is_file():
            return folder
        from clapdemo.library import default_index_dir

        if default_index_dir(folder).is_dir():
            return default_index_dir(folder)
        tag = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:12]
        return self.settings.cache / "library" / f"{folder.name}-{tag}"

    def _servable(self, path: str) -> str:
        """A path the app may serve: inside the data root or the cache, else a copy in the cache."""
        resolved = Path(path).resolve()
        roots = [self.settings.cache.resolve()] + ([self.settings.data_root.resolve()] if self.settings.data_root else [])
        if any(resolved.is_relative_to(r) for r in roots):
            return str(resolved)
        copy = self.settings.cache / "library-files" / f"{_tag(str(resolved))}{resolved.suffix}"
        if not copy.is_file():
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(resolved, copy)
        return str(copy)

    def cut(self, path: str, start: float, end: float) -> str:
        """The span [start, end) of a file as a WAV in the cache (what the player plays)."""
        import soundfile as sf

        from clapdemo.audio import load_audio

        out = self.settings.cache / "library-spans" / f"{_tag(path)}-{start:.1f}-{end:.1f}.wav"
        if not out.is_file():
            rate = self.encoders()[0].sample_rate
            out.parent.mkdir(parents=True, exist_ok=True)
            sf.write(out, load_audio(path, rate, end - start, offset=start), rate)
        return str(out)

    # ---- handlers ------------------------------------------------------------------

    def open_index(self, folder_text: str):
        """`python -m clapdemo index FOLDER`: embed new and changed files, then open the index."""
        from clapdemo.library import index_folder

        folder = Path((folder_text or "").strip()).expanduser()
        if not folder_text or not folder.is_dir():
            raise gr.Error(f"{folder_text or '(empty)'}: not a folder. Type the path of a folder of audio files.",
                           duration=None)
        index = self.index_dir(folder)
        if index == folder:
            return str(index), f"Opened the index **{html.escape(str(index))}**."
        audio, text = self.encoders()
        try:
            report = index_folder(folder, audio, text, index, progress=False)
        except (ValueError, OSError) as error:
            raise gr.Error(f"Indexing {folder}: {error}", duration=None) from error
        failed = "".join(f"\n- skipped {html.escape(c)}: {html.escape(r)}" for c, r in list(report.failed.items())[:10])
        return str(index), f"Index ready: {html.escape(report.summary())}{failed}"

    def _searcher(self, index: str | None, projection: str):
        if not index:
            raise gr.Error("Open a folder first (type its path and press “Open / update index”).")
        from clapdemo.ui import _projection_file, _store_signature

        file = _projection_file(projection or self.settings.projection)
        try:
            return _library_searcher(str(file), file.stat().st_mtime_ns, index, _store_signature(index))
        except (ValueError, OSError) as error:
            raise gr.Error(f"Opening {index}: {error}", duration=None) from error

    def search_text(self, index, projection, query, k):
        """`python -m clapdemo search --store INDEX --text QUERY`: files with the span that matched."""
        if not (query or "").strip():
            raise gr.Error("Type what you want to hear first, e.g. “dog barking”.")
        hits = self._searcher(index, projection).text_to_audio(query, int(k))
        return self._show(index, hits, f"Top {len(hits)} files for “{html.escape(query.strip())}”")

    def search_audio(self, index, projection, path, k):
        """`python -m clapdemo search --store INDEX --audio FILE`: the nearest files to a clip or recording."""
        if not path:
            raise gr.Error("Upload a clip or record one with the microphone first.")
        try:
            hits = self._searcher(index, projection).audio_to_audio(path, int(k))
        except ValueError as error:  # AudioError names the file and the problem
            raise gr.Error(str(error), duration=None) from error
        return self._show(index, hits, f"Top {len(hits)} files like {html.escape(Path(path).name)}")

    def more_like(self, index, projection, hits, i, k):
        """`python -m clapdemo search --store INDEX --clip ID`: "more like this" on result i."""
        if not hits or i >= len(hits):
            raise gr.Error("No result there yet: search first.")
        clip_id = hits[i]["clip_id"]
        found = self._searcher(index, projection).audio_to_audio(clip_id, int(k))
        return self._show(index, found, f"Top {len(found)} files like {html.escape(clip_id)}")

    def whole_file(self, hits, i):
        if not hits or i >= len(hits):
            raise gr.Error("No result there yet: search first.")
        hit = hits[i]
        return gr.update(value=self._servable(hit["audio_path"]), label=f"{hit['rank']}. {hit['clip_id']} (whole file)")

    def _show(self, index, hits, note):
        """Table, players (the matched span cut out), hits for the buttons, export files."""
        from clapdemo.library import export_hits
        from clapdemo.windows import format_span

        table = pd.DataFrame([{"rank": h.rank, "score": round(h.score, 3), "relevance": f"{h.relevance:.0%}",
                               "file": h.clip_id, "span": format_span(h.start, h.end), "caption": h.caption}
                              for h in hits], columns=list(COLUMNS))
        players = []
        for h in hits[:N_HITS]:
            span = format_span(h.start, h.end)
            value = self.cut(h.audio_path, h.start, h.end) if span else self._servable(h.audio_path)
            players.append(gr.update(value=value, visible=True, label=f"{h.rank}. {h.clip_id} {span or '(whole file)'}"))
        players += [gr.update(value=None, visible=False) for _ in range(N_HITS - len(players))]
        buttons = [gr.update(visible=i < len(hits)) for i in range(N_HITS) for _ in range(2)]
        out = self.settings.cache / "library-exports" / _tag(index + note)
        files = [str(export_hits({"clips": hits}, out / f"results.{ext}")) for ext in ("csv", "json")]
        return note, table, [h.to_dict() for h in hits], *players, *buttons, files


@lru_cache(maxsize=8)
def _library_searcher(projection_file: str, mtime: int, index: str, signature: tuple):
    from clapdemo.runs import open_searcher

    return open_searcher(projection_file, index)


def _tag(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def build_library_tab(settings, encoders, session) -> None:
    """The Library tab's components and wiring (call inside `with gr.Tab(...)`)."""
    h = LibraryHandlers(settings, encoders)
    index = gr.State(None)
    hits = gr.State([])
    projection = gr.State(lambda: str(settings.projection))
    gr.Markdown("Index a folder of your own sounds (long files are cut in 10 s windows every 5 s) and search it "
                "by text, by a clip or with the microphone. Same as `python -m clapdemo index FOLDER`.")
    with gr.Row():
        folder = gr.Textbox(str(settings.data_root or ""), label="folder of audio files (or an index)",
                            elem_id="library-folder", scale=4)
        open_btn = gr.Button("Open / update index", variant="primary", elem_id="library-open")
    status = gr.Markdown(elem_id="library-status")
    with gr.Row():
        query = gr.Textbox(label="describe a sound", placeholder="dog barking", elem_id="library-query", scale=4)
        k = gr.Slider(1, 20, value=5, step=1, label="results", elem_id="library-k")
        search_btn = gr.Button("Search", variant="primary", elem_id="library-search")
    with gr.Row():
        clip = gr.Audio(sources=["upload", "microphone"], type="filepath", label="or a clip / recording",
                        elem_id="library-clip")
        similar_btn = gr.Button("Find similar files", elem_id="library-similar")
    note = gr.Markdown(elem_id="library-note")
    table = gr.Dataframe(pd.DataFrame(columns=list(COLUMNS)), interactive=False, elem_id="library-results",
                         show_label=False)
    players, buttons = [], []
    for i in range(N_HITS):
        with gr.Row():
            players.append(gr.Audio(visible=False, interactive=False, elem_id=f"library-hit-{i}", scale=4))
            with gr.Column(scale=1, min_width=160):
                more = gr.Button("More like this", visible=False, size="sm", elem_id=f"library-more-{i}")
                whole = gr.Button("Whole file", visible=False, size="sm", elem_id=f"library-whole-{i}")
                buttons += [more, whole]
    export = gr.File(label="export (CSV, JSON)", file_count="multiple", interactive=False, elem_id="library-export")

    shown = [note, table, hits, *players, *buttons, export]
    if session is not None:  # follow the session's active projection (Train tab), else the settings'
        projection = session
    get_projection = (lambda s: s.projection or str(settings.projection)) if session is not None else (lambda p: p)

    open_btn.click(h.open_index, [folder], [index, status])
    folder.submit(h.open_index, [folder], [index, status])
    search_btn.click(lambda ix, s, q, n: h.search_text(ix, get_projection(s), q, n), [index, projection, query, k], shown)
    query.submit(lambda ix, s, q, n: h.search_text(ix, get_projection(s), q, n), [index, projection, query, k], shown)
    similar_btn.click(lambda ix, s, p, n: h.search_audio(ix, get_projection(s), p, n), [index, projection, clip, k],
                      shown)
    for i in range(N_HITS):
        buttons[2 * i].click(lambda ix, s, hs, n, i=i: h.more_like(ix, get_projection(s), hs, i, n),
                             [index, projection, hits, k], shown)
        buttons[2 * i + 1].click(lambda hs, i=i: h.whole_file(hs, i), [hits], [players[i]])
