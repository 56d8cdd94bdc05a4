"""One unit of the experiment (paper §IV): a configuration in a fold, as four steps.

1. ``train_networks``: the configuration's network(s) on the fold's training patches;
2. ``unit_features``: features of the forests' patches, for every modality;
3. ``score_forests``: a forest per training modality, tested on every modality;
4. ``save_unit``: models, ``features.npz`` and ``result.json`` (last).

``features.npz`` has one schema for every configuration:

    train        (M, N_train, F)        forest-training features, by training modality
    test         (K, M, N_test, F)      forest-test features: network k, test modality b
    network_of   (M,)                   which network k serves training modality a
    training_labels, test_labels, training_rows, test_rows, test_subjects, modalities

K = 1 (one network serves every modality), except for the "training modality" baseline,
where K = M networks each serve their own training modality.
"""
import time

import keras
import numpy as np
from sklearn.ensemble import RandomForestClassifier

import models
from reproduce import analysis
from reproduce.patch_data import derived_seed
from reproduce.run_folder import clear_unit, unit_dir, write_unit_result

FEATURE_BATCH = 4096
UNITS = "units"


def seed_everything(seed):
    """Python, NumPy and Keras (TensorFlow) from one number."""
    keras.utils.set_random_seed(seed % 2 ** 32)  # also seeds Python's random and NumPy


def build_network(run, configuration, seed):
    reading = dict(vector_normalization=run.vector_normalization, last_block=run.last_block)
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
                  updates=None, repeat=0):
    """Builds and trains one network of a configuration; returns it."""
    seed = network_seed(run, configuration, fold, modality, repeat)
    seed_everything(seed)
    with models.training.distribution_scope(run.distribute):
        network = build_network(run, configuration, seed)
        batches = network_batches(run, configuration, patch_data, fold, seed, modality)
        models.train(network, batches, epochs=None if (updates or run.updates) else run.epochs,
                     updates=updates or run.updates, callbacks=callbacks, verbose=run.verbose)
        if run.recalibrate_statistics:
            recalibrate(run, configuration, patch_data, fold, network, modality, repeat)
    return network


def recalibrate(run, configuration, patch_data, fold, network, modality=None, repeat=0):
    """Recomputes the network's moving statistics from its training patches (in a seeded
    order of their own; no weight changes): ``--recalibrate-statistics``."""
    seed = network_seed(run, configuration, fold, modality, repeat)
    return models.recalibrate_statistics(network, network_batches(
        run, configuration, patch_data, fold, derived_seed(seed, "recalibration"), modality))


def train_networks(run, configuration, patch_data, fold, repeat=0):
    """[network]: one, or one per training modality for that baseline."""
    if configuration.kind == "baseline" and configuration.baseline == "training":
        return [train_network(run, configuration, patch_data, fold, modality=a, repeat=repeat)
                for a in range(len(run.modality_names))]
    return [train_network(run, configuration, patch_data, fold, repeat=repeat)]


def extractors_of(network, modality_count):
    """A feature extractor per modality (the shared one for a baseline)."""
    if isinstance(network, models.AxialNetwork) and \
            network.modality_names != [models.axial.BASELINE_MODALITY]:
        return [models.training.feature_extractor(network, m) for m in range(modality_count)]
    return [models.training.feature_extractor(network, 0)] * modality_count


def features_of_rows(table, rows, extractors):
    """(M, len(rows), F) features of the rows' patches, one extractor per modality."""
    chunks = []
    for start in range(0, len(rows), FEATURE_BATCH):
        patches = table.gather(rows[start:start + FEATURE_BATCH])  # (B, M, p, p, p)
        chunks.append(np.stack([
            np.asarray(models.training.predict_in_batches(extractor, patches[:, m, ..., None]),
                       dtype=np.float32) for m, extractor in enumerate(extractors)]))
    return np.concatenate(chunks, axis=1)


def unit_features(networks, patch_data, fold, modality_count):
    """The ``features.npz`` arrays of a unit (module docstring) for trained networks."""
    table = patch_data.evaluation
    training_rows = patch_data.rows(table, fold, "training")
    test_rows = patch_data.rows(table, fold, "test")
    extractors = [extractors_of(network, modality_count) for network in networks]
    if len(networks) == 1:
        network_of = np.zeros(modality_count, dtype=np.int32)
        train = features_of_rows(table, training_rows, extractors[0])
    else:  # the training-modality baseline: network a serves modality a
        network_of = np.arange(modality_count, dtype=np.int32)
        train = np.stack([features_of_rows(table, training_rows, extractors[a])[a]
                          for a in range(modality_count)])
    test = np.stack([features_of_rows(table, test_rows, e) for e in extractors])
    return {"train": train, "test": test, "network_of": network_of,
            "training_labels": table.labels[training_rows], "test_labels": table.labels[test_rows],
            "training_rows": training_rows, "test_rows": test_rows,
            "test_subjects": np.array([table.subjects[i].name
                                       for i in table.subject_index[test_rows]]),
            "modalities": np.array(table.modality_names)}


