"""The app: cold start of `python app.py` to the first page served, and Search click -> results shown.

    python benchmarks/bench_app.py [--repeats 3] [--queries 6]

Setup: a small ESC-50 folder (7 classes of the shared subset, ~57 real clips)
embedded beforehand into the app's cache with the encoders the app will use,
so the Search tab works as soon as the page opens.

1. Cold start: from spawning `python app.py --port P` to the first HTTP 200 on
   "/", against a minimal Gradio app (one textbox, one button) started the same
   way: the share of start-up that is ours. Interleaved, `--repeats` each.
2. Search: in headless Chromium (Debian's /usr/bin/chromium, via playwright),
   type a query, click Search, stop the clock when the results note for that
   query is shown. The first click is reported apart; the rest are the median. Against the library call the handler makes
   (`Searcher.text_to_audio`, in this process): the UI's overhead.
"""

from __future__ import annotations

import argparse
import csv
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

CLASSES = ("dog", "rain", "rooster", "cat", "church_bells", "siren", "chainsaw")
CHROMIUM = Path(os.environ.get("CLAPDEMO_CHROMIUM", "/usr/bin/chromium"))
MINIMAL_APP = """
import gradio as gr
with gr.Blocks() as demo:
    box = gr.Textbox(label="query")
    out = gr.Textbox(label="echo")
    gr.Button("Go").click(lambda s: s, box, out)
import sys
demo.launch(server_port=int(sys.argv[1]))
"""


def small_esc50(root: Path) -> Path:
    source = _common.SHARED / "data" / "esc50-subset"
    (root / "audio").mkdir(parents=True)
    with open(source / "esc50.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["category"] in CLASSES]
    with open(root / "esc50.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for row in rows:
        shutil.copy(source / "audio" / row["filename"], root / "audio" / row["filename"])
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd: list[str], env: dict, log: Path, timeout: float = 180) -> tuple[subprocess.Popen, str, float]:
    """Spawn; return (process, url, seconds until "/" answered 200)."""
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd + [str(port)] if "--port" not in cmd else cmd + [str(port)], cwd=_common.REPO,
                            env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd} exited with {proc.returncode}; see {log}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return proc, url, time.perf_counter() - t0
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
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="clapdemo-bench-app-"))
    try:
        data, cache = small_esc50(work / "esc50"), work / "cache"
        env = dict(os.environ, CLAPDEMO_DATA_ROOT=str(data), CLAPDEMO_CACHE=str(cache), CLAPDEMO_TEXT_ENCODER="minilm",
                   PYTHONUNBUFFERED="1")
        env.pop("CLAPDEMO_PROJECTION", None)
        os.environ.update({k: env[k] for k in ("CLAPDEMO_DATA_ROOT", "CLAPDEMO_CACHE", "CLAPDEMO_TEXT_ENCODER")})

        from clapdemo.datasets import load_dataset
        from clapdemo.precompute import precompute
        from clapdemo.runs import open_searcher
        from clapdemo.app import Handlers, Settings
        from clapdemo.datasets import SPLITS

        settings = Settings.from_env([])
        handlers = Handlers(settings)
        store = handlers.store_dir(settings.dataset, SPLITS[settings.dataset][0])
        audio, text = handlers.encoders()
        precompute(load_dataset(settings.dataset, data, SPLITS[settings.dataset][0]), audio, text, store, progress=False)
        (work / "minimal_app.py").write_text(MINIMAL_APP)

        # 1. cold start, interleaved with the minimal app
        cold: dict[str, list[float]] = {"python app.py": [], "minimal Gradio app": []}
        commands = {"python app.py": [sys.executable, "app.py", "--port"],
                    "minimal Gradio app": [sys.executable, str(work / "minimal_app.py")]}
        for r in range(args.repeats):
            for name in (list(commands) if r % 2 == 0 else list(commands)[::-1]):
                proc, _, seconds = start(commands[name], env, work / f"{name[:6]}.log")
                cold[name].append(seconds)
                stop(proc)
        ours, minimal = (_common.median(v) for v in cold.values())
        lines = [f"cold start to the first page (HTTP 200 on /): python app.py {ours:.1f} s, a minimal Gradio app "
                 f"{minimal:.1f} s (median of {args.repeats}, interleaved); ours adds {ours - minimal:.1f} s "
                 f"({ours / minimal:.2f}x)"]

        # 2. click Search -> results shown, in a real browser
        if not CHROMIUM.is_file():
            lines.append(f"search click: skipped (no Chromium at {CHROMIUM}; apt-get install chromium)")
        else:
            lines += search_clicks(env, work, args.queries, open_searcher(settings.projection, store))
        _common.record("App: cold start and Search click", lines,
                       ["cold start = interpreter start, imports (gradio, torch via clapdemo.app), building the "
                        "Blocks, and the server answering; the encoders load when the page first asks for its header (before any click), so neither number includes them"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def search_clicks(env: dict, work: Path, n_queries: int, searcher) -> list[str]:
    from playwright.sync_api import sync_playwright

    queries = ["dog barking", "heavy rain", "a rooster crows", "a cat meows", "church bells ringing",
               "a siren wails", "a chainsaw", "dog and rain"][:max(2, n_queries)]
    proc, url, _ = start([sys.executable, "app.py", "--port"], env, work / "app-search.log")
    clicks = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                        args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(120_000)
            page.goto(url)
            page.locator("#header").get_by_text("Text encoder").wait_for()
            page.get_by_role("tab", name="Search").click()
            box = page.locator("#query textarea, #query input").first
            for q in queries:
                box.fill(q)
                t0 = time.perf_counter()
                page.locator("#search").click()
                page.locator("#search-note").get_by_text(q).wait_for()  # same response as the table and players
                clicks.append(time.perf_counter() - t0)
            browser.close()
    finally:
        stop(proc)
    library = []
    searcher.text_to_audio("warm up", 5)
    for q in queries:
        t0 = time.perf_counter()
        searcher.text_to_audio(q, 5)
        library.append(time.perf_counter() - t0)
    warm = _common.median(clicks[1:])
    lib = _common.median(library)
    return [f"Search click -> results shown (headless Chromium): first click {clicks[0]:.2f} s (the encoders are "
            f"already loaded: the page's header loads them), then median {warm * 1000:.0f} ms over {len(clicks) - 1} "
            f"queries; the library call "
            f"alone {lib * 1000:.1f} ms, so the UI (Gradio round trip, table and 5 audio players) adds "
            f"{(warm - lib) * 1000:.0f} ms ({warm / lib:.0f}x)"]


if __name__ == "__main__":
    raise SystemExit(main())
