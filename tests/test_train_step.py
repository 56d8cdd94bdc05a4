"""Equations (1)–(3) and the train step with modality dropout, against hand computations."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from models import all_nonempty_subsets, as_modality_tuple, train
from tests.networks import random_patches, tiny_network


@pytest.mark.parametrize("modality_count", [2, 4])
def test_dropout_masks_are_never_empty_and_cover_all_subsets_uniformly(modality_count):
    network = tiny_network([f"m{i}" for i in range(modality_count)], modality_dropout=True, seed=3)
    masks = np.concatenate([np.asarray(network.draw_modality_mask(4000)) for _ in range(2)])
    assert set(np.unique(masks)) <= {0.0, 1.0}
    assert masks.sum(1).min() >= 1
    subsets, counts = np.unique(masks, axis=0, return_counts=True)
    assert len(subsets) == 2 ** modality_count - 1
    expected = len(masks) / (2 ** modality_count - 1)
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))
    # Each step draws a new mask.
    assert not np.array_equal(np.asarray(network.draw_modality_mask(64)),
                              np.asarray(network.draw_modality_mask(64)))


def test_subset_weights_restrict_the_drawn_subsets():
    weights = np.zeros(3)
    weights[2] = 1.0  # only the subset {A, B}
    network = tiny_network(modality_dropout=True, subset_weights=weights, seed=0)
    np.testing.assert_array_equal(np.asarray(network.draw_modality_mask(100)), np.ones((100, 2)))
    np.testing.assert_array_equal(all_nonempty_subsets(2), [[1, 0], [0, 1], [1, 1]])
    with pytest.raises(ValueError, match="subset_weights"):
        tiny_network(modality_dropout=True, subset_weights=[1.0, 1.0])


@pytest.mark.parametrize("alpha", [0.0, 0.3])
def test_loss_equals_hand_computation_of_equations_1_to_3(alpha):
    network = tiny_network(("A", "B", "C"), normalization=True, alpha=alpha)
    patches = as_modality_tuple(random_patches(6, 3, seed=4))
    mask = np.array([[1, 0, 0], [0, 1, 1], [1, 1, 1], [0, 0, 1], [1, 0, 1], [1, 1, 0]], "float32")
    outputs = {k: np.asarray(v) for k, v in network([*patches, mask], training=False).items()}
    features = [outputs[f"features_{m}"] for m in "ABC"]
    mean = np.stack([
        sum(mask[i, m] * features[m][i] for m in range(3)) / mask[i].sum() for i in range(6)])
    np.testing.assert_allclose(outputs["mean_representation"], mean, rtol=1e-5, atol=1e-6)
    reconstruction = sum(np.abs(outputs[f"reconstruction_{m}"] - patches[i]).mean()
                         for i, m in enumerate("ABC"))
    similarity = sum(
        np.mean([mask[i, m] * np.abs(features[m][i] - mean[i]).mean() for i in range(6)])
        for m in range(3))
    combined, recon, sim = network.compute_losses(patches, outputs, mask)
    np.testing.assert_allclose(float(recon), reconstruction, rtol=1e-5)
    np.testing.assert_allclose(float(sim), similarity, rtol=1e-5)
    np.testing.assert_allclose(float(combined), (1 - alpha) * reconstruction + alpha * similarity,
                               rtol=1e-5)


def test_one_training_step_lowers_the_loss_on_a_fixed_batch():
    keras.utils.set_random_seed(5)
    network = tiny_network(normalization=True, alpha=0.1)
    patches = as_modality_tuple(random_patches(64, 2, seed=5))
    network.compile(optimizer=keras.optimizers.SGD(0.05))
    before = network.evaluate(patches, batch_size=64, verbose=0, return_dict=True)["loss"]
    network.train_on_batch(patches)
    after = network.evaluate(patches, batch_size=64, verbose=0, return_dict=True)["loss"]
    assert after < before


def test_training_reports_named_loss_terms_and_lowers_the_loss():
    keras.utils.set_random_seed(6)
    network = tiny_network(normalization=True, modality_dropout=True, alpha=0.2, seed=6)
    history = train(network, random_patches(256, 2, seed=6), epochs=3, verbose=0)
    assert set(history.history) == {"loss", "reconstruction_loss", "similarity_loss"}
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert network.optimizer.learning_rate.numpy() == pytest.approx(0.3 / (1 + 2e-6 * 12))


def test_the_train_step_uses_the_mask_it_draws_in_the_mean_and_in_the_similarity_term():
    network = tiny_network(modality_dropout=True, alpha=0.5, seed=3)
    network.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0))  # weights stay put
    patches = tuple(tf.constant(p) for p in as_modality_tuple(random_patches(6, 2, seed=30)))
    drawn = tf.constant([[1, 0], [0, 1], [1, 1], [1, 0], [0, 1], [1, 0]], "float32")
    network.draw_modality_mask = lambda batch_size: drawn
    reported = network.train_step((patches,))
    expected = network.compute_losses(patches, network([*patches, drawn], training=True), drawn)
    ones = tf.ones_like(drawn)
    everything = network.compute_losses(patches, network([*patches, ones], training=True), ones)
    for name, value, other in zip(("loss", "reconstruction_loss", "similarity_loss"),
                                  expected, everything):
        assert float(reported[name]) == pytest.approx(float(value), rel=1e-5)
        assert abs(float(value) - float(other)) > 1e-4  # the mask matters
