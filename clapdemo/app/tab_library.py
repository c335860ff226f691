"""The "Library" tab: index a library of sounds and search it.

Same library calls as the CLI: `python -m clapdemo index FOLDER` (index_folder)
and `python -m clapdemo search --store INDEX --text/--audio/--clip ... --export`.
Every result has a player for the span that matched (the window cut out into
the cache), a "whole file" button and a "more like this" button; results can be
downloaded as CSV and JSON.

What a visitor may open (the app may be a public Space):
- an upload: audio files or a zip of them, copied into the session's own folder
  under the cache (library.import_uploads), within the upload limits;
- a folder of the server only below a root the owner configured: the data root
  (CLAPDEMO_DATA_ROOT) and the folders in CLAPDEMO_LIBRARY_ROOTS
  (os.pathsep-separated). With neither, no server folder opens. Paths are
  resolved (links followed) before the check;
- a file is played or served only from inside those roots or the uploads:
  never from elsewhere, whatever an index says.

Where the index lives: FOLDER/.clapdemo-index when it exists (made by the CLI),
else a folder in the app's cache (the user's folder is never written to by the
app). A path that is itself an index (holds manifest.json) is opened as is.
"""

from __future__ import annotations

import html

import gradio as gr
import pandas as pd

from clapdemo.app.errors import on  # errors go to this tab's status lines, never a toast
from clapdemo.app.served import served
from clapdemo.app.settings import below_roots
from clapdemo.app.widgets import SHARE, file_name
from clapdemo.search.library_access import ROOTS_SETTING  # named in the messages

N_HITS = 5  # results with a player and buttons
COLUMNS = ("rank", "score", SHARE, "file", "span", "caption")  # SHARE: as Try it names the percentage


