"""Find a pretrained weight file: settings dir -> shipped copy -> user cache -> official URL.

One weight file ships with the repository, so that the default encoders work on
a machine with no network: mn04_as (MIT, 4 MB) in assets/weights. Every other
model is downloaded. `find_weights(name)` looks, in order:

1. the directory in the environment variable CLAPDEMO_WEIGHTS_DIR (e.g. a
   shared folder, or what CI mounts);
2. assets/weights in the repository (read only, never written);
3. the user cache, $XDG_CACHE_HOME/clapdemo/weights (default
   ~/.cache/clapdemo/weights);
4. the official URL: streamed into a temporary file in the cache directory,
   hashed while streaming, checked, and only then moved into place with
   `os.replace` (so a broken download never leaves a half file under the real
   name).

A file whose sha256 does not match the table is refused, wherever it was found.
`read_state_dict` opens a weight file without unpickling arbitrary objects:
safetensors, or `torch.load(weights_only=True)`, which refuses a pickle that
would run code when loaded.
A table entry with `sha256=None` means "hash not known yet": the file is used
and its hash is recorded by the caller (`EncoderIdentity.weights_sha256`), but
nothing is verified. Fill in the hash once someone has the official file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.request import urlopen

from clapdemo.shipped import ASSETS

__all__ = [
    "WeightFile", "WEIGHTS", "ENV_DIR", "ASSETS_DIR", "WeightsError", "WeightsNotFound", "WeightsHashMismatch",
    "sha256_file", "cache_dir", "find_weights", "find_weights_with_hash", "read_state_dict",
]

ENV_DIR = "CLAPDEMO_WEIGHTS_DIR"
# Weight files that ship with the app (mn04_as only; see assets/weights/README.md).
ASSETS_DIR = ASSETS / "weights"
# Seconds a socket may wait (connect, and each read): offline machines fail fast instead of hanging.
TIMEOUT_S = 10.0
_CHUNK = 1 << 20

_EFFICIENTAT_RELEASE = "https://github.com/fschmid56/EfficientAT/releases/download/v0.0.1/"


@dataclass(frozen=True)
class WeightFile:
    """One downloadable weight file.

    sha256: expected hex digest, or None when not known yet (then the file is
    used unverified and its actual hash is what callers record).
    """

    name: str
    filename: str
    url: str
    sha256: str | None
    licence: str = ""


WEIGHTS: dict[str, WeightFile] = {
    w.name: w
    for w in [
        WeightFile("mn04_as", "mn04_as_mAP_432.pt", _EFFICIENTAT_RELEASE + "mn04_as_mAP_432.pt",
                   "899a8c6217063f6941793102a2780b3dd788ab11fce468d9cf5f0577c453321c", "MIT"),
        # Hashes not known on our (offline) machines: recorded when loaded, not verified.
        WeightFile("mn10_as", "mn10_as_mAP_471.pt", _EFFICIENTAT_RELEASE + "mn10_as_mAP_471.pt", None, "MIT"),
        WeightFile("mn40_as_ext", "mn40_as_ext_mAP_487.pt", _EFFICIENTAT_RELEASE + "mn40_as_ext_mAP_487.pt",
                   None, "MIT"),
        # LAION-CLAP HTSAT-tiny, non-fusion, trained on LAION-Audio-630k + AudioSet (clapdemo.encoders.laion).
        WeightFile("laion_clap_630k_audioset", "630k-audioset-best.pt",
                   "https://huggingface.co/lukewys/laion_clap/resolve/main/630k-audioset-best.pt", None, "CC0-1.0"),
        # PANNs CNN14 AudioSet tagging (mAP .431), Zenodo record 3987831 (clapdemo.encoders.laion).
        WeightFile("panns_cnn14", "Cnn14_mAP=0.431.pth",
                   "https://zenodo.org/record/3987831/files/Cnn14_mAP%3D0.431.pth?download=1", None, "CC-BY-4.0"),
    ]
}


class WeightsError(RuntimeError):
    """Base class: a weight file could not be provided."""


class WeightsNotFound(WeightsError):
    """Not on disk and could not be downloaded (offline, blocked, or download disabled)."""


class WeightsHashMismatch(WeightsError, ValueError):
    """A file has the wrong sha256: corrupt, truncated, or a different file under the same name.

    Also a ValueError: a damaged file is the user's to fix, and the app and CLI word it as such
    ("weights file X damaged"), not as "failed unexpectedly"."""


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in chunks (weight files can be hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_dir() -> Path:
    """The user cache for downloaded weights ($XDG_CACHE_HOME or ~/.cache, then clapdemo/weights)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "clapdemo" / "weights"


