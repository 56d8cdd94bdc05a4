"""A unit's features (experiments/measurement/features.py) on a hand-made patch table,
with recording extractors standing in for networks: every array of the schema holds the
extractor and modality it should, and nothing is computed that is not kept."""
from types import SimpleNamespace

import numpy as np

from data import PatchTable, PreparedSubject
from experiments.measurement.features import RawVoxels, unit_features


class Scaled(RawVoxels):
    """An "extractor" that multiplies the patches' central voxel by its own factor and
    records the modality of every patch it sees (recognized by the volumes' values)."""

    def __init__(self, factor, seen):
        super().__init__(edge=1)
        self.factor, self.seen = factor, seen

    def __call__(self, patches):
        values = super().__call__(patches)
        self.seen.extend((self.factor, int(v) // 100) for v in values[:, 0])
        return values * self.factor


def hand_made_patch_data(modality_count=2, rows=10):
    """A table of ``rows`` patches whose central voxel is 100·modality + row."""
    shape = (rows, 1, 1)
    volumes = np.zeros((modality_count, rows + 14, 15, 15), np.float32)
    for m in range(modality_count):
        volumes[m, 7:7 + rows, 7, 7] = 100 * m + np.arange(rows)
    subject = PreparedSubject("s", "s", [f"m{m}" for m in range(modality_count)],
                              ["background", "foreground"], volumes, np.ones(shape, np.uint8))
    centers = np.stack([np.arange(rows), np.zeros(rows), np.zeros(rows)], axis=1).astype(np.int32)
    table = PatchTable([subject], [centers], [np.arange(rows, dtype=np.int32) % 2])
    split = {"training": np.arange(0, rows, 2), "test": np.arange(1, rows, 2)}
    return SimpleNamespace(evaluation=table, rows=lambda table, fold, side: split[side])


def test_the_training_modality_baseline_extracts_each_training_side_once_with_its_own_network():
    patch_data, seen = hand_made_patch_data(), []
    networks = [Scaled(1.0, seen), Scaled(-1.0, seen)]  # network a serves modality a
    features = unit_features(networks, patch_data, fold=0, modality_count=2)
    centre = np.arange(10, dtype=np.float32)
    np.testing.assert_array_equal(features["train"][:, :, 0],
                                  [centre[0::2], -(100 + centre[0::2])])
    np.testing.assert_array_equal(features["test"][:, :, :, 0], [
        [centre[1::2], 100 + centre[1::2]], [-centre[1::2], -(100 + centre[1::2])]])
    np.testing.assert_array_equal(features["network_of"], [0, 1])
    # Training side: network a on modality a only (5 patches each); test side: every
    # network on every modality.
    counts = {key: seen.count(key) for key in set(seen)}
    assert counts == {(1.0, 0): 5 + 5, (1.0, 1): 5, (-1.0, 1): 5 + 5, (-1.0, 0): 5}


def test_one_network_serves_every_modality_on_both_sides():
    patch_data, seen = hand_made_patch_data(modality_count=3), []
    features = unit_features([Scaled(2.0, seen)], patch_data, fold=0, modality_count=3)
    assert features["train"].shape == (3, 5, 1) and features["test"].shape == (1, 3, 5, 1)
    np.testing.assert_array_equal(features["train"][2, :, 0], 2 * (200 + np.arange(0, 10, 2)))
    np.testing.assert_array_equal(features["test"][0, 1, :, 0], 2 * (100 + np.arange(1, 10, 2)))
    np.testing.assert_array_equal(features["test_labels"], [1, 1, 1, 1, 1])
    assert sorted(set(seen)) == [(2.0, 0), (2.0, 1), (2.0, 2)] and len(seen) == 30