class LibraryHandlers:
    """The Library tab's buttons; the per-session state is the index path, the upload folder and the shown hits.
    What may be opened, played and served is `search.library_access.LibraryAccess`'s to decide."""

    def __init__(self, settings, encoders, env=None):
        from clapdemo.search.library_access import LibraryAccess

        self.settings = settings
        self.encoders = encoders  # () -> (audio encoder, text encoder), loaded once per process
        self.access = LibraryAccess(settings.cache, settings.data_root, env, below_roots)
        self.roots, self.uploads = self.access.roots, self.access.uploads

    # ---- where things live ---------------------------------------------------------

    def allowed_folder(self, folder_text: str):
        """The typed folder, resolved, if it lies below a library root; else a gr.Error (checked
        before anything is looked at, so a refusal says nothing about what exists)."""
        from clapdemo.search.library_access import FolderRefused

        try:
            return self.access.open_folder(folder_text)
        except FolderRefused as refused:
            if refused.reason == "no roots":
                raise gr.Error("This app opens no folders of the server: upload your sounds instead (audio files or "
                               f"a zip). The owner can list folders visitors may open in {ROOTS_SETTING}.",
                               duration=None) from None
            if refused.reason == "not allowed":
                raise gr.Error(f"{folder_text or '(empty)'}: not a folder this app may open. Use the data folder or "
                               f"one listed in {ROOTS_SETTING}, or upload your sounds.", duration=None) from None
            raise gr.Error(f"{folder_text}: not a folder. Type the path of a folder of audio files.",
                           duration=None) from None

    def _inside(self, path: str):
        """`path` resolved, if `LibraryAccess.inside` allows it; else a gr.Error."""
        resolved = self.access.inside(path)
        if resolved is None:
            raise gr.Error(f"{file_name(path)}: outside the library folders this app may serve; not sent.",
                           duration=None)
        return resolved

    def _servable(self, path: str) -> str:
        """A path the app may serve: inside the data root as it is, else a copy under a name no other
        visitor can derive (`served`: the cache, where uploads live, is never served by its path)."""
        resolved = self._inside(path)
        return str(resolved) if self.access.serve_as_is(resolved) else served(resolved)

    def cut(self, path: str, start: float, end: float) -> str:
        """The span [start, end) of a file as a WAV in the cache (what the player plays)."""
        return served(self.access.cut_span(self._inside(path), start, end, self.encoders()[0].sample_rate))

    # ---- handlers ------------------------------------------------------------------

    def open_index(self, folder_text: str):
        """`python -m clapdemo index FOLDER` on a folder below a library root, then open the index."""
        folder = self.allowed_folder(folder_text)
        index = self.access.index_dir(folder)
        if index == folder:
            return str(index), f"Opened the index **{html.escape(file_name(index))}**."
        return str(index), self._index(folder, index)

    def upload_library(self, paths, folder: str | None, session=None):
        """A visitor's library: the uploaded files (or zip) into the session's own folder
        (library-uploads/SESSION/..., deleted with the session), within the upload limits and the disk
        quotas, indexed beside it. A second upload adds to the same folder. Returns (index, folder, status)."""
        from clapdemo.search.visitor_work import ServerBusy, upload_index_slot

        s = self.settings
        if not paths:
            raise gr.Error(f"Choose audio files (or one zip of them) to upload first ({s.upload_limits()}).",
                           duration=None)
        owner = session.id if session is not None else None
        target = self.access.upload_folder(owner, folder)
        try:  # UPLOAD_INDEX_SLOTS uploads unpacked and indexed at once; the next is told to try again
            with upload_index_slot():
                return self._import_and_index(paths, target)
        except ServerBusy as error:
            raise gr.Error(str(error), duration=None) from error

    def _import_and_index(self, paths, target):
        """`upload_library`'s work, done while it holds an index slot."""
        from clapdemo.data.audio import check_upload
        from clapdemo.search.library_access import holds_files, upload_index_dir
        from clapdemo.search.visitor_uploads import import_uploads

        s = self.settings
        imported, skipped = import_uploads(
            paths, target, int(s.max_upload_mb * 1e6), quota=s.upload_quota(file_name(target.parent)),
            check=lambda p: check_upload(p, s.max_upload_mb, s.max_upload_seconds))
        if not imported and not holds_files(target):
            raise gr.Error("Nothing to index: " + "; ".join(f"{n}: {w}" for n, w in skipped.items()), duration=None)
        index = upload_index_dir(target)  # beside the upload: deleted with the session
        status = self._index(target, index, self.settings.max_upload_seconds)
        status += "".join(f"\n- not uploaded {html.escape(n)}: {html.escape(w)}" for n, w in skipped.items())
        return str(index), str(target), status

    def _index(self, folder, index, max_seconds: float | None = None) -> str:
        """Index `folder` into `index`; the status line, with every skipped file and why. When another
        session is updating the same index, its files indexed so far are opened as they are."""
        from clapdemo.search.folder_index import index_folder
        from clapdemo.stores.store import Store, StoreBusy

        audio, text = self.encoders()
        try:
            report = index_folder(folder, audio, text, index, progress=False, max_seconds=max_seconds)
        except StoreBusy:
            if not Store(index).exists():
                raise gr.Error(f"{file_name(folder)}: another session is indexing it for the first time; "
                               "open it again in a minute.", duration=None) from None
            return ("Opened as it is: another session is updating this index right now. "
                    "Press “Open / update index” again later to see the files it adds.")
        except (ValueError, OSError) as error:
            raise gr.Error(f"Indexing {file_name(folder)}: {error}", duration=None) from error
        skipped = "".join(f"\n- {html.escape(line)}" for line in report.skipped_lines())
        return f"Index ready ({html.escape(file_name(folder))}): {html.escape(report.summary(paths=False))}{skipped}"

    def _searcher(self, index: str | None, projection: str):
        if not index:
            raise gr.Error("Open a folder first (type its path and press “Open / update index”).")
        from clapdemo.search.searchers import cached_searcher

        try:
            return cached_searcher(projection or self.settings.projection, index)
        except (ValueError, OSError) as error:
            raise gr.Error(f"Opening {file_name(index)}: {error}", duration=None) from error

    def search_text(self, index, projection, query, k):
        """`python -m clapdemo search --store INDEX --text QUERY`: files with the span that matched."""
        if not (query or "").strip():
            raise gr.Error("Type what you want to hear first, e.g. “dog barking”.")
        hits = self._searcher(index, projection).text_to_audio(query, int(k))
        return self._show(index, hits, f"Top {len(hits)} files for “{html.escape(query.strip())}”")

    def search_audio(self, index, projection, path, k):
        """`python -m clapdemo search --store INDEX --audio FILE`: the nearest files to a clip or recording.

        Bounded work per query (three parallel 590 s, 8-channel, 192 kHz queries took 1 GB each): only
        the file's first QUERY_SECONDS are decoded and heard, and at most AUDIO_QUERY_SLOTS audio
        queries run at once; the next one waits a few seconds, then is told the app is busy."""
        s = self.settings
        if not path:
            raise gr.Error(f"Upload a clip or record one with the microphone first ({s.upload_limits()}).",
                           duration=None)
        from clapdemo.data.audio import AudioError
        from clapdemo.search.visitor_work import QUERY_SECONDS, ServerBusy, audio_query

        searcher, name = self._searcher(index, projection), file_name(path)
        try:  # a visitor's file: the upload limits, then its first seconds decoded as a stream
            hits, seconds = audio_query(searcher, path, int(k), s.max_upload_mb, s.max_upload_seconds)
        except AudioError as error:
            raise gr.Error(f"{name}: {error.problem}", duration=None) from error
        except (ValueError, ServerBusy) as error:
            raise gr.Error(str(error), duration=None) from error
        heard = f" (its first {QUERY_SECONDS:g} s heard)" if seconds > QUERY_SECONDS else ""
        return self._show(index, hits, like_note(searcher, hits, name) + heard)

    def more_like(self, index, projection, hits, i, k):
        """`python -m clapdemo search --store INDEX --clip ID`: "more like this" on result i."""
        if not hits or i >= len(hits):
            raise gr.Error("No result there yet: search first.")
        clip_id, searcher = hits[i]["clip_id"], self._searcher(index, projection)
        found = searcher.audio_to_audio(clip_id, int(k))
        return self._show(index, found, like_note(searcher, found, clip_id))

    def whole_file(self, hits, i):
        if not hits or i >= len(hits):
            raise gr.Error("No result there yet: search first.")
        hit = hits[i]
        return gr.update(value=self._servable(hit["audio_path"]), label=f"{hit['rank']}. {hit['clip_id']} (whole file)")

    def _show(self, index, hits, note):
        """Table, players (the matched span cut out), hits for the buttons, export files."""
        from clapdemo.search.hit_export import export_hits
        from clapdemo.encoders.windows import format_span

        table = pd.DataFrame([{"rank": h.rank, "score": round(h.score, 3), SHARE: f"{h.relevance:.0%}",
                               "file": h.clip_id, "span": format_span(h.start, h.end), "caption": h.caption}
                              for h in hits], columns=list(COLUMNS))
        players = []
        for h in hits[:N_HITS]:
            span = format_span(h.start, h.end)
            value = self.cut(h.audio_path, h.start, h.end) if span else self._servable(h.audio_path)
            players.append(gr.update(value=value, visible=True, label=f"{h.rank}. {h.clip_id} {span or '(whole file)'}"))
        players += [gr.update(value=None, visible=False) for _ in range(N_HITS - len(players))]
        buttons = [gr.update(visible=i < len(hits)) for i in range(N_HITS) for _ in range(2)]
        out = self.access.export_dir(index + note)
        files = [served(export_hits({"clips": hits}, out / f"results.{ext}", with_paths=False)) for ext in ("csv", "json")]
        return note, table, [h.to_dict() for h in hits], *players, *buttons, files


