"""A run folder: what was run, on which input files, and which units are finished.

    OUT/run.json                         the arguments that fix the results, and the
                                         identity of every input file (path, size,
                                         modification time, SHA-256)
    OUT/cache/                           prepared volumes (h5, memory-mapped)
    OUT/units/<configuration>/fold<k>/   model*.keras, features.npz, result.json (last)

A unit counts as finished only when its ``result.json`` reads and every file it lists
is there with the recorded size and SHA-256. A rerun whose input files changed is
refused (nothing is deleted) unless ``discard_stale`` is given: every unit depends on
every subject's data (each subject is in the training or the test part of each fold).
"""
import hashlib
import json
import os
import shutil
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

RUN_FILE = "run.json"
RUN_FILE_VERSION = 2


@dataclass
class Run:
    """Everything that fixes a run's numbers, plus where it goes."""
    out: Path
    dataset: str
    spec: object  # data.DatasetSpec
    data_dir: Path
    preset: str
    table: str  # published table: "oai" | "brats" | "none"
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
    repeats: int = 1  # trainings per (configuration, fold); not fingerprinted: more extend
    extra: dict = field(default_factory=dict)  # study-specific settings (fingerprinted)
    fetch: dict = None  # a named dataset: {"data_dir", "data_root", "mirror"} for data.fetch
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
        return json.loads(json.dumps(fingerprint, default=str))


# -- files ----------------------------------------------------------------------------------
def atomic_write_text(path, text):
    temporary = Path(f"{path}.tmp{os.getpid()}")
    temporary.write_text(text)
    os.replace(temporary, path)


def sha256_of(path, chunk=1 << 20):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def file_identity(path, known=None):
    """{size, mtime_ns, sha256}; reuses ``known``'s hash when size and mtime agree."""
    status = os.stat(path)
    identity = {"size": status.st_size, "mtime_ns": status.st_mtime_ns}
    if known and {k: known.get(k) for k in identity} == identity:
        return {**identity, "sha256": known["sha256"]}
    return {**identity, "sha256": sha256_of(path)}


def input_identities(paths, known=None):
    """{resolved path: identity} of the input files (hashing only what may have changed)."""
    known = known or {}
    result = {}
    for path in sorted({str(Path(p).resolve()) for p in paths}):
        result[path] = file_identity(path, known.get(path))
    return result


# -- run.json -------------------------------------------------------------------------------
class RunFolderError(SystemExit):
    """A run folder that cannot be used as asked; the message says how to proceed."""

    def __init__(self, message):
        super().__init__(f"error: {message}")


def open_run_folder(run, input_files, discard_stale=False, log=print):
    """Creates OUT/run.json, or checks that the folder's run matches this one.

    Refuses a folder made with other arguments, and one whose input files changed,
    naming them; with ``discard_stale`` the finished units of changed data are deleted
    and the run starts afresh on the new data.
    """
    run.out.mkdir(parents=True, exist_ok=True)
    path = run.out / RUN_FILE
    fingerprint = run.fingerprint()
    stored = None
    if path.exists():
        try:
            stored = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise RunFolderError(f"{path} cannot be read ({error}); give another --out") from None
        arguments = stored.get("arguments") if stored.get("version") == RUN_FILE_VERSION else None
        if canonical(arguments) != canonical(fingerprint):
            changed = sorted(k for k in set(arguments or {}) | set(fingerprint)
                             if (arguments or {}).get(k) != fingerprint.get(k))
            raise RunFolderError(
                f"{run.out} holds a run made with other arguments (they differ in: "
                f"{', '.join(changed)}); its finished units are kept. Give another --out, or "
                "the same arguments to resume.")
    known = stored.get("inputs", {}) if stored else {}
    inputs = input_identities(input_files, known)
    if stored:
        changes = describe_changes(known, inputs)
        if changes:
            finished = finished_units(run.out)
            if not discard_stale:
                listed = "; ".join(changes[:8]) + (" …" if len(changes) > 8 else "")
                raise RunFolderError(
                    f"the input files of {run.out} changed since its {len(finished)} finished "
                    f"units were made: {listed}. Every unit depends on every subject's data, so "
                    "none can be reused. Give another --out to keep both runs, or add "
                    "--discard-stale-units to delete the finished units and start again on the "
                    "new data.")
            log(f"input files changed ({len(changes)}): discarding {len(finished)} finished "
                f"units of the old data in {run.out}")
            for directory in finished:
                shutil.rmtree(directory)
            for name in ("table1.md", "table1.csv", "table1.json", "table1_pairs.csv",
                         "table1_claims.csv", "table1_feature_scale.csv"):
                (run.out / name).unlink(missing_ok=True)
    atomic_write_text(path, json.dumps({"version": RUN_FILE_VERSION, "arguments": fingerprint,
                                        "inputs": inputs}, indent=2))


