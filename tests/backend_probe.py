"""Run as ``KERAS_BACKEND=<backend> python -m tests.backend_probe WEIGHTS.npz OUT.npz``:
the tiny network of tests/test_backends.py with the given weights (written by the
TensorFlow run when WEIGHTS.npz does not exist yet), its outputs and losses for fixed
patches and a fixed modality mask, and its weights after one SGD step."""
import sys
from pathlib import Path

import keras
import numpy as np

import models
from tests.networks import tiny_network

SETTINGS = {"vector": dict(alpha=0.1), "per-feature": dict(alpha=0.1, normalization=True)}


def main(weights_path, out_path):
    rng = np.random.default_rng(0)
    patches = [rng.normal(size=(32, 15, 15, 15, 1)).astype("float32") for _ in range(2)]
    mask = np.ones((32, 2), "float32")
    mask[::3, 0] = 0  # every third sample without modality A, every fifth without B
    mask[1::5, 1] = 0
    found = {}
    given = Path(weights_path).exists()
    stored = dict(np.load(weights_path)) if given else {}
    for name, settings in SETTINGS.items():
        keras.utils.set_random_seed(1)
        network = tiny_network(**settings, seed=5)
        if given:
            network.set_weights([stored[f"{name}/{i}"] for i in range(len(network.weights))])
        else:
            stored.update({f"{name}/{i}": np.asarray(w) for i, w in enumerate(network.get_weights())})
        outputs = network([*patches, mask], training=False)
        losses = network.compute_losses(patches, outputs, mask)
        found.update({f"{name}/output/{key}": keras.ops.convert_to_numpy(value)
                      for key, value in outputs.items()})
        found[f"{name}/losses"] = np.array([float(keras.ops.convert_to_numpy(v)) for v in losses])
        network.compile(optimizer=keras.optimizers.SGD(learning_rate=0.3))
        network.train_on_batch(tuple(patches))  # no dropout: every modality, one step
        found.update({f"{name}/stepped/{i}": np.asarray(w)
                      for i, w in enumerate(network.get_weights())})
    if not given:
        np.savez(weights_path, **stored)
    np.savez(out_path, **found, backend=np.array(keras.backend.backend()),
             version=np.array(str(models.ARITHMETIC_VERSION)))


if __name__ == "__main__":
    main(*sys.argv[1:3])
