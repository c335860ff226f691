"""The Library tab in a real browser: open a folder index, search by text, "more like this",
play a result's time span, then the whole file, search by an uploaded clip, export, upload a
zip as a library of one's own; and the HTTP API refuses a folder outside the data root.

The folder holds a 70 s file made from ESC-50 clips laid end to end with silence
(dog at 0:20, rain at 0:45, rooster at 1:00) and three other clips. Screenshots
go to test-output/browser/library-*.png. Needs /usr/bin/chromium and playwright
(never `playwright install`).
"""

from __future__ import annotations

import shutil
import zipfile

import pytest
from gradio_client import Client

from test_app_browser import (CHROMIUM, Shots, _open, _tab, _table, _wait_table, _wait_until, app_server,  # noqa: F401
                              browser)
from test_library import esc50_file, make_long_file

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"no chromium at {CHROMIUM} (apt-get install chromium)")]


def _player(page, elem_id: str) -> dict | None:
    """A gradio Audio's shown time, duration (seconds, from its waveform controls) and file link."""
    return page.evaluate(
        """id => { const root = document.querySelector('#' + id);
                   const t = root && root.querySelector('#time'), d = root && root.querySelector('#duration');
                   const link = root && root.querySelector('a[download], a[href*="/file="]');
                   if (!t || !d) return null;
                   const secs = s => s.trim().split(':').reduce((a, v) => a * 60 + Number(v), 0);
                   return {time: secs(t.textContent), duration: secs(d.textContent),
                           href: link ? link.getAttribute('href') : ''}; }""", elem_id)


def test_library_tab(browser, tmp_path):
    folder = tmp_path / "my-sounds"
    folder.mkdir()
    make_long_file(folder / "long.wav")
    for category in ("church_bells", "clock_tick", "cat"):
        shutil.copy(esc50_file(category), folder / f"{category}.flac")
    with app_server(folder, tmp_path / "cache", "library-app.log") as url:
        context, page = _open(browser, url)
        shots = Shots(page, "library")
        try:
            with shots.step("open-index"):
                _tab(page, "Library")
                assert page.locator("#library-folder textarea, #library-folder input").first.input_value() == folder.name  # a name, no path
                page.locator("#library-open").click()
                page.locator("#library-status").get_by_text("4 added").wait_for(timeout=180_000)
                shots.save("indexed")

            with shots.step("text-search"):
                page.locator("#library-query textarea, #library-query input").first.fill("dog barking")
                page.locator("#library-search").click()
                rows = _wait_table(page, "library-results", "long.wav")
                head, top = rows[0], rows[1]
                assert top[head.index("file")] == "long.wav", rows
                start, end = top[head.index("span")].split("-")
                assert _seconds(start) <= 20 < _seconds(end), rows  # the dog starts at 0:20
                assert top[head.index("softmax over shown")].endswith("%")
                shots.save("text-search")

            with shots.step("play-span"):
                _wait_until(lambda: (p := _player(page, "library-hit-0")) and p["duration"] > 0, 30, "the span player")
                player = _player(page, "library-hit-0")
                assert player["duration"] == _seconds(end) - _seconds(start), player  # the span, not the file
                assert player["href"].endswith(f"-{_seconds(start):.1f}-{_seconds(end):.1f}.wav"), player  # the cut
                page.locator("#library-hit-0").get_by_role("button", name="Play", exact=True).click()
                _wait_until(lambda: _player(page, "library-hit-0")["time"] >= 1, 20, "the span to play")
                shots.save("playing")

            with shots.step("whole-file"):
                page.locator("#library-whole-0").click()
                _wait_until(lambda: (p := _player(page, "library-hit-0")) and p["duration"] == 70, 30,
                            "the whole 70 s file in the player")

            with shots.step("more-like-this"):
                page.locator("#library-more-1").click()
                page.locator("#library-note").get_by_text("files like").wait_for()
                rows = _table(page, "library-results")
                assert len(rows) >= 3, rows
                shots.save("more-like-this")
            with shots.step("upload-clip"):  # an uploaded clip -> the files that sound like it
                dog = esc50_file("dog")
                page.locator("#library-clip input[type=file]").set_input_files(str(dog))
                _wait_until(lambda: page.evaluate(
                    "() => !!document.querySelector('#library-clip audio, #library-clip #waveform')"), 30,
                    "the uploaded clip in the player")
                page.locator("#library-similar").click()
                page.locator("#library-note").get_by_text(f"files like {dog.name}").wait_for(timeout=60_000)
                rows = _wait_until(lambda: (t := _table(page, "library-results")) and len(t) > 1
                                   and t[1][t[0].index("file")] == "long.wav" and t, 30, "long.wav on top")
                head, top = rows[0], rows[1]
                assert top[head.index("file")] == "long.wav", rows  # the dog inside the long file
                start, end = top[head.index("span")].split("-")
                assert _seconds(start) <= 20 < _seconds(end), rows
                shots.save("upload-clip")
            with shots.step("export"):
                links = _wait_until(lambda: page.evaluate(
                    "() => Array.from(document.querySelectorAll('#library-export a[href]')).map(a => a.href)"),
                    10, "the export links")
                assert any(x.endswith("results.csv") for x in links) and any(x.endswith("results.json") for x in links), links
            with shots.step("upload-library"):  # a visitor's own sounds: a zip into the session's folder
                archive = tmp_path / "mine.zip"
                with zipfile.ZipFile(archive, "w") as z:
                    z.write(esc50_file("dog"), "pets/dog.flac")
                    z.write(esc50_file("rain"), "rain.flac")
                page.locator("#library-upload input[type=file]").set_input_files(str(archive))
                _wait_until(lambda: page.locator("#library-upload").get_by_text("mine.zip").count() > 0, 30,
                            "the zip in the upload box")
                page.locator("#library-upload-index").click()
                page.locator("#library-status").get_by_text("2 added").wait_for(timeout=120_000)
                page.locator("#library-query textarea, #library-query input").first.fill("dog barking")
                page.locator("#library-search").click()
                rows = _wait_table(page, "library-results", "pets/dog.flac")
                assert rows[1][rows[0].index("file")] == "pets/dog.flac", rows
                shots.save("upload-library")
            with shots.step("api-probe"):  # the HTTP API opens no folder outside the data root
                secret = tmp_path / "secret"
                secret.mkdir()
                shutil.copy(esc50_file("cat"), secret / "cat.flac")
                try:
                    answer = str(Client(url, verbose=False).predict(str(secret), api_name="/open_index"))
                except Exception as error:  # gr.Error reaches the client as an exception with the message
                    answer = str(error)
                assert "not a folder this app may open" in answer, answer
                assert not list((tmp_path / "cache").rglob("secret-*")), "the secret folder was indexed"
        finally:
            shots.save("end")
            context.close()


def _seconds(text: str) -> float:
    parts = [int(x) for x in text.strip().split(":")]
    return float(sum(v * 60 ** i for i, v in enumerate(reversed(parts))))
