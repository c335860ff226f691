"""The sample set that ships with the app: a compact copy of ESC-50 clips, and its store.

So that `python app.py` with no flags and no network has something to search at once:

    assets/esc50-sample/        esc50.csv (ESC-50's own columns; filenames end in .ogg),
                                audio/*.ogg (Ogg Opus, mono, 48 kHz), LICENSE (CC BY-NC 3.0)
    assets/esc50-sample-store/  the store of exactly those files for the default encoders
                                (mn04_as logits + MiniLM); its clips.parquet holds audio
                                paths relative to the sample folder

`build_sample_set` re-encodes an ESC-50 folder into the first, `build_sample_store`
precomputes the second from the re-encoded files themselves (`python -m clapdemo
sample-set build|store`). The app never writes into assets/: `install_sample_store`
copies the shipped store into the cache, points its paths at the sample folder and
checks the copy's shard checksums there; it declines (saying why) when the active
encoders are not the ones the store was made with, and the app's ordinary precompute
then builds a store for them in the cache.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from clapdemo import logs
from clapdemo.shipped import ASSETS

log = logs.get(__name__)
ASSET_SUMS = "SHA256SUMS"  # assets/SHA256SUMS: "<sha256>  <path below assets/>" for every shipped file
SAMPLE_ROOT = ASSETS / "esc50-sample"
SAMPLE_STORE = ASSETS / "esc50-sample-store"
AUDIO_ENCODER = "mn04_as:logits"
TEXT_ENCODER = "minilm"
SAMPLE_RATE = 48_000  # Opus codes at 48 kHz; mn04 resamples to 32 kHz on load
# libsndfile's Opus setting (0 = largest, 1 = smallest): 0.93 is ~24 kbit/s, ~14 KB per 5 s clip.
COMPRESSION_LEVEL = 0.93

LICENSE_TEXT = """\
The audio in this folder is a re-encoded part of ESC-50:

  K. J. Piczak. "ESC: Dataset for Environmental Sound Classification."
  Proceedings of the 23rd ACM International Conference on Multimedia, 2015.
  https://github.com/karolpiczak/ESC-50

ESC-50 is licensed under Creative Commons Attribution-NonCommercial 3.0
(CC BY-NC 3.0, https://creativecommons.org/licenses/by-nc/3.0/); its clips come
from freesound.org, whose authors are credited in ESC-50's own repository.
Changes made here: {changes}. esc50.csv keeps ESC-50's columns, with the file
names changed to the .ogg copies. Non-commercial use only; this licence covers
the audio and the table in this folder, not clapdemo's code (MIT).
"""


@dataclass
class SampleSetReport:
    """What `build_sample_set` did: clips written, bad clips skipped (with the reason), bytes."""

    out: str
    written: int = 0
    skipped: dict = field(default_factory=dict)  # clip id -> why
    bytes: int = 0

    def summary(self) -> str:
        return (f"{self.out}: {self.written} clips, {self.bytes / 1e6:.2f} MB of audio"
                + (f", {len(self.skipped)} skipped" if self.skipped else ""))


def build_sample_set(source, out, per_class: int | None = None,
                     compression_level: float = COMPRESSION_LEVEL) -> SampleSetReport:
    """Re-encode the ESC-50 folder `source` into `out` (Ogg Opus, mono, 48 kHz) with its table.

    per_class: keep the first N clips of each class (by file name), for a class-balanced
    part; None keeps every clip. Clips that cannot be decoded are skipped and listed.
    `out` must be new or empty: a half-old folder would mix two builds.
    """
    import soundfile as sf

    from clapdemo.data.audio import AudioError, load_audio
    from clapdemo.data.esc50 import read_esc50

    source, out = Path(source), Path(out)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out}: not empty; delete it or choose another --out (a sample set is built whole)")
    rows = _source_rows(source, {str(c): Path(p) for c, p in _clip_paths(read_esc50(source))}, per_class)
    (out / "audio").mkdir(parents=True, exist_ok=True)
    report = SampleSetReport(str(out))
    kept = []
    for row in rows:
        target = out / "audio" / f"{row['clip_id']}.ogg"
        try:
            wave = load_audio(row["audio_path"], SAMPLE_RATE)
        except AudioError as error:
            report.skipped[row["clip_id"]] = error.problem
            continue
        sf.write(target, wave, SAMPLE_RATE, format="OGG", subtype="OPUS", compression_level=compression_level)
        report.bytes += target.stat().st_size
        kept.append({**row["csv"], "filename": target.name})
    report.written = len(kept)
    pd.DataFrame(kept).to_csv(out / "esc50.csv", index=False)
    changes = (f"{report.written} clips, decoded, mixed to mono, resampled to {SAMPLE_RATE} Hz and encoded as "
               f"Ogg Opus (libsndfile compression level {compression_level}) by clapdemo.data.sample_set")
    (out / "LICENSE").write_text(LICENSE_TEXT.format(changes=changes), encoding="utf-8")
    return report


def _clip_paths(dataset) -> list[tuple[str, str]]:
    return list(zip(dataset.clips["clip_id"], dataset.clips["audio_path"]))


def _source_rows(source: Path, found: dict[str, Path], per_class: int | None) -> list[dict]:
    """The source table's rows (ESC-50's columns, as text) whose audio the reader found, sorted by
    file name; the first `per_class` of each class when given."""
    table = next((p for p in (source / "meta" / "esc50.csv", source / "esc50.csv") if p.is_file()))
    with open(table, newline="", encoding="utf-8") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: r["filename"])
    out, taken = [], {}
    for row in rows:
        clip_id = Path(row["filename"]).stem
        if clip_id not in found or (per_class is not None and taken.get(row["category"], 0) >= per_class):
            continue
        taken[row["category"]] = taken.get(row["category"], 0) + 1
        out.append({"clip_id": clip_id, "audio_path": found[clip_id], "csv": row})
    return out


def build_sample_store(sample_root, out, progress: bool = True):
    """Precompute the sample folder's store with the default encoders into `out`, with its audio
    paths made relative to `sample_root` (so the store does not name this machine's folders)."""
    from clapdemo.data.esc50 import read_esc50
    from clapdemo.encoders import load_audio_encoder, load_text_encoder
    from clapdemo.stores.precompute import precompute
    from clapdemo.stores.store import Store, atomic_write_bytes

    sample_root, out = Path(sample_root).resolve(), Path(out)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out}: not empty; delete it or choose another --out (the shipped store is built whole)")
    dataset = read_esc50(sample_root)
    report = precompute(dataset, load_audio_encoder(AUDIO_ENCODER), load_text_encoder(TEXT_ENCODER), out,
                        checkpoint_every=len(dataset.clips), progress=progress)
    store = Store(out)
    table = store.clips()
    table["audio_path"] = [Path(p).resolve().relative_to(sample_root).as_posix() for p in table["audio_path"]]
    atomic_write_bytes(out / "clips.parquet", table.to_parquet(index=False))
    shutil.rmtree(out / "locks", ignore_errors=True)  # nothing of this machine's runs ships
    (out / "report.json").unlink(missing_ok=True)
    return report


