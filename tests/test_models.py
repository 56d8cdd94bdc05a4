"""The axial network against numbers computed another way (NumPy, hand computations)."""
import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from models import (FixedNormalization, all_nonempty_subsets, build_axial_network,
                    build_baseline, extract_features, masked_mean, reconstruct, train)
import models
from models.training import as_modality_tuple

TINY = dict(filters=(4, 8, 16))


def tiny_network(modality_names=("A", "B"), **settings):
    return build_axial_network(list(modality_names), **TINY, **settings)


def random_patches(count, modalities, seed=0):
    return np.random.default_rng(seed).normal(size=(count, modalities, 15, 15, 15)).astype("float32")


@pytest.mark.parametrize("modality_names", [("N", "FS"), ("T1", "T1+c", "T2", "FLAIR")])
def test_output_and_representation_shapes(modality_names):
    network = tiny_network(modality_names, normalization=True)
    count = 3
    patches = as_modality_tuple(random_patches(count, len(modality_names)))
    mask = np.ones((count, len(modality_names)), "float32")
    outputs = network([*patches, mask])
    assert outputs["mean_representation"].shape == (count, 16)
    for name in ("N", "FS") if len(modality_names) == 2 else ("T1", "T1_c", "T2", "FLAIR"):
        assert outputs[f"reconstruction_{name}"].shape == (count, 15, 15, 15, 1)
        assert outputs[f"features_{name}"].shape == (count, 16)


def test_paper_sizes_give_128_features_at_one_voxel():
    network = build_axial_network(["A", "B"])
    encoder = network.get_layer("encoder_A")
    assert [layer.output.shape[1:] for layer in encoder.layers if "lrelu" in layer.name] == \
        [(11, 11, 11, 32), (5, 5, 5, 64), (1, 1, 1, 128)]
    decoder = network.get_layer("decoder_A")
    assert decoder.layers[-1].activation.__name__ == "linear"
    assert decoder.output.shape[1:] == (15, 15, 15, 1)


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


@pytest.mark.parametrize("shape", [(6, 5, 4, 3, 7), (6, 5, 4, 7)])
def test_fast_batch_normalization_equals_keras_batch_normalization(shape):
    import tensorflow as tf
    rng = np.random.default_rng(20)
    values = tf.constant(rng.normal(2.0, 3.0, size=shape).astype("float32"))
    loss_weights = tf.constant(rng.normal(size=shape).astype("float32"))
    gamma, beta = rng.uniform(0.5, 2.0, size=shape[-1:]), rng.normal(size=shape[-1:])
    results = []
    for layer_class in (keras.layers.BatchNormalization, models.layers.FastBatchNormalization):
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
    import tensorflow as tf
    rng = np.random.default_rng(22)
    values = tf.constant(rng.normal(size=(3, 6, 5, 4, 7)).astype("float32"))
    results = []
    for layer_class in (keras.layers.Conv3DTranspose, models.layers.FastConv3DTranspose):
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
    wider = models.layers.FastConv3DTranspose(2, 3)
    assert not wider._fast_path_applies()  # Keras's own kernel where it is the faster one


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


def test_saved_model_loads_in_safe_mode_with_identical_features(tmp_path):
    network = tiny_network(("N", "FS"), normalization=True, modality_dropout=True, alpha=0.1)
    patches = random_patches(32, 2, seed=7)
    train(network, patches, epochs=1, verbose=0)
    path = tmp_path / "axial.keras"
    network.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert (loaded.alpha, loaded.modality_dropout, loaded.modality_names) == (0.1, True, ["N", "FS"])
    for m, name in enumerate(["N", "FS"]):
        np.testing.assert_array_equal(extract_features(network, patches[:, m], name),
                                      extract_features(loaded, patches[:, m], name))


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


def test_steady_dataset_yields_every_batch_once_in_order_without_autotuning():
    patches = as_modality_tuple(random_patches(40, 2, seed=16))
    batches = models.PatchBatches(models.ArrayPatches(patches), batch_size=8, seed=0)
    dataset = models.steady_dataset(batches)
    assert dataset.options().autotune.enabled is False
    expected = [batches[k][0][0][:, 0, 0, 0, 0] for k in range(len(batches))]
    for _ in range(2):  # every iteration: the same batches, in index order
        got = [batch[0][0].numpy()[:, 0, 0, 0, 0] for batch in dataset]
        for a, b in zip(got, expected):
            np.testing.assert_array_equal(a, b)


def test_empty_patches_give_a_clear_error_instead_of_an_empty_pipeline():
    network = tiny_network()
    with pytest.raises(ValueError, match="patches are empty"):
        extract_features(network, np.zeros((0, 15, 15, 15), "float32"), "A")


