"""`pip install .` (issue 18): the package, its `clapdemo` command and the shipped files work
without the checkout, and nothing at import time needs a Unix-only module."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib

import pytest

from conftest import REPO


def test_pyproject_lists_every_package_folder():
    """setuptools gets the packages by name; a new stage folder missing from the list would be
    left out of the wheel, and only an installed user would notice."""
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "clapdemo").rglob("__init__.py")}
    assert listed - {"clapdemo._assets"} == folders


def test_no_module_imports_a_unix_only_module_at_import_time():
    """`import fcntl` at the top of the store broke `import clapdemo` on Windows."""
    unix_only = {"fcntl", "resource", "termios", "pwd", "grp"}
    found = []
    for path in (REPO / "clapdemo").rglob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:  # top level only
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            found += [f"{path.relative_to(REPO)}: {n}" for n in names if n.split(".")[0] in unix_only]
    assert not found, found


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel `pip install .` would install, unpacked into a folder of its own (no network:
    the build uses the setuptools already installed; dependencies come from this environment)."""
    wheels, target = tmp_path_factory.mktemp("wheels"), tmp_path_factory.mktemp("site")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
                            "-w", str(wheels), "-q"], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    [wheel] = wheels.glob("*.whl")
    setup = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target",
                            str(target), str(wheel), "-q"], capture_output=True, text=True, timeout=600)
    assert setup.returncode == 0, setup.stderr[-3000:]
    return target


def run_installed(target, cwd, *args):
    env = dict(os.environ, PYTHONPATH=str(target))
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_the_installed_package_finds_its_shipped_files_and_ranks_a_clip(installed, tmp_path):
    """Run from an empty folder, so nothing of the checkout can be found by a relative path."""
    code = ("import clapdemo\n"
            "from clapdemo.shipped import ASSETS\n"
            "clips = sorted((ASSETS / 'esc50-sample' / 'audio').glob('*.ogg'))[:2]\n"
            "print(ASSETS)\n"
            "print(clapdemo.load().rank_texts(clips, ['a dog barking', 'a cow mooing', 'rain falling'], k=1))\n")
    result = run_installed(installed, tmp_path, "-c", code)
    assert result.returncode == 0, result.stderr[-3000:]
    assets, ranked = result.stdout.splitlines()[:2]
    assert assets.startswith(str(installed)) and ranked.count("'a cow mooing'") == 2, result.stdout


def test_the_installed_command_line_runs(installed, tmp_path):
    [script] = (installed / "bin").glob("clapdemo")
    result = subprocess.run([str(script), "--help"], cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(installed)),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "precompute" in result.stdout, result.stderr[-2000:]
