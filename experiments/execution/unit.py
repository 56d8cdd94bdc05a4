"""One unit of the experiment (paper §IV): a configuration in a fold, as four steps.

1. ``train_networks``: the configuration's network(s) on the fold's training patches,
   saving their state as they go (OUT/training-states; a killed unit resumes there);
2. ``features.unit_features``: features of the forests' patches, for every modality;
3. ``forests.score_forests``: a forest per training modality, tested on every modality;
4. ``save_unit``: models, ``features.npz`` and ``result.json`` (last).

With ``--repeats`` a configuration and fold are trained again from derived seeds
(``network_seed``); each training is a unit of its own.
"""
import dataclasses
import json
import shutil
import time

import numpy as np

import data
import models
from experiments.measurement.features import (RawVoxels, degenerate_modalities, feature_scale,
                                              modality_separation, unit_features)
from experiments.measurement.forests import same_and_cross, score_forests, subject_accuracy
from experiments.runs.run_folder import (TRAINING_STATES, RunFolderError, clear_unit, unit_dir,
                                         unit_label, write_unit_result)
from experiments.paper.configurations import RAW_BLOCKS, Configuration
from experiments.runs.run import options_sha256
from runtime.console import say
from runtime.metadata import computed_on
from runtime.seeds import derived_seed, seed_everything
from runtime.timing import Stopwatch, TimedPatches
from runtime.errors import ProjectError

UNITS = "units"


def build_network(run, configuration, seed):
    # The network takes the patches the data layer cuts (they cannot import each other).
    reading = dict(vector_normalization=run.vector_normalization, last_block=run.last_block,
                   patch_size=data.PATCH_SIZE)
    if configuration.kind == "axial":
        return models.build_axial_network(
            run.modality_names, normalization=configuration.normalization, filters=run.filters,
            alpha=configuration.alpha, modality_dropout=configuration.dropout, seed=seed,
            momentum=run.momentum, dropout_distribution=run.dropout_distribution, **reading)
    return models.build_baseline(filters=run.filters, seed=seed, momentum=run.momentum,
                                 **reading)


def network_batches(run, configuration, patch_data, fold, seed, modality=None):
    """The seeded loader of a configuration's training patches."""
    rows = patch_data.rows(patch_data.training, fold, "training")
    if configuration.kind == "axial":
        return models.PatchBatches(patch_data.training, rows, batch_size=run.batch_size,
                                   seed=seed)
    modalities = range(len(run.modality_names)) if modality is None else [modality]
    return models.PatchBatches(patch_data.training, rows, modalities, run.batch_size, seed,
                               mixed=True)


def network_seed(run, configuration, fold, modality=None, repeat=0):
    """The seed of one network: repeat 0 is the unit's first (and usually only) training;
    repeats 1, 2, … (``--repeats``) train the same configuration and fold again."""
    extra = () if repeat == 0 else ("repeat", repeat)
    return derived_seed(run.seed, configuration.name, fold, modality, *extra)


def forest_seed(run, configuration, fold, repeat=0):
    extra = () if repeat == 0 else ("repeat", repeat)
    return derived_seed(run.seed, configuration.name, fold, *extra)


def train_network(run, configuration, patch_data, fold, modality=None, callbacks=None,
                  updates=None, repeat=0, resumable=False):
    """Builds and trains one network of a configuration; returns it. ``resumable``: the
    training saves its state as ``run.checkpoint_every`` says and resumes from a state
    an earlier, killed call left (``training_checkpoint``)."""
    seed = network_seed(run, configuration, fold, modality, repeat)
    seed_everything(seed)
    with models.distribution_scope(run.distribute):
        network = build_network(run, configuration, seed)
        batches = network_batches(run, configuration, patch_data, fold, seed, modality)
        checkpoint = (training_checkpoint(run, configuration, fold, repeat, modality, seed)
                      if resumable else None)
        if checkpoint is not None and checkpoint.exists():
            done = checkpoint.saved_updates()
            say(f"    resuming from update {done if done is not None else '?'} "
                f"(the saved training state {checkpoint.path})")
        try:
            models.train(network, batches,
                         epochs=None if (updates or run.updates) else run.epochs,
                         updates=updates or run.updates, callbacks=callbacks,
                         verbose=run.verbose, checkpoint=checkpoint)
        except ValueError as error:  # a saved state that cannot be resumed: one line
            if checkpoint is None or str(checkpoint.path) not in str(error):
                raise
            raise RunFolderError(f"{error} (rm '{checkpoint.path}'); the run's finished "
                                 "units are kept") from None
        if run.recalibrate_statistics:
            recalibrate(run, configuration, patch_data, fold, network, modality, repeat)
    return network