class CountingBatches(models.PatchBatches):
    def __init__(self, *args, **kwargs):
        self.epoch_ends = 0
        super().__init__(*args, **kwargs)

    def on_epoch_end(self):
        self.epoch_ends += 1
        super().on_epoch_end()


def test_training_through_the_steady_dataset_equals_keras_fit_on_the_same_batches():
    patches = as_modality_tuple(random_patches(96, 2, seed=17))

    def weights_after(fit):
        keras.utils.set_random_seed(18)
        network = tiny_network(normalization=True, modality_dropout=True, alpha=0.1, seed=18)
        network.compile(optimizer=models.make_optimizer())
        batches = CountingBatches(models.ArrayPatches(patches), batch_size=16, seed=5)
        fit(network, batches)
        assert batches.epoch_ends == 1 + 3  # constructed, fit starts, after each of 2 epochs
        return network.get_weights()

    ours = weights_after(lambda network, batches: train(network, batches, epochs=2, verbose=0))
    keras_own = weights_after(lambda network, batches: network.fit(batches, epochs=2, verbose=0,
                                                                   shuffle=False))
    for a, b in zip(ours, keras_own):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_patch_batches_cover_every_row_once_per_epoch_and_follow_their_seed():
    patches = as_modality_tuple(random_patches(21, 2, seed=19))

    def orders(seed):
        batches = models.PatchBatches(models.ArrayPatches(patches), batch_size=8, seed=seed)
        first = np.concatenate([batches[k][0][0][:, 0, 0, 0, 0] for k in range(len(batches))])
        batches.on_epoch_end()
        second = np.concatenate([batches[k][0][0][:, 0, 0, 0, 0] for k in range(len(batches))])
        return first, second

    np.random.seed(1)  # the global generators play no part
    (first, second), (again, _) = orders(3), orders(3)
    np.random.seed(2)
    assert len(first) == 21 and np.array_equal(np.sort(first), np.sort(patches[0][:, 0, 0, 0, 0]))
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, orders(4)[0])
    ordered = models.PatchBatches(models.ArrayPatches(patches), batch_size=8, shuffle=False)
    np.testing.assert_array_equal(ordered[2][0][1], patches[1][16:])


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
    with_noise_elsewhere = reconstruct(network, {**given, "A": patches[:, 0] * 100}, ["B"])
    for name in "ABC":
        assert from_b[name].shape == (5, 15, 15, 15)
        np.testing.assert_allclose(from_b[name], with_noise_elsewhere[name], rtol=1e-5)
    mask = np.tile([[0, 1, 0]], (5, 1)).astype("float32")
    direct = network([*as_modality_tuple(patches), mask], training=False)
    np.testing.assert_allclose(from_b["C"], np.asarray(direct["reconstruction_C"])[..., 0],
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="non-empty subset"):
        reconstruct(network, given, ["D"])


def test_baseline_is_one_shared_transformation():
    network = build_baseline(**TINY)
    assert network.modality_names == ["shared"]
    # One encoder and one decoder, whichever modality a patch comes from.
    assert [layer.name for layer in network.layers if layer.name.startswith(("encoder", "decoder"))] \
        == ["encoder_shared", "decoder_shared"]
    patches = random_patches(64, 2, seed=13)
    # The "all modalities" baseline trains on a mixture of both modalities' patches.
    history = train(network, np.concatenate([patches[:, 0], patches[:, 1]]), epochs=1, verbose=0)
    assert history.history["similarity_loss"][0] == 0.0
    features_a = extract_features(network, patches[:, 0], "shared")
    features_b = extract_features(network, patches[:, 1], 0)
    assert features_a.shape == features_b.shape == (64, 16)
    assert not np.allclose(features_a, features_b)


def test_mixed_precision_training_keeps_losses_and_normalization_in_float32():
    from models.training import use_mixed_precision
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
    from models.training import distribution_scope
    with distribution_scope("mirrored") as strategy:
        network = tiny_network(normalization=True, modality_dropout=True, alpha=0.1)
        history = train(network, random_patches(128, 2, seed=15), epochs=1, verbose=0)
    assert isinstance(strategy, tf.distribute.MirroredStrategy)
    assert network.distribute_strategy is strategy  # the model was built in its scope
    assert isinstance(network.get_layer("encoder_A").weights[0].value, tf.distribute.DistributedValues) \
        or "Mirrored" in type(network.get_layer("encoder_A").weights[0].value).__name__
    assert np.isfinite(history.history["loss"][0])
    with pytest.raises(ValueError, match="unknown distribution"):
        distribution_scope("tpu")
