"""Every button and text box of the app (the Library tab's too) shows its errors in its tab's
status line through `clapdemo.app.errors.on`, never as a toast (issue 12, defect 3)."""

from __future__ import annotations

import gradio as gr

from clapdemo.app import Settings, build_app
from clapdemo.app.errors import shows_errors


def test_every_click_and_submit_routes_its_errors_to_a_status_line(tmp_path):
    demo = build_app(Settings.from_env(["--cache", str(tmp_path)], env={}))
    events = [(fn, event) for fn in demo.fns.values() for _, event in fn.targets if event in ("click", "submit")]
    assert len(events) > 20  # the six tabs and the Library's result buttons
    bare = [(fn.name, event) for fn, event in events if not getattr(fn.fn, "shows_errors", False)
            and fn.name != "load_example"]  # gr.Examples' own: fills the query box, cannot fail
    assert not bare, bare


def test_a_handler_that_fails_before_its_first_value_still_clears_then_reports():
    def fails(x):
        raise gr.Error("**Bad** input: `x` is wrong")

    steps = list(shows_errors(fails, ["a", "status"], "status")(1))
    assert steps[0][1] == "" and "**Bad** input: `x` is wrong" in steps[-1][1]  # Markdown, rendered by the page
