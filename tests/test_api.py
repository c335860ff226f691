"""The public API (README "Python API"): the README's example runs as written, and the calls
agree with the library paths the CLI uses."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from conftest import ESC50, REPO


def readme_api_example() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_example_runs_and_ranks_each_clip_s_own_sound_first(tmp_path):
    """Run as a user would, in a fresh interpreter, from a folder with nothing beside it (no ../shared,
    no relative path into the checkout): the example uses the shipped sample clips, the first two cows."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-c", readme_api_example()], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("'a cow mooing'") == 2, result.stdout


@pytest.fixture(scope="module")
def clap():
    import clapdemo

    return clapdemo.load()


def test_a_file_and_its_waveform_give_the_same_unit_vector(clap):
    from clapdemo.data.audio import load_clip

    path = sorted((ESC50 / "audio").glob("*.flac"))[0]
    encoder = clap.audio_encoder
    wave = load_clip(path, encoder.sample_rate, encoder.clip_seconds)
    from_file, from_wave = clap.get_audio_embeddings([path, wave])
    np.testing.assert_allclose(from_file, from_wave, rtol=0, atol=1e-5)
    assert abs(np.linalg.norm(from_file) - 1) < 1e-5


def test_scores_equal_the_searcher_s_scores_over_a_store(clap, esc50_store):
    """The API's cosines are the ones search ranks by (one projection path, not two)."""
    searcher = clap.searcher(esc50_store)
    query = "a dog barking"
    hits = searcher.text_to_audio(query, k=3)
    rows = {c: i for i, c in enumerate(searcher.embeddings.clip_ids)}
    paths = [searcher.embeddings.audio_paths[rows[h.clip_id]] for h in hits]
    scores = clap.compute_similarity(clap.get_audio_embeddings(paths), clap.get_text_embeddings([query]))[:, 0]
    np.testing.assert_allclose(scores, [h.score for h in hits], rtol=1e-4, atol=1e-5)
    assert hits[0].label == "dog"


def test_a_run_without_recorded_encoders_is_refused(tmp_path):
    import clapdemo
    from clapdemo.training.model import AudioProjection, ProjectionConfig, save_projection

    config = ProjectionConfig(audio_dim=4, text_dim=3)
    save_projection(AudioProjection(config), config, tmp_path)
    with pytest.raises(ValueError, match="does not record the encoders"):
        clapdemo.load(tmp_path)
