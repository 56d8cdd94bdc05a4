"""A training killed in the middle resumes from its saved state and ends with exactly the
weights of the same training left alone (models.checkpoints)."""
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

import models
from models.checkpoints import TrainingCheckpoint, TrainingStopped, resumed_segments
from runtime.seeds import seed_everything
from tests.networks import random_patches, tiny_network

PATCHES = random_patches(40, 2, seed=3)  # batch size 8: 5 batches per epoch
BATCH_SIZE = 8


class StopAfter(keras.callbacks.Callback):
    """Stands for a kill: raises once the training has made ``updates`` updates (the
    checkpoint, listed after it, has saved what it saves by then)."""

    def __init__(self, updates):
        super().__init__()
        self.updates, self.done = updates, 0

    def on_train_batch_end(self, batch, logs=None):
        self.done += 1
        if self.done == self.updates:
            raise KeyboardInterrupt


def fresh(seed=11):
    seed_everything(seed)  # as unit.train_network: every initializer from the one seed
    network = tiny_network(modality_dropout=True, normalization=True, seed=seed)
    batches = models.PatchBatches(models.ArrayPatches(PATCHES), batch_size=BATCH_SIZE, seed=seed)
    return network, batches


def trained_weights(**length):
    network, batches = fresh()
    models.train(network, batches, verbose=0, **length)
    return [keras.ops.convert_to_numpy(v) for v in network.variables]


def interrupted_then_resumed(tmp_path, stop_after, every_updates, **length):
    path = tmp_path / "state.npz"
    network, batches = fresh()
    with pytest.raises(KeyboardInterrupt):
        models.train(network, batches, verbose=0, callbacks=[StopAfter(stop_after)],
                     checkpoint=TrainingCheckpoint(path, every_updates=every_updates), **length)
    assert path.is_file()
    network, batches = fresh()  # a new process would build both again
    models.train(network, batches, verbose=0,
                 checkpoint=TrainingCheckpoint(path, every_updates=every_updates), **length)
    return [keras.ops.convert_to_numpy(v) for v in network.variables], network


@pytest.mark.parametrize("stop_after, every_updates, length", [
    (9, 3, {"updates": 13}),   # saved after update 6: resumes in the middle of epoch 2
    (12, 5, {"updates": 13}),  # saved after update 10: resumes at the start of epoch 3
    (8, 2, {"epochs": 3}),     # by epochs, saved after update 8
])
def test_resumed_training_ends_with_the_uninterrupted_weights(tmp_path, stop_after,
                                                              every_updates, length):
    expected = trained_weights(**length)
    resumed, network = interrupted_then_resumed(tmp_path, stop_after, every_updates, **length)
    for before, after, variable in zip(expected, resumed, network.variables):
        np.testing.assert_array_equal(after, before, err_msg=variable.path)
    total = length.get("updates") or length["epochs"] * 5
    assert int(keras.ops.convert_to_numpy(network.optimizer.iterations)) == total


def fit_order(dataset, updates):
    """The batches ``fit`` takes from a PyDataset for ``updates`` updates (an epoch end
    when it starts and after every epoch), each named by its samples' first voxels."""
    order = []
    dataset.on_epoch_end()
    while True:
        for index in range(len(dataset)):
            order.append(dataset[index][0][0][:, 0, 0, 0, 0].tolist())
            if len(order) == updates:
                return order
        dataset.on_epoch_end()


def test_the_resumed_segments_replay_the_batch_order():
    """The batches a resumed training sees are those the uninterrupted one saw from the
    same update on."""
    def loader():
        return models.PatchBatches(models.ArrayPatches(PATCHES), batch_size=8, seed=4)
    uninterrupted = fit_order(loader(), 20)
    for done in (0, 3, 5, 12, 19):
        order = []
        for dataset, updates in resumed_segments(loader(), done, 20):
            order += fit_order(dataset, updates)
        assert order == uninterrupted[done:], done


