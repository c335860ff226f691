"""weights.py: env dir -> cache -> download, sha256 checks, clear errors. No test touches the network:
downloads are served by a fake `urlopen` (or refused by a closed port on 127.0.0.1)."""

from __future__ import annotations

import io
import shutil
from urllib.error import URLError

import pytest

from conftest import REPO

from clapdemo.encoders import weights
from clapdemo.encoders.weights import WeightsHashMismatch, WeightsNotFound, find_weights, find_weights_with_hash, sha256_file

MN04 = weights.WEIGHTS["mn04_as"]


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """An empty weights dir, no shipped copy and an empty user cache; any real download attempt fails loudly."""
    env_dir, cache = tmp_path / "env", tmp_path / "xdg"
    env_dir.mkdir()
    monkeypatch.setenv(weights.ENV_DIR, str(env_dir))
    monkeypatch.setattr(weights, "ASSETS_DIR", tmp_path / "no-assets")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))

    def no_network(url, timeout=None):
        raise URLError("network disabled in tests")

    monkeypatch.setattr(weights, "urlopen", no_network)
    return env_dir, cache / "clapdemo" / "weights"


def _serve(monkeypatch, payload: bytes, calls: list):
    def fake_urlopen(url, timeout=None):
        calls.append((url, timeout))
        return io.BytesIO(payload)

    monkeypatch.setattr(weights, "urlopen", fake_urlopen)


def test_finds_shared_file_via_env_and_verifies(shared):
    path, sha = find_weights_with_hash("mn04_as", download=False)
    assert path == shared / "weights" / MN04.filename
    assert sha == MN04.sha256 == sha256_file(path)
    assert (shared / "weights" / "SHA256SUMS").read_text().split()[0] == MN04.sha256


