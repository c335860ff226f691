"""`RunInfo`: the one record of a training run, written by `train` and read back by `load_run_info`.

On disk it is run.json beside projection.safetensors (format "clapdemo.run", version 1),
and a summary of it (`projection_extra`: encoders, config, best epoch) inside the
projection file's metadata, so a projection file copied alone still says what it was
trained on. Both come from one `RunInfo`; readers get a `RunInfo` from `load_run_info`,
never the raw dicts.

While a run trains, run.json is written once, at its first checkpoint, saying "running";
each later checkpoint carries the best epoch and the epochs so far in its own metadata
(`checkpoint_extra`), and `load_run_info` reads them from there, so a run killed at any
moment reads as "running" with the epochs of its last checkpoint. The full run.json is
written once, at the end.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields

FORMAT = "clapdemo.run"
FORMAT_VERSION = 1
RUN_FILE = "run.json"
CLIPS_FILE = "train_clips.json"  # beside run.json: the ids of the clips trained on and validated on


@dataclass
class RunInfo:
    """What a run was and did.

    status:       "running" (a checkpoint while training), "finished", "early_stopping", "callback";
                  "" when only the projection file's summary was there to read.
    config:       the TrainConfig, as a dict.
    projection:   the ProjectionConfig, as a dict.
    data:         what produced the vectors: {"audio_encoder", "text_encoder": identities,
                  "dataset": the store's dataset record, "split"}.
    best_epoch:   the epoch whose weights the projection file holds (None: unknown).
    history:      one EpochLog dict per epoch.
    metrics:      `metrics.evaluate` of the best model on the validation set.
    init:         the start (projection_init.ProjectionInit.record); None: the seeded random init.
    training:     the training.plan record (stores, held-out clips, named splits), or None.
    clips_file:   the file beside run.json listing the training and validation clip ids.
    """

    config: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    best_epoch: int | None = None
    status: str = ""
    projection: dict = field(default_factory=dict)
    n_train_clips: int = 0
    n_train_captions: int = 0
    n_val_clips: int = 0
    monitor: str = ""
    history: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    init: dict | None = None
    training: dict | None = None
    clips_file: str = CLIPS_FILE

    @property
    def encoders(self) -> dict:
        """{"audio_encoder": identity, "text_encoder": identity}: the encoders the projection was trained with."""
        return {k: v for k, v in self.data.items() if k.endswith("_encoder")}

    @property
    def named_splits(self) -> list:
        """[dataset, split] pairs the run trained on (training.plan.named_splits), for the leakage check."""
        return (self.training or {}).get("splits") or []

    def to_json(self) -> bytes:
        """run.json's bytes (strict JSON: a NaN is an error, not a file other tools cannot read)."""
        record = {"format": FORMAT, "format_version": FORMAT_VERSION, **asdict(self)}
        return json.dumps(record, indent=1, allow_nan=False).encode("utf-8")

    def projection_extra(self) -> dict:
        """The summary stored in the projection file's metadata."""
        return {"best_epoch": self.best_epoch, "train_config": self.config, "data": self.data}

    def checkpoint_extra(self) -> dict:
        """The summary of a checkpoint written while the run trains: also its status and epochs so far."""
        return {**self.projection_extra(), "status": self.status, "history": self.history}

    @classmethod
    def from_dict(cls, record: dict) -> "RunInfo":
        """A run.json record (keys this version does not know are ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in known})


def load_run_info(run, weights_file: bool = True) -> RunInfo:
    """The record of the run at `run` (a run directory or a projection.safetensors file): its
    run.json when there is one, else the summary in the projection file; of a run still training
    (or killed while it did), the best epoch and epochs so far of its latest checkpoint.
    The projection file is always checked (header only, no weights): a missing or damaged one
    raises, naming it, as does a damaged run.json. weights_file=False reads run.json alone and
    imports no torch (the app's settings); an empty RunInfo when there is none."""
    from pathlib import Path

    if not weights_file:
        folder = Path(run) if Path(run).is_dir() else Path(run).parent
        return _read_run_json(folder / RUN_FILE) or RunInfo()
    from clapdemo.training.model import projection_file, read_projection_info

    file = projection_file(run)
    extra = read_projection_info(file)["extra"]
    info = _read_run_json(file.parent / RUN_FILE)
    if info is None:
        return RunInfo(config=extra.get("train_config") or {}, data=extra.get("data") or {},
                       best_epoch=extra.get("best_epoch"), status=extra.get("status", ""),
                       history=extra.get("history") or [])
    if info.status == "running" and extra.get("status") == "running":  # the checkpoint is newer
        info.best_epoch, info.history = extra.get("best_epoch", info.best_epoch), extra.get("history", info.history)
    return info


def _read_run_json(run_json) -> RunInfo | None:
    """run.json's RunInfo; None when there is none (or it is another program's)."""
    if not run_json.is_file():
        return None
    try:
        record = json.loads(run_json.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as error:
        raise ValueError(f"{run_json}: not a readable run record ({type(error).__name__}); "
                         "retrain, or remove it to use the projection file's own summary") from None
    if isinstance(record, dict) and record.get("format", FORMAT) == FORMAT:
        return RunInfo.from_dict(record)
    return None
