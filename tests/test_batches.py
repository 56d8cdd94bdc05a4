"""The one seeded loader and the tf.data feed (models/batches.py)."""

import keras
import numpy as np
import pytest

import models
from models import as_modality_tuple, extract_features, train
from tests.networks import random_patches, tiny_network


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


def test_patch_batches_from_a_patch_table_pair_modalities_or_mix_them():
    from data import PatchTable, PreparedSubject
    volumes = np.arange(2 * 20 * 20 * 20, dtype=np.float32).reshape(2, 20, 20, 20)
    subject = PreparedSubject("s", "s", ["A", "B"], ["bg"], volumes, np.ones((6, 6, 6), np.uint8))
    centers = np.array([[x, y, z] for x in range(2) for y in range(3) for z in range(2)])
    table = PatchTable([subject], [centers], [np.zeros(len(centers), np.int32)])
    rows = np.arange(len(table))
    paired = models.PatchBatches(table, rows, [0, 1], batch_size=5, seed=0)
    seen = []
    for index in range(len(paired)):
        (a, b), = paired[index]
        assert a.shape[1:] == (15, 15, 15, 1)
        np.testing.assert_array_equal(b - a, volumes[1, 0, 0, 0] - volumes[0, 0, 0, 0])  # same position
        seen += a[:, 7, 7, 7, 0].tolist()
    assert sorted(seen) == sorted(volumes[0][7 + centers[:, 0], 7 + centers[:, 1], 7 + centers[:, 2]].tolist())
    mixed = models.PatchBatches(table, rows, [0, 1], batch_size=7, seed=0, mixed=True)
    values = np.concatenate([mixed[i][0][:, 7, 7, 7, 0] for i in range(len(mixed))])
    expected = np.concatenate([volumes[m][7 + centers[:, 0], 7 + centers[:, 1], 7 + centers[:, 2]]
                               for m in (0, 1)])
    assert sorted(values.tolist()) == sorted(expected.tolist())  # every (row, modality) once
