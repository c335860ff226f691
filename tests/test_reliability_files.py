"""Files from outside: weight files with the wrong hash, pickles that would run code, and a
source scan that keeps every unpickling call out of the product (the course export only writes)."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest
import torch

from clapdemo.cli import main as cli

from clapdemo.encoders import weights
from clapdemo.encoders.weights import WeightsError, read_state_dict
from conftest import ESC50, REPO, WEIGHTS

# ----------------------------------------------------------------------------- the source scan

# Calls that unpickle (or may): never in clapdemo/ or app.py.
UNPICKLING = {"pickle.load", "pickle.loads", "pickle.Unpickler", "cPickle.load", "cPickle.loads",
              "dill.load", "dill.loads", "joblib.load", "marshal.load", "marshal.loads", "shelve.open"}
UNPICKLING_NAMES = {"read_pickle"}  # pandas.read_pickle, df.read_pickle, ...
MODULES = {"pickle", "cPickle", "dill", "joblib", "marshal", "shelve"}


def _dotted(node: ast.AST) -> str:
    """'torch.load' for torch.load, 'np.load' for np.load, '' for anything fancier."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def _keyword_is(call: ast.Call, name: str, value) -> bool:
    return any(k.arg == name and isinstance(k.value, ast.Constant) and k.value.value is value for k in call.keywords)


def unpickling_calls(source: str, filename: str) -> list[str]:
    """'file:line: what' for each way `source` could unpickle data."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.ImportFrom) and node.module in MODULES:
            loads = [a.name for a in node.names if "load" in a.name.lower() or a.name in ("Unpickler", "open")]
            if loads:
                found.append(f"{where}: from {node.module} import {', '.join(loads)}")
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        last = name.rsplit(".", 1)[-1]
        if name in UNPICKLING or last in UNPICKLING_NAMES:
            found.append(f"{where}: {name}(...) unpickles")
        elif name in ("torch.load", "torch.serialization.load") and not _keyword_is(node, "weights_only", True):
            found.append(f"{where}: {name}(...) without weights_only=True")
        elif name in ("np.load", "numpy.load") and not _keyword_is(node, "allow_pickle", False):
            found.append(f"{where}: {name}(...) without an explicit allow_pickle=False")
        if _keyword_is(node, "allow_pickle", True):
            found.append(f"{where}: allow_pickle=True")
    return found


def product_sources() -> list[Path]:
    return sorted((REPO / "clapdemo").rglob("*.py")) + [REPO / "app.py"]


def test_nothing_in_the_product_unpickles():
    problems = []
    for path in product_sources():
        problems += unpickling_calls(path.read_text(encoding="utf-8"), str(path.relative_to(REPO)))
    assert not problems, "unpickling in the product (see DESIGN.md, 'Never unpickle'):\n" + "\n".join(problems)


def test_the_scan_catches_each_way_to_unpickle():
    planted = "\n".join([
        "import pickle, torch, numpy as np, pandas as pd",
        "pickle.load(f)",
        "pickle.loads(b)",
        "torch.load(p)",
        "torch.load(p, weights_only=False)",
        "np.load(p)",
        "np.load(p, allow_pickle=True)",
        "pd.read_pickle(p)",
        "from pickle import loads",
        "torch.load(p, map_location='cpu', weights_only=True)",  # fine
        "np.load(p, allow_pickle=False)",  # fine
        "pickle.dump(x, f)",  # fine: writing
    ])
    found = unpickling_calls(planted, "planted.py")
    assert sorted(int(f.split(":")[1]) for f in found) == [2, 3, 4, 5, 6, 7, 7, 8, 9]


def test_the_course_pickle_export_is_write_only():
    source = (REPO / "clapdemo" / "stores" / "course_export.py").read_text(encoding="utf-8")
    assert "pickle.dumps(" in source and unpickling_calls(source, "course_export.py") == []
    importers = [p for p in product_sources() if "import pickle" in p.read_text(encoding="utf-8")]
    assert [p.name for p in importers] == ["course_export.py"]


# ----------------------------------------------------------------------------- hostile weight files


class _RunsCodeWhenUnpickled:
    """Unpickling this creates the file `marker`: a stand-in for any code an attacker would run."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def trap(tmp_path) -> tuple[Path, Path]:
    """(a torch checkpoint whose pickle runs code on load, the file that code would create)."""
    marker = tmp_path / "code ran"
    path = tmp_path / "weights.pt"
    torch.save({"weight": torch.zeros(2), "payload": _RunsCodeWhenUnpickled(marker)}, path)
    torch.load(path, weights_only=False)  # the trap is real: plain unpickling runs it (a test-made file)
    assert marker.exists()
    marker.unlink()
    return path, marker


