"""A training asked for with a form's values: checked, its init made and its config composed.

The app's Train tab hands over what a visitor typed (numbers may be None, the learning rate 0 or
empty); this module says what is wrong with it, in the order a visitor reads the form, before a
background job starts, so a mistake is told at once rather than minutes later in a thread. The
CLI parses the same settings with argparse; both end in `training.plan.plan_training`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class TrainingRequest:
    """What `check_training_request` made of the form: the init, the config, the settings for
    `plan_training`, and every store to train on (extras first, the active store last)."""
    start: object  # projection_init's Init
    cfg: object  # train.TrainConfig
    settings: dict = field(default_factory=dict)
    stores: list[str] = field(default_factory=list)
    lr_follows_init: bool = False  # an empty or 0 learning rate: the init's own


def check_training_request(store, extra_stores, *, init, lr, epochs, batch_size, weight_decay, learn_temperature,
                           patience, val_fraction, max_epochs: int) -> TrainingRequest:
    """The form's values as a training, or a ValueError that says which field is wrong.

    Why here and not in the app: the epochs cap keeps a visitor's run within minutes
    (CLAPDEMO_MAX_EPOCHS), an empty or 0 learning rate follows the init (as the CLI's default
    does), and every extra store's manifest is read now so a wrong folder is said before training."""
    from clapdemo.training.projection_init import DEFAULT_INIT, make_init
    from clapdemo.stores.store import Store
    from clapdemo.training.plan import training_config

    if None in (epochs, batch_size, weight_decay, patience, val_fraction):
        raise ValueError("fill in every field (epochs, batch size, weight decay, ...)")
    if not 1 <= int(epochs) <= max_epochs:  # a visitor's run ends within minutes
        raise ValueError(f"epochs {epochs:g}: choose 1 to {max_epochs} here "
                         "(CLAPDEMO_MAX_EPOCHS; `python -m clapdemo train` trains longer)")
    start = make_init(init or DEFAULT_INIT, Store(store).manifest(), where=f"store {Path(store).name}")
    if lr is not None and float(lr) < 0:
        raise ValueError(f"learning rate {lr} is negative; leave it at 0 to follow the init")
    settings = dict(epochs=int(epochs), batch_size=int(batch_size), weight_decay=float(weight_decay),
                    learn_temperature=bool(learn_temperature), patience=int(patience))
    cfg = training_config(start, float(lr) if lr else None, **settings)  # 0 or empty: the init's lr
    if not 0 < float(val_fraction) < 1:
        raise ValueError(f"validation share {val_fraction} must be between 0 and 1")
    stores = [*extra_stores, store]
    for path in stores[:-1]:
        Store(path).manifest()  # a wrong folder is said here, not in the background job
    return TrainingRequest(start, cfg, settings, [str(p) for p in stores], lr_follows_init=not lr)
