"""The same model on every Keras 3 backend: with the same weights and the same modality
mask, TensorFlow, JAX and PyTorch give the same outputs and losses (float32 tolerance),
and one SGD step leaves the same weights. Each backend runs in a process of its own
(Keras reads KERAS_BACKEND once); a backend that is not installed is skipped
(requirements-backends.txt installs them)."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("jax", "torch")


def probe(backend, weights, out):
    environment = {**os.environ, "KERAS_BACKEND": backend}
    finished = subprocess.run([sys.executable, "-m", "tests.backend_probe", str(weights), str(out)],
                              cwd=ROOT, env=environment, capture_output=True, text=True,
                              timeout=600)
    assert finished.returncode == 0, finished.stderr[-3000:]
    return dict(np.load(out))


@pytest.fixture(scope="module")
def tensorflow_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("backends")
    return folder / "weights.npz", probe("tensorflow", folder / "weights.npz",
                                         folder / "tensorflow.npz")


@pytest.mark.parametrize("backend", BACKENDS)
def test_outputs_losses_and_one_step_agree_with_tensorflow(backend, tensorflow_run, tmp_path):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed (pip install -r requirements-backends.txt)")
    weights, expected = tensorflow_run
    found = probe(backend, weights, tmp_path / f"{backend}.npz")
    assert str(found["backend"]) == backend and str(found["version"]) == f"{backend} 1"
    assert str(expected["version"]) == "4"
    keys = [k for k in expected if "/" in k]
    assert {k for k in found if "/" in k} == set(keys)
    for key in keys:
        if "/output/" in key or key.endswith("/losses"):
            np.testing.assert_allclose(found[key], expected[key], rtol=1e-4, atol=1e-5,
                                       err_msg=key)
        else:  # after one step of SGD at learning rate 0.3
            np.testing.assert_allclose(found[key], expected[key], rtol=1e-3, atol=1e-4,
                                       err_msg=key)
    # the step moved the weights (a test of nothing otherwise)
    before = np.load(weights)
    assert not np.allclose(before["vector/0"], expected["vector/stepped/0"])