# The model of run folders made before the readings were recorded: no §II-C step.
READING_BEFORE_RECORDING = {"vector_normalization": "never", "last_block": "bn-lrelu",
                            "dropout_distribution": "uniform-subsets",
                            "recalibrate_statistics": False}


def canonical(arguments):
    """Arguments without the dataset-spec entries that hold their default value, so that
    a spec field added later (with a default that means "as before") does not make an
    older run folder look like another run; an older folder without a recorded reading
    holds the model of its time (``READING_BEFORE_RECORDING``)."""
    if not arguments or "spec" not in arguments:
        return arguments
    arguments = {"reading": READING_BEFORE_RECORDING, **arguments}
    from dataclasses import MISSING, fields

    from data import DatasetSpec
    defaults = {f.name: f.default if f.default is not MISSING else f.default_factory()
                for f in fields(DatasetSpec)
                if f.default is not MISSING or f.default_factory is not MISSING}
    defaults = json.loads(json.dumps(defaults, default=str))
    spec = {k: v for k, v in arguments["spec"].items() if not (k in defaults and v == defaults[k])}
    return {**arguments, "spec": spec}


def describe_changes(before, after):
    changes = [f"{p} changed" for p in sorted(set(before) & set(after))
               if before[p]["sha256"] != after[p]["sha256"] or before[p]["size"] != after[p]["size"]]
    changes += [f"{p} is new" for p in sorted(set(after) - set(before))]
    changes += [f"{p} is gone" for p in sorted(set(before) - set(after))]
    return changes


# -- units ----------------------------------------------------------------------------------
def unit_dir(out, kind, name, fold, repeat=0):
    """OUT/<kind>/<configuration>/fold<k>, or fold<k>-repeat<r> for repeated trainings."""
    return Path(out) / kind / name / (f"fold{fold}" if repeat == 0 else
                                      f"fold{fold}-repeat{repeat}")


def finished_units(out):
    return sorted(p.parent for p in Path(out).glob("*/*/fold*/result.json"))


def write_unit_result(directory, result):
    """result.json, last and atomically, with the size and SHA-256 of the unit's files."""
    files = {p.name: {"size": p.stat().st_size, "sha256": sha256_of(p)}
             for p in sorted(Path(directory).iterdir())
             if p.is_file() and p.name != "result.json" and ".tmp" not in p.name}
    atomic_write_text(Path(directory) / "result.json", json.dumps({**result, "files": files},
                                                                   indent=2))


def read_unit_result(directory, verify=True):
    """The unit's result, or None when it is missing, incomplete or damaged (a warning
    names what is wrong, so that the unit is trained again)."""
    path = Path(directory) / "result.json"
    if not path.exists():
        return None
    try:
        result = json.loads(path.read_text())
        files = result["files"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        return _damaged(directory, f"result.json cannot be read ({error})")
    for name, recorded in files.items():
        file = Path(directory) / name
        if not file.exists():
            return _damaged(directory, f"{name} is missing")
        if file.stat().st_size != recorded["size"]:
            return _damaged(directory, f"{name} has {file.stat().st_size} bytes, not "
                            f"{recorded['size']}")
        if verify and sha256_of(file) != recorded["sha256"]:
            return _damaged(directory, f"{name} does not have its recorded SHA-256")
    return result


def _damaged(directory, problem):
    warnings.warn(f"unit {directory} is damaged ({problem}); it will be trained again",
                  stacklevel=3)
    return None


def clear_unit(directory):
    """Empties a unit folder before it is (re)trained."""
    directory = Path(directory)
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