def like_note(searcher, hits, name: str) -> str:
    """The note above "files like NAME": how many, or that there is nothing else to compare with
    (a one-file library said "Top 0 files like long60.wav")."""
    if hits:
        return f"Top {len(hits)} files like {html.escape(name)}"
    n = len(searcher.embeddings.clip_ids)
    holds = "no files" if n == 0 else "only this one file" if n == 1 else f"{n} files"
    return (f"Nothing else to compare {html.escape(name)} with: the library holds {holds}. "
            "Upload more sounds to find similar ones.")


def build_library_tab(settings, encoders, session) -> None:
    """The Library tab's components and wiring (call inside `with gr.Tab(...)`)."""
    h = LibraryHandlers(settings, encoders)
    index = gr.State(None)
    hits = gr.State([])
    projection = gr.State(lambda: str(settings.projection))
    upload_dir = gr.State(None)  # this session's own folder of uploaded sounds
    gr.Markdown("Upload your own sounds (audio files or a zip; long files are cut in 10 s windows every 5 s) "
                "and search them by text, by a clip or with the microphone. Same as "
                "`python -m clapdemo index FOLDER`.")
    with gr.Row():
        uploads = gr.File(file_count="multiple", file_types=["audio", ".zip"], elem_id="library-upload", scale=4,
                          label=f"your sounds: audio files or a zip (up to {settings.max_upload_mb:g} MB and "
                          f"{settings.max_upload_seconds / 60:g} min a file)")
        upload_btn = gr.Button("Index my upload", variant="primary", elem_id="library-upload-index")
    with gr.Row(visible=bool(h.roots)):  # server folders only below a root the owner configured
        folder = gr.Textbox(file_name(settings.data_root) if settings.data_root else "", elem_id="library-folder", scale=4,
                            label=f"or a folder of the server: the data folder by its name, a folder below it "
                            f"(name/sub), or one below {ROOTS_SETTING}")
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

    on(upload_btn.click, h.upload_library, [uploads, upload_dir] + ([session] if session is not None else []),
       [index, upload_dir, status], status)
    on(open_btn.click, h.open_index, [folder], [index, status], status)
    on(folder.submit, h.open_index, [folder], [index, status], status)
    on(search_btn.click, lambda ix, s, q, n: h.search_text(ix, get_projection(s), q, n), [index, projection, query, k],
       shown, note)
    on(query.submit, lambda ix, s, q, n: h.search_text(ix, get_projection(s), q, n), [index, projection, query, k],
       shown, note)
    on(similar_btn.click, lambda ix, s, p, n: h.search_audio(ix, get_projection(s), p, n),
       [index, projection, clip, k], shown, note)
    for i in range(N_HITS):
        on(buttons[2 * i].click, lambda ix, s, hs, n, i=i: h.more_like(ix, get_projection(s), hs, i, n),
           [index, projection, hits, k], shown, note)
        on(buttons[2 * i + 1].click, lambda hs, i=i: h.whole_file(hs, i), [hits], [players[i]], note)