def _search_dirs() -> list[Path]:
    dirs = []
    if os.environ.get(ENV_DIR):
        dirs.append(Path(os.environ[ENV_DIR]).expanduser())
    dirs += [ASSETS_DIR, cache_dir()]
    return dirs


def _spec(name: str) -> WeightFile:
    if name not in WEIGHTS:
        raise ValueError(f"unknown weight file {name!r}; known: {', '.join(sorted(WEIGHTS))}")
    return WEIGHTS[name]


def _check(spec: WeightFile, path: Path, actual: str) -> None:
    if spec.sha256 is None or actual == spec.sha256:
        return
    if path.parent == ASSETS_DIR:
        fix = (f"This copy ships with clapdemo and was damaged (or is a git-lfs pointer: run `git lfs pull`). "
               f"Restore it with `git checkout -- assets/weights/{spec.filename}`, or delete it and rerun with "
               f"internet access (it is then downloaded from {spec.url} to {cache_dir()}).")
    else:
        fix = (f"The file is corrupt or a different file. Delete it, then either rerun with internet access "
               f"(it is downloaded to {cache_dir()}) or put the official file from {spec.url} there "
               f"or in ${ENV_DIR}.")
    raise WeightsHashMismatch(
        f"weights file {path} damaged (sha256 mismatch): it has the wrong sha256 for {spec.name}:\n  expected {spec.sha256}\n  actual   {actual}\n{fix}"
    )


def _not_found(spec: WeightFile, reason: str) -> WeightsNotFound:
    looked = ", ".join(str(d) for d in _search_dirs())
    return WeightsNotFound(
        f"weight file {spec.filename} ({spec.name}) not found in: {looked}; and the download failed: {reason}.\n"
        f"Fix: download {spec.url} on a machine with internet and put it in a folder named by the "
        f"environment variable {ENV_DIR} (or in {cache_dir()})."
    )


def _download(spec: WeightFile, dest_dir: Path) -> tuple[Path, str]:
    """Stream `spec.url` to a temp file in `dest_dir`, hashing as it goes; verify; os.replace into place."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest_dir, prefix=spec.filename + ".", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urlopen(spec.url, timeout=TIMEOUT_S) as response:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                digest.update(chunk)
                out.write(chunk)
        actual = digest.hexdigest()
        if spec.sha256 is not None and actual != spec.sha256:
            raise WeightsHashMismatch(
                f"download of {spec.url} has the wrong sha256:\n  expected {spec.sha256}\n  actual   {actual}\n"
                f"Nothing was saved. Retry; if it persists, the release file changed: check it and update "
                f"clapdemo/encoders/weights.py."
            )
        final = dest_dir / spec.filename
        os.replace(tmp, final)
        return final, actual
    finally:
        tmp.unlink(missing_ok=True)


def find_weights_with_hash(name: str, download: bool = True) -> tuple[Path, str]:
    """Like `find_weights`, and also return the file's actual sha256 (hashed once)."""
    spec = _spec(name)
    for folder in _search_dirs():
        path = folder / spec.filename
        if path.is_file():
            actual = sha256_file(path)
            _check(spec, path, actual)
            return path, actual
    if not download:
        raise _not_found(spec, "downloading was disabled")
    try:
        return _download(spec, cache_dir())
    except OSError as e:  # URLError/HTTPError, timeout, refused, DNS, disk full: all OSError
        raise _not_found(spec, f"{type(e).__name__}: {e}") from e


def find_weights(name: str, download: bool = True) -> Path:
    """Path to the verified weight file `name` (a key of WEIGHTS), downloading it if needed.

    Raises WeightsHashMismatch for a file with the wrong hash, WeightsNotFound
    when it is nowhere on disk and cannot be downloaded.
    """
    return find_weights_with_hash(name, download)[0]


def read_state_dict(path: str | Path) -> dict:
    """The tensors of a weight file, never unpickling arbitrary objects.

    `.safetensors` is read as such; anything else with torch's loader in `weights_only=True`
    mode, whose restricted unpickler refuses any object that is
    not a tensor or a plain container (a pickle that would run code when loaded).
    """
    import torch

    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as err:  # pickle.UnpicklingError, a damaged zip, a foreign header
        raise WeightsError(
            f"{path}: not a plain file of tensors ({type(err).__name__}: {str(err).splitlines()[0][:200]}). "
            "clapdemo never unpickles arbitrary objects; use the official weight file, or convert this one "
            "where you trust it with safetensors.torch.save_file(state_dict, 'file.safetensors')."
        ) from err