def install_sample_store(target, audio_encoder, text_encoder, sample_root=SAMPLE_ROOT,
                         shipped=SAMPLE_STORE) -> str | None:
    """Make `target` (a folder in the cache) a checked copy of the shipped store; None when done.

    Returns why not instead (the active encoders are not the store's; nothing shipped):
    the caller then builds a store for its encoders the ordinary way (precompute). A copy
    that is already current (the same shards) is left alone. The shards' checksums are
    checked on the copy, so assets/ is never written, not even to quarantine a bad shard;
    a damaged shipped shard is quarantined in the copy and its clips count as not done.
    """
    from clapdemo.stores.precompute import build_manifest
    from clapdemo.stores.store import Store, atomic_write_bytes, describe_key

    source, target, sample_root = Store(shipped), Path(target), Path(sample_root).resolve()
    if not source.exists():
        return f"no shipped store at {shipped}"
    for path in sorted(Path(shipped).rglob("*")):  # assets/SHA256SUMS: a flipped byte is named, not served
        if path.is_file():
            check_shipped(path)
    manifest = source.manifest()
    active = build_manifest(audio_encoder, text_encoder, SimpleNamespace(**manifest["dataset"]))
    if Store.key_of(manifest) != Store.key_of(active):
        return (f"the shipped store holds {describe_key(manifest)}; the active encoders are "
                f"{describe_key(active)}: precompute builds a store for them")
    if Store(target).exists() and _shard_names(Store(target)) == _shard_names(source):
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    copy = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    shutil.copytree(shipped, copy, dirs_exist_ok=True)
    table = Store(copy).clips()
    table["audio_path"] = [str(sample_root / p) for p in table["audio_path"]]
    atomic_write_bytes(copy / "clips.parquet", table.to_parquet(index=False))
    for problem in Store(copy).verify():
        log.warning("shipped store: %s", problem)
    shutil.rmtree(target, ignore_errors=True)
    try:
        copy.rename(target)
    except OSError:  # another session installed it at the same moment: theirs is the same copy
        shutil.rmtree(copy, ignore_errors=True)
    return None


def _shard_names(store) -> list[str]:
    return [p.name for p in store.sidecars()]


def sample_set_size() -> dict[str, int]:
    """Bytes of the sample folder and of its store (docs/app.md states them)."""
    return {str(Path("assets") / folder.relative_to(ASSETS)): sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
            for folder in (SAMPLE_ROOT, SAMPLE_STORE)}