def test_a_state_of_another_training_is_refused(tmp_path):
    path = tmp_path / "state.npz"
    network, batches = fresh()
    models.train(network, batches, updates=4, verbose=0,
                 checkpoint=TrainingCheckpoint(path, identity={"seed": 11}))
    network, batches = fresh()
    with pytest.raises(ValueError, match="another training.*identity"):
        models.train(network, batches, updates=4, verbose=0,
                     checkpoint=TrainingCheckpoint(path, identity={"seed": 12}))
    network, batches = fresh()
    with pytest.raises(ValueError, match="total_updates: saved 4, now 6"):
        models.train(network, batches, updates=6, verbose=0,
                     checkpoint=TrainingCheckpoint(path, identity={"seed": 11}))
    saved = path.read_bytes()
    assert TrainingCheckpoint(path, identity={"seed": 11}).saved_updates() == 4
    path.write_bytes(saved[: len(saved) // 2])  # truncated: the probe's BadZipFile traceback
    assert TrainingCheckpoint(path, identity={"seed": 11}).saved_updates() is None
    with pytest.raises(ValueError, match="state.npz: not a readable training state.*delete it"):
        models.train(network, batches, updates=4, verbose=0,
                     checkpoint=TrainingCheckpoint(path, identity={"seed": 11}))
    path.write_bytes(b"not a state")
    with pytest.raises(ValueError, match="state.npz: not a readable training state"):
        models.train(network, batches, updates=4, verbose=0,
                     checkpoint=TrainingCheckpoint(path, identity={"seed": 11}))


def test_a_stop_request_saves_and_stops_at_the_end_of_the_batch(tmp_path):
    class AskToStop(keras.callbacks.Callback):  # as the SIGTERM handler does
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                TrainingCheckpoint.request_stop()
    path = tmp_path / "state.npz"
    network, batches = fresh()
    try:
        with pytest.raises(TrainingStopped, match="after 3 of 13 updates"):
            models.train(network, batches, updates=13, verbose=0, callbacks=[AskToStop()],
                         checkpoint=TrainingCheckpoint(path))
    finally:
        TrainingCheckpoint.stop_requested = False
    network, batches = fresh()
    models.train(network, batches, updates=13, verbose=0, checkpoint=TrainingCheckpoint(path))
    for expected, variable in zip(trained_weights(updates=13), network.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable), expected)


KILLED_TRAINING = textwrap.dedent("""
    import os, signal, sys
    import keras, numpy as np
    import models
    from models.checkpoints import TrainingCheckpoint
    from tests.test_checkpoints import fresh
    class Kill(keras.callbacks.Callback):
        def __init__(self):
            super().__init__(); self.done = 0
        def on_train_batch_end(self, batch, logs=None):
            self.done += 1
            if self.done == int(sys.argv[2]):
                os.kill(os.getpid(), signal.SIGKILL)
    network, batches = fresh()
    callbacks = [Kill()] if int(sys.argv[2]) else []
    models.train(network, batches, updates=13, verbose=0, callbacks=callbacks,
                 checkpoint=TrainingCheckpoint(sys.argv[1], every_updates=4))
    np.savez(sys.argv[3], *[keras.ops.convert_to_numpy(v) for v in network.variables])
""")


@pytest.mark.slow  # two processes
def test_a_process_killed_while_training_resumes_exactly(tmp_path):
    """SIGKILL (nothing runs after it) in the middle of epoch 2; a new process resumes."""
    script = tmp_path / "killed.py"
    script.write_text(KILLED_TRAINING)
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    state, weights = tmp_path / "state.npz", tmp_path / "weights.npz"
    killed = subprocess.run([sys.executable, str(script), str(state), "7", str(weights)],
                            env=environment, capture_output=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    assert state.is_file() and not weights.exists()
    resumed = subprocess.run([sys.executable, str(script), str(state), "0", str(weights)],
                             env=environment, capture_output=True)
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    with np.load(weights) as stored:
        for index, expected in enumerate(trained_weights(updates=13)):
            np.testing.assert_array_equal(stored[f"arr_{index}"], expected)


def test_a_units_state_is_keyed_by_the_runs_options(tmp_path):
    """A folder without finished units takes the next command's options: a state left by
    a training under other options (here more patches per class) is refused."""
    from experiments.runs import command_line
    from experiments.execution import unit
    from experiments.paper.configurations import CONFIGURATIONS_BY_NAME
    from tests.conftest import TINY_RUN

    def run_of(*extra):
        parser = command_line.script_parser("x")
        return command_line.resolve_run(parser.parse_args(
            [*TINY_RUN, "--out", str(tmp_path), *extra]), [])
    configuration = CONFIGURATIONS_BY_NAME["plain-a0"]
    saved = unit.training_checkpoint(run_of(), configuration, 0, 0, None, 5)
    network, batches = fresh()
    models.train(network, batches, updates=2, verbose=0, checkpoint=saved)
    other = unit.training_checkpoint(run_of("--patches-per-class", "13"), configuration, 0, 0,
                                     None, 5)
    assert other.path == saved.path
    network, batches = fresh()
    with pytest.raises(ValueError, match="another training \\(identity.options."
                       "patches_per_class: saved 12, now 13\\)"):
        models.train(network, batches, updates=2, verbose=0, checkpoint=other)
