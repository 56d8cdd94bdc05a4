"""Fig. 1 as built: shapes, the paper's sizes, the baseline, saving in safe mode."""

import keras
import numpy as np
import pytest

from models import (
    as_modality_tuple,
    build_axial_network,
    build_baseline,
    extract_features,
    train,
)
from tests.networks import TINY, random_patches, tiny_network


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
    # Either modality's patches go through the same encoder (and the §II-C step).
    encoder = network.get_layer("encoder_shared")
    for m in (0, 1):
        raw = np.asarray(encoder(patches[:, m, ..., None], training=False), np.float64)
        expected = (raw - raw.mean(1, keepdims=True)) / np.sqrt(raw.var(1, keepdims=True) + 1e-3)
        np.testing.assert_allclose(extract_features(network, patches[:, m], "shared"), expected,
                                   atol=1e-4)
        np.testing.assert_allclose(extract_features(network, patches[:, m], 0), expected,
                                   atol=1e-4)


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
