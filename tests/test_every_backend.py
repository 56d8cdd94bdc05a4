"""The model-level behaviour that must hold under every Keras 3 backend: .ci/run runs
this file again with KERAS_BACKEND=jax and KERAS_BACKEND=torch (tiny networks: JAX's
CPU 3-D convolutions are slow). Nothing here imports TensorFlow's API directly."""
import csv
import json

import keras
import numpy as np
import pytest

import models
from models import FixedNormalization, all_nonempty_subsets
from tests.conftest import TINY_RUN
from tests.networks import random_patches, tiny_network


def test_the_masks_are_drawn_non_empty_from_the_subsets_and_reproducibly():
    network = tiny_network(("A", "B", "C"), modality_dropout=True, seed=7)
    masks = keras.ops.convert_to_numpy(network.draw_modality_mask(2000))
    subsets = {tuple(s) for s in np.asarray(all_nonempty_subsets(3), int).tolist()}
    assert {tuple(row) for row in masks.astype(int).tolist()} == subsets  # all 7, no empty one
    counts = np.unique(masks, axis=0, return_counts=True)[1]
    assert counts.min() > 2000 / 7 * 0.75  # uniform over the 7 subsets
    again = tiny_network(("A", "B", "C"), modality_dropout=True, seed=7)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(again.draw_modality_mask(2000)),
                                  masks)


def test_training_moves_the_weights_and_lowers_the_reconstruction_loss():
    patches = random_patches(128, 2, seed=1)
    smooth = patches.mean(axis=(2, 3, 4), keepdims=True) + 0 * patches  # learnable
    network = tiny_network(modality_dropout=True, normalization=True, alpha=0.1, seed=3)
    before = [np.array(w) for w in network.get_weights()]
    history = models.train(network, [smooth[:, 0], smooth[:, 1]], updates=12, verbose=0)
    losses = history.history["reconstruction_loss"]
    assert losses[-1] < losses[0]
    assert not np.allclose(before[0], network.get_weights()[0])


def test_a_saved_network_loads_in_safe_mode_and_gives_the_same_features(tmp_path):
    network = tiny_network(modality_dropout=True, normalization=True, seed=2)
    patches = random_patches(16, 2, seed=4)
    models.train(network, [patches[:, 0], patches[:, 1]], updates=2, verbose=0)
    network.save(tmp_path / "network.keras")
    loaded = models.load_network(tmp_path / "network.keras")
    for modality in ("A", "B"):
        np.testing.assert_allclose(
            models.extract_features(loaded, patches[:, 0], modality),
            models.extract_features(network, patches[:, 0], modality), rtol=1e-5, atol=1e-6)
    assert loaded.modality_dropout and isinstance(loaded.get_layer("normalization_A"),
                                                  FixedNormalization)


def test_fixed_normalization_against_numpy():
    values = np.random.default_rng(5).normal(3.0, 2.0, size=(50, 6)).astype("float32")
    layer = FixedNormalization(momentum=0.0)
    trained = keras.ops.convert_to_numpy(layer(values, training=True))
    np.testing.assert_allclose(trained, (values - values.mean(0)) / np.sqrt(values.var(0) + 1e-3),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.moving_mean, values.mean(0), rtol=1e-5)
    inference = keras.ops.convert_to_numpy(layer(values + 1, training=False))
    np.testing.assert_allclose(inference, trained + 1 / np.sqrt(values.var(0) + 1e-3),
                               rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_a_tiny_table1_run_end_to_end(tmp_path):
    from reproduce import table1
    out = tmp_path / "run"
    assert table1.main([*TINY_RUN, "--folds", "2", "--out", str(out),
                        "--configs", "plain-a0,dropout+norm-a0,raw-patch"]) == 0
    with open(out / "table1.csv") as handle:
        rows = {row["name"]: row for row in csv.DictReader(handle)}
    assert set(rows) == {"plain-a0", "dropout+norm-a0", "raw-patch"}
    assert all(0 <= float(row["cross"]) <= 100 for row in rows.values())
    result = json.loads((out / "units" / "dropout+norm-a0" / "fold0" / "result.json").read_text())
    backend = keras.backend.backend()
    expected = {"tensorflow": "TensorFlow thread", "jax": "Keras on JAX",
                "torch": "Keras on PyTorch"}[backend]
    assert expected in result["computed_on"]
    stored = json.loads((out / "run.json").read_text())["arguments"]
    assert stored.get("keras_backend", "tensorflow") == backend


def test_training_by_updates_stops_mid_epoch_at_each_checkpoint():
    network = tiny_network(modality_dropout=True)
    seen = []
    callback = models.AtUpdates([2, 5], lambda model, updates: seen.append(
        (updates, int(keras.ops.convert_to_numpy(model.optimizer.iterations)))))
    # 6 batches per epoch: 5 updates end inside the first epoch.
    models.train(network, random_patches(48, 2, seed=6), updates=5, batch_size=8,
                 callbacks=[callback], verbose=0)
    assert seen == [(2, 2), (5, 5)]
    assert int(keras.ops.convert_to_numpy(network.optimizer.iterations)) == 5


def test_dense_features_equal_patch_features():
    network = tiny_network(normalization=True, modality_dropout=True, seed=8)
    models.train(network, list(random_patches(16, 2, seed=9).transpose(1, 0, 2, 3, 4)),
                 updates=2, verbose=0)
    volume = np.random.default_rng(2).normal(size=(9, 10, 8)).astype("float32")
    padded = np.pad(volume, 7)
    every = np.stack(np.unravel_index(np.arange(volume.size), volume.shape), axis=1)
    patches = np.stack([padded[x:x + 15, y:y + 15, z:z + 15] for x, y, z in every])
    np.testing.assert_allclose(models.dense_features(network, padded, "B", tile=6),
                               models.extract_features(network, patches, "B"),
                               rtol=1e-4, atol=1e-4)


def test_the_mechanism_reads_the_last_batch_normalization_on_every_backend():
    from experiments.measurement import mechanism
    network = tiny_network(modality_dropout=True, seed=4)
    fresh = mechanism.last_normalization(network)
    assert (fresh["gamma_gap"], fresh["beta_gap"], fresh["gamma_mean"]) == (0.0, 0.0, 1.0)
    models.train(network, list(random_patches(32, 2, seed=3).transpose(1, 0, 2, 3, 4)),
                 updates=3, verbose=0)
    assert mechanism.last_normalization(network)["beta_gap"] > 0  # the encoders drift apart
    assert mechanism.last_normalization(tiny_network(last_block="linear")) is None


# The checkpoint test of a stop request and its resume, collected here too so that .ci/run
# runs it under JAX and PyTorch.
from tests.test_checkpoints import (  # noqa: E402,F401
    test_a_stop_request_saves_and_stops_at_the_end_of_the_batch)
