"""Cross-modality segmentation, step by step: a finished unit's network, a forest on the
labelled modality's features, maps of a target scan of another modality, and how well
they match its labels. ``segment.py`` runs these steps over units and scans.

Composes ``models`` (the network, its dense features) and ``data`` (scans, sampling,
maps), which do not know each other.
"""
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import data
import models
from experiments.measurement.forests import fitted_forest
from experiments.runs.run_folder import RUN_FILE, read_unit_result
from experiments.segmentation.segmentation_plan import check_unit_folder, not_a_unit
from runtime.seeds import derived_seed
from runtime.errors import ProjectError

PREDICTION_CHUNK = 200_000  # voxels per forest call: bounds the memory of predict_proba


@dataclass
class Unit:
    """A finished Table I unit: where it is, what it was, and its network."""
    directory: Path
    configuration: str
    fold: int
    test_subjects: list
    network: object
    network_sha256: str = None
    training_subjects: tuple = ()  # recorded by units made since the roles were recorded
    run_input_checksums: frozenset = frozenset()  # SHA-256 of every input file of its run
    run_id: str = ""  # what its run is (arguments and input files), in 8 hex digits

    @property
    def name(self):
        return f"{self.configuration}/{self.directory.name}"

    def input_name(self, modality):
        """The network input that serves ``modality`` (a baseline serves them all)."""
        names = self.network.modality_names
        if names == [models.BASELINE_MODALITY]:
            return names[0]
        if modality not in names:
            raise ProjectError(f"the network of {self.directory} has no {modality} "
                             f"encoder; it knows {', '.join(names)}")
        return modality


def load_unit(directory):
    """The Unit in ``directory`` (OUT/units/<configuration>/fold<k>[-repeat<r>]); a clear
    error when it is not a finished unit with one network for every modality."""
    directory = Path(directory)
    check_unit_folder(directory)
    result = read_unit_result(directory, consequence="segment.py cannot use it")
    if result is None:
        raise not_a_unit(directory)
    if not (directory / "model.keras").exists():
        if any(directory.glob("model_*.keras")):
            raise ProjectError(f"{directory} holds one network per training modality (the "
                             "training-modality baseline): segmentation needs one network that "
                             "serves every modality")
        raise ProjectError(f"{directory} is a control without a network "
                         f"({result.get('configuration')}: the forests see raw intensities): "
                         "segmentation needs a trained network that serves every modality")
    network = models.load_network(directory / "model.keras")
    return Unit(directory, result["configuration"], result["fold"],
                list(result.get("test_subjects", [])), network,
                result["files"]["model.keras"]["sha256"],
                tuple(result.get("training_subjects", ())), run_input_checksums(directory),
                run_id(directory))


def run_id(directory):
    """8 hex digits of the SHA-256 of what the unit's run is: its recorded arguments and
    its input files' contents (a run folder moved elsewhere keeps its id; another run of
    the same folder name does not share it). Without a readable run.json: of the run
    folder's resolved path."""
    folder = Path(directory).resolve().parents[2]
    try:
        stored = json.loads((folder / RUN_FILE).read_text())
        what = {"arguments": stored["arguments"],
                "inputs": sorted(i["sha256"] for i in stored["inputs"].values())}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        what = {"folder": str(folder)}
    import hashlib
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:8]


def run_input_checksums(directory):
    """SHA-256 of the input files recorded in the run.json of the unit's run folder
    (OUT/units/<configuration>/<fold>): every scan its network or forests saw."""
    path = Path(directory).resolve().parents[2] / RUN_FILE
    try:
        inputs = json.loads(path.read_text()).get("inputs", {})
    except (OSError, ValueError, AttributeError):
        return frozenset()
    return frozenset(identity.get("sha256") for identity in inputs.values())


