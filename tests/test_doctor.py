"""Deterministic embeddings: the same clip gives the same vector through every path."""

from __future__ import annotations

from conftest import ESC50


def test_every_encoder_path_is_deterministic(mn04, minilm):
    from clapdemo.encoders.doctor import MIN_COSINE, audio_checks, text_checks

    clip = sorted((ESC50 / "audio").glob("*.flac"))[0]
    checks = audio_checks(mn04, clip) + text_checks(minilm)
    assert len(checks) == 6
    for check in checks:
        assert check.ok, f"{check.name}: {check.detail}"
    assert MIN_COSINE == 0.9999


def test_doctor_command_passes(capsys):
    from clapdemo.cli.main import main

    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "8/8 checks passed" in out and "FAIL" not in out
