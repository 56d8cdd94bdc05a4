"""Training that survives a kill: the state that decides the rest of a training, saved
while it runs, and a resumed training that ends with exactly the weights it would have
had uninterrupted.

What decides the rest of a training is small: the network's variables (weights, the
moving statistics, the modality masks' seed state: ``network.variables`` holds them
all), the optimizer's variables (its update count, which also sets the learning rate),
and how many updates were made. The batch order needs no saving: ``PatchBatches`` draws
one permutation per epoch from its seed, so a resumed training draws them again up to
the interrupted epoch and goes on from the next batch (``resumed_segments``).

Keras's own ``BackupAndRestore`` restores weights and the epoch, but a training resumed
in the middle of an epoch would see other batches than it would have; hence this.

A cluster's warning signal (Slurm sends SIGTERM before it stops a job) asks the
training to stop: ``TrainingCheckpoint.request_stop`` saves at the end of the current
batch and raises ``TrainingStopped``; the script exits with status 75 for the job to be
requeued (``runtime.console.PREEMPTED``).
"""
import json
import zipfile
import os
import time
from pathlib import Path

import keras
import numpy as np

class TrainingStopped(Exception):
    """A training stopped on request after saving its state (resume with the same call)."""


class TrainingCheckpoint(keras.callbacks.Callback):
    """Saves a training's state to ``path`` (one ``.npz``, replaced atomically) every
    ``every_updates`` updates or ``every_seconds`` seconds (either may be None), after
    the last update, and when ``request_stop`` was called (then raises
    ``TrainingStopped``). Give it to ``models.train(checkpoint=...)``: a training given a
    checkpoint that exists resumes from it. ``identity``: a dict saved with the state
    and compared on resume (the seed and settings of the training), so that a state is
    never resumed into another training."""

    stop_requested = False  # set by request_stop(), for every checkpoint of the process
    current = None  # the checkpoint of the training in progress in this process, if any

    def __init__(self, path, every_updates=None, every_seconds=None, identity=None):
        super().__init__()
        self.path = Path(path)
        self.every_updates = every_updates
        self.every_seconds = every_seconds
        self.identity = dict(identity or {})
        self.updates_done = 0  # of the whole training, across the calls of a resumed one
        self.total_updates = None
        self._saved_at = (0, time.monotonic())

    @classmethod
    def request_stop(cls):
        """Asks the training in progress to save and stop at the end of its batch (a
        signal handler may call it: it only sets a flag). Returns whether a training is
        in progress to do so (if not, the caller stops by itself)."""
        cls.stop_requested = True
        return cls.current is not None

    def on_train_begin(self, logs=None):
        TrainingCheckpoint.current = self

    def exists(self):
        return self.path.is_file()

    def saved_updates(self):
        """The updates the saved state had made (None when it cannot be read: ``restore``
        then says why)."""
        try:
            with np.load(self.path) as stored:
                return int(json.loads(str(stored["about"]))["updates_done"])
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            return None

    # -- saving and restoring ----------------------------------------------------------
    def save(self, network):
        arrays = {f"network_{i}": keras.ops.convert_to_numpy(v)
                  for i, v in enumerate(network.variables)}
        arrays.update({f"optimizer_{i}": keras.ops.convert_to_numpy(v)
                       for i, v in enumerate(network.optimizer.variables)})
        about = {"identity": self.identity, "updates_done": self.updates_done,
                 "total_updates": self.total_updates,
                 "network_variables": len(network.variables),
                 "optimizer_variables": len(network.optimizer.variables)}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".partial")
        with open(partial, "wb") as handle:
            np.savez(handle, about=np.array(json.dumps(about, sort_keys=True)), **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, self.path)  # a kill while saving leaves the previous state
        self._saved_at = (self.updates_done, time.monotonic())

    def restore(self, network, total_updates):
        """Loads the saved state into ``network`` (built and compiled) and returns the
        updates it had made; a state of another training is an error naming the file."""
        try:
            with np.load(self.path) as stored:
                about = json.loads(str(stored["about"]))
                arrays = {key: stored[key] for key in stored.files if key != "about"}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            raise ValueError(f"{self.path}: not a readable training state ({error}); delete "
                             "it to train this network from the start") from None
        network.optimizer.build(network.trainable_variables)
        expected = {"identity": json.loads(json.dumps(self.identity, sort_keys=True)),
                    "total_updates": total_updates,
                    "network_variables": len(network.variables),
                    "optimizer_variables": len(network.optimizer.variables)}
        found = {key: about.get(key) for key in expected}
        if found != expected:
            differing = ", ".join(_differences(key, found[key], expected[key])
                                  for key in expected if found[key] != expected[key])
            raise ValueError(f"{self.path}: the saved training state belongs to another "
                             f"training ({differing}); delete it to train from the start")
        for prefix, variables in (("network", network.variables),
                                  ("optimizer", network.optimizer.variables)):
            for i, variable in enumerate(variables):
                value = arrays[f"{prefix}_{i}"]
                if tuple(value.shape) != tuple(variable.shape):
                    raise ValueError(f"{self.path}: {variable.path} has shape {value.shape}, "
                                     f"the network's {tuple(variable.shape)}; delete it to "
                                     "train from the start")
                variable.assign(value)
        self.updates_done, self.total_updates = int(about["updates_done"]), total_updates
        self._saved_at = (self.updates_done, time.monotonic())
        return self.updates_done

    # -- the callback ---------------------------------------------------------------------
    def on_train_batch_end(self, batch, logs=None):
        # Counts without touching self.model: under JAX that would pull the training
        # state back to the network after every batch.
        self.updates_done += 1
        last_updates, last_time = self._saved_at
        due = (self.stop_requested
               or self.updates_done == self.total_updates
               or (self.every_updates and self.updates_done - last_updates >= self.every_updates)
               or (self.every_seconds is not None
                   and time.monotonic() - last_time >= self.every_seconds))
        if due:
            self.save(self.model)
            if self.stop_requested:
                raise TrainingStopped(f"training stopped after {self.updates_done} of "
                                      f"{self.total_updates} updates; its state is in "
                                      f"{self.path}")


