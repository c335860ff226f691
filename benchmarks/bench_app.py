"""The app on its sample set, as a visitor meets it: cold start to the first search result, and clicks.

    python benchmarks/bench_app.py [--repeats 3] [--queries 6]

Every start is the README's run command, `python app.py`, with no flags, no CLAPDEMO_*
variable and a fresh HOME (so an empty cache: the shipped store is installed on page load),
as on a fresh machine; only the port is chosen (GRADIO_SERVER_PORT).

1. Cold start to the first page: from spawning `python app.py` to the first HTTP 200 on "/",
   against a minimal Gradio app (one textbox, one button) started the same way: the share of
   start-up that is ours. Interleaved, `--repeats` each.
2. Cold start to the first search result (target: within 15 s on a 2-core CPU): from spawning
   `python app.py` to the results of the example query "dog barking" shown in headless
   Chromium (Debian's /usr/bin/chromium, via playwright; the browser is started before the
   clock): the server's start, the page, its load events (encoders, the store's install) and
   one click. `--repeats` starts.
3. Click -> results (target: under 1 s): in the last page, type a query, click Search, stop the
   clock when the results note for that query is shown; the median over `--queries`, against
   the library call the handler makes (`Searcher.text_to_audio`, in this process).

`--ready` measures the warm-up instead (issue 19 item 14), quiet and under load (`--busy 0,1`: that
many extra processes spinning a core each, beside the app, for the whole start):
4. Time to ready (target: within 15 s on 2 cores): from spawning `python app.py` to the page's
   warm-up line (#warm-status) saying "Ready" (the encoders, the sample store and its searcher loaded
   in the background; the page is opened as soon as "/" answers).
5. First click after ready (target: under 1 s, as fast as later ones): the example query "dog
   barking" clicked once the page says Ready, to its results shown; then one typed query, for
   comparison.

`--train` measures the Train tab with its defaults on the sample set (issue 19 item 21: the README's
"about 2 s"), in this process through the handler the Start button calls, quiet and under `--busy`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

CHROMIUM = Path(os.environ.get("CLAPDEMO_CHROMIUM", "/usr/bin/chromium"))
QUERIES = ["heavy rain", "a rooster crows", "a cat meows", "church bells ringing", "a siren wails", "a chainsaw",
           "dog and rain", "a baby crying"]
MINIMAL_APP = """
import gradio as gr
with gr.Blocks() as demo:
    box = gr.Textbox(label="query")
    out = gr.Textbox(label="echo")
    gr.Button("Go").click(lambda s: s, box, out)