def training_checkpoint(run, configuration, fold, repeat, modality, seed):
    """The state of one of a unit's trainings, OUT/training-states/<unit>/network[_<modality>]
    .npz, saved every ``run.checkpoint_every`` and on SIGTERM; None when that is off."""
    if run.checkpoint_every is None:
        return None
    name = "network" if modality is None else \
        f"network_{models.layer_name(run.modality_names[modality])}"
    path = unit_dir(run.out, TRAINING_STATES, configuration.name, fold, repeat) / f"{name}.npz"
    # Keyed by every option that fixes the numbers (a folder without finished units takes
    # the next command's options); changed input files remove the states (run_folder).
    identity = {"configuration": configuration.name, "fold": fold, "repeat": repeat,
                "modality": modality, "seed": seed, "options": run.fingerprint()}
    return models.TrainingCheckpoint(path, identity=identity, **(run.checkpoint_every or {}))


def remove_training_states(run, configuration, fold, repeat):
    """A finished unit's training states go (and the folders they leave empty)."""
    directory = unit_dir(run.out, TRAINING_STATES, configuration.name, fold, repeat)
    if directory.is_dir():
        shutil.rmtree(directory)
    for parent in (directory.parent, directory.parent.parent):
        if parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()


def recalibrate(run, configuration, patch_data, fold, network, modality=None, repeat=0):
    """Recomputes the network's moving statistics from its training patches (in a seeded
    order of their own; no weight changes): ``--recalibrate-statistics``."""
    seed = network_seed(run, configuration, fold, modality, repeat)
    return models.recalibrate_statistics(network, network_batches(
        run, configuration, patch_data, fold, derived_seed(seed, "recalibration"), modality))


# The untrained control's architecture: the dropout + normalization network at α = 0.
UNTRAINED_ARCHITECTURE = Configuration("dropout+norm-a0", "axial", True, True, 0.0)


def control_networks(run, configuration, patch_data, fold, repeat=0):
    """[RawVoxels], or [the untrained network]: its seeded initial weights (a seed of the
    control's own), its normalization statistics recomputed from the fold's training
    patches (no weight changes), as a trained network's would be."""
    if configuration.control in RAW_BLOCKS:
        return [RawVoxels(RAW_BLOCKS[configuration.control])]
    seed = network_seed(run, configuration, fold, repeat=repeat)
    seed_everything(seed)
    network = build_network(run, UNTRAINED_ARCHITECTURE, seed)
    models.recalibrate_statistics(network, network_batches(
        run, UNTRAINED_ARCHITECTURE, patch_data, fold, derived_seed(seed, "recalibration")))
    return [network]


def train_networks(run, configuration, patch_data, fold, repeat=0, resumable=False):
    """[network]: one, or one per training modality for that baseline (a control's
    features without training: ``control_networks``)."""
    if configuration.kind == "control":
        return control_networks(run, configuration, patch_data, fold, repeat)
    if configuration.kind == "baseline" and configuration.baseline == "training":
        return [train_network(run, configuration, patch_data, fold, modality=a, repeat=repeat,
                              resumable=resumable) for a in range(len(run.modality_names))]
    return [train_network(run, configuration, patch_data, fold, repeat=repeat,
                          resumable=resumable)]


def save_unit(directory, networks, features, result, modality_names):
    """Model(s), features.npz, then result.json with the files' sizes and hashes. A raw-
    intensity control keeps result.json only (its features are the patches: 3,375 per
    modality and patch)."""
    if isinstance(networks[0], RawVoxels):
        write_unit_result(directory, result)
        return
    if len(networks) == 1:
        networks[0].save(directory / "model.keras")
    else:
        for name, network in zip(modality_names, networks):
            network.save(directory / f"model_{models.layer_name(name)}.keras")
    np.savez(directory / "features.npz", **features)
    write_unit_result(directory, result)


