"""`precompute --engine ray`: a local Ray gives the single-process store, and a killed run resumes.

Ray starts once for the module (`ray.init(num_cpus=2)`); 40 ESC-50 clips keep
the tests short on two cores.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")

from clapdemo.data.datasets import load_dataset  # noqa: E402
from clapdemo.stores.precompute import precompute  # noqa: E402
from clapdemo.stores.ray_engine import precompute_ray, worker_env  # noqa: E402
from clapdemo.stores.store import Store, open_store  # noqa: E402
from conftest import ESC50, REPO  # noqa: E402
from floats import assert_rows_close  # noqa: E402

N_CLIPS = 40


@pytest.fixture(scope="module")
def local_ray():
    """A quiet local Ray: errors only, no progress bars (a failing test shows its assertion, not pages of logs)."""
    ray.init(address="local", num_cpus=2, runtime_env=worker_env(), include_dashboard=False, log_to_driver=False,
             logging_level=logging.ERROR)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    data_log = logging.getLogger("ray.data")
    level, data_log.level = data_log.level, logging.ERROR  # its DEBUG records filled pages of a failure report
    yield
    data_log.setLevel(level)
    ray.shutdown()


@pytest.fixture(scope="module")
def reference(mn04, minilm, tmp_path_factory):
    """The first 40 clips embedded by the plain single-process engine."""
    out = tmp_path_factory.mktemp("ray") / "single"
    precompute(subset(), mn04, minilm, out, progress=False)
    return out


def subset():
    dataset = load_dataset("esc50", ESC50)
    dataset.clips = dataset.clips.head(N_CLIPS)
    return dataset


def assert_same_store(got_dir, expected_dir):
    expected, got = open_store(expected_dir), open_store(got_dir)
    assert got.clip_ids == expected.clip_ids and got.captions == expected.captions
    np.testing.assert_array_equal(got.text_clip, expected.text_clip)
    assert_rows_close(got.audio, expected.audio, what="audio vectors")  # batched differently: a few ulps apart
    assert_rows_close(got.text, expected.text, what="text vectors")


def test_ray_pipeline_equals_the_single_process_store(local_ray, reference, mn04, minilm, tmp_path):
    report = precompute_ray(subset(), mn04, minilm, tmp_path / "ray", batch_size=8, checkpoint_every=16,
                            actors=2, progress=False)
    assert report.computed == N_CLIPS and not report.failed
    assert_same_store(tmp_path / "ray", reference)
    again = precompute_ray(subset(), mn04, minilm, tmp_path / "ray", progress=False)
    assert again.computed == 0 and again.already_done == N_CLIPS  # finished clips are skipped


def test_killed_ray_run_resumes_and_completes(local_ray, reference, mn04, minilm, tmp_path):
    out = tmp_path / "killed"
    script = (f"import sys; from conftest import *; from test_scale_ray import subset; import ray; "
              f"from clapdemo.stores.ray_engine import precompute_ray, worker_env; "
              f"from clapdemo.encoders import load_audio_encoder, load_text_encoder; "
              f"ray.init(address='local', num_cpus=1, runtime_env=worker_env(), include_dashboard=False); "
              f"precompute_ray(subset(), load_audio_encoder('mn04_as'), load_text_encoder('minilm'), {str(out)!r}, "
              f"batch_size=4, checkpoint_every=4, actors=1, progress=False)")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "tests")]))
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 300
        while len(list((out / "shards").glob("*.json"))) < 2 and time.time() < deadline:
            assert proc.poll() is None, "the Ray run ended before it could be killed"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and the local Ray it started
        proc.wait()
    done_at_kill = len(Store(out).done_clip_ids())
    assert 0 < done_at_kill < N_CLIPS

    report = precompute_ray(subset(), mn04, minilm, out, batch_size=8, actors=2, progress=False)
    assert report.already_done == done_at_kill and report.computed == N_CLIPS - done_at_kill
    assert_same_store(out, reference)


def test_bad_clip_is_listed_not_fatal(local_ray, mn04, minilm, tmp_path):
    import soundfile as sf

    root = tmp_path / "clips"
    root.mkdir()
    good, _ = sf.read(sorted((ESC50 / "audio").iterdir())[0], dtype="float32")
    sf.write(root / "good.flac", good, 44100)
    (root / "bad.wav").write_text("not audio")
    (root / "captions.csv").write_text("file,caption\ngood.flac,a sound\nbad.wav,text\n", encoding="utf-8")
    report = precompute_ray(load_dataset("folder", root), mn04, minilm, tmp_path / "store", progress=False)
    assert report.computed == 1 and set(report.failed) == {"bad.wav"}
    assert Store(tmp_path / "store").failed().keys() == {"bad.wav"}