def test_corrupt_copy_is_refused_naming_file_and_hashes(shared, isolated):
    env_dir, _ = isolated
    bad = env_dir / MN04.filename
    data = bytearray((shared / "weights" / MN04.filename).read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(WeightsHashMismatch) as err:
        find_weights("mn04_as")
    msg = str(err.value)
    assert str(bad) in msg and MN04.sha256 in msg and sha256_file(bad) in msg
    assert "Delete it" in msg and MN04.url in msg


def test_missing_and_offline_gives_one_clear_error(isolated):
    with pytest.raises(WeightsNotFound) as err:
        find_weights("mn04_as")
    msg = str(err.value)
    assert MN04.filename in msg and MN04.url in msg and weights.ENV_DIR in msg
    assert "network disabled in tests" in msg


def test_missing_with_download_disabled(isolated):
    with pytest.raises(WeightsNotFound, match="downloading was disabled"):
        find_weights("mn04_as", download=False)


def test_unreachable_url_fails_fast(isolated, monkeypatch):
    # A closed local port: the real urlopen is refused at once (no outside network involved).
    monkeypatch.setattr(weights, "urlopen", __import__("urllib.request").request.urlopen)
    monkeypatch.setitem(weights.WEIGHTS, "mn04_as",
                        weights.WeightFile("mn04_as", MN04.filename, "http://127.0.0.1:9/mn04.pt", MN04.sha256))
    with pytest.raises(WeightsNotFound, match="127.0.0.1:9"):
        find_weights("mn04_as")


def test_download_streams_verifies_and_replaces(shared, isolated, monkeypatch):
    _, cache = isolated
    calls = []
    _serve(monkeypatch, (shared / "weights" / MN04.filename).read_bytes(), calls)
    path, sha = find_weights_with_hash("mn04_as")
    assert path == cache / MN04.filename and sha == MN04.sha256
    assert calls == [(MN04.url, weights.TIMEOUT_S)] and 0 < weights.TIMEOUT_S <= 30
    assert sorted(p.name for p in cache.iterdir()) == [MN04.filename]  # no .part left behind
    # second call finds the cached file without downloading
    assert find_weights("mn04_as") == path and len(calls) == 1


def test_download_with_wrong_hash_saves_nothing(isolated, monkeypatch):
    _, cache = isolated
    _serve(monkeypatch, b"not the weights", [])
    with pytest.raises(WeightsHashMismatch, match="Nothing was saved"):
        find_weights("mn04_as")
    assert not cache.exists() or list(cache.iterdir()) == []


def test_unknown_hash_is_recorded_not_verified(isolated, monkeypatch):
    assert weights.WEIGHTS["mn10_as"].sha256 is None
    payload = b"pretend mn10 file"
    _serve(monkeypatch, payload, [])
    path, sha = find_weights_with_hash("mn10_as")
    assert path.read_bytes() == payload and sha == sha256_file(path)


def test_env_dir_wins_over_cache(shared, isolated):
    env_dir, cache = isolated
    cache.mkdir(parents=True)
    shutil.copy(shared / "weights" / MN04.filename, cache / MN04.filename)
    shutil.copy(shared / "weights" / MN04.filename, env_dir / MN04.filename)
    assert find_weights("mn04_as") == env_dir / MN04.filename


def test_unknown_name_lists_known():
    with pytest.raises(ValueError, match="mn04_as"):
        find_weights("mn99")


# ---- the copy that ships in assets/ (issue #14: the default encoders work with no network)


@pytest.fixture
def no_env_no_cache_no_sockets(tmp_path, monkeypatch):
    """A fresh machine: no CLAPDEMO_WEIGHTS_DIR, an empty user cache, and no socket can be opened."""
    import socket

    monkeypatch.delenv(weights.ENV_DIR, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home" / ".cache"))

    def no_socket(*args, **kwargs):
        raise OSError("sockets are blocked in this test")

    monkeypatch.setattr(socket, "socket", no_socket)
    monkeypatch.setattr(socket, "create_connection", no_socket)
    return tmp_path


def test_mn04_loads_offline_from_assets(shared, no_env_no_cache_no_sockets):
    from clapdemo.encoders.efficientat import load_efficientat

    assert weights.ASSETS_DIR == REPO / "assets" / "weights"  # a checkout: the repository's assets/
    shipped = weights.ASSETS_DIR / MN04.filename
    assert shipped.stat().st_size == 4_066_513
    path, sha = find_weights_with_hash("mn04_as")
    assert path == shipped and sha == MN04.sha256
    assert not weights.cache_dir().exists()  # nothing downloaded, nothing copied
    encoder = load_efficientat("mn04_as")
    assert encoder.identity.weights_sha256 == MN04.sha256


def test_env_dir_still_wins_over_assets(shared, tmp_path, monkeypatch):
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    monkeypatch.setenv(weights.ENV_DIR, str(env_dir))
    assert (weights.ASSETS_DIR / MN04.filename).is_file()
    shutil.copy(shared / "weights" / MN04.filename, env_dir / MN04.filename)
    assert find_weights("mn04_as") == env_dir / MN04.filename


def test_damaged_assets_copy_is_refused_saying_how_to_restore(shared, no_env_no_cache_no_sockets, monkeypatch):
    assets = no_env_no_cache_no_sockets / "assets" / "weights"
    assets.mkdir(parents=True)
    data = bytearray((shared / "weights" / MN04.filename).read_bytes())
    data[1000] ^= 0xFF
    (assets / MN04.filename).write_bytes(bytes(data))
    monkeypatch.setattr(weights, "ASSETS_DIR", assets)
    with pytest.raises(WeightsHashMismatch) as err:
        find_weights("mn04_as")
    msg = str(err.value)
    assert str(assets / MN04.filename) in msg and MN04.sha256 in msg
    assert "ships with clapdemo" in msg and "git checkout" in msg and "git lfs pull" in msg


def test_assets_carry_only_mn04():
    """Every other model keeps the download path: only mn04_as ships."""
    assert sorted(p.name for p in weights.ASSETS_DIR.glob("*.pt")) == [MN04.filename]
