"""The one "same encoders?" check: a projection, a store, a loaded encoder or a second store.

Vectors from two encoders, or from one encoder with other weights or settings, live in different
spaces: comparing them gives numbers that mean nothing. Every place that must refuse that (a run
against a store, stores trained together, a store against the encoder loaded now, the AudioSet
label bridge) asks `encoder_mismatch` / `check_same_encoders`, so there is one rule and one message.

The rule: an identity is `EncoderIdentity.to_dict()` ({"name", "weights_sha256", "preprocessing"})
as a store manifest, a run's record or a loaded encoder gives it. Two identities differ when a
field that both record differs; a side one of them does not record at all cannot be checked and
passes (a projection file without its run record, a store without a manifest entry).
"""

from __future__ import annotations

import json

SIDES = ("audio_encoder", "text_encoder")
FIELDS = ("name", "weights_sha256", "preprocessing")


def identity_record(thing) -> dict:
    """{"name", "weights_sha256", "preprocessing"} (those known) of an identity dict, an
    `EncoderIdentity`, or an encoder (its `.identity`, its `.name` when the identity has none);
    {} for None."""
    if thing is None:
        return {}
    if isinstance(thing, dict):
        return dict(thing)
    identity = getattr(thing, "identity", thing)
    record = identity.to_dict() if hasattr(identity, "to_dict") else {
        key: getattr(identity, key) for key in FIELDS if hasattr(identity, key)}
    if record.get("name") is None and getattr(thing, "name", None) is not None:
        record["name"] = thing.name
    return record


def _plain(value):
    """A value as JSON gives it back (tuples as lists), so a manifest read from disk compares equal."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _differing(expected: dict, found: dict) -> list[str]:
    return [key for key in FIELDS
            if expected.get(key) is not None and found.get(key) is not None
            and _plain(expected[key]) != _plain(found[key])]


def _describe(record: dict, show_settings: bool) -> str:
    sha = record.get("weights_sha256")
    text = f"{record.get('name') or '?'} (weights {str(sha)[:12] if sha else '?'}"
    return text + (f", settings {record.get('preprocessing')})" if show_settings else ")")


def encoder_mismatch(expected, found, what_expected: str, what_found: str, side: str | None = None) -> str | None:
    """Why `found` is not the encoders of `expected`, in the one message; None when they are the same.

    With `side` ("audio_encoder" or "text_encoder"), `expected` and `found` are one encoder's identity
    each (a dict, an `EncoderIdentity`, or an encoder); without it, each is a record of both sides
    ({"audio_encoder": identity, "text_encoder": identity}: a store manifest, `RunInfo.encoders`).
    `what_expected` / `what_found` name the two sides for the message ("the projection P", "the store S",
    "the encoder loaded now")."""
    for name in ((side,) if side else SIDES):
        a = identity_record(expected if side else (expected or {}).get(name))
        b = identity_record(found if side else (found or {}).get(name))
        if not a or not b:
            continue
        differing = _differing(a, b)
        if differing:
            words, settings = name.replace("_", " "), differing == ["preprocessing"]
            return (f"{what_expected} has {words} {_describe(a, settings)} but {what_found} has {words} "
                    f"{_describe(b, settings)}: vectors of other encoders, weights or settings are in another "
                    "space. Use the same encoders on both sides: recompute the store with them (precompute "
                    "--audio-encoder/--text-encoder), load the encoders the projection was trained with, or "
                    "train a projection on these vectors")
    return None


def check_same_encoders(expected, found, what_expected: str, what_found: str, side: str | None = None) -> None:
    """`encoder_mismatch` as a ValueError (nothing when the encoders are the same)."""
    problem = encoder_mismatch(expected, found, what_expected, what_found, side)
    if problem:
        raise ValueError(problem)
