"""The layers Keras does not ship (or ships slowly) against NumPy and Keras's own."""
import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from models import FixedNormalization, fast_layers, masked_mean


def test_fixed_normalization_uses_batch_statistics_when_training_and_moving_at_inference():
    layer = FixedNormalization(momentum=0.5, epsilon=1e-6)
    batch = np.random.default_rng(1).normal(3.0, [1.0, 5.0, 0.1], size=(256, 3)).astype("float32")
    normalized = np.asarray(layer(batch, training=True))
    np.testing.assert_allclose(normalized.mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(normalized.std(0), 1.0, atol=1e-3)
    assert layer.trainable_weights == []
    # After one update with momentum 0.5 the moving statistics are halfway from (0, 1).
    expected_mean = 0.5 * batch.mean(0)
    expected_variance = 0.5 + 0.5 * batch.var(0)
    np.testing.assert_allclose(layer.moving_mean.numpy(), expected_mean, rtol=1e-4)
    np.testing.assert_allclose(layer.moving_variance.numpy(), expected_variance, rtol=1e-4)
    inference = np.asarray(layer(batch, training=False))
    np.testing.assert_allclose(inference, (batch - expected_mean) / np.sqrt(expected_variance + 1e-6),
                               rtol=1e-4, atol=1e-5)
    assert FixedNormalization.from_config(layer.get_config()).momentum == 0.5


def test_fixed_normalization_equals_keras_batch_normalization_without_scale_and_shift():
    values = np.random.default_rng(3).normal(2.0, 3.0, size=(64, 12)).astype("float32")
    fixed = FixedNormalization(momentum=0.9)
    reference = keras.layers.BatchNormalization(momentum=0.9, center=False, scale=False)
    for _ in range(3):  # training: batch statistics, moving averages updated alike
        np.testing.assert_allclose(fixed(values, training=True), reference(values, training=True),
                                   rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fixed.moving_mean, reference.moving_mean, rtol=1e-6)
    np.testing.assert_allclose(fixed.moving_variance, reference.moving_variance, rtol=1e-6)
    np.testing.assert_allclose(fixed(values, training=False), reference(values, training=False),
                               rtol=1e-5, atol=1e-5)
    assert fixed.trainable_weights == [] and len(fixed.non_trainable_weights) == 2


def test_fixed_normalization_inherits_trainable_masks_and_serialization():
    values = np.random.default_rng(4).normal(1.0, 2.0, size=(32, 5)).astype("float32")
    frozen = FixedNormalization()
    frozen.build(values.shape)
    frozen.trainable = False  # frozen: moving statistics, which stay as they are
    np.testing.assert_allclose(frozen(values, training=True),
                               values / np.sqrt(1 + 1e-3), rtol=1e-6)
    np.testing.assert_array_equal(frozen.moving_mean, np.zeros(5))
    # a mask leaves the masked samples out of the batch statistics
    mask = np.r_[np.ones(16), np.zeros(16)].astype(bool)
    masked = FixedNormalization(momentum=0.0)
    masked(values, training=True, mask=mask)
    np.testing.assert_allclose(masked.moving_mean, values[:16].mean(0), rtol=1e-4, atol=1e-5)
    clone = FixedNormalization.from_config(FixedNormalization(momentum=0.5).get_config())
    assert (clone.momentum, clone.center, clone.scale) == (0.5, False, False)
    with pytest.raises(ValueError, match="no learnable shift or scale"):
        FixedNormalization(center=True)
    with pytest.raises(ValueError):  # Keras's own input check: the feature count is fixed
        built = FixedNormalization()
        built(values, training=False)
        built(np.zeros((4, 6), "float32"), training=False)


@pytest.mark.parametrize("shape", [(6, 5, 4, 3, 7), (6, 5, 4, 7)])
def test_fast_batch_normalization_equals_keras_batch_normalization(shape):
    rng = np.random.default_rng(20)
    values = tf.constant(rng.normal(2.0, 3.0, size=shape).astype("float32"))
    loss_weights = tf.constant(rng.normal(size=shape).astype("float32"))
    gamma, beta = rng.uniform(0.5, 2.0, size=shape[-1:]), rng.normal(size=shape[-1:])
    results = []
    for layer_class in (keras.layers.BatchNormalization, fast_layers.FastBatchNormalization):
        layer = layer_class(momentum=0.9)
        layer.build(shape)
        layer.gamma.assign(gamma)
        layer.beta.assign(beta)
        with tf.GradientTape() as tape:
            tape.watch(values)
            output = layer(values, training=True)
            loss = tf.reduce_sum(output * loss_weights)
        gradients = tape.gradient(loss, [values, layer.gamma, layer.beta])
        inference = layer(values, training=False)
        results.append([output, *gradients, layer.moving_mean, layer.moving_variance, inference])
    assert layer._fused_applies(values, True, None)  # the fused kernel, not Keras's code
    # The moving statistics move by a tenth of the batch statistics (NumPy, biased).
    flat = values.numpy().reshape(-1, shape[-1])
    np.testing.assert_allclose(results[1][4], 0.1 * flat.mean(0), rtol=1e-5)
    np.testing.assert_allclose(results[1][5], 0.9 + 0.1 * flat.var(0), rtol=1e-5)
    for keras_value, fast_value in zip(*results):
        np.testing.assert_allclose(np.asarray(fast_value), np.asarray(keras_value),
                                   rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("kernel_size, activation", [((5, 5, 5), None), ((3, 4, 2), "relu")])
def test_fast_transposed_convolution_equals_keras_for_one_output_channel(kernel_size, activation):
    rng = np.random.default_rng(22)
    values = tf.constant(rng.normal(size=(3, 6, 5, 4, 7)).astype("float32"))
    results = []
    for layer_class in (keras.layers.Conv3DTranspose, fast_layers.FastConv3DTranspose):
        layer = layer_class(1, kernel_size, activation=activation)
        layer.build(values.shape)
        layer.set_weights([np.random.default_rng(23).normal(size=w.shape) for w in layer.weights])
        with tf.GradientTape() as tape:
            tape.watch(values)
            output = layer(values)
            loss = tf.reduce_sum(output * np.random.default_rng(24).normal(size=output.shape))
        results.append([output, *tape.gradient(loss, [values, layer.kernel, layer.bias])])
    assert layer._fast_path_applies() and results[1][0].shape == (3, 6 + kernel_size[0] - 1,
                                                                   5 + kernel_size[1] - 1,
                                                                   4 + kernel_size[2] - 1, 1)
    for keras_value, fast_value in zip(*results):
        np.testing.assert_allclose(np.asarray(fast_value), np.asarray(keras_value),
                                   rtol=1e-4, atol=1e-4)
    wider = fast_layers.FastConv3DTranspose(2, 3)
    assert not wider._fast_path_applies()  # Keras's own kernel where it is the faster one


def _outputs_and_gradients(layer_classes, arguments, values, seed):
    """Each layer class built with the same weights: its output and the gradients of a
    random linear loss with respect to the input, the kernel and the bias."""
    results = []
    for layer_class in layer_classes:
        layer = layer_class(*arguments)
        layer.build(values.shape)
        layer.set_weights([np.random.default_rng(seed).normal(size=w.shape) for w in layer.weights])
        with tf.GradientTape() as tape:
            tape.watch(values)
            output = layer(values)
            loss = tf.reduce_sum(output * np.random.default_rng(seed + 1).normal(size=output.shape))
        results.append([output, *tape.gradient(loss, [values, layer.kernel, layer.bias])])
    return layer, results


@pytest.mark.parametrize("kernel_size", [(5, 5, 5), (3, 4, 2)])
def test_fast_convolution_equals_keras_where_the_kernel_covers_the_input(kernel_size):
    values = tf.constant(np.random.default_rng(25).normal(size=(4, *kernel_size, 6))
                         .astype("float32"))
    layer, results = _outputs_and_gradients(
        (keras.layers.Conv3D, fast_layers.FastConv3D), (7, kernel_size), values, 26)
    assert layer._fast_path_applies(values) and results[1][0].shape == (4, 1, 1, 1, 7)
    for keras_value, fast_value in zip(*results):
        np.testing.assert_allclose(np.asarray(fast_value), np.asarray(keras_value),
                                   rtol=1e-4, atol=1e-4)
    # A larger map (the encoder run densely over a volume) goes to Keras's own code.
    larger = tf.zeros((1, 9, 9, 9, 6))
    assert not layer._fast_path_applies(larger) and layer(larger).shape == (
        1, 10 - kernel_size[0], 10 - kernel_size[1], 10 - kernel_size[2], 7)


@pytest.mark.parametrize("kernel_size", [(5, 5, 5), (2, 3, 4)])
def test_fast_transposed_convolution_equals_keras_from_one_voxel(kernel_size):
    values = tf.constant(np.random.default_rng(27).normal(size=(4, 1, 1, 1, 9)).astype("float32"))
    layer, results = _outputs_and_gradients(
        (keras.layers.Conv3DTranspose, fast_layers.FastConv3DTranspose), (5, kernel_size),
        values, 28)
    assert layer._from_one_voxel(values) and results[1][0].shape == (4, *kernel_size, 5)
    for keras_value, fast_value in zip(*results):
        np.testing.assert_allclose(np.asarray(fast_value), np.asarray(keras_value),
                                   rtol=1e-4, atol=1e-4)


def test_masked_mean_equals_numpy_for_every_mask_pattern():
    rng = np.random.default_rng(2)
    modality_count, feature_count = 3, 5
    features = [rng.normal(size=(1, feature_count)).astype("float32") for _ in range(modality_count)]
    for pattern in itertools.product([0.0, 1.0], repeat=modality_count):
        if sum(pattern) == 0:
            continue
        mask = np.array([pattern], "float32")
        expected = sum(p * f for p, f in zip(pattern, features)) / sum(pattern)
        np.testing.assert_allclose(np.asarray(masked_mean([mask, *features])), expected, rtol=1e-6)
    single = np.array([[0.0, 1.0, 0.0]], "float32")
    np.testing.assert_allclose(np.asarray(masked_mean([single, *features])), features[1], rtol=1e-6)