def score_forests(features, trees, seed):
    """accuracy[a, b] (%): a forest on training modality a's features, tested on b's.

    Also returns correct[a, b, i], whether test patch i was classified correctly."""
    train, test, network_of = features["train"], features["test"], features["network_of"]
    modality_count = len(train)
    correct = np.zeros((modality_count, modality_count, len(features["test_labels"])), bool)
    for a in range(modality_count):
        forest = RandomForestClassifier(n_estimators=trees, n_jobs=-1,
                                        random_state=derived_seed(seed, "forest", a))
        forest.fit(train[a], features["training_labels"])
        for b in range(modality_count):
            correct[a, b] = forest.predict(test[network_of[a], b]) == features["test_labels"]
    return 100.0 * correct.mean(axis=2), correct


def same_and_cross(accuracy):
    """Mean of the diagonal (same modality) and of the off-diagonal (every ordered pair)."""
    accuracy = np.asarray(accuracy)
    off_diagonal = ~np.eye(len(accuracy), dtype=bool)
    return float(np.mean(np.diag(accuracy))), float(np.mean(accuracy[off_diagonal]))


def feature_scale(features):
    """{"train"|"test": {modality: {median_sd, median_abs_mean}}}: per feature, the SD
    and |mean| of modality m's features (after the network's normalization) over the
    forests' training or test patches, summarized by the median over features. With
    per-feature normalization both sides should be near 1 and 0 for every modality."""
    names = [str(n) for n in features["modalities"]]
    sides = {"train": features["train"],
             "test": [features["test"][features["network_of"][m], m] for m in range(len(names))]}
    return {side: {name: {"median_sd": round(float(np.median(values[m].std(axis=0))), 4),
                          "median_abs_mean": round(float(np.median(np.abs(values[m].mean(axis=0)))),
                                                   4)}
                   for m, name in enumerate(names)}
            for side, values in sides.items()}


def modality_separation(features):
    """(offset, AUC) of the modalities' test features, each from the network that serves
    it (``analysis.modality_separation``): how much the representation still tells the
    modalities apart."""
    own = [features["test"][features["network_of"][m], m] for m in range(len(features["test"][0]))]
    return analysis.modality_separation(own)


def subject_accuracy(correct, test_subjects):
    """{subject: accuracy[a][b]} per test subject (for subject-level analyses)."""
    return {str(s): (100.0 * correct[:, :, test_subjects == s].mean(axis=2)).round(3).tolist()
            for s in np.unique(test_subjects)}


def save_unit(directory, networks, features, result, modality_names):
    """Model(s), features.npz, then result.json with the files' sizes and hashes."""
    if len(networks) == 1:
        networks[0].save(directory / "model.keras")
    else:
        for name, network in zip(modality_names, networks):
            network.save(directory / f"model_{models.layer_name(name)}.keras")
    np.savez(directory / "features.npz", **features)
    write_unit_result(directory, result)


def run_unit(run, configuration, patch_data, fold, repeat=0):
    """Trains, extracts features, fits the forests; saves everything, result.json last."""
    directory = unit_dir(run.out, UNITS, configuration.name, fold, repeat)
    clear_unit(directory)
    started = time.perf_counter()
    networks = train_networks(run, configuration, patch_data, fold, repeat)
    features = unit_features(networks, patch_data, fold, len(run.modality_names))
    network_seconds = time.perf_counter() - started  # training and feature extraction
    accuracy, correct = score_forests(features, run.trees,
                                      forest_seed(run, configuration, fold, repeat))
    same, cross = same_and_cross(accuracy)
    result = {"configuration": configuration.name, "fold": fold, "repeat": repeat,
              "accuracy": accuracy.tolist(),
              "modalities": run.modality_names, "same": same, "cross": cross,
              "test_patches": int(correct.shape[2]),
              "test_subjects": sorted(set(features["test_subjects"].tolist())),
              "subject_accuracy": subject_accuracy(correct, features["test_subjects"]),
              "feature_scale": feature_scale(features),
              "modality_separation": modality_separation(features),
              "seconds": time.perf_counter() - started, "network_seconds": network_seconds}
    save_unit(directory, networks, features, result, run.modality_names)
    return result


def load_unit_features(run, configuration, fold, repeat=0):
    with np.load(unit_dir(run.out, UNITS, configuration.name, fold, repeat)
                 / "features.npz") as stored:
        return {key: stored[key] for key in stored.files}


def load_unit_network(run, configuration, fold):
    return keras.saving.load_model(
        unit_dir(run.out, UNITS, configuration.name, fold) / "model.keras", safe_mode=True)


def load_unit_networks(run, configuration, fold, repeat=0):
    """[network] of a finished unit: one, or one per training modality (as saved)."""
    directory = unit_dir(run.out, UNITS, configuration.name, fold, repeat)
    if configuration.kind == "baseline" and configuration.baseline == "training":
        paths = [directory / f"model_{models.layer_name(name)}.keras"
                 for name in run.modality_names]
    else:
        paths = [directory / "model.keras"]
    return [keras.saving.load_model(path, safe_mode=True) for path in paths]