demo.launch()
"""


def clean_env(home: Path, port: int) -> dict:
    """A fresh machine's environment: no CLAPDEMO_* variable, an empty HOME; only the port is set."""
    home.mkdir(parents=True, exist_ok=True)
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8",
            "GRADIO_SERVER_PORT": str(port), "PYTHONUNBUFFERED": "1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd: list[str], home: Path, log: Path, timeout: float = 180) -> tuple[subprocess.Popen, str, float]:
    """Spawn `cmd` on a clean environment; return (process, url, its start time on perf_counter)
    once "/" answers 200."""
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=_common.REPO, env=clean_env(home, port), stdout=open(log, "w"),
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd} exited with {proc.returncode}; see {log}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return proc, url, t0
        except OSError:
            pass
        if time.perf_counter() - t0 > timeout:
            proc.kill()
            raise RuntimeError(f"{cmd} did not answer within {timeout} s; see {log}")
        time.sleep(0.05)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--queries", type=int, default=6)
    parser.add_argument("--ready", action="store_true", help="measure time to ready and the first click instead")
    parser.add_argument("--train", action="store_true", help="measure training with the Train tab's defaults instead")
    parser.add_argument("--busy", default="0,1", help="with --ready/--train: extra busy processes, one run per value")
    args = parser.parse_args()
    if args.ready:
        return ready_main(args.repeats, [int(b) for b in args.busy.split(",")])
    if args.train:
        return train_main(args.repeats, [int(b) for b in args.busy.split(",")])

    work = Path(tempfile.mkdtemp(prefix="clapdemo-bench-app-"))
    try:
        (work / "minimal_app.py").write_text(MINIMAL_APP)
        commands = {"python app.py": [sys.executable, "app.py"],
                    "minimal Gradio app": [sys.executable, str(work / "minimal_app.py")]}
        cold: dict[str, list[float]] = {name: [] for name in commands}
        for r in range(args.repeats):  # 1. to the first page, interleaved
            for name in (list(commands) if r % 2 == 0 else list(commands)[::-1]):
                proc, _, t0 = start(commands[name], work / f"home-page-{r}-{name[:6]}", work / "page.log")
                cold[name].append(time.perf_counter() - t0)
                stop(proc)
        ours, minimal = (_common.median(v) for v in cold.values())
        lines = [f"cold start to the first page (HTTP 200 on /): python app.py {ours:.1f} s, a minimal Gradio app "
                 f"{minimal:.1f} s (median of {args.repeats}, interleaved); ours adds {ours - minimal:.1f} s "
                 f"({ours / minimal:.2f}x)"]
        if not CHROMIUM.is_file():
            lines.append(f"first result and clicks: skipped (no Chromium at {CHROMIUM}; apt-get install chromium)")
        else:
            lines += first_result_and_clicks(work, args.repeats, args.queries)
        _common.record("App on the sample set: cold start to the first search result, and clicks", lines,
                       ["every start: `python app.py`, no flags, no CLAPDEMO_* variable, a fresh HOME (empty cache); "
                        "the first result includes the page's load events (encoders loaded, the shipped store "
                        "installed into the cache) and the click on the example query \"dog barking\""])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def first_result_and_clicks(work: Path, repeats: int, n_queries: int) -> list[str]:
    from playwright.sync_api import sync_playwright

    firsts, clicks, queries = [], [], QUERIES[:max(2, n_queries)]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        for r in range(repeats):
            proc, url, t0 = start([sys.executable, "app.py"], work / f"home-first-{r}", work / "first.log")
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(120_000)
                page.goto(url)
                page.locator("#example-queries").get_by_role("button", name="dog barking").click()
                page.locator("#search-note").get_by_text("dog barking").wait_for()
                firsts.append(time.perf_counter() - t0)
                if r == repeats - 1:  # 3. clicks, in the last page
                    box = page.locator("#query textarea, #query input").first
                    for q in queries:
                        box.fill(q)
                        t = time.perf_counter()
                        page.locator("#search").click()
                        page.locator("#search-note").get_by_text(q).wait_for()  # same response as table, players
                        clicks.append(time.perf_counter() - t)
                page.close()
            finally:
                stop(proc)
        browser.close()
    library = library_calls(work, queries)
    first, warm, lib = _common.median(firsts), _common.median(clicks), _common.median(library)
    return [f"cold start to the first search result (spawn -> example query's results shown): median {first:.1f} s "
            f"of {repeats} ({', '.join(f'{x:.1f}' for x in firsts)}); "
            + _common.verdict(first < 15, "under 15 s"),
            f"click -> results shown (headless Chromium): median {warm * 1000:.0f} ms over {len(clicks)} queries "
            f"(max {max(clicks) * 1000:.0f} ms); the library call alone {lib * 1000:.1f} ms, so the UI (Gradio round "
            f"trip, table and 5 audio players) adds {(warm - lib) * 1000:.0f} ms; "
            + _common.verdict(warm < 1, "under 1 s")]


BUSY_LABEL = ("no load added (the machine's own: see the load average)",
              "{busy} process(es) added, each spinning a core")


