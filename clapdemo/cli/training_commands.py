"""The training commands: `train` (the audio projection on one or more stores) and `recipes`
(training recipes compared on real held-out audio)."""

from __future__ import annotations

from pathlib import Path

from clapdemo.cli.common import add_memmap_args, positive_int, print_metrics
from clapdemo.training.projection_init import DEFAULT_INIT, INITS


# ---------------------------------------------------------------- train

def add_train(commands) -> None:
    p = commands.add_parser("train", help="train the audio projection on a store",
                            description="Train AudioProjection (and the temperature) with the symmetric "
                            "contrastive loss; keeps the best checkpoint by validation loss.")
    p.add_argument("--train", required=True, type=Path, action="append",
                   help="store with training clips; repeat to mix stores of one encoder space (e.g. label pairs "
                   "and real audio)")
    p.add_argument("--val", type=Path, default=None,
                   help="store with validation clips (default: hold out --val-fraction of --train's real audio)")
    p.add_argument("--hold-out", type=float, default=0.0,
                   help="set aside this seeded, class-stratified share of the real-audio --train clips: never "
                   "trained on, listed in run.json as the clips to measure on (evaluate --unseen-only)")
    p.add_argument("--val-fraction", type=float, default=0.1,
                   help="share of training clips held out for validation when --val is not given (default 0.1)")
    p.add_argument("--out", required=True, type=Path, help="run directory: projection.safetensors + run.json")
    p.add_argument("--epochs", type=positive_int, default=None, help="maximum epochs (default from TrainConfig)")
    p.add_argument("--batch-size", type=positive_int, default=None, help="pairs per step (default from TrainConfig)")
    p.add_argument("--lr", type=float, default=None,
                   help="AdamW learning rate (default: follows --init: 3e-3 from the AudioSet labels, else TrainConfig's 1e-3)")
    p.add_argument("--weight-decay", type=float, default=None, help="AdamW weight decay")
    p.add_argument("--patience", type=int, default=None, help="early stop after N epochs without improvement")
    p.add_argument("--no-learn-temperature", action="store_true", help="keep the temperature fixed at its initial value")
    p.add_argument("--temperature", type=float, default=None, help="initial temperature (CLIP: 0.07)")
    p.add_argument("--seed", type=int, default=None, help="random seed (same seed, same weights)")
    p.add_argument("--init", choices=INITS, default=DEFAULT_INIT,
                   help="where the projection starts. audioset-labels: from the text vectors of the 527 AudioSet "
                   "label names (needs a store of EfficientAT logits; best zero-shot on unseen classes); random: "
                   "seeded random weights; auto (default): audioset-labels when the store allows, else random")
    add_memmap_args(p)
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads while training (default: 1 on a machine with <= 2 cores, else torch's)")
    p.set_defaults(handler=run_train)


def train_settings(args) -> dict:
    """Flags -> TrainConfig fields; None (a flag left out) keeps the dataclass default. The
    learning rate is not here: it follows the init unless --lr is given (training.plan.training_config)."""
    return {"epochs": args.epochs, "batch_size": args.batch_size, "weight_decay": args.weight_decay,
            "patience": args.patience, "seed": args.seed, "init_temperature": args.temperature,
            "threads": getattr(args, "threads", None), "learn_temperature": False if args.no_learn_temperature else None}


def run_train(args) -> int:
    from clapdemo.training.plan import load_training_data, plan_training

    data = load_training_data(args.train, args.val, args.val_fraction, args.hold_out, args.seed or 0,
                              args.memmap, args.float16)
    train_set, val_set = data.train_set, data.val_set
    run = plan_training(data, args.init, where=str(args.train[0]), lr=args.lr, **train_settings(args))
    for store in data.record["stores"]:
        print(f"  {store['store']}: {store['kind']}, {store['n_train_clips']} clips for training"
              + (f", {store['n_held_out']} held out" if store["n_held_out"] else ""))
    print(f"train: {train_set.n_clips} clips / {train_set.n_captions} captions; "
          f"val: {val_set.n_clips} clips / {val_set.n_captions} captions")
    print(f"{run.describe()}{'' if args.lr is None else ' (--lr)'}")
    result = run.start(args.out, callbacks=[_print_epoch])
    print(f"best epoch {result.best_epoch}{' (stopped early)' if result.stopped_early else ''}; saved to {args.out}")
    print_metrics(result.metrics)
    return 0


def _print_epoch(log) -> None:
    print(f"epoch {log.epoch:3d}  train loss {log.train_loss:.4f}  val loss {log.val_loss:.4f}  "
          f"val acc@1 a2t {log.val_a2t_acc1:.3f} t2a {log.val_t2a_acc1:.3f}  1/T {log.logit_scale:.1f}")


# ---------------------------------------------------------------- recipes

def add_recipes(commands) -> None:
    p = commands.add_parser("recipes", help="compare training recipes on real held-out audio (UrbanSound8K, "
                            "ESC-50 unseen classes and held-out clips, tag overlap)",
                            description="Trains each recipe of clapdemo.training.recipes (training data and how the map "
                            "starts and trains from the label bridge) over --seeds and measures it on real audio it "
                            "never trained on, beside the untrained label bridge (clapdemo.training.recipes).")
    p.add_argument("--esc50", required=True, type=Path, help="store of the ESC-50 clips (mn04_as:logits)")
    p.add_argument("--label-pairs", required=True, type=Path, help="label-pair store to train on (AudioCaps train)")
    p.add_argument("--urbansound8k", required=True, type=Path, help="store of UrbanSound8K clips (fold 10)")
    p.add_argument("--label-pairs-limit", type=positive_int, default=None,
                   help="train on a seeded subset of this many label pairs (a cheaper search)")
    p.add_argument("--audiocaps", type=Path, default=None,
                   help="label-pair store of a split no recipe trains on (AudioCaps test): a label-space column")
    p.add_argument("--baseline", type=Path, default=None, help="a trained run to measure beside them (assets/projection)")
    p.add_argument("--seeds", type=int, default=3, help="training seeds per recipe (default 3)")
    p.add_argument("--recipe", type=int, action="append", default=None,
                   help="only recipe number N of clapdemo.training.recipes.RECIPES (from 0; repeatable; default all)")
    p.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    p.set_defaults(handler=run_recipes)


def run_recipes(args) -> int:
    from clapdemo.training.recipes import RECIPES, label_pair_sample, markdown, measure_recipes, measure_run
    from clapdemo.stores.store import open_store

    esc, us8k = open_store(args.esc50), open_store(args.urbansound8k)
    audiocaps = open_store(args.audiocaps) if args.audiocaps else None
    labels = label_pair_sample(open_store(args.label_pairs), args.label_pairs_limit)
    baseline = measure_run(args.baseline, us8k, esc, audiocaps) if args.baseline else None
    recipes = RECIPES if not args.recipe else tuple(RECIPES[i] for i in args.recipe)
    results = measure_recipes(esc, labels, us8k, audiocaps, recipes=recipes, seeds=tuple(range(args.seeds)))
    print(markdown(results, baseline))
    if args.json:
        from clapdemo.stores.store import atomic_write_json

        atomic_write_json(args.json, {"recipes": results, "baseline": baseline})
    return 0
