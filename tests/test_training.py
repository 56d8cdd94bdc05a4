"""Training by updates, determinism, mixed precision and distribution (models/training.py)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import models
from models import as_modality_tuple, extract_features, train
from tests.networks import random_patches, tiny_network


def test_same_seed_gives_same_weights_and_features():
    patches = random_patches(128, 2, seed=8)

    def run():
        keras.utils.set_random_seed(9)
        network = tiny_network(normalization=True, modality_dropout=True, alpha=0.1, seed=9)
        train(network, patches, epochs=1, verbose=0)
        return network, extract_features(network, patches[:, 1], "B")

    (first, first_features), (second, second_features) = run(), run()
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(first_features, second_features)


def test_training_by_updates_stops_mid_epoch_and_calls_back_at_each_checkpoint():
    network = tiny_network(normalization=True, modality_dropout=True)
    seen = []
    callback = models.AtUpdates([3, 7], lambda model, updates: seen.append(
        (updates, int(model.optimizer.iterations.numpy()))))
    # 10 batches per epoch: 7 updates end inside the first epoch.
    history = train(network, random_patches(80, 2, seed=20), updates=7, batch_size=8,
                    callbacks=[callback], verbose=0)
    assert seen == [(3, 3), (7, 7)]
    assert int(network.optimizer.iterations.numpy()) == 7 and len(history.history["loss"]) == 1
    train(network, random_patches(24, 2, seed=21), updates=5, batch_size=8, verbose=0)
    assert int(network.optimizer.iterations.numpy()) == 7 + 5  # across epochs: 3 per epoch
    with pytest.raises(ValueError, match="either epochs or updates"):
        train(network, random_patches(8, 2), verbose=0)


@pytest.mark.slow
def test_mixed_precision_training_keeps_losses_and_normalization_in_float32():
    from models import use_mixed_precision
    use_mixed_precision(True)
    try:
        network = tiny_network(normalization=True, modality_dropout=True, alpha=0.1)
        history = train(network, random_patches(64, 2, seed=14), epochs=1, verbose=0)
        assert type(network.optimizer).__name__ == "LossScaleOptimizer"
        assert np.isfinite(history.history["loss"][0])
        assert network.get_layer("normalization_A").moving_mean.dtype == "float32"
        assert extract_features(network, random_patches(8, 2)[:, 0], "A").dtype == np.float32
        # The layers compute in float16, the losses (1)–(3) in float32.
        patches = as_modality_tuple(random_patches(8, 2, seed=22))
        mask = np.ones((8, 2), "float32")
        outputs = network([*patches, mask], training=True)
        assert outputs["reconstruction_A"].dtype == "float16"
        assert outputs["features_A"].dtype == "float16"
        losses = network.compute_losses(patches, outputs, mask)
        assert [str(loss.dtype) for loss in losses] == ["<dtype: 'float32'>"] * 3
    finally:
        use_mixed_precision(False)


def test_training_under_a_mirrored_strategy_scope():
    from models import distribution_scope
    with distribution_scope("mirrored") as strategy:
        network = tiny_network(normalization=True, modality_dropout=True, alpha=0.1)
        history = train(network, random_patches(128, 2, seed=15), epochs=1, verbose=0)
    assert isinstance(strategy, tf.distribute.MirroredStrategy)
    assert network.distribute_strategy is strategy  # the model was built in its scope
    # Variables created in the scope are mirrored (one copy per replica).
    assert isinstance(network.get_layer("encoder_A").weights[0].value,
                      tf.distribute.DistributedValues)
    assert np.isfinite(history.history["loss"][0])
    with pytest.raises(ValueError, match="unknown distribution"):
        distribution_scope("tpu")
