"""Training (paper §IV), feature extraction and reconstruction for the axial network.

Patches come in as arrays: either one array per modality, each (N, p, p, p) or
(N, p, p, p, 1), or one array (N, M, p, p, p); or as ``PatchBatches`` over any patch
source with a ``gather(rows)`` method; or as a ``tf.data.Dataset`` whose batches are
tuples of M arrays.
"""
import contextlib
import math

import keras
import numpy as np
import tensorflow as tf

from .axial import MODALITY_MASK, layer_name

LEARNING_RATE = 0.3
LEARNING_RATE_DECAY = 2e-6  # Keras-2 "decay": lr_t = lr / (1 + decay * t), t = update count
BATCH_SIZE = 64


def make_optimizer(learning_rate=LEARNING_RATE, decay=LEARNING_RATE_DECAY):
    """SGD without momentum, lr_t = 0.3 / (1 + 2e-6 t), as in the paper."""
    schedule = keras.optimizers.schedules.InverseTimeDecay(
        learning_rate, decay_steps=1, decay_rate=decay)
    return keras.optimizers.SGD(learning_rate=schedule)


def use_mixed_precision(enabled=True):
    """Layers compute in float16 with float32 weights (GPUs); call before building.

    The losses and the per-feature normalization stay in float32, and ``compile`` wraps
    the optimizer in a LossScaleOptimizer (the train_step scales the loss for it).
    """
    keras.mixed_precision.set_global_policy("mixed_float16" if enabled else "float32")


def distribution_scope(kind="none"):
    """``"mirrored"``: a tf.distribute.MirroredStrategy scope (data parallel over all
    local GPUs); build, compile and train inside it. ``"none"``: no strategy."""
    if kind == "mirrored":
        return tf.distribute.MirroredStrategy().scope()
    if kind == "none":
        return contextlib.nullcontext()
    raise ValueError(f"unknown distribution {kind!r}; choose none or mirrored")


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
    machine, and training speed then switches between ~250 and ~400 samples/s from one
    epoch to the next on 2 cores (README, Speed). Without it, it stays at ~400.
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
    return dataset.with_options(_without_autotuning())


def _without_autotuning():
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


class AtUpdates(keras.callbacks.Callback):
    """Calls ``action(network, updates)`` when this training has made each of ``updates``
    optimizer updates (checkpoints, e.g. 100, 300, 1000; counted from the start of
    ``fit``), and stops training after the last one, also in the middle of an epoch."""

    def __init__(self, updates, action=None):
        super().__init__()
        self.updates = sorted(int(u) for u in updates)
        self.action = action
        self.reached = []

    def on_train_begin(self, logs=None):
        self.start = int(self.model.optimizer.iterations.numpy())
        self.reached = []

    def on_train_batch_end(self, batch, logs=None):
        done = int(self.model.optimizer.iterations.numpy()) - self.start
        if len(self.reached) < len(self.updates) and done >= self.updates[len(self.reached)]:
            self.reached.append(done)
            if self.action is not None:
                self.action(self.model, done)
            if len(self.reached) == len(self.updates):
                self.model.stop_training = True


def predict_in_batches(model, arrays, batch_size=1024):
    """``model.predict`` over in-memory arrays (one per model input), in order, through
    ``tf.data`` with autotuning off (the same reason as for training)."""
    arrays = tuple(arrays) if isinstance(arrays, (list, tuple)) else (arrays,)
    if len(arrays[0]) == 0:
        raise ValueError("nothing to predict: the patches are empty")
    # One element, x: a tuple of inputs would otherwise be read as (x, y).
    dataset = tf.data.Dataset.from_tensor_slices((arrays if len(arrays) > 1 else arrays[0],))
    dataset = dataset.batch(batch_size).prefetch(1).with_options(_without_autotuning())
    return model.predict(dataset, verbose=0)