def training_samples(unit, scans, modality, class_spec, per_class, seed):
    """(features (N, F), labels (N,), class frequencies (C,)) of balanced sampled voxels
    of labelled scans, as Table I samples its forest patches (every class ``per_class``
    times per scan); the frequencies are those of every sampled region's voxels."""
    features, labels, counts = [], [], np.zeros(len(class_spec.class_names))
    for scan in scans:
        if scan.labels is None:
            raise ProjectError(f"{scan.image}: the labelled scans need a label map, and "
                             f"subject {scan.subject} has none")
        class_map = data.class_map_from_labels(scan.labels, scan.region, class_spec,
                                               scan.label_file)
        counts += np.bincount(class_map.ravel(), minlength=len(counts) + 1)[1:]
        rng = np.random.default_rng(derived_seed(seed, "segmentation", scan.subject))
        centers, scan_labels = data.sample_centers(class_map, per_class, rng,
                                                   class_spec.class_names, scan.subject)
        patches = data.gather_patches(scan.volume[None], centers)[:, 0]
        features.append(models.extract_features(unit.network, patches,
                                                unit.input_name(modality)))
        labels.append(scan_labels)
    return np.concatenate(features), np.concatenate(labels), counts / counts.sum()


PRIORS = {"labelled": "the class frequencies of the labelled scans' masks (most voxels are "
                      "background)",
          "balanced": "equal classes, as the forest learnt them (Table I's balanced accuracy)"}


@dataclass
class Classifier:
    """The forest, and the class frequencies of the scans it learnt from."""
    forest: object
    labelled_frequencies: np.ndarray  # (C,)

    def weights(self, prior):
        """Per class, what the forest's balanced probabilities are multiplied by (Bayes'
        rule: new prior / (1 / C)) before renormalizing, for a ``PRIORS`` name."""
        count = len(self.labelled_frequencies)
        return self.labelled_frequencies * count if prior == "labelled" else np.ones(count)


def train_classifier(unit, scans, modality, class_spec, per_class, trees, seed):
    """A forest on the labelled modality's features of ``scans``."""
    features, labels, frequencies = training_samples(unit, scans, modality, class_spec,
                                                     per_class, seed)
    forest = fitted_forest(features, labels, trees, derived_seed(seed, "segmentation forest",
                                                                 unit.name, modality))
    return Classifier(forest, frequencies)


def segment_scan(unit, classifier, scan, modality, progress=None):
    """The forest's probability of every class (X, Y, Z, C) float32 at every mask voxel
    of ``scan`` (balanced classes, as it learnt them; 0 outside the mask)."""
    voxels = np.argwhere(scan.region)
    features = models.dense_features(unit.network, scan.volume, unit.input_name(modality),
                                     voxels, progress=progress)
    probability = np.zeros((*scan.shape, len(classifier.labelled_frequencies)), np.float32)
    for start in range(0, len(voxels), PREDICTION_CHUNK):
        chunk = voxels[start:start + PREDICTION_CHUNK]
        # Every class is sampled, so the forest's classes are 0 … C − 1, in order.
        probability[chunk[:, 0], chunk[:, 1], chunk[:, 2]] = classifier.forest.predict_proba(
            features[start:start + PREDICTION_CHUNK])
    return probability


def decide(probability, region, weights):
    """(probability under the prior, labels uint8: the most probable class, 0 outside the
    mask) from balanced probabilities and the prior's ``Classifier.weights``."""
    weighted = probability * np.asarray(weights, dtype=np.float32)
    weighted /= np.maximum(weighted.sum(axis=-1, keepdims=True), 1e-12)
    labels = np.where(region, np.argmax(weighted, axis=-1), 0).astype(np.uint8)
    return np.where(region[..., None], weighted, 0).astype(np.float32), labels


def class_truth(labels, values):
    """Where the label map holds one class's values (``nonzero``, or whole numbers)."""
    if values == data.NONZERO:
        return labels > 0.5
    return np.isin(np.rint(labels).astype(np.int64), np.asarray(values, dtype=np.int64))


def overlap(predicted, truth):
    """Dice, sensitivity and precision (NaN where undefined) and the voxel counts."""
    both = int(np.count_nonzero(predicted & truth))
    predicted_count, truth_count = int(predicted.sum()), int(truth.sum())
    ratio = (lambda a, b: a / b if b else float("nan"))
    return {"dice": ratio(2 * both, predicted_count + truth_count),
            "sensitivity": ratio(both, truth_count), "precision": ratio(both, predicted_count),
            "true_voxels": truth_count, "predicted_voxels": predicted_count}


def ranking_auc(probability, truth):
    """ROC AUC of one class's probability over the mask voxels: how well the map ranks
    that class's voxels above the rest, whatever the decision rule (NaN when the scan
    holds only one side)."""
    from sklearn.metrics import roc_auc_score
    if truth.all() or not truth.any():
        return float("nan")
    return float(roc_auc_score(truth, probability))
