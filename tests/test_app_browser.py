"""End to end in a real browser: `python app.py` on a free port, driven by headless Chromium.

Visits every tab of the app with a small ESC-50 subset (7 classes, real clips):
precompute, a training run with the Train tab's defaults whose validation loss
falls, a long run whose loss curve is seen growing while it runs (which a second
browser session can neither see nor stop, and which a page reload does not
stop), evaluation against
the random baseline, a text search, an upload, the UMAP plot; then bad input
on an app pointed at a wrong data folder: each error in its tab's status line,
rendered, with no toast. Screenshots go to
test-output/browser/ (always one at the end of each test, and one named
FAILED-<step> when a step fails). With CLAPDEMO_SAVE_SCREENSHOT=1 the Train
tab is also saved as assets/screenshot.png for the README.

Needs Debian's chromium at /usr/bin/chromium and the Python package playwright
(never `playwright install`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from clapdemo.training.projection_init import DEFAULT_LR
from conftest import ESC50, REPO, WEIGHTS, copy_esc50_subset
from test_app_sample import zip_of_own_clips

CHROMIUM = Path(os.environ.get("CLAPDEMO_CHROMIUM", "/usr/bin/chromium"))
OUT = REPO / "test-output" / "browser"
CLASSES = ("dog", "rain", "rooster", "cat", "church_bells", "siren", "chainsaw")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]

sync_api = pytest.importorskip("playwright.sync_api", reason="the Python package playwright is not installed")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"no chromium at {CHROMIUM} (apt-get install chromium)")]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def small_esc50(tmp_path_factory) -> Path:
    """ESC-50 restricted to a few classes: esc50.csv plus copies of their clips (~57 files, ~11 MB).

    Copies, not symlinks: the app serves clips only from inside its data folder."""
    return copy_esc50_subset(tmp_path_factory.mktemp("esc50-small"), CLASSES)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def app_server(data_root, cache: Path, log_name: str):
    """`python app.py --port P` in a subprocess on `data_root`; yields its URL once it answers."""
    port = _free_port()
    env = dict(os.environ, CLAPDEMO_DATA_ROOT=str(data_root), CLAPDEMO_CACHE=str(cache),
               CLAPDEMO_WEIGHTS_DIR=str(WEIGHTS), CLAPDEMO_TEXT_ENCODER="minilm", HF_HUB_OFFLINE="1",
               CLAPDEMO_MAX_EPOCHS="5000",  # the live-curve step trains 3000 epochs, to reload during them
               TRANSFORMERS_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1")
    env.pop("CLAPDEMO_PROJECTION", None)
    with serving(["--port", str(port)], env, port, log_name) as url:
        yield url


@contextlib.contextmanager
def serving(args: list[str], env: dict, port: int, log_name: str):
    """`python app.py ARGS` with `env`, its output in OUT/log_name; yields its URL once "/" answers."""
    OUT.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}/"
    with open(OUT / log_name, "w") as log:
        proc = subprocess.Popen([sys.executable, "app.py", *args], cwd=REPO, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            _wait_until(lambda: proc.poll() is not None or _answers(url), 120, f"app.py to answer on {url}")
            if proc.poll() is not None:
                raise RuntimeError(f"app.py exited with {proc.returncode}; see {OUT / log_name}")
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True)
        yield browser
        browser.close()


class Shots:
    """Numbered screenshots of one page; `step` also saves one when the step fails."""

    def __init__(self, page, prefix: str):
        self.page, self.prefix, self.n = page, prefix, 0

    def save(self, name: str, full_page: bool = True) -> Path:
        self.n += 1
        path = OUT / f"{self.prefix}-{self.n:02d}-{name}.png"
        with contextlib.suppress(Exception):
            self.page.screenshot(path=str(path), full_page=full_page)
        return path

    @contextlib.contextmanager
    def step(self, name: str):
        try:
            yield
        except BaseException:
            self.save(f"FAILED-{name}")
            raise


def _open(browser, url: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    _wait_header(page)
    return context, page


def _wait_header(page) -> str:
    """The text of the header once page load filled it. It sits in the collapsed "About this
    setup", whose content is drawn on first opening: opened once here, then closed again."""
    if page.locator("#header").count() == 0:
        page.locator("#about").get_by_text("About this setup").click()
        page.locator("#header").wait_for(state="attached")
        page.locator("#about").get_by_text("About this setup").click()
    return _wait_until(lambda: "Text encoder" in (t := page.locator("#header").text_content() or "") and t, 120,
                       "the header filled by page load")


