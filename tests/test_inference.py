"""Features and reconstructions of a trained network (models/inference.py)."""

import numpy as np
import pytest

from models import as_modality_tuple, extract_features, reconstruct, train
from tests.networks import random_patches, tiny_network


def test_features_in_large_batches_equal_inference_mode_calls():
    network = tiny_network(normalization=True)
    train(network, random_patches(64, 2, seed=10), epochs=1, verbose=0)
    patches = random_patches(300, 2, seed=11)[:, 0, ..., None]
    direct = network.get_layer("normalization_A")(
        network.get_layer("encoder_A")(patches, training=False), training=False)
    np.testing.assert_allclose(extract_features(network, patches, "A", batch_size=256),
                               np.asarray(direct), rtol=1e-5, atol=1e-5)


def test_reconstruction_from_a_subset_uses_only_that_subset():
    network = tiny_network(("A", "B", "C"), normalization=True)
    patches = random_patches(5, 3, seed=12)
    given = {"B": patches[:, 1]}
    from_b = reconstruct(network, given, ["B"])
    mask = np.tile([[0, 1, 0]], (5, 1)).astype("float32")
    # The network itself, with loud noise in the inputs the mask leaves out: the masked
    # mean must ignore them (reconstruct feeds zeros there, so compare with the network).
    noise = np.random.default_rng(13).normal(scale=100, size=patches.shape).astype("float32")
    noisy = [noise[:, 0, ..., None], patches[:, 1, ..., None], noise[:, 2, ..., None]]
    with_noise_elsewhere = network([*noisy, mask], training=False)
    for name in "ABC":
        assert from_b[name].shape == (5, 15, 15, 15)
        np.testing.assert_allclose(
            from_b[name], np.asarray(with_noise_elsewhere[f"reconstruction_{name}"])[..., 0],
            rtol=1e-4, atol=1e-5)
    # And the noise is loud enough to show when the mask lets it in.
    unmasked = network([*noisy, np.ones_like(mask)], training=False)
    assert np.abs(np.asarray(unmasked["reconstruction_C"])[..., 0] - from_b["C"]).max() > 1e-2
    direct = network([*as_modality_tuple(patches), mask], training=False)
    np.testing.assert_allclose(from_b["C"], np.asarray(direct["reconstruction_C"])[..., 0],
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="non-empty subset"):
        reconstruct(network, given, ["D"])
