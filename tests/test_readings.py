"""The §II-C feature-vector normalization and the readings the paper leaves open
(models/layers.py, models/axial.py), checked against NumPy and known distributions."""
import keras
import numpy as np
import pytest

import models
from models.layers import FeatureVectorNormalization

TINY_FILTERS = (4, 4, 8)


def numpy_vector_normalization(values, epsilon=1e-3):
    values = np.asarray(values, dtype=np.float64)
    mean = values.mean(axis=-1, keepdims=True)
    variance = values.var(axis=-1, keepdims=True)
    return (values - mean) / np.sqrt(variance + epsilon)


def test_feature_vector_normalization_matches_numpy_per_sample():
    rng = np.random.default_rng(0)
    # Every sample on its own scale and offset: the layer removes both.
    values = (rng.normal(size=(32, 16)) * rng.uniform(0.5, 20, (32, 1))
              + rng.normal(0, 50, (32, 1))).astype("float32")
    normalized = np.asarray(FeatureVectorNormalization()(values))
    np.testing.assert_allclose(normalized, numpy_vector_normalization(values), atol=1e-4)
    np.testing.assert_allclose(normalized.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(normalized.std(axis=1), 1, atol=2e-3)
    # Not a batch statistic: one sample alone gives the same result.
    np.testing.assert_allclose(np.asarray(FeatureVectorNormalization()(values[3:4])),
                               normalized[3:4], atol=1e-5)
    assert FeatureVectorNormalization.from_config(
        FeatureVectorNormalization(epsilon=1e-4).get_config()).epsilon == 1e-4
    assert FeatureVectorNormalization().weights == []


def test_feature_vector_normalization_in_float16_under_mixed_precision():
    rng = np.random.default_rng(1)
    values = rng.normal(3, 4, size=(8, 64)).astype("float16")
    layer = FeatureVectorNormalization(dtype="mixed_float16")
    normalized = layer(values)
    assert keras.backend.standardize_dtype(normalized.dtype) == "float16"
    np.testing.assert_allclose(np.asarray(normalized, np.float32),
                               numpy_vector_normalization(values.astype(np.float32)), atol=1e-2)


@pytest.mark.parametrize("scope, normalization, alpha, expected", [
    ("never", False, 0.1, False), ("never", True, 0.0, False),
    ("unless-per-feature", False, 0.0, True), ("unless-per-feature", False, 0.5, True),
    ("unless-per-feature", True, 0.1, False),
    ("with-similarity", False, 0.0, False), ("with-similarity", False, 0.2, True),
    ("with-similarity", True, 0.2, False),
    ("always", True, 0.0, True), ("always", False, 0.0, True)])
def test_which_networks_normalize_feature_vectors(scope, normalization, alpha, expected):
    assert models.uses_vector_normalization(scope, normalization, alpha) is expected
    network = models.build_axial_network(["A", "B"], normalization=normalization, alpha=alpha,
                                         filters=TINY_FILTERS, vector_normalization=scope)
    names = {layer.name for layer in network.layers}
    assert ("vector_normalization_A" in names) is expected
    assert ("normalization_A" in names) is normalization


def test_the_default_network_is_the_papers_and_baselines_follow_alpha_zero():
    names = {layer.name for layer in models.build_axial_network(
        ["A", "B"], filters=TINY_FILTERS).layers}
    assert {"vector_normalization_A", "vector_normalization_B"} <= names
    baseline = {layer.name for layer in models.build_baseline(filters=TINY_FILTERS).layers}
    assert "vector_normalization_shared" in baseline
    baseline = {layer.name for layer in models.build_baseline(
        filters=TINY_FILTERS, vector_normalization="with-similarity").layers}
    assert "vector_normalization_shared" not in baseline
    with pytest.raises(ValueError, match="unknown feature-vector normalization scope"):
        models.build_axial_network(["A", "B"], vector_normalization="sometimes")


def test_mean_representation_is_the_masked_mean_of_normalized_vectors(tmp_path):
    rng = np.random.default_rng(2)
    network = models.build_axial_network(["A", "B", "C"], filters=TINY_FILTERS, seed=0)
    patches = [rng.normal(size=(6, 15, 15, 15, 1)).astype("float32") for _ in range(3)]
    mask = np.array([[1, 0, 0], [0, 1, 1], [1, 1, 1], [0, 0, 1], [1, 0, 1], [1, 1, 0]],
                    dtype="float32")
    outputs = network([*patches, mask], training=False)
    raw = [np.asarray(network.get_layer(f"encoder_{m}")(p, training=False))
           for m, p in zip("ABC", patches)]
    normalized = np.stack([numpy_vector_normalization(r) for r in raw], axis=1)  # N, M, F
    expected = (normalized * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    np.testing.assert_allclose(np.asarray(outputs["mean_representation"]), expected, atol=1e-4)
    for m, name in enumerate("ABC"):
        np.testing.assert_allclose(np.asarray(outputs[f"features_{name}"]), normalized[:, m],
                                   atol=1e-4)
        # Features for the forests are taken after the normalization.
        np.testing.assert_allclose(models.extract_features(network, patches[m], name),
                                   normalized[:, m], atol=1e-4)
    network.save(tmp_path / "network.keras")
    loaded = keras.saving.load_model(tmp_path / "network.keras", safe_mode=True)
    np.testing.assert_allclose(models.extract_features(loaded, patches[1], "B"),
                               normalized[:, 1], atol=1e-4)


@pytest.mark.parametrize("last_block, batch_norm, activation", [
    ("bn-lrelu", True, True), ("lrelu", False, True), ("linear", False, False)])
def test_the_encoders_last_block(last_block, batch_norm, activation):
    encoder = models.build_axial_network(["A", "B"], filters=TINY_FILTERS, last_block=last_block,
                                         vector_normalization="never").get_layer("encoder_A")
    names = [layer.name for layer in encoder.layers]
    assert names[-1] == "encoder_A_representation"
    assert ("encoder_A_bn3" in names) is batch_norm
    assert ("encoder_A_lrelu3" in names) is activation
    assert {"encoder_A_bn1", "encoder_A_lrelu1", "encoder_A_bn2", "encoder_A_lrelu2"} <= set(names)
    if last_block == "linear":  # f^m is then the last convolution's output itself
        patches = np.random.default_rng(3).normal(size=(4, 15, 15, 15, 1)).astype("float32")
        convolved = encoder.get_layer("encoder_A_conv3")(encoder.get_layer("encoder_A_lrelu2")(
            encoder.get_layer("encoder_A_bn2")(encoder.get_layer("encoder_A_conv2")(
                encoder.get_layer("encoder_A_lrelu1")(encoder.get_layer("encoder_A_bn1")(
                    encoder.get_layer("encoder_A_conv1")(patches)))))))
        np.testing.assert_allclose(np.asarray(encoder(patches)),
                                   np.asarray(convolved).reshape(4, -1), atol=1e-5)


def test_dropout_distributions_draw_the_stated_frequencies():
    modality_count, draws = 4, 60000
    subsets = models.all_nonempty_subsets(modality_count)
    sizes = subsets.sum(axis=1).astype(int)
    expected = {
        "uniform-subsets": np.full(len(subsets), 1 / len(subsets)),
        # P(k modalities) = 1/4, then each of the C(4, k) subsets of that size equally.
        "uniform-count": np.array([1 / 4 / {1: 4, 2: 6, 3: 4, 4: 1}[k] for k in sizes])}
    for distribution, probabilities in expected.items():
        network = models.build_axial_network(
            list("ABCD"), filters=TINY_FILTERS, modality_dropout=True, seed=5,
            dropout_distribution=distribution)
        masks = np.asarray(network.draw_modality_mask(draws))
        codes = (masks * 2 ** np.arange(modality_count)).sum(axis=1).astype(int) - 1
        frequencies = np.bincount(codes, minlength=len(subsets)) / draws
        # Within 4 binomial standard errors of every subset's probability.
        tolerance = 4 * np.sqrt(probabilities * (1 - probabilities) / draws)
        assert np.all(np.abs(frequencies - probabilities) < tolerance), distribution
        size_frequency = np.bincount(sizes[codes], minlength=5)[1:] / draws
        if distribution == "uniform-count":
            np.testing.assert_allclose(size_frequency, 0.25, atol=0.01)
        else:
            np.testing.assert_allclose(size_frequency, np.array([4, 6, 4, 1]) / 15, atol=0.01)
    with pytest.raises(ValueError, match="unknown dropout distribution"):
        models.dropout_subset_weights("uniform-size", 3)
