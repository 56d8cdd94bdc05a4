"""A unit's features for the forests: every modality's patches through the trained
network(s), one schema for every configuration (``features.npz``), and what the
features' scale and modality separation say about the normalization.

    train        (M, N_train, F)        forest-training features, by training modality
    test         (K, M, N_test, F)      forest-test features: network k, test modality b
    network_of   (M,)                   which network k serves training modality a
    training_labels, test_labels, training_rows, test_rows, test_subjects, modalities

K = 1 (one network serves every modality), except for the "training modality" baseline,
where K = M networks each serve their own training modality.
"""
import numpy as np

import models
from experiments.measurement import analysis

FEATURE_BATCH = 4096


def extractors_of(network, modality_count):
    """A feature extractor per modality (the shared one for a baseline)."""
    if isinstance(network, models.AxialNetwork) and \
            network.modality_names != [models.BASELINE_MODALITY]:
        return [models.feature_extractor(network, m) for m in range(modality_count)]
    return [models.feature_extractor(network, 0)] * modality_count


class RawVoxels:
    """The raw-intensity controls' "extractor": a cube of ``edge`` voxels at the centre of
    each (already z-scored) patch, flattened: the forest sees the input itself."""

    def __init__(self, edge):
        self.edge = edge

    def __call__(self, patches):  # (B, p, p, p)
        start = (patches.shape[1] - self.edge) // 2
        block = patches[:, start:start + self.edge, start:start + self.edge,
                        start:start + self.edge]
        return block.reshape(len(patches), -1).astype(np.float32)


def features_of_rows(table, rows, extractors, modalities=None):
    """(len(modalities), len(rows), F) features of the rows' patches, one extractor per
    modality; ``modalities``: which (default all, in order)."""
    modalities = range(len(extractors)) if modalities is None else modalities
    chunks = []
    for start in range(0, len(rows), FEATURE_BATCH):
        patches = table.gather(rows[start:start + FEATURE_BATCH])  # (B, M, p, p, p)
        chunks.append(np.stack([
            extractors[m](patches[:, m]) if isinstance(extractors[m], RawVoxels) else
            np.asarray(models.predict_in_batches(extractors[m], patches[:, m, ..., None]),
                       dtype=np.float32) for m in modalities]))
    return np.concatenate(chunks, axis=1)


def unit_features(networks, patch_data, fold, modality_count):
    """The ``features.npz`` arrays of a unit (module docstring) for trained networks (or
    a ``RawVoxels`` in place of a network: the raw-intensity controls)."""
    table = patch_data.evaluation
    training_rows = patch_data.rows(table, fold, "training")
    test_rows = patch_data.rows(table, fold, "test")
    extractors = [[network] * modality_count if isinstance(network, RawVoxels)
                  else extractors_of(network, modality_count) for network in networks]
    if len(networks) == 1:
        network_of = np.zeros(modality_count, dtype=np.int32)
        train = features_of_rows(table, training_rows, extractors[0])
    else:  # the training-modality baseline: network a serves modality a
        network_of = np.arange(modality_count, dtype=np.int32)
        train = np.concatenate([features_of_rows(table, training_rows, extractors[a], [a])
                                for a in range(modality_count)])
    test = np.stack([features_of_rows(table, test_rows, e) for e in extractors])
    return {"train": train, "test": test, "network_of": network_of,
            "training_labels": table.labels[training_rows], "test_labels": table.labels[test_rows],
            "training_rows": training_rows, "test_rows": test_rows,
            "test_subjects": np.array([table.subjects[i].name
                                       for i in table.subject_index[test_rows]]),
            "modalities": np.array(table.modality_names)}


def degenerate_modalities(features):
    """{modality: why} for every modality whose features cannot tell patches apart: not
    finite, or every feature constant over the forests' training or test patches (each
    forest would then guess, and read 50 % with no error)."""
    names = [str(n) for n in features["modalities"]]
    found = {}
    for m, name in enumerate(names):
        for side, values in (("training", features["train"][m]),
                             ("test", features["test"][features["network_of"][m], m])):
            if not np.all(np.isfinite(values)):
                found[name] = f"non-finite features on the {side} patches"
            elif len(values) > 1 and np.all(np.ptp(values, axis=0) == 0):
                found[name] = f"every feature constant over the {side} patches"
    return found


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