def _tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def _plot_points(page, elem_id: str) -> list[int]:
    """Points per trace of the plotly figure inside #elem_id (empty list: no figure yet)."""
    return page.evaluate(
        """id => { const gd = document.querySelector('#' + id + ' .js-plotly-plot');
                   return gd && gd.data ? gd.data.map(t => (t.x || []).length) : []; }""", elem_id)


def _curve(page) -> tuple[int, int] | None:
    """(points, last epoch) of the loss curve's first trace, None before it has any."""
    return page.evaluate(
        """() => { const gd = document.querySelector('#loss-curve .js-plotly-plot');
                   if (!gd || !gd.data || !gd.data.length || !gd.data[0].x || !gd.data[0].x.length) return null;
                   const x = gd.data[0].x; return [x.length, x[x.length - 1]]; }""")


def _table(page, elem_id: str) -> list[list[str]]:
    """A gradio Dataframe as rows of cell texts, the header first (its body cells carry
    data-testid="cell-<row>-<col>")."""
    return page.evaluate(
        """id => {
            const root = document.querySelector('#' + id);
            const head = Array.from(root.querySelectorAll('[role=columnheader]')).map(c => c.innerText.trim());
            const rows = [];
            for (const cell of root.querySelectorAll('[data-testid^="cell-"]')) {
                const m = cell.getAttribute('data-testid').match(/^cell-(\\d+)-(\\d+)$/);
                if (!m) continue;
                (rows[+m[1]] = rows[+m[1]] || [])[+m[2]] = cell.innerText.trim();
            }
            return [head, ...rows.filter(r => r)];
        }""", elem_id)


def _wait_table(page, elem_id: str, text: str, timeout: float = 60) -> list[list[str]]:
    """The table once one of its body cells contains `text`."""
    return _wait_until(lambda: (rows := _table(page, elem_id)) and any(text in c for r in rows[1:] for c in r if c)
                       and rows, timeout, f"{text!r} in #{elem_id}")


def _wait_until(predicate, timeout: float, what: str, interval: float = 0.25):
    """predicate()'s value once it is truthy, polled every `interval` s; fails naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _upload(page, elem_id: str, *files: Path) -> None:
    """Put `files` into the upload component #elem_id and wait until the server holds them: the
    component then links each by name to its copy on the server (gradio_api/file=.../<name>)."""
    page.locator(f"#{elem_id} input[type=file]").set_input_files([str(f) for f in files])
    for f in files:
        page.wait_for_function(
            """([id, name]) => Array.from(document.querySelectorAll('#' + id + ' a[href]')).some(a => {
                   const href = decodeURIComponent(a.getAttribute('href'));
                   return href.includes('file=') && href.endsWith('/' + name); })""",
            arg=[elem_id, f.name], timeout=60_000)


def _trace(page, elem_id: str, name: str) -> list[float]:
    """The y values of the trace called `name` in the plotly figure inside #elem_id."""
    return page.evaluate(
        """([id, name]) => { const gd = document.querySelector('#' + id + ' .js-plotly-plot');
                             const t = gd && gd.data ? gd.data.find(t => t.name === name) : null;
                             return t ? Array.from(t.y) : []; }""", [elem_id, name])


def _error_in_status(page, elem_id: str, text: str, button: str) -> str:
    """The error `text` shown in the tab's status line #elem_id, rendered (no Markdown marks
    left), with no toast anywhere and #button clickable (nothing on top of it)."""
    status = page.locator(f"#{elem_id}")
    status.get_by_text(text).first.wait_for(timeout=60_000)
    shown = status.inner_text()
    assert "**" not in shown and "`" not in shown, shown
    assert page.locator('[data-testid="toast-body"]').count() == 0, "an error toast appeared"
    assert page.evaluate(
        """id => { const b = document.querySelector('#' + id); const r = b.getBoundingClientRect();
                   const top = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
                   return b === top || b.contains(top); }""", button), f"something covers #{button}"
    return shown


# --------------------------------------------------------------------------- tests


