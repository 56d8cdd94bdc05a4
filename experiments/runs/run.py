"""What a run is: every setting that fixes its numbers (``Run``), the readings of what the
paper leaves open, and where its folder goes by default. Built by
``command_line.resolve_run``; immutable (a variant is ``dataclasses.replace(run, ...)``).
"""
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import models
from runtime.metadata import keras_backend


@dataclass(frozen=True)
class Run:
    """Everything that fixes a run's numbers, plus where it goes. Immutable: a variant
    is ``dataclasses.replace(run, ...)``."""
    out: Path
    dataset: str
    spec: object  # data.DatasetSpec
    data_dir: Path
    preset: str
    published_table: str  # which published Table I to compare with: "oai" | "brats" | "none"
    filters: tuple
    patches_per_class: int  # autoencoder training patches per class per subject
    evaluation_patches_per_class: int  # random-forest patches per class per subject
    epochs: int  # None when the length is given in updates
    updates: int  # optimizer updates per network; None when given in epochs
    folds: int  # as given; None: the preset's, at most the number of subject ids
    preset_folds: int
    seed: int
    batch_size: int
    trees: int
    momentum: float
    configurations: list
    command: str
    subjects: object = None  # None (all), a count, or a list of names
    phantom_subjects: int = None
    precision: str = "float32"
    verbose: int = 1
    distribute: str = "none"
    # How often a unit's training saves its state (options.checkpoint_every; None: never,
    # a killed unit starts over); not fingerprinted: it does not change the numbers.
    checkpoint_every: dict = field(default_factory=lambda: {"every_seconds": 600.0})
    repeats: int = 1  # trainings per (configuration, fold); not fingerprinted: more extend
    extra: dict = field(default_factory=dict)  # study-specific settings (fingerprinted)
    fetch: dict = None  # a named dataset: {"data_dir", "data_root", "mirror"} for data.fetch
    cache_dir: Path = None  # prepared volumes (not fingerprinted: keyed by the input files)
    cache_limit_gb: float = 20.0  # the cache's size limit (least recently used pruned)
    # The readings of what the paper leaves open (models.VECTOR_NORMALIZATION_SCOPES,
    # LAST_BLOCKS, DROPOUT_DISTRIBUTIONS) and whether statistics are recalibrated.
    vector_normalization: str = "unless-per-feature"
    last_block: str = "bn-lrelu"
    dropout_distribution: str = "uniform-subsets"
    recalibrate_statistics: bool = False

    @property
    def modality_names(self):
        return self.spec.modality_names

    @property
    def reading(self):
        """The model's readings of what the paper leaves open, as recorded in run.json."""
        return {"vector_normalization": self.vector_normalization,
                "last_block": self.last_block, "dropout_distribution": self.dropout_distribution,
                "recalibrate_statistics": self.recalibrate_statistics}

    def reading_text(self):
        return (f"feature-vector normalization (§II-C): {self.vector_normalization}; encoder's "
                f"last block: {self.last_block}; modality dropout: {self.dropout_distribution}; "
                "inference statistics: " + ("recalibrated after training"
                                            if self.recalibrate_statistics else "moving averages"))

    def length_text(self):
        return f"{self.updates} updates" if self.updates else f"{self.epochs} epochs"

    def fingerprint(self):
        """What fixes the numbers: a rerun must agree on it to reuse finished units."""
        fingerprint = {
            "dataset": self.dataset, "data_dir": str(self.data_dir), "spec": asdict(self.spec),
            "filters": list(self.filters), "patches_per_class": self.patches_per_class,
            "evaluation_patches_per_class": self.evaluation_patches_per_class,
            "epochs": self.epochs, "updates": self.updates, "folds": self.folds,
            "preset_folds": self.preset_folds,
            "seed": self.seed, "batch_size": self.batch_size, "trees": self.trees,
            "momentum": self.momentum, "subjects": self.subjects, "reading": self.reading,
            **self.extra}
        if self.precision != "float32":
            fingerprint["precision"] = self.precision
        backend = keras_backend()
        if backend != "tensorflow":  # units of two backends never share a run folder
            fingerprint["keras_backend"] = backend
        # Nor units of two arithmetics: round-off moves a scaled run's accuracies by points.
        fingerprint["arithmetic_version"] = models.arithmetic_version(backend)
        return json.loads(json.dumps(fingerprint, default=str))


def run_record(run):
    """Every setting of ``run`` as JSON values (run.json's "run"): ``run_from_record``
    rebuilds the same run from it, so a finished run is opened by its folder."""
    record = {}
    for item in fields(Run):
        value = getattr(run, item.name)
        if item.name == "spec":
            value = asdict(value)
        elif item.name == "configurations":
            value = [configuration.name for configuration in value]
        record[item.name] = value
    return json.loads(json.dumps(record, default=str))


def run_from_record(record, out=None):
    """The Run a ``run_record`` describes (in folder ``out`` when given: a folder that was
    moved or copied is opened where it is)."""
    import data
    from experiments.paper.configurations import CONFIGURATIONS_BY_NAME
    values = dict(record)
    spec = dict(values["spec"])
    for key in ("label", "mask"):
        if isinstance(spec.get(key), list):
            spec[key] = tuple(spec[key])
    spec["modalities"] = {name: tuple(patterns) for name, patterns in spec["modalities"].items()}
    spec["classes"] = {name: (tuple(value) if isinstance(value, list) else value)
                       for name, value in spec["classes"].items()}
    values["spec"] = data.DatasetSpec(**spec)
    values["configurations"] = [CONFIGURATIONS_BY_NAME[name] for name in values["configurations"]]
    values["filters"] = tuple(values["filters"])
    for key in ("out", "data_dir", "cache_dir"):
        if values.get(key) is not None:
            values[key] = Path(values[key])
    if out is not None:
        old_out = Path(values["out"])
        values["out"] = Path(out)
        if values["dataset"] == "synthetic":  # the phantoms live in the run folder
            values["data_dir"] = Path(out) / Path(values["data_dir"]).relative_to(old_out)
            if values.get("cache_dir") is not None and \
                    Path(values["cache_dir"]).is_relative_to(old_out):
                values["cache_dir"] = Path(out) / Path(values["cache_dir"]).relative_to(old_out)
    known = {item.name for item in fields(Run)}
    return Run(**{key: value for key, value in values.items() if key in known})


def options_sha256(run):
    """The SHA-256 of a run's fingerprint: recorded with every unit's result and training
    state, so that a unit made with other options is never mixed in."""
    import hashlib
    return hashlib.sha256(json.dumps(run.fingerprint(), sort_keys=True).encode()).hexdigest()


def default_out(dataset, phantom, preset, seed, suffix=""):
    """runs/<dataset>[-<phantom>]-<preset>-seed<seed><suffix> under the folder the script
    runs from (the checkout, in the README's commands; runs/ is not tracked)."""
    name = f"{dataset}{'-' + phantom if dataset == 'synthetic' else ''}-{preset}-seed{seed}"
    return Path("runs") / f"{name}{suffix}"
