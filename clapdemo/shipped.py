"""Where the files the project ships (the repository's `assets/`) are found.

In a checkout they sit beside the package; `pip install .` copies them into it as `clapdemo/_assets`
(pyproject.toml), so an installed package finds them without the repository. Everything that reads a
shipped file asks here, so the two layouts cannot drift apart."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
_INSTALLED = PACKAGE / "_assets"
ASSETS = _INSTALLED if _INSTALLED.is_dir() else PACKAGE.parent / "assets"