@contextlib.contextmanager
def readme_app(home: Path, log_name: str):
    """The README's run command, `.venv/bin/python app.py`, on a clean setup: no CLAPDEMO_* variable
    (no data root, no weights folder), a fresh HOME (so an empty cache) and no network (this machine
    has none; nothing is asked of it). Only the port is chosen, through Gradio's own variable, so
    that tests never collide. Yields (url, seconds from spawning the process to the first HTTP 200)."""
    port = _free_port()
    home.mkdir(parents=True, exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8",
           "GRADIO_SERVER_PORT": str(port), "PYTHONUNBUFFERED": "1"}
    t0 = time.monotonic()
    with serving([], env, port, log_name) as url:
        yield url, time.monotonic() - t0


def _column(rows: list[list[str]], name: str) -> list[str]:
    return [r[rows[0].index(name)] for r in rows[1:] if r]


def test_front_page_works_on_a_clean_setup_with_no_variables(browser, tmp_path):
    """A visitor's path with nothing configured: example query -> dog clips with players; a clip
    -> captions naming its class; the joint space drawn on opening; Evaluate's held-out table
    beside random on opening. With CLAPDEMO_SAVE_SCREENSHOT=1 the front page becomes
    assets/screenshot.png (the README's picture)."""
    t0 = time.monotonic()
    with readme_app(tmp_path / "home", "app-clean.log") as (url, up):
        context, page = _open(browser, url)
        shots = Shots(page, "clean")
        try:
            with shots.step("front-page"):
                tabs = page.get_by_role("tab").all_inner_texts()
                assert [t.strip() for t in tabs[:6]] == ["Try it", "Joint space", "Evaluate", "Train",
                                                         "Data & embeddings", "Library"], tabs
                header = _wait_header(page)  # the configuration, in "About this setup", collapsed
                assert page.locator("#about").is_visible() and not page.locator("#header").is_visible()
                assert "the sample set" in header and "414/414 clips" in header and "shipped" in header, header
                assert "/" not in header.split("Dataset:")[1].split("Embeddings")[0], header  # a name, no path

            with shots.step("example-query"):
                page.locator("#example-queries").get_by_role("button", name="dog barking").click()
                rows = _wait_table(page, "search-results", "the sound of")
                first_result = time.monotonic() - t0
                assert page.locator("#query textarea, #query input").first.input_value() == "dog barking"
                assert _column(rows, "label")[:3] == ["dog"] * 3, rows
                assert page.locator("#hit-0 audio").count() + page.locator("#hit-0").is_visible() >= 1
                assert "4-" in (page.locator("#hit-0").text_content() or "")  # its player names the clip

            with shots.step("upload"):
                clip = ESC50 / "audio" / "4-164021-A-1.flac"  # a rooster the shipped projection never trained on
                _upload(page, "upload-audio", clip)
                page.locator("#describe").click()
                rows = _wait_table(page, "upload-captions", "the sound of")
                assert any(w in _column(rows, "caption")[0] for w in ("rooster", "chicken")), rows
                _wait_table(page, "upload-clips", "rooster")
                page.mouse.move(0, 0)
                path = shots.save("front-page", full_page=False)
                if os.environ.get("CLAPDEMO_SAVE_SCREENSHOT") == "1":
                    save_small_png(path, REPO / "assets" / "screenshot.png")

            with shots.step("joint-space"):
                _tab(page, "Joint space")  # no click: it opens drawn
                _wait_until(lambda: len(_plot_points(page, "umap-plot")) >= 2, 150, "the UMAP plot")
                names = page.evaluate("() => document.querySelector('#umap-plot .js-plotly-plot').data.map(t => t.name)")
                assert {"audio", "text"} <= set(names), names
                assert "414 projected clips" in page.locator("#umap-note").inner_text()
                shots.save("joint-space", full_page=False)

            with shots.step("evaluate"):
                _tab(page, "Evaluate")  # no click: the shipped projection on its held-out clips
                rows = _wait_table(page, "eval-table", "a2t_acc@1")
                note = page.locator("#eval-note").inner_text()
                assert "Held out" in note and "206 clips" in note, note
                by_metric = {r[rows[0].index("metric")]: r for r in rows[1:] if r}  # the CLI's key, beside the plain name
                model, chance = rows[0].index("model"), rows[0].index("random (exact)")
                for metric in ("a2t_acc@1", "t2a_acc@1", "zero_shot_acc@1"):
                    assert float(by_metric[metric][model]) > 5 * float(by_metric[metric][chance]), by_metric[metric]
                _wait_until(lambda: len(_plot_points(page, "eval-plot")) >= 2, 30, "model and random bars")
                shots.save("evaluate", full_page=False)

            with shots.step("own-clips"):
                _tab(page, "Data & embeddings")
                _upload(page, "own-upload", zip_of_own_clips(tmp_path / "mine.zip"))
                page.locator("#own-embed").click()
                page.locator("#own-log").get_by_text("searchable in").wait_for(timeout=120_000)
                log = page.locator("#own-log").inner_text()
                assert "notes.txt" in log and "escape.wav" in log and "bomb.wav" in log, log  # listed, skipped
                assert "broken.wav" in log  # refused when unpacked (its header is no audio): listed, not embedded
                assert page.locator("#own-progress progress").get_attribute("value") == "8"  # the 8 clips
                page.locator("#own-progress").scroll_into_view_if_needed()
                shots.save("own-clips", full_page=False)
                _tab(page, "Try it")
                page.locator("#query textarea, #query input").first.fill("a rooster crowing")
                page.locator("#search").click()
                rows = _wait_table(page, "search-results", "recorded outdoors")
                assert "a rooster recorded outdoors" in _column(rows, "caption")[0], rows
        finally:
            shots.save("end")
            context.close()
    print(f"clean setup: page served {up:.1f} s after spawning app.py, first search result {first_result:.1f} s")