def scored_features(features, trees, seed, label):
    """What every unit records of its features (Table I units, recalibrated units, the
    training-length study's checkpoints): the forests' accuracy matrix (a forest per
    training modality, seeded by ``seed``), same and cross, per-subject accuracy, the
    feature scale and the modality separation. Features that cannot tell patches apart
    stop the call with an error naming the unit (``label``): every forest would guess."""
    degenerate = degenerate_modalities(features)
    if degenerate:
        raise ProjectError(
            f"unit {label}: its network gives features that cannot tell patches apart ("
            + "; ".join(f"{name}: {why}" for name, why in degenerate.items()) + "), so every "
            "forest would guess. Nothing of it is saved; change the settings (e.g. more "
            "--filters, a smaller learning rate) before running it again")
    accuracy, correct = score_forests(features, trees, seed)
    same, cross = same_and_cross(accuracy)
    return {"accuracy": accuracy.tolist(), "same": same, "cross": cross,
            "test_patches": int(correct.shape[2]),
            "test_subjects": sorted(set(features["test_subjects"].tolist())),
            "subject_accuracy": subject_accuracy(correct, features["test_subjects"]),
            "feature_scale": feature_scale(features),
            "modality_separation": modality_separation(features)}


def run_unit(run, configuration, patch_data, fold, repeat=0):
    """Trains, extracts features, fits the forests; saves everything, result.json last.
    ``result["timing"]`` splits the unit's seconds into training, feature extraction
    and forests (patch cutting, which happens inside the first two, separately)."""
    directory = unit_dir(run.out, UNITS, configuration.name, fold, repeat)
    clear_unit(directory)
    started = time.perf_counter()
    stopwatch = Stopwatch()
    timed = dataclasses.replace(patch_data, training=TimedPatches(patch_data.training, stopwatch),
                                evaluation=TimedPatches(patch_data.evaluation, stopwatch))
    with stopwatch("training"):
        networks = train_networks(run, configuration, timed, fold, repeat, resumable=True)
    with stopwatch("feature extraction"):
        features = unit_features(networks, timed, fold, len(run.modality_names))
    network_seconds = time.perf_counter() - started  # training and feature extraction
    with stopwatch("forests"):
        try:
            scores = scored_features(features, run.trees,
                                     forest_seed(run, configuration, fold, repeat),
                                     unit_label(configuration.name, fold, repeat))
        except ProjectError:
            shutil.rmtree(directory)
            raise
    result = {"configuration": configuration.name, "fold": fold, "repeat": repeat,
              "modalities": run.modality_names, **scores,
              "training_subjects": patch_data.subject_names(fold, "training"),
              "seconds": time.perf_counter() - started, "network_seconds": network_seconds,
              "timing": stopwatch.rounded(), "computed_on": computed_on(),
              "options_sha256": options_sha256(run)}
    save_unit(directory, networks, features, result, run.modality_names)
    remove_training_states(run, configuration, fold, repeat)
    return result


def load_unit_features(run, configuration, fold, repeat=0):
    with np.load(unit_dir(run.out, UNITS, configuration.name, fold, repeat)
                 / "features.npz") as stored:
        return {key: stored[key] for key in stored.files}


def load_unit_network(run, configuration, fold):
    """The one network of a finished axial (or all-modalities baseline) unit."""
    (network,) = load_unit_networks(run, configuration, fold)
    return network


def load_unit_networks(run, configuration, fold, repeat=0):
    """[network] of a finished unit: one, or one per training modality (as saved)."""
    directory = unit_dir(run.out, UNITS, configuration.name, fold, repeat)
    if configuration.kind == "baseline" and configuration.baseline == "training":
        paths = [directory / f"model_{models.layer_name(name)}.keras"
                 for name in run.modality_names]
    else:
        paths = [directory / "model.keras"]
    return [models.load_network(path) for path in paths]
