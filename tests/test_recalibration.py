"""Recalibrated ("precise") statistics (models/recalibration.py) against NumPy."""
import numpy as np
import tensorflow as tf

import models
from models import feature_extractor

TINY_FILTERS = (4, 4, 8)


def patches_of(seed, count=192, modalities=2):
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(count, 15, 15, 15, 1)).astype("float32")
    # Modalities on different scales and offsets, as real contrasts are.
    return tuple((base * (1 + 2 * m) + m + 0.3 * rng.normal(size=base.shape)).astype("float32")
                 for m in range(modalities))


def test_recalibrated_statistics_equal_numpy_statistics_of_the_training_mode_activations():
    patches = patches_of(0, count=150)  # batches of 64, 64 and 22: weighted by size
    network = models.build_axial_network(["A", "B"], normalization=True, filters=TINY_FILTERS,
                                         modality_dropout=True, seed=1, momentum=0.99)
    models.train(network, patches, updates=3, verbose=0)
    batches = models.PatchBatches(models.ArrayPatches(patches), batch_size=64, shuffle=False)
    momenta = [layer.momentum for layer in models.normalization_layers(network)]
    assert models.recalibrate_statistics(network, batches) == 150
    assert [layer.momentum for layer in models.normalization_layers(network)] == momenta

    encoder = network.get_layer("encoder_A")
    first_convolution = encoder.get_layer("encoder_A_conv1")
    representations, convolved = [], []
    for index in range(len(batches)):
        batch = batches[index][0][0]
        representations.append(np.asarray(encoder(batch, training=True), np.float64))
        convolved.append(np.asarray(first_convolution(batch), np.float64))
    representations = np.concatenate(representations)  # (150, 8): FixedNormalization's input
    convolved = np.concatenate(convolved).reshape(-1, TINY_FILTERS[0])  # bn1's input per channel
    normalization = network.get_layer("normalization_A")
    np.testing.assert_allclose(np.asarray(normalization.moving_mean),
                               representations.mean(axis=0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(normalization.moving_variance),
                               representations.var(axis=0), rtol=1e-3, atol=1e-5)
    batch_normalization = encoder.get_layer("encoder_A_bn1")
    # Means near 0 of ~200,000 values with SD ~1: float32 sums agree to ~1e-4 absolute.
    np.testing.assert_allclose(np.asarray(batch_normalization.moving_mean),
                               convolved.mean(axis=0), atol=2e-4 * convolved.std())
    np.testing.assert_allclose(np.asarray(batch_normalization.moving_variance),
                               convolved.var(axis=0), rtol=1e-3, atol=1e-5)


def test_after_recalibration_normalized_features_are_standard_for_every_modality():
    patches = patches_of(2, count=512)
    network = models.build_axial_network(["A", "B"], normalization=True, filters=TINY_FILTERS,
                                         modality_dropout=True, seed=3, momentum=0.99)
    tf.keras.utils.set_random_seed(3)
    models.train(network, patches, updates=8, verbose=0)

    def scale(modality):
        features = feature_extractor(network, modality)(patches[modality], training=False)
        features = np.asarray(features)
        return np.abs(features.mean(axis=0)).max(), features.std(axis=0)

    # With momentum 0.99 and 8 updates the moving statistics are mostly their initial
    # values (0 and 1): the features are far from standard.
    before = [scale(m) for m in range(2)]
    assert max(offset for offset, _ in before) > 0.5 or \
        max(np.abs(sd - 1).max() for _, sd in before) > 0.5
    models.recalibrate_statistics(
        network, models.PatchBatches(models.ArrayPatches(patches), batch_size=64, seed=4))
    for modality in range(2):
        offset, sd = scale(modality)
        assert offset < 0.15, (modality, offset)
        np.testing.assert_allclose(sd, 1.0, atol=0.15)