def describe(sample_root=SAMPLE_ROOT) -> str:
    """One line for a header or a log: what the sample set is and where it comes from."""
    count = len(pd.read_csv(Path(sample_root) / "esc50.csv"))
    return f"the sample set that ships with the app ({count} ESC-50 clips, CC BY-NC 3.0, K. J. Piczak 2015)"


class DamagedAsset(ValueError):
    """A shipped file under assets/ whose sha256 is not the one assets/SHA256SUMS records."""


def asset_hashes(assets=ASSETS) -> dict[str, str]:
    """{path below `assets` (posix): sha256} of every file there but the SHA256SUMS manifest itself."""
    assets = Path(assets)
    return {p.relative_to(assets).as_posix(): _sha256(p) for p in sorted(assets.rglob("*"))
            if p.is_file() and p.relative_to(assets).as_posix() != ASSET_SUMS}


def write_asset_manifest(assets=ASSETS) -> Path:
    """Write assets/SHA256SUMS (`sha256sum -c` reads it too) from the files there now.

    Rerun after changing anything under assets/ (a retrained projection, a rebuilt store or
    layout, a new file): `python -m clapdemo sample-set hashes`. test_data_integrity fails
    until then, naming the files that differ."""
    path = Path(assets) / ASSET_SUMS
    text = "".join(f"{digest}  {name}\n" for name, digest in asset_hashes(assets).items())
    from clapdemo.stores.store import atomic_write_bytes

    atomic_write_bytes(path, text.encode("utf-8"))
    return path


def asset_manifest_problems(assets=ASSETS) -> list[str]:
    """Each way the files under `assets` differ from its SHA256SUMS (empty: they match)."""
    assets = Path(assets)
    recorded = _recorded_sums(assets / ASSET_SUMS)
    if recorded is None:
        return [f"{assets / ASSET_SUMS}: missing"]
    actual = asset_hashes(assets)
    problems = [f"{name}: changed (sha256 differs from {ASSET_SUMS})" for name in sorted(actual)
                if name in recorded and recorded[name] != actual[name]]
    problems += [f"{name}: not listed in {ASSET_SUMS}" for name in sorted(actual.keys() - recorded.keys())]
    problems += [f"{name}: listed in {ASSET_SUMS} but missing" for name in sorted(recorded.keys() - actual.keys())]
    return problems


def check_shipped(path) -> None:
    """Raise DamagedAsset when `path` is a file listed in the SHA256SUMS of a folder above it (the
    repository's assets/, or a copy of it) and its bytes no longer match; anything else passes.

    Called where shipped files are read: the projection and its run record (`training.runs.load_run`), the
    sample store before it is installed, so a flipped byte is named instead of served."""
    path = Path(path).resolve()
    for folder in path.parents:
        recorded = _recorded_sums(folder / ASSET_SUMS)
        if recorded is None:
            continue
        name = path.relative_to(folder).as_posix()
        if name in recorded and _sha256(path) != recorded[name]:
            raise DamagedAsset(
                f"shipped file {folder.name}/{name} is damaged (sha256 mismatch with {folder.name}/{ASSET_SUMS}): "
                f"restore it with `git checkout -- {folder.name}/{name}` or download the repository again; "
                f"if you changed it on purpose, run `python -m clapdemo sample-set hashes`")
        return


def _recorded_sums(path: Path) -> dict[str, str] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return _parse_sums(str(path), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=8)
def _parse_sums(path: str, size: int, mtime_ns: int) -> dict[str, str]:
    out = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        if name:
            out[name] = digest
    return out


def _sha256(path: Path) -> str:
    st = path.stat()
    return _sha256_of(os.fspath(path), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=4096)
def _sha256_of(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


__all__ = ["SAMPLE_ROOT", "SAMPLE_STORE", "AUDIO_ENCODER", "TEXT_ENCODER", "build_sample_set",
           "build_sample_store", "install_sample_store", "sample_set_size", "describe",
           "DamagedAsset", "asset_hashes", "write_asset_manifest", "asset_manifest_problems", "check_shipped"]


def session_store(candidate, data_root, audio_encoder, text_encoder, log=None) -> str | None:
    """The store a new app session starts on: `candidate` (the cache's store for the configured
    dataset, split and encoders), installed first from the shipped copy when the data root is the
    sample set (page load then needs no precompute); None when it holds no store yet.

    A shipped store that does not fit the encoders is not installed (`install_sample_store` says
    why, given to `log`): the visitor precomputes one the ordinary way."""
    candidate = Path(candidate)
    if data_root == SAMPLE_ROOT:  # its shipped store, copied into the cache
        why = install_sample_store(candidate, audio_encoder, text_encoder)
        if why and log is not None:
            log(why)
    if candidate.is_dir() and (candidate / "manifest.json").is_file():
        return str(candidate)
    return None
