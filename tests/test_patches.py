"""Patch centres and patches (data/patches.py) against hand-cut slices and known labels."""

import numpy as np
import pytest

from data import (DataError, PatchTable, dataset_spec, find_subjects, gather_patches,
                  prepare_subjects, sample_centers)
from data.synthetic import write_knee_phantoms



def test_patches_equal_hand_cut_slices_with_zero_padding_at_the_border():
    volume = np.arange(2 * 20 * 18 * 16, dtype=np.float32).reshape(2, 20, 18, 16) + 1
    padded = np.pad(volume, ((0, 0), (7, 7), (7, 7), (7, 7)))
    centers = np.array([[10, 9, 8], [0, 0, 0], [19, 17, 15], [3, 16, 7]])
    patches = gather_patches(padded, centers)
    assert patches.shape == (4, 2, 15, 15, 15)
    np.testing.assert_array_equal(patches[0], volume[:, 3:18, 2:17, 1:16])
    corner = np.zeros((2, 15, 15, 15), np.float32)
    corner[:, 7:, 7:, 7:] = volume[:, :8, :8, :8]
    np.testing.assert_array_equal(patches[1], corner)
    far = np.zeros((2, 15, 15, 15), np.float32)
    far[:, :8, :8, :8] = volume[:, 12:, 10:, 8:]
    np.testing.assert_array_equal(patches[2], far)
    assert patches[3, 0, 7, 7, 7] == volume[0, 3, 16, 7]
    with pytest.raises(ValueError, match="outside the volume"):
        gather_patches(padded, [[20, 0, 0]])


def test_patch_table_gathers_rows_from_several_subjects(tmp_path):
    write_knee_phantoms(tmp_path, subjects=2)
    spec = dataset_spec("oai")
    subjects = prepare_subjects(find_subjects(tmp_path, spec), spec)
    rng = np.random.default_rng(0)
    samples = [sample_centers(s.class_map, 5, rng, s.class_names) for s in subjects]
    table = PatchTable(subjects, [c for c, _ in samples], [l for _, l in samples])
    assert len(table) == 30 and table.nbytes() == 30 * 2 * 15 ** 3 * 4
    rows = np.array([29, 0, 16, 3])
    patches = table.gather(rows)
    for out, row in zip(patches, rows):
        subject = subjects[table.subject_index[row]]
        np.testing.assert_array_equal(out, gather_patches(subject.volumes, table.centers[row][None])[0])
    np.testing.assert_array_equal(table.materialize(batch_size=7)[rows], patches)
    assert len(table.subset([subjects[1].name])) == 15


def test_sampled_centers_have_the_requested_labels_and_counts():
    class_map = np.zeros((20, 20, 20), np.uint8)
    class_map[2:18, 2:18, 2:18] = 1
    class_map[5:9, 5:9, 5:9] = 2
    class_map[12:15, 12:15, 12:15] = 3
    centers, labels = sample_centers(class_map, 20, np.random.default_rng(1), ["bg", "a", "b"])
    assert np.bincount(labels).tolist() == [20, 20, 20]
    np.testing.assert_array_equal(class_map[tuple(centers.T)], labels + 1)
    assert len({tuple(c) for c in centers[labels == 0]}) == 20  # without replacement
    again, _ = sample_centers(class_map, 20, np.random.default_rng(1), ["bg", "a", "b"])
    np.testing.assert_array_equal(centers, again)


def test_small_class_is_sampled_with_replacement_and_empty_class_is_an_error():
    class_map = np.ones((10, 10, 10), np.uint8)
    class_map[1, 2, 3] = 2
    with pytest.warns(UserWarning, match="with replacement"):
        centers, labels = sample_centers(class_map, 4, np.random.default_rng(0), ["bg", "rare"])
    assert (centers[labels == 1] == [1, 2, 3]).all()
    with pytest.raises(DataError, match="'missing' has no voxels"), pytest.warns(UserWarning):
        sample_centers(class_map, 4, np.random.default_rng(0), ["bg", "rare", "missing"])