def train(network, patches, epochs=None, updates=None, batch_size=BATCH_SIZE, callbacks=None,
          verbose="auto", validation_patches=None, optimizer=None, seed=None):
    """Trains ``network`` with its own objective (equations (1)–(3)) and returns the history.

    ``patches``: arrays (see module doc; shuffled by a ``PatchBatches`` seeded with
    ``seed``, default the network's own seed), a ``keras.utils.PyDataset`` (both go
    through ``steady_dataset``) or a ``tf.data.Dataset`` (used as given). Give the
    length as ``epochs`` or as ``updates`` (optimizer steps; training stops after that
    many, also in the middle of an epoch). Compiles with ``make_optimizer()`` unless the
    network is already compiled or an ``optimizer`` is given.
    """
    if (epochs is None) == (updates is None):
        raise ValueError("give either epochs or updates")
    if optimizer is not None or not network.compiled:
        network.compile(optimizer=optimizer or make_optimizer())
    callbacks = list(callbacks or [])
    if isinstance(patches, (np.ndarray, list, tuple)):
        if seed is None:
            seed = getattr(network, "seed", None) or 0
        patches = PatchBatches(ArrayPatches(patches), batch_size=batch_size, seed=seed)
    if isinstance(patches, keras.utils.PyDataset):
        callbacks.append(EpochEnds(patches))
        batch_count = len(patches)
        patches = steady_dataset(patches)
    else:
        batch_count = int(patches.cardinality())
    if updates is not None:
        epochs = math.ceil(updates / max(batch_count, 1))
        if not any(isinstance(c, AtUpdates) and c.updates[-1] == updates for c in callbacks):
            callbacks.append(AtUpdates([updates]))
    fit_arguments = dict(epochs=epochs, callbacks=callbacks, verbose=verbose, shuffle=False)
    if validation_patches is not None:
        fit_arguments["validation_data"] = tf.data.Dataset.from_tensor_slices(
            (as_modality_tuple(validation_patches, network.modality_count),)
        ).batch(batch_size).with_options(_without_autotuning())
    return network.fit(patches, **fit_arguments)


def feature_extractor(network, modality):
    """A model that maps one modality's patches to f^m(x^m) after the normalization the
    network applies before the mean (feature-vector, per-feature), in inference mode. ``modality`` is a name or an index."""
    if not isinstance(modality, str):
        modality = network.modality_names[int(modality)]
    if modality not in network.modality_names:
        raise ValueError(f"unknown modality {modality!r}; the network has "
                         f"{network.modality_names}")
    safe = layer_name(modality)
    present = {layer.name for layer in network.layers}
    # The encoder, then the normalization the network applies before the mean, in order.
    steps = [network.get_layer(name) for name in (
        f"encoder_{safe}", f"vector_normalization_{safe}", f"normalization_{safe}")
        if name in present]
    return keras.Sequential(steps, name=f"features_{safe}")


def extract_features(network, patches, modality, batch_size=1024):
    """The representation of one modality's patches, (N, F) float32, in batches.

    For the single-transformation baseline, pass ``modality="shared"`` (or 0) and the
    patches of whichever modality you want features for.
    """
    (patch_array,) = as_modality_tuple([patches])
    extractor = feature_extractor(network, modality)
    return np.asarray(predict_in_batches(extractor, patch_array, batch_size), dtype=np.float32)


def reconstruct(network, patches_by_modality, available, batch_size=1024):
    """Reconstructs every modality from the mean representation of the ``available`` ones.

    ``patches_by_modality``: a dict name → (N, p, p, p) array; only the available
    modalities need to be present (the others are ignored). Returns name → (N, p, p, p).
    Use this to fill in missing modalities (Fig. 5).
    """
    available = [network.modality_names[a] if not isinstance(a, str) else a for a in available]
    unknown = sorted(set(available) - set(network.modality_names))
    if unknown or not available:
        raise ValueError(f"available modalities must be a non-empty subset of "
                         f"{network.modality_names}, got {available}")
    missing = [name for name in available if name not in patches_by_modality]
    if missing:
        raise ValueError(f"no patches given for available modalities {missing}")
    reference = as_modality_tuple([patches_by_modality[available[0]]])[0]
    inputs = []
    for name in network.modality_names:
        if name in available:
            inputs.append(as_modality_tuple([patches_by_modality[name]])[0])
        else:  # excluded from the mean by the mask; any values would do
            inputs.append(np.zeros_like(reference))
    modality_mask = np.tile(np.array([[name in available for name in network.modality_names]],
                                     dtype="float32"), (len(reference), 1))
    outputs = predict_in_batches(network, [*inputs, modality_mask], batch_size)
    return {name: np.asarray(outputs[f"reconstruction_{layer_name(name)}"])[..., 0]
            for name in network.modality_names}


__all__ = ["make_optimizer", "train", "ArrayPatches", "PatchBatches", "steady_dataset",
           "EpochEnds", "AtUpdates",
           "predict_in_batches", "use_mixed_precision", "distribution_scope", "feature_extractor",
           "extract_features", "reconstruct", "as_modality_tuple", "BATCH_SIZE", "MODALITY_MASK"]
