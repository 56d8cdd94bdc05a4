"""Dense features (models/dense.py) against the patch-wise path, voxel by voxel."""
import numpy as np
import pytest

import models
from models.dense import dense_features
from tests.networks import tiny_network

RADIUS = 7


def with_random_statistics(network, seed=0):
    """Moving statistics, scales and shifts far from their initial 0 / 1, so that a
    dense pass that skipped or misplaced one would show."""
    rng = np.random.default_rng(seed)
    for layer in network.layers:
        sublayers = layer.layers if hasattr(layer, "layers") else [layer]
        for sublayer in sublayers:
            for variable in sublayer.weights:
                if any(k in variable.path for k in ("moving_mean", "beta", "gamma",
                                                   "moving_variance")):
                    shape = variable.shape
                    value = rng.uniform(0.5, 2.0, shape) if "variance" in variable.path or \
                        "gamma" in variable.path else rng.normal(0, 0.5, shape)
                    variable.assign(value.astype("float32"))
    return network


def patches_around(padded, voxels):
    return np.stack([padded[x:x + 15, y:y + 15, z:z + 15] for x, y, z in voxels])


@pytest.mark.parametrize("settings", [
    dict(),  # §II-C vector normalization, bn-lrelu last block
    dict(normalization=True, modality_dropout=True),  # per-feature normalization
    dict(last_block="linear", vector_normalization="never"),
])
def test_dense_features_equal_patch_features_at_every_voxel_and_the_border(settings):
    network = with_random_statistics(tiny_network(**settings))
    rng = np.random.default_rng(1)
    volume = rng.normal(size=(19, 21, 17)).astype("float32")
    padded = np.pad(volume, RADIUS)  # zero padding, as the data layer pads
    every = np.stack(np.unravel_index(np.arange(volume.size), volume.shape), axis=1)
    for modality in (0, "B"):
        expected = models.extract_features(network, patches_around(padded, every), modality)
        tiles = []
        dense = dense_features(network, padded, modality, tile=8,
                               progress=lambda done, total: tiles.append((done, total)))
        np.testing.assert_allclose(dense, expected, rtol=1e-4, atol=1e-4)
        assert tiles[-1] == (27, 27)  # 3 × 3 × 3 tiles of 8 (the last ones partial)
    # A scattered subset, in the given order, computes only the tiles it touches.
    chosen = every[rng.choice(len(every), 50, replace=False)]
    chosen = np.vstack([chosen, [[0, 0, 0], [18, 20, 16], [0, 20, 8]]])  # corners, edges
    expected = models.extract_features(network, patches_around(padded, chosen), "A")
    np.testing.assert_allclose(dense_features(network, padded, "A", chosen, tile=8), expected,
                               rtol=1e-4, atol=1e-4)
    corner_tiles = []
    dense_features(network, padded, "A", [[0, 0, 0], [1, 2, 3]], tile=8,
                   progress=lambda done, total: corner_tiles.append(total))
    assert corner_tiles == [1]


def test_the_baseline_and_bad_input():
    network = with_random_statistics(models.build_baseline(filters=(4, 8, 16)), seed=2)
    padded = np.pad(np.random.default_rng(3).normal(size=(9, 10, 11)).astype("float32"), RADIUS)
    voxels = np.array([[0, 0, 0], [4, 5, 6], [8, 9, 10]])
    expected = models.extract_features(network, patches_around(padded, voxels), 0)
    np.testing.assert_allclose(dense_features(network, padded, 0, voxels), expected,
                               rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="outside the volume's grid"):
        dense_features(network, padded, 0, [[9, 0, 0]])
    with pytest.raises(ValueError, match="padded by 7 voxels"):
        dense_features(network, np.zeros((10, 10, 10), "float32"), 0)
    with pytest.raises(ValueError, match="unknown modality"):
        dense_features(network, padded, "T2")