def resumed_segments(batches, updates_done, total_updates):
    """How a training resumed after ``updates_done`` updates goes on: a list of
    (PyDataset, updates) to pass to ``fit`` in turn, after positioning ``batches`` (a
    fresh ``PatchBatches`` with the training's seed) where the interrupted training was.

    A training's epoch e sees the (e + 2)-th permutation the loader draws (one at its
    creation, one when ``fit`` starts, one after every epoch). After e whole epochs and
    k batches: draw again up to epoch e's order, train its batches k, k + 1, … (a view
    whose epoch ends change nothing), then the loader itself, whose next permutation
    ``fit`` draws when it starts, as the uninterrupted training drew it after epoch e."""
    batch_count = len(batches)
    epoch, within = divmod(updates_done, batch_count)
    for _ in range(epoch + (1 if within else 0)):
        batches.on_epoch_end()
    segments, left = [], total_updates - updates_done
    if within and left > 0:
        rest = RestOfEpoch(batches, within)
        segments.append((rest, min(len(rest), left)))
        left -= segments[-1][1]
    if left > 0:
        segments.append((batches, left))
    return segments


class RestOfEpoch(keras.utils.PyDataset):
    """Batches ``first``, ``first + 1``, … of ``batches``' current order, as one epoch
    that draws no new order when it ends."""

    def __init__(self, batches, first):
        super().__init__()
        self.batches, self.first = batches, int(first)

    def __len__(self):
        return len(self.batches) - self.first

    def __getitem__(self, index):
        return self.batches[self.first + index]


__all__ = ["RestOfEpoch", "TrainingCheckpoint", "TrainingStopped",
           "resumed_segments"]


def _differences(key, saved, now):
    """'total_updates: saved 4, now 6', or for dicts the entries that differ, by their
    path ('identity.options.patches_per_class: saved 12, now 13')."""
    if isinstance(saved, dict) and isinstance(now, dict):
        return ", ".join(_differences(f"{key}.{name}", saved.get(name), now.get(name))
                         for name in sorted(set(saved) | set(now))
                         if saved.get(name) != now.get(name))
    return f"{key}: saved {saved}, now {now}"
