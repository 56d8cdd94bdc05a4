"""Training (paper §IV): SGD with the paper's schedule, precision and distribution, and
``train`` by epochs or by updates. The objective and the train step are the network's
own (``models.axial.AxialNetwork``); the batches come from ``models.batches``.
"""
import contextlib
import math

import keras
import numpy as np
import tensorflow as tf

from .checkpoints import resumed_segments
from .batches import (BATCH_SIZE, ArrayPatches, EpochEnds, PatchBatches, as_modality_tuple,
                      steady_dataset, without_autotuning)

LEARNING_RATE = 0.3
LEARNING_RATE_DECAY = 2e-6  # Keras-2 "decay": lr_t = lr / (1 + decay * t), t = update count


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


class AtUpdates(keras.callbacks.Callback):
    """Calls ``action(network, updates)`` when this training has made each of ``updates``
    optimizer updates (checkpoints, e.g. 100, 300, 1000; counted from the start of
    ``fit``), and stops training after the last one, also in the middle of an epoch.

    Updates are counted as finished batches (one optimizer step each), not read from the
    optimizer: under JAX, reading a variable in the middle of an epoch would pull the
    whole training state back to the model after every batch. Only a checkpoint's
    ``action`` reads the network."""

    def __init__(self, updates, action=None):
        super().__init__()
        self.updates = sorted(int(u) for u in updates)
        self.action = action
        self.reached = []
        self.done = 0

    def on_train_begin(self, logs=None):
        self.done = 0
        self.reached = []

    def on_train_batch_end(self, batch, logs=None):
        self.done += 1
        if len(self.reached) < len(self.updates) and self.done >= self.updates[len(self.reached)]:
            self.reached.append(self.done)
            if self.action is not None:
                self.action(self.model, self.done)
            if len(self.reached) == len(self.updates):
                self.model.stop_training = True


def train(network, patches, epochs=None, updates=None, batch_size=BATCH_SIZE, callbacks=None,
          verbose="auto", validation_patches=None, optimizer=None, seed=None, checkpoint=None):
    """Trains ``network`` with its own objective (equations (1)–(3)) and returns the history.

    ``patches``: arrays (see module doc; shuffled by a ``PatchBatches`` seeded with
    ``seed``, default the network's own seed), a ``keras.utils.PyDataset`` (both go
    through ``steady_dataset``) or a ``tf.data.Dataset`` (used as given). Give the
    length as ``epochs`` or as ``updates`` (optimizer steps; training stops after that
    many, also in the middle of an epoch). Compiles with ``make_optimizer()`` unless the
    network is already compiled or an ``optimizer`` is given.

    ``checkpoint``: a ``models.checkpoints.TrainingCheckpoint``; the training saves its
    state there as it goes and, when the file exists, resumes from it (``patches`` must
    then be the training's fresh ``PatchBatches``, built with the same seed), ending with
    the weights the uninterrupted training would have had. Returns the history of the
    last ``fit`` call (a resumed training makes up to two; None when nothing was left).
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
    fit_arguments = dict(verbose=verbose, shuffle=False)
    if validation_patches is not None:
        fit_arguments["validation_data"] = tf.data.Dataset.from_tensor_slices(
            (as_modality_tuple(validation_patches, network.modality_count),)
        ).batch(batch_size).with_options(without_autotuning())
    if checkpoint is None:
        return _fit(network, patches, epochs, updates, callbacks, fit_arguments)
    if not isinstance(patches, PatchBatches):
        raise ValueError("a training with a checkpoint takes its patches as arrays or a "
                         "PatchBatches (its batch order is then known from its seed)")
    checkpoint.total_updates = updates if updates is not None else epochs * len(patches)
    segments = [(patches, updates)]  # from the start: the plain training, saving as it goes
    if checkpoint.exists():
        done = checkpoint.restore(network, checkpoint.total_updates)
        segments = resumed_segments(patches, done, checkpoint.total_updates)
    else:
        checkpoint.updates_done = 0
    history = None
    try:
        for batches, segment_updates in segments:
            history = _fit(network, batches, epochs if segment_updates is None else None,
                           segment_updates, [*callbacks, checkpoint], fit_arguments)
    finally:
        type(checkpoint).current = None
    return history


def _fit(network, patches, epochs, updates, callbacks, fit_arguments):
    """One ``fit`` over ``patches`` for ``epochs`` or ``updates``."""
    callbacks = list(callbacks)
    if isinstance(patches, keras.utils.PyDataset):
        batch_count = len(patches)
        if keras.backend.backend() == "tensorflow":
            # The TensorFlow speed path: the same batches through tf.data (models.batches).
            callbacks.append(EpochEnds(patches))
            patches = steady_dataset(patches)
    else:
        batch_count = int(patches.cardinality())
    if updates is not None:
        epochs = math.ceil(updates / max(batch_count, 1))
        if not any(isinstance(c, AtUpdates) and c.updates[-1] == updates for c in callbacks):
            callbacks.append(AtUpdates([updates]))
    return network.fit(patches, epochs=epochs, callbacks=callbacks, **fit_arguments)




__all__ = ["make_optimizer", "train", "AtUpdates", "use_mixed_precision", "distribution_scope",
           "LEARNING_RATE", "LEARNING_RATE_DECAY"]