def save_small_png(source: Path, target: Path, width: int = 1100) -> None:
    """`source` scaled to `width` pixels and reduced to 256 colours: a README picture of ~100 KB."""
    from PIL import Image

    image = Image.open(source).convert("RGB")
    image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
    image.quantize(256, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)


def test_every_tab_end_to_end(browser, small_esc50, tmp_path):
    timings: dict[str, float] = {}
    start = time.monotonic()
    with app_server(small_esc50, tmp_path / "cache", "app-e2e.log") as url:
        timings["server up"] = time.monotonic() - start
        context, page = _open(browser, url)
        shots = Shots(page, "e2e")
        try:
            with shots.step("first-open"):
                header = page.locator("#header").text_content()
                assert "mn04_as" in header and "minilm" in header, header
                assert "shipped with the app" in header, header
                _tab(page, "Data & embeddings")
                page.locator("#data-summary").get_by_text("clips").wait_for()
                assert "57 clips" in page.locator("#data-summary").inner_text()
                assert page.locator("#example-0 audio").count() == 1 or page.locator("#example-0").is_visible()
                shots.save("data")

            with shots.step("precompute"):
                t = time.monotonic()
                page.locator("#precompute").click()
                page.locator("#precompute-log").get_by_text("clips embedded").wait_for(timeout=180_000)
                progress = page.locator("#precompute-progress progress")
                assert progress.get_attribute("value") == progress.get_attribute("max") == "57"
                assert "57/57 clips" in page.locator("#header").text_content()
                timings["precompute"] = time.monotonic() - t
                shots.save("precomputed")

            with shots.step("train-defaults"):
                _tab(page, "Train")
                assert float(page.locator("#lr input").input_value() or 0) == 0  # 0: follows the init
                page.locator("#train-start").click()
                page.locator("#train-status").get_by_text("Done:").wait_for(timeout=300_000)
                status = page.locator("#train-status").inner_text()
                assert "(follows the init)" in status and f"lr {DEFAULT_LR['audioset-labels']:g}" in status, status
                _wait_until(lambda: len(_trace(page, "loss-curve", "validation loss")) >= 2, 30,
                            "the loss curve drawn (the status line can arrive before plotly renders)")
                val = _trace(page, "loss-curve", "validation loss")
                assert min(val[1:]) < 0.98 * val[0], val  # it learns (lr 0 stayed flat)
                page.locator("#past-refresh").click()
                _wait_until(lambda: "epochs" in page.locator("#past-runs input").input_value(), 30,
                            "the run in the past-runs list")
                shots.save("trained-with-defaults")

            with shots.step("train-live-curve"):
                page.locator("#epochs input").fill("3000")
                page.locator("#batch-size input").fill("16")
                page.locator("#patience input").fill("0")
                t = time.monotonic()
                page.locator("#train-start").click()
                page.locator("#train-status").get_by_text("Training (").wait_for()
                first = _wait_until(lambda: _curve(page), 60, "a first point on the curve")
                later = _wait_until(lambda: (c := _curve(page)) and c[1] > first[1] and c, 60, "the curve to grow")
                assert "Training (" in page.locator("#train-status").inner_text(), "the run ended before we saw it grow"
                assert later[0] >= first[0] and later[1] > first[1], (first, later)  # (points, last epoch)
                names = page.evaluate("() => document.querySelector('#loss-curve .js-plotly-plot').data.map(t => t.name)")
                assert {"train loss", "validation loss"} <= set(names), names
                shots.save("training")

            with shots.step("second-session-isolated"):
                other_context, other = _open(browser, url)
                _tab(other, "Train")
                assert "shipped with the app" in other.locator("#header").text_content()
                assert _plot_points(other, "loss-curve") == []
                other.locator("#train-stop").click()
                other.locator("#train-status").get_by_text("No train is running in this session").wait_for()
                Shots(other, "e2e-second-session").save("train-tab")
                other_context.close()
                assert "Training (" in page.locator("#train-status").inner_text() or \
                    "Done:" in page.locator("#train-status").inner_text()

            with shots.step("reload-keeps-training"):
                page.reload()
                _wait_header(page)
                _tab(page, "Train")
                page.locator("#train-status").get_by_text("Training (").wait_for(timeout=60_000)
                _wait_until(lambda: _curve(page), 60, "the running job's curve on the reloaded page")
                shots.save("reloaded")

            with shots.step("train-stop"):
                page.locator("#train-stop").click()
                page.locator("#train-status").get_by_text("Done:").wait_for(timeout=120_000)
                status = page.locator("#train-status").inner_text()
                assert "stopped by you" in status or "finished all epochs" in status, status
                timings["training"] = time.monotonic() - t
                rows = _wait_table(page, "train-metrics", "a2t_acc@1")
                assert any("clip → caption, top 1" in (c or "") for r in rows for c in r), rows  # plain names, as Evaluate
                page.locator("#use-run").click()
                _wait_until(lambda: "trained in this session" in page.locator("#header").text_content(), 30,
                            "the header naming the run")
                path = shots.save("trained")
                if os.environ.get("CLAPDEMO_SAVE_SCREENSHOT") == "1":
                    shutil.copy(path, REPO / "assets" / "screenshot.png")

            with shots.step("evaluate"):
                _tab(page, "Evaluate")
                _wait_until(lambda: "esc50-all" in page.locator("#eval-store input").input_value(), 30,
                            "the active store in Evaluate's store list")
                page.locator("#eval-note").get_by_text("Only 0 of these 57 clips").wait_for()  # shown on opening
                page.locator("#eval-held-out input").uncheck()  # this run trained on all of them: in-sample
                page.locator("#evaluate").click()
                rows = _wait_table(page, "eval-table", "a2t_acc@1")
                head = rows[0]
                model_col, random_col = head.index("model"), head.index("random (exact)")
                by_metric = {r[head.index("metric")]: r for r in rows[1:] if r}
                for metric in ("a2t_acc@1", "t2a_acc@1", "a2t_acc@3"):
                    model, chance = float(by_metric[metric][model_col]), float(by_metric[metric][random_col])
                    assert model > chance, (metric, model, chance)
                _wait_until(lambda: len(_plot_points(page, "eval-plot")) >= 2, 30, "model and random bars")
                _wait_table(page, "eval-extremes", "worst")
                shots.save("evaluate")

            with shots.step("search"):
                _tab(page, "Try it")
                page.locator("#query textarea, #query input").first.fill("dog barking")
                page.locator("#search").click()
                rows = _wait_table(page, "search-results", "the sound of dog")
                assert len(rows) >= 2 and rows[1][rows[0].index("label")] == "dog", rows
                assert page.locator("#hit-0").is_visible()
                shots.save("search")

            with shots.step("upload"):
                clip = next((small_esc50 / "audio").glob("*-A-0.flac"))  # a dog
                _upload(page, "upload-audio", clip)
                page.locator("#upload-labels textarea, #upload-labels input").first.fill("a barking dog, a car horn")
                page.locator("#describe").click()
                _wait_table(page, "upload-captions", "the sound of")
                _wait_table(page, "upload-clips", clip.stem)
                shots.save("upload")

            with shots.step("joint-space"):
                t = time.monotonic()
                _tab(page, "Joint space")  # opening it draws it (a new store and projection: UMAP runs first)
                _wait_until(lambda: len(_plot_points(page, "umap-plot")) >= 2, 150, "the UMAP plot")
                page.locator("#umap-lines input").check()
                page.locator("#umap").click()
                names = _wait_until(lambda: (n := page.evaluate(
                    "() => document.querySelector('#umap-plot .js-plotly-plot').data.map(t => t.name)"))
                    and "true pairs" in n and n, 30, "lines between true pairs")
                assert {"audio", "text", "true pairs"} <= set(names), names
                timings["umap"] = time.monotonic() - t
                shots.save("umap")

            with shots.step("data-tab-again"):
                _tab(page, "Data & embeddings")
                page.locator("#show-dataset").click()
                page.locator("#store-status").get_by_text("57/57 clips embedded").wait_for()
        finally:
            shots.save("end")
            context.close()
    timings["total"] = time.monotonic() - start
    print("timings (s):", {k: round(v, 1) for k, v in timings.items()})