def test_a_pickle_that_runs_code_is_refused_without_running_it(trap):
    path, marker = trap
    with pytest.raises(WeightsError) as err:
        read_state_dict(path)
    assert str(err.value).startswith(f"{path}: not a plain file of tensors")
    assert "never unpickles arbitrary objects" in str(err.value) and "safetensors" in str(err.value)
    assert not marker.exists()


def test_an_encoder_given_such_a_weight_file_refuses_it(trap, tmp_path, monkeypatch):
    """mn10_as's hash is not known yet (used unverified): weights_only=True is what stops the payload."""
    from clapdemo.encoders import load_audio_encoder

    path, marker = trap
    folder = tmp_path / "weights dir"
    folder.mkdir()
    shutil.copy(path, folder / weights.WEIGHTS["mn10_as"].filename)
    monkeypatch.setenv(weights.ENV_DIR, str(folder))
    with pytest.raises(Exception, match="[Ww]eights only load failed|not a plain file of tensors"):
        load_audio_encoder("mn10_as")
    assert not marker.exists()


def test_cli_refuses_a_weight_file_with_the_wrong_sha256(tmp_path, monkeypatch, capsys):
    """The hash check (tests/test_weights.py has the details), seen from the command line."""
    folder = tmp_path / "weights dir"
    folder.mkdir()
    bad = folder / weights.WEIGHTS["mn04_as"].filename
    data = bytearray((WEIGHTS / bad.name).read_bytes())
    data[1000] ^= 0xFF
    bad.write_bytes(bytes(data))
    monkeypatch.setenv(weights.ENV_DIR, str(folder))
    code = cli.main(["precompute", "--dataset", "esc50", "--data-root", str(ESC50), "--out", str(tmp_path / "s"),
                     "--audio-encoder", "mn04_as", "--text-encoder", "minilm"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith(f"error: weights file {bad} damaged (sha256 mismatch)")
    assert "Delete it" in err and not (tmp_path / "s").exists()


# ----------------------------------------------------------------------------- permissions


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_follow_the_umask(umask, mode, tmp_path):
    """The probe: every file was 0600 whatever the umask, so a store shared by a group
    (the Slurm setup) could be read by its writer only."""
    import os

    import numpy as np
    import pandas as pd

    from clapdemo.files import atomic_write
    from clapdemo.stores.store import Store

    old = os.umask(umask)
    try:
        atomic_write(tmp_path / "a.bin", b"x")
        identity = {"name": "synthetic", "weights_sha256": "0" * 64}
        store = Store(tmp_path / "store")
        store.create_or_check({"format_version": 1, "audio_encoder": identity, "text_encoder": identity,
                               "audio_dim": 2, "text_dim": 2},
                              pd.DataFrame({"clip_id": ["c"], "audio_path": [""], "captions": [["a"]]}))
        store.write_shard(["c"], np.zeros((1, 2), np.float32), np.zeros((1, 2), np.float32), np.zeros(1), ["a"])
    finally:
        os.umask(old)
    files = [tmp_path / "a.bin", *(p for p in store.root.rglob("*") if p.is_file())]
    assert len(files) == 6  # a.bin, manifest, clips table, shard, sidecar, the lock (a group member takes it too)
    assert {f.name: f.stat().st_mode & 0o777 for f in files} == {f.name: mode for f in files}


# ----------------------------------------------------------------------------- crafted projection files


@pytest.mark.parametrize("change", [{"audio_dim": 1e6}, {"audio_dim": "8"}, {"text_dim": 10**6},
                                    {"init_temperature": "hot"}, {"learn_temperature": "yes"}, "deep"],
                         ids=["float dims", "string dims", "dims unlike the weights", "string temperature",
                              "string flag", "100k-deep config"])
def test_a_crafted_projection_config_is_a_clear_error(change, tmp_path, capsys):
    """The probe: a projection whose config says 1e6 or "384" dims (or nests 100k deep) gave tracebacks."""
    import json

    from safetensors.torch import load_file, save

    from clapdemo.training.model import AudioProjection, ProjectionConfig, load_projection, save_projection

    config = ProjectionConfig(audio_dim=8, text_dim=4)
    path = save_projection(AudioProjection(config), config, tmp_path / "run")
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
    crafted = "[" * 100_000 + "]" * 100_000 if change == "deep" else json.dumps({**json.loads(metadata["config"]), **change})
    path.write_bytes(save(load_file(str(path)), metadata={**metadata, "config": crafted}))
    with pytest.raises(ValueError) as err:
        load_projection(path)
    assert str(err.value).startswith(f"{path}: projection metadata is damaged") and len(str(err.value)) < 400
    code = cli.main(["search", "--run", str(tmp_path / "run"), "--store", str(tmp_path), "--text", "a dog"])
    assert code == 1 and capsys.readouterr().err.startswith(f"error: {path}: projection metadata is damaged")
