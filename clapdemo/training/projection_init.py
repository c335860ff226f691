"""Where training starts: the projection's initial weights, chosen by name.

- "random": the seeded random `nn.Linear` init (what `train` does on its own).
- "audioset-labels": the *label bridge*. EfficientAT's 527 outputs are AudioSet
  classes, and each class has a name ("Dog", "Siren", ...) that the text encoder
  can embed. With L the (527, text_dim) matrix of those names' normalised text
  vectors, the projection starts as x -> (x - c) @ L: a clip lands on the mix of
  its AudioSet labels' text vectors, weighted by how far each output is above
  the centre c. For probabilities c = 0 (the weights are the probabilities); for
  logits c = the training clips' mean logits (without it every clip would share
  one large offset, the sum of all 527 label vectors times a typical logit of
  about -6, and land on the same point). Untrained, raising AudioSet output k by
  one from the centre moves the projection by exactly label k's text vector.
  Measured on ESC-50 (docs/training.md; REPORT.md), this start is what lets the
  trained projection name classes it never saw.
- "auto": "audioset-labels" when the store holds 527-d AudioSet outputs of an
  EfficientAT model, else "random".

The learning rate follows the init (`DEFAULT_LR`), measured with the CLI's
other defaults (batch 256, at most 50 epochs).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from clapdemo.encoders.identity import check_same_encoders

INITS = ("auto", "random", "audioset-labels")
DEFAULT_INIT = "auto"
LABEL_TEMPLATE = "the sound of {}"  # how the 527 AudioSet label names are put into words
# AdamW learning rate per (resolved) init; --lr overrides; None: TrainConfig's default (1e-3).
# audioset-labels: 1e-3 with the default recipe (probabilities; DEFAULT_BRIDGE, REPORT.md "Recipes");
# the logits recipe before it measured lr 1e-4 56.8, 1e-3 65.9, 3e-3 69.3, 5e-3 68.1, 1e-2 65.4 %
# (ESC-50 zero-shot among 10 unseen classes) and keeps its 3e-3 (LOGIT_BRIDGE).
DEFAULT_LR = {"random": None, "audioset-labels": 1e-3}
AUDIOSET_ENCODERS = ("mn04_as", "mn10_as", "mn40_as_ext")  # EfficientAT models with AudioSet heads
# outputs with one value per AudioSet class -> the bridge's centre ("zero" or the training "mean")
AUDIOSET_OUTPUTS = {"logits": "mean", "probs": "zero"}
CENTRES = ("zero", "mean")
N_AUDIOSET_CLASSES = 527


@dataclass(frozen=True)
class BridgeRecipe:
    """How a run that starts at the label bridge trains (issue 20; measured on real held-out audio,
    REPORT.md "Recipes", `python -m clapdemo recipes`).

    input_transform: what the map reads (model.INPUT_TRANSFORMS): "sigmoid" = mn04's AudioSet
                     probabilities from a store of logits; "none" = the logits themselves.
    standardize:     standardise the inputs by the training set (None: as the data asks, see
                     training.plan.TrainingData: yes with real audio mixed in, no on label pairs alone).
    anchor:          L2 pull of the map toward the bridge (TrainConfig.anchor); 0: none.
    lr:              AdamW learning rate (None: DEFAULT_LR).
    name_pairs:      also train on the 527 AudioSet label names as pairs of their own (`name_pair_set`:
                     a label's logits as label pairs write them, +1 for it and -9 for the rest, against
                     "the sound of {label}"), this many copies each; 0: none.
    ridge:           start at the decorrelated bridge p @ D, D = L (L^T L + ridge I)^-1 rescaled to L's
                     norm (`decorrelated_bridge`), instead of p @ L; 0: the plain bridge. The 527 label
                     names are close to each other in the text space, so p @ L smears a clip's tags over
                     their neighbours; D undoes most of that (untrained, ridge 3: UrbanSound8K 63 % vs
                     56 %, top-5 tag overlap 0.57 vs 0.51, ESC-50 77 % vs 69 %).
    blend:           keep this share of what training moved the map, and the rest of the start
                     (TrainConfig.blend; WiSE-FT, Wortsman et al. 2022): the saved map is
                     start + blend * (trained - start); 1: the trained map. Training fits the captions
                     and ESC-50's wording and drifts from what the encoder hears; averaging with the
                     (decorrelated) bridge keeps both (REPORT.md "Recipes").
    """

    input_transform: str = "none"
    standardize: bool | None = None
    anchor: float = 0.0
    lr: float | None = None
    name_pairs: int = 0
    ridge: float = 0.0
    blend: float = 1.0

    def settings(self) -> dict:
        """TrainConfig fields this recipe sets (standardisation: TrainingRun.start applies it)."""
        return {"input_transform": self.input_transform, "anchor": self.anchor, "blend": self.blend}


# The recipe before issue 20: logits, standardised whenever real audio is mixed in (label pairs: std floor 1).
LOGIT_BRIDGE = BridgeRecipe(lr=3e-3)
# Probabilities, not standardised, with the AudioSet label names as pairs of their own (x4): UrbanSound8K
# zero-shot 63 % (logits recipe: 46 %), ESC-50 10 unseen classes 85 % (73 %), held-out clips of seen
# classes 89 % (90 %), top-5 tag overlap 0.41 (0.21); 3 seeds. The default before the blend.
NAMES_BRIDGE = BridgeRecipe(input_transform="sigmoid", standardize=False, name_pairs=4)
# The same from the decorrelated bridge (ridge 0.3) with a weak L2 pull toward it (anchor 0.003): UrbanSound8K
# 64.8 %, tag overlap 0.51, ESC-50 10 unseen classes 85.0 %, held-out clips of seen classes 85.3 % (3 seeds).
DECORRELATED_BRIDGE = BridgeRecipe(input_transform="sigmoid", standardize=False, name_pairs=4, ridge=0.3, anchor=0.003)
# The default (REPORT.md "Recipes", issue 20): from the decorrelated bridge (ridge 0.3), no pull, and the
# trained map blended 0.6 / 0.4 with that start: UrbanSound8K zero-shot 66.4 %, top-5 tag overlap 0.58,
# ESC-50 10 unseen classes 86.7 %, held-out clips of seen classes 86.7 % (3 seeds; every seed meets all
# four of issue 20's targets).
DEFAULT_BRIDGE = BLENDED_BRIDGE = BridgeRecipe(input_transform="sigmoid", standardize=False, name_pairs=4, ridge=0.3,
                                               blend=0.6)


@dataclass
class ProjectionInit:
    """A resolved init: `apply` goes to `train(init=...)` (None = the random init);
    `record` says in run.json what the start was; `recipe` how a bridge start trains."""

    name: str
    apply: Callable | None
    record: dict
    recipe: BridgeRecipe | None = None
    label_matrix: np.ndarray | None = None  # the bridge's (527, dim) label vectors

    @property
    def lr(self) -> float | None:
        """The learning rate this start wants (None: TrainConfig's default)."""
        if self.recipe is not None and self.recipe.lr is not None:
            return self.recipe.lr
        return DEFAULT_LR[self.name]

    @property
    def settings(self) -> dict:
        """TrainConfig fields this start sets (input transform, anchor); {} for a random start."""
        return self.recipe.settings() if self.recipe is not None else {}

    def describe(self) -> str:
        why = "" if self.record.get("requested") == self.name else f" (from {self.record.get('requested')})"
        if self.name == "random":
            return f"random{why}" + (f": {self.record['reason']}" if "reason" in self.record else "")
        return (f"AudioSet label bridge{why}: {self.record['n_labels']} label names embedded with "
                f"{self.record['text_encoder']}")


def label_text_matrix(text_encoder, template: str = LABEL_TEMPLATE) -> np.ndarray:
    """(527, dim) float32: the AudioSet label names through `template`, embedded, L2-normalised.

    Row i belongs to EfficientAT's output i (clapdemo.encoders.audioset_labels)."""
    from clapdemo.encoders.audioset_labels import AUDIOSET_LABELS
    from clapdemo.evaluation.metrics import normalise

    return normalise(text_encoder.embed([template.format(label.lower()) for label in AUDIOSET_LABELS]))


def decorrelated_bridge(label_matrix: np.ndarray, ridge: float) -> np.ndarray:
    """D = L (L^T L + ridge I)^-1, scaled to L's Frobenius norm (BridgeRecipe.ridge): p @ D @ L^T is
    close to p where p @ L @ L^T mixes each label with its textual neighbours."""
    labels = np.asarray(label_matrix, dtype=np.float64)
    if not ridge > 0:
        raise ValueError(f"ridge={ridge}: give a positive strength")
    gram = labels.T @ labels
    out = labels @ np.linalg.inv(gram + ridge * np.eye(gram.shape[0]))
    return (out * (np.linalg.norm(labels) / np.linalg.norm(out))).astype(np.float32)


def label_bridge_init(label_matrix: np.ndarray, centre: str = "zero") -> Callable:
    """An `init` for `train` that makes the projection of an AudioSet output vector x equal (x - c) @ label_matrix.

    centre: "zero" (c = 0: probabilities) or "mean" (c = the model's input mean, i.e. the training
    clips' mean: logits). The model standardises its input, z = (x - mean) / std, so
    W = (label_matrix * std).T and b = (mean - c) @ label_matrix give W z + b = (x - c) @ label_matrix."""
    import torch

    if centre not in CENTRES:
        raise ValueError(f"centre={centre!r}; choose one of {CENTRES}")
    labels = torch.as_tensor(np.asarray(label_matrix), dtype=torch.float32)

    def init(model) -> None:
        if tuple(model.linear.weight.shape) != (labels.shape[1], labels.shape[0]):
            raise ValueError(f"the AudioSet label bridge is {labels.shape[0]}->{labels.shape[1]}, "
                             f"the projection {model.linear.in_features}->{model.linear.out_features}")
        with torch.no_grad():
            model.linear.weight.copy_((labels * model.audio_std[:, None]).T)
            model.linear.bias.copy_(model.audio_mean @ labels if centre == "zero" else torch.zeros(labels.shape[1]))

    return init


def audioset_output(meta: dict) -> str:
    """The output head named in a store manifest's audio encoder ("logits", "pooled", ...; "" if none)."""
    audio = meta.get("audio_encoder") or {}
    output = str(audio.get("name", "")).partition(":")[2]
    return output or str((audio.get("preprocessing") or {}).get("output", ""))


def audioset_problem(meta: dict) -> str | None:
    """Why a store's audio vectors are NOT the 527 AudioSet outputs of an EfficientAT model, or None if they are."""
    name = str((meta.get("audio_encoder") or {}).get("name", "?"))
    base = name.partition(":")[0]
    output = audioset_output(meta)
    dim = meta.get("audio_dim")
    if base not in AUDIOSET_ENCODERS:
        return f"its audio encoder is {name}, not an EfficientAT AudioSet model ({', '.join(AUDIOSET_ENCODERS)})"
    if output not in AUDIOSET_OUTPUTS or (dim is not None and dim != N_AUDIOSET_CLASSES):
        return (f"its audio vectors are {name} ({dim}-d), not the {N_AUDIOSET_CLASSES} AudioSet outputs "
                f"({base}:logits)")
    return None


def bridge_from_labels(label_matrix: np.ndarray, centre: str, text_encoder: str) -> ProjectionInit:
    """The label bridge from label-name vectors a caller has already embedded (the quality report keeps
    one text bank per text encoder), with no training recipe: what `make_init` builds once it has
    embedded the names itself. Goes to `training.plan.plan_training` like any init."""
    return ProjectionInit("audioset-labels", label_bridge_init(label_matrix, centre),
                          {"name": "audioset-labels", "centre": centre, "text_encoder": text_encoder})


def resolve_init(name: str, meta: dict, where: str = "the store") -> str:
    """"random" or "audioset-labels" for `name` (one of INITS) and a store's manifest `meta`.

    Raises ValueError naming `where` when "audioset-labels" is asked of a store it cannot use."""
    if name not in INITS:
        raise ValueError(f"unknown init {name!r}; choose one of {', '.join(INITS)}")
    problem = audioset_problem(meta)
    if name == "auto":
        return "random" if problem else "audioset-labels"
    if name == "audioset-labels" and problem:
        raise ValueError(f"{where}: init 'audioset-labels' needs the 527 AudioSet outputs of an EfficientAT "
                         f"model, but {problem}. Recompute the store with --audio-encoder mn04_as:logits, "
                         "or train with --init random")
    return name


def make_init(name: str, meta: dict, where: str = "the store", load_text_encoder: Callable | None = None,
              template: str = LABEL_TEMPLATE, standardized: bool = True,
              recipe: BridgeRecipe | None = None) -> ProjectionInit:
    """Resolve `name` for the store whose manifest is `meta` and build its init.

    For the label bridge the label names are embedded with the store's own text encoder
    (its manifest names it), loaded by `load_text_encoder(name)` (default: the cached
    loader the CLI and the app share) and checked to be the same weights the store used.
    "audioset-labels" raises ValueError naming `where` when that fails; "auto" falls back to
    "random" and says why in the record. `standardized=False` (inputs not standardised, as with
    label pairs) centres on zero: the model then has no training mean to centre on, and on label
    pairs the uncentred start measured far better (docs/training.md, "Label pairs").

    `recipe` (default DEFAULT_BRIDGE) says how a bridge start trains: on probabilities (the bridge
    is then p @ L, centre zero) or logits, standardised or not, pulled toward the start or not."""
    resolved = resolve_init(name, meta, where)
    if resolved == "random":
        return ProjectionInit("random", None, {"name": "random", "requested": name})
    try:
        labels, text_name = label_matrix_for(meta, where, load_text_encoder, template)
    except ValueError as error:
        if name != "auto":
            raise
        return ProjectionInit("random", None, {"name": "random", "requested": name, "reason": str(error)})
    recipe = DEFAULT_BRIDGE if recipe is None else recipe
    standardized = standardized if recipe.standardize is None else recipe.standardize
    output = "probs" if recipe.input_transform == "sigmoid" else audioset_output(meta)
    centre = AUDIOSET_OUTPUTS[output] if standardized else "zero"
    record = {"name": "audioset-labels", "requested": name, "label_template": template,
              "n_labels": int(labels.shape[0]), "centre": centre, "text_encoder": text_name,
              "audio_encoder": (meta.get("audio_encoder") or {}).get("name"), "recipe": asdict(recipe)}
    start = decorrelated_bridge(labels, recipe.ridge) if recipe.ridge else labels
    return ProjectionInit("audioset-labels", label_bridge_init(start, centre), record, recipe, labels)


def name_pair_set(label_matrix: np.ndarray, meta: dict, copies: int, present: float, absent: float,
                  template: str = LABEL_TEMPLATE):
    """The AudioSet label names as training pairs (BridgeRecipe.name_pairs): clip k is label k's logits
    as label pairs write them (clapdemo.data.label_pairs' PRESENT_LOGIT / ABSENT_LOGIT: `present` for it,
    `absent` for the rest), its caption `template` with the name, its text vector row k of
    `label_matrix`; `copies` times over."""
    from clapdemo.stores.embedding_set import EmbeddingSet
    from clapdemo.encoders.audioset_labels import AUDIOSET_LABELS

    n_labels = len(label_matrix)
    rows = np.tile(np.arange(n_labels), copies)
    audio = np.full((len(rows), n_labels), absent, np.float32)
    audio[np.arange(len(rows)), rows] = present
    return EmbeddingSet(audio=audio, text=np.asarray(label_matrix, np.float32)[rows], text_clip=np.arange(len(rows)),
                        clip_ids=[f"audioset-name-{k}-{i // n_labels}" for i, k in enumerate(rows)],
                        audio_paths=[""] * len(rows),
                        captions=[template.format(AUDIOSET_LABELS[k].lower()) for k in rows], meta=dict(meta))


def label_matrix_for(meta: dict, where: str = "the store", load_text_encoder=None,
                     template: str = LABEL_TEMPLATE) -> tuple[np.ndarray, str]:
    """(the 527 label vectors, text encoder name) from the store's own text encoder, or a ValueError saying why not."""
    recorded = meta.get("text_encoder") or {}
    text_name = recorded.get("name")
    if not text_name:
        raise ValueError(f"{where}: its manifest names no text encoder; cannot embed the AudioSet label names")
    if load_text_encoder is None:
        from clapdemo.encoders import cached_text_encoder as load_text_encoder
    try:
        encoder = load_text_encoder(text_name)
    except Exception as error:  # weights missing, hub unreachable, optional package absent
        raise ValueError(f"{where}: init 'audioset-labels' embeds the AudioSet label names with the store's "
                         f"text encoder {text_name}, which could not be loaded ({type(error).__name__}: {error}); "
                         "make it loadable or train with --init random") from error
    check_same_encoders(recorded, encoder, where, "the text encoder loaded now", "text_encoder")
    labels = label_text_matrix(encoder, template)
    if labels.shape[1] != meta.get("text_dim", labels.shape[1]):
        raise ValueError(f"{where}: text vectors are {meta.get('text_dim')}-d but {text_name} gives "
                         f"{labels.shape[1]}-d label vectors")
    return labels, text_name