def test_bad_input_gets_a_message(browser, tmp_path):
    """A wrong data folder shows the empty state; an empty query, training with no
    embeddings and a non-audio upload each get a visible message; the app keeps working."""
    with app_server(tmp_path / "no-such-folder", tmp_path / "cache", "app-bad-input.log") as url:
        context, page = _open(browser, url)
        shots = Shots(page, "bad-input")
        try:
            with shots.step("empty-state"):
                _tab(page, "Data & embeddings")
                empty = page.locator("#data-empty").inner_text()
                assert "Dataset folder not found" in empty and "no-such-folder" in empty and "--data-root" in empty
                assert "no-such-folder` not found" in page.locator("#header").text_content() or \
                    "no-such-folder not found" in page.locator("#header").text_content()
                shots.save("empty-state")

            with shots.step("empty-query"):
                _tab(page, "Try it")
                page.locator("#search").click()
                _error_in_status(page, "search-note", "Type what you want to hear", "search")
                shots.save("empty-query", full_page=False)

            with shots.step("train-without-embeddings"):
                _tab(page, "Train")
                page.locator("#train-start").click()
                shown = _error_in_status(page, "train-status", "No embeddings yet", "train-start")
                assert "Data & embeddings" in shown  # the bold part, rendered
                assert page.locator("#train-status strong").count() >= 1
                page.locator("#train-stop").click()  # the next action replaces the message
                page.locator("#train-status").get_by_text("No train is running").wait_for()
                assert "No embeddings yet" not in page.locator("#train-status").inner_text()

            with shots.step("non-audio-upload"):
                _tab(page, "Try it")
                bogus = tmp_path / "notes.wav"
                bogus.write_text("this is not audio\n" * 50)
                _upload(page, "upload-audio", bogus)
                page.locator("#describe").click()
                _error_in_status(page, "upload-note", "notes", "describe")
                shots.save("non-audio", full_page=False)

            with shots.step("still-working"):
                _tab(page, "Data & embeddings")
                page.locator("#show-dataset").click()
                page.locator("#data-summary").get_by_text("Dataset folder not found").wait_for()
                assert "Text encoder" in page.locator("#header").text_content()

            with shots.step("one-log-line-per-error"):
                log = (OUT / "app-bad-input.log").read_text(encoding="utf-8")
                assert log.count("user error") == 3 and "Traceback" not in log, log
        finally:
            shots.save("end")
            context.close()


def test_server_serves_only_the_data_root(small_esc50, tmp_path):
    """Gradio's file route answers for clips under the data root, refuses /etc/passwd, the repo and
    the cache (where sessions write their own clips: players get copies, `clapdemo.app.served`)."""
    secret = tmp_path / "outside.txt"
    secret.write_text("not for the browser")
    clip = next((small_esc50 / "audio").iterdir())
    own = tmp_path / "cache" / "own-clips" / "0123abcd" / "x" / "clips" / clip.name
    own.parent.mkdir(parents=True)
    own.write_bytes(clip.read_bytes())
    with app_server(small_esc50, tmp_path / "cache", "files.log") as url:
        def status(path: Path) -> int:
            try:
                with urllib.request.urlopen(f"{url}gradio_api/file={path}", timeout=10) as response:
                    return response.status
            except urllib.error.HTTPError as error:
                return error.code

        assert status(clip) == 200
        for forbidden in (Path("/etc/passwd"), secret, REPO / "clapdemo" / "app" / "settings.py", own):
            assert status(forbidden) in (403, 404), forbidden
