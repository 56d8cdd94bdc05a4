"""Mini-batches for training (paper §IV): patches as arrays or cut on the fly.

Patches come in as arrays (one array per modality, each (N, p, p, p) or (N, p, p, p, 1),
or one array (N, M, p, p, p)) or from any patch source with a ``gather(rows)`` method
(a ``data.PatchTable``, an ``ArrayPatches``). ``PatchBatches`` is the one seeded loader;
``steady_dataset`` feeds it to ``fit`` through ``tf.data`` without autotuning.
"""
import math

import keras
import numpy as np
import tensorflow as tf

BATCH_SIZE = 64


def as_modality_tuple(patches, modality_count=None):
    """Normalize the accepted array layouts to a tuple of (N, p, p, p, 1) float32 arrays."""
    if isinstance(patches, np.ndarray) and patches.ndim == 5 and patches.shape[2] == patches.shape[3] \
            == patches.shape[4] and (modality_count is None or patches.shape[1] == modality_count):
        patches = [patches[:, m] for m in range(patches.shape[1])]  # (N, M, p, p, p) → M × (N, p, p, p)
    if isinstance(patches, np.ndarray):
        patches = [patches]
    result = []
    for array in patches:
        array = np.asarray(array, dtype="float32")
        if array.ndim == 4:
            array = array[..., None]  # (N, p, p, p) → (N, p, p, p, 1)
        if array.ndim != 5 or array.shape[-1] != 1:
            raise ValueError(f"expected patches of shape (N, p, p, p[, 1]), got {array.shape}")
        result.append(array)
    if modality_count is not None and len(result) != modality_count:
        raise ValueError(f"expected {modality_count} modalities of patches, got {len(result)}")
    return tuple(result)


class ArrayPatches:
    """In-memory patches as a patch source: ``gather(rows)`` → (len(rows), M, p, p, p)."""

    def __init__(self, arrays):
        self.arrays = as_modality_tuple(arrays)

    def __len__(self):
        return len(self.arrays[0])

    def gather(self, rows):
        return np.stack([array[rows, ..., 0] for array in self.arrays], axis=1)


class PatchBatches(keras.utils.PyDataset):
    """Seeded, shuffled mini-batches cut on the fly from a patch source.

    ``source``: anything with ``gather(rows)`` → (len(rows), M, p, p, p) float32 (a
    ``data.PatchTable``, an ``ArrayPatches``). ``rows``: which of its rows to use
    (default all); ``modalities``: which of its M modalities the network takes, in
    order (default all). With ``mixed=True`` each sample is one (row, modality) pair and
    a batch holds a single input: the "all modalities" baseline's mixture without
    modality identity. The order of the samples is a permutation drawn from
    ``numpy.random.default_rng(seed)``, redrawn at every epoch end: the one random
    source of the loader. ``shuffle=False`` keeps the given order.
    """

    def __init__(self, source, rows=None, modalities=None, batch_size=BATCH_SIZE, seed=0,
                 mixed=False, shuffle=True):
        super().__init__()
        self.source, self.batch_size, self.mixed = source, int(batch_size), mixed
        rows = np.arange(len(source)) if rows is None else np.asarray(rows)
        probe = source.gather(rows[:1]) if len(rows) else None
        modality_count = probe.shape[1] if probe is not None else 1
        self.modalities = list(range(modality_count) if modalities is None else modalities)
        if mixed:  # (row, modality) pairs, row-major
            self.samples = np.stack([np.repeat(rows, len(self.modalities)),
                                     np.tile(self.modalities, len(rows))], axis=1)
        else:
            self.samples = rows[:, None]  # (N, 1)
        self.rng = np.random.default_rng(seed) if shuffle else None
        self.order = np.arange(len(self.samples))
        self.on_epoch_end()

    def __len__(self):
        return math.ceil(len(self.samples) / self.batch_size)

    def __getitem__(self, index):
        chosen = self.samples[self.order[index * self.batch_size:(index + 1) * self.batch_size]]
        patches = self.source.gather(chosen[:, 0])  # (B, M, p, p, p)
        if self.mixed:  # each sample's own modality: (B, p, p, p, 1)
            return (patches[np.arange(len(chosen)), chosen[:, 1], ..., None],)
        return (tuple(patches[:, m, ..., None] for m in self.modalities),)  # M × (B, p, p, p, 1)

    def on_epoch_end(self):
        if self.rng is not None:
            self.order = self.rng.permutation(len(self.samples))


def steady_dataset(batches):
    """A ``tf.data`` pipeline over a ``keras.utils.PyDataset`` with autotuning off.

    ``fit`` turns a PyDataset (and arrays) into ``tf.data`` with ``prefetch(AUTOTUNE)``;
    the autotuner's background work competes with training for the cores of a small CPU
    machine, and training speed then switches between a slow and a fast rate from one epoch to
    the next on 2 cores (benchmarks/README.md, Earlier speed work). Without it, it stays
    at the fast rate.
    Every iteration yields each batch once, in index order (``PatchBatches`` shuffles
    the samples themselves). It does not call ``on_epoch_end``: pass
    ``EpochEnds(batches)`` to ``fit`` for that (``train`` does).
    """
    if len(batches) == 0:
        raise ValueError("no batches to iterate over: the patches are empty")
    signature = tf.nest.map_structure(
        lambda array: tf.TensorSpec((None, *np.shape(array)[1:]),
                                    tf.as_dtype(np.asarray(array).dtype)),
        batches[0])

    def generate():
        for index in range(len(batches)):
            yield batches[index]

    dataset = tf.data.Dataset.from_generator(generate, output_signature=signature)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(len(batches))).prefetch(1)
    return dataset.with_options(without_autotuning())


def without_autotuning():
    options = tf.data.Options()
    options.autotune.enabled = False
    return options


class EpochEnds(keras.callbacks.Callback):
    """Calls a PyDataset's ``on_epoch_end`` where Keras's own PyDataset handling does:
    once when ``fit`` starts and after every epoch. With ``steady_dataset`` this gives
    the batches that ``fit(py_dataset, shuffle=False)`` would give."""

    def __init__(self, batches):
        super().__init__()
        self.batches = batches

    def on_train_begin(self, logs=None):
        self.batches.on_epoch_end()

    def on_epoch_end(self, epoch, logs=None):
        self.batches.on_epoch_end()




__all__ = ["ArrayPatches", "PatchBatches", "steady_dataset", "EpochEnds", "as_modality_tuple",
           "without_autotuning", "BATCH_SIZE"]
