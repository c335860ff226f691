"""The app's tabs translate; the library decides (issue 18 item 1).

docs/developer.md says the faces only call the library. For the tab modules
(clapdemo/app/tab_*.py) that is checked here by what a rule needs and a
translation does not: a tab receives strings, numbers and library objects from
Gradio, hands them to a library call, and turns the answer (or the library's
exception) into tables, Markdown and gr.Error messages. It never looks at the
file system or at arrays itself.

The rule, per tab module, read with `ast` (no import of the app needed):
- no import of numpy, pathlib, os / os.path, shutil, zipfile, soundfile, hashlib
  or uuid (arrays, paths, files, the names given to files on disk);
- no call of Path(...), PurePath(...) or open(...).

Before issue 18 the tabs held copies of library rules this catches: Try it's
upload checks (numpy, os.path.getsize: audio.check_upload's copy), Evaluate's
held-out filtering (numpy.flatnonzero on evaluation.evaluate.in_sample_mask), the Library's
roots, index location, serving policy and span cutting (pathlib, os, hashlib,
soundfile), your own clips' dataset root and clean-up (shutil, Path.rglob), and
file names for display (Path(p).name). Now those live in the library (audio,
held_out, library, datasets, training_request) and app plumbing outside the tabs
(served.py, session.py, core.py, widgets.file_name).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[1] / "clapdemo" / "app"
TABS = sorted(APP.glob("tab_*.py"))
BANNED_MODULES = {"numpy", "pathlib", "os", "os.path", "shutil", "zipfile", "soundfile", "hashlib", "uuid"}
BANNED_CALLS = {"Path", "PurePath", "open"}


def rule_breaks(source: str) -> list[str]:
    """What in a tab module's source holds a rule: each banned import and call, with its line."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"line {node.lineno}: import {a.name}" for a in node.names
                      if a.name in BANNED_MODULES or a.name.split(".")[0] in BANNED_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module in BANNED_MODULES or node.module.split(".")[0] in BANNED_MODULES:
                found.append(f"line {node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if name in BANNED_CALLS:
                found.append(f"line {node.lineno}: {name}(...)")
    return found


def test_there_are_tabs():
    assert len(TABS) >= 8, TABS


@pytest.mark.parametrize("tab", TABS, ids=lambda p: p.name)
def test_tab_holds_no_rule(tab):
    breaks = rule_breaks(tab.read_text(encoding="utf-8"))
    assert not breaks, (f"{tab.name} holds a rule (move it into the library, call it from the tab): "
                        + "; ".join(breaks))


def test_the_check_catches_what_it_should():
    """The checker itself: each banned form is caught, a plain translation is not."""
    bad = ("import numpy as np\nimport os\nfrom pathlib import Path\nimport soundfile as sf\n"
           "from os.path import getsize\nx = Path('a').name\nopen('f')\n")
    assert len(rule_breaks(bad)) == 7
    good = ("import html\nimport gradio as gr\nfrom clapdemo.search.library_access import LibraryAccess\n"
            "def f(path):\n    return gr.Error(html.escape(str(path)))\n")
    assert rule_breaks(good) == []


CLI_MODULES = sorted((APP.parent / "cli").glob("*.py"))


@pytest.mark.parametrize("module", CLI_MODULES, ids=lambda p: p.name)
def test_command_line_modules_compute_nothing_themselves(module):
    """The CLI's commands take paths (argparse gives Path) but never arrays or tables: a command that
    imports numpy or pandas computes something the library should (the seeded label-pair sample of
    `recipes --label-pairs-limit` did; now `recipes.label_pair_sample`)."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    found = [f"line {n.lineno}" for n in ast.walk(tree)
             if (isinstance(n, ast.Import) and any(a.name.split(".")[0] in {"numpy", "pandas"} for a in n.names))
             or (isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] in {"numpy", "pandas"})]
    assert not found, found