def train_main(repeats: int, busy_counts: list[int]) -> int:
    """Seconds of one training with the Train tab's defaults (50 epochs, batch 256, lr from the init,
    weight decay 1e-4, learnable temperature, patience 10, 10 % validation) on the sample set."""
    from clapdemo.app import Handlers, Session, Settings

    work = Path(tempfile.mkdtemp(prefix="clapdemo-bench-train-"))
    try:
        h = Handlers(Settings.from_env(["--cache", str(work / "cache")], env={}))
        opened, _ = h.init_session(Session())
        lines = []
        for busy in busy_counts:
            spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
            seconds, epochs = [], []
            try:
                for _ in range(repeats):
                    session = Session(store_dir=opened.store_dir, projection=opened.projection)
                    t = time.perf_counter()
                    for _curve, status, _metrics in h.train(session, 50, 256, 0, 1e-4, True, 10, 0.1):
                        pass
                    seconds.append(time.perf_counter() - t)
                    epochs.append(status)
            finally:
                for spinner in spinners:
                    spinner.kill()
            where = BUSY_LABEL[min(busy, 1)].format(busy=busy)
            lines.append(f"{where}: Start -> Done with the defaults: median {_common.median(seconds):.1f} s of {repeats} "
                         f"({', '.join(f'{x:.1f}' for x in seconds)}); last status: {epochs[-1][:160]}")
        _common.record("Train tab defaults on the sample set (issue 19 item 21)", lines,
                       ["in-process, through the handler the Start button calls (`Handlers.train`), after page "
                        "load's setup (encoders and store loaded); 208 training and validation clips of the "
                        "sample set, torch's default threads"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def ready_main(repeats: int, busy_counts: list[int]) -> int:
    if not CHROMIUM.is_file():
        print(f"--ready needs Chromium at {CHROMIUM} (apt-get install chromium)")
        return 1
    work = Path(tempfile.mkdtemp(prefix="clapdemo-bench-ready-"))
    lines = []
    try:
        for busy in busy_counts:
            spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
            try:
                ready, first, later = ready_and_first_click(work, repeats, busy)
            finally:
                for spinner in spinners:
                    spinner.kill()
            where = BUSY_LABEL[min(busy, 1)].format(busy=busy)
            lines.append(f"{where}: spawn -> page says Ready: median {_common.median(ready):.1f} s of {repeats} "
                         f"({', '.join(f'{x:.1f}' for x in ready)}), " + _common.verdict(_common.median(ready) < 15,
                                                                                           "within 15 s")
                         + f"; first click after Ready (example \"dog barking\" -> results shown): median "
                         f"{_common.median(first) * 1000:.0f} ms ({', '.join(f'{x * 1000:.0f}' for x in first)}), "
                         + _common.verdict(max(first) < 1, "under 1 s")
                         + f"; a later typed query: median {_common.median(later) * 1000:.0f} ms")
        _common.record("App warm-up: time to ready and the first click (issue 19 item 14)", lines,
                       ["every start: `python app.py`, no flags, no CLAPDEMO_* variable, a fresh HOME (empty cache); "
                        "Ready = the page's #warm-status line says so (encoders, shipped store and its searcher "
                        "loaded in a background thread started by build_app); the browser is started before the clock"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def ready_and_first_click(work: Path, repeats: int, busy: int) -> tuple[list[float], list[float], list[float]]:
    """Per start: seconds from spawn to "Ready" on the page, the first example click, a later query."""
    from playwright.sync_api import sync_playwright

    ready, first, later = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        for r in range(repeats):
            proc, url, t0 = start([sys.executable, "app.py"], work / f"home-ready-{busy}-{r}", work / "ready.log")
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(180_000)
                page.goto(url)
                page.locator("#warm-status").get_by_text("Ready").wait_for()
                ready.append(time.perf_counter() - t0)
                t = time.perf_counter()
                page.locator("#example-queries").get_by_role("button", name="dog barking").click()
                page.locator("#search-note").get_by_text("dog barking").wait_for()
                first.append(time.perf_counter() - t)
                page.locator("#query textarea, #query input").first.fill("heavy rain")
                t = time.perf_counter()
                page.locator("#search").click()
                page.locator("#search-note").get_by_text("heavy rain").wait_for()
                later.append(time.perf_counter() - t)
                page.close()
            finally:
                stop(proc)
        browser.close()
    return ready, first, later


def library_calls(work: Path, queries: list[str]) -> list[float]:
    """Seconds of `Searcher.text_to_audio` per query on the sample store, as the Search handler calls it."""
    from clapdemo.app import Handlers, Session, Settings

    handlers = Handlers(Settings.from_env(["--cache", str(work / "cache")], env={}))
    searcher = handlers.searcher(handlers.init_session(Session())[0])
    searcher.text_to_audio("warm up", 5)
    seconds = []
    for q in queries:
        t = time.perf_counter()
        searcher.text_to_audio(q, 5)
        seconds.append(time.perf_counter() - t)
    return seconds


if __name__ == "__main__":
    raise SystemExit(main())
