"""The experiment of paper §IV, shared by ``table1.py`` and the figure scripts.

It composes the data layer (subjects → balanced patch table → subject-wise folds) and the
models (train → features), adds the random forests, and keeps every (configuration,
fold) unit on disk so that a run can be resumed, sharded and re-aggregated:

    OUT/run.json                         the arguments that fix the results
    OUT/cache/                           prepared volumes (h5, memory-mapped)
    OUT/units/<configuration>/fold<k>/   model*.keras, features.npz, result.json (last)
"""
import argparse
import hashlib
import json
import os
import platform
import random
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from fnmatch import fnmatch
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402

import data  # noqa: E402
import models  # noqa: E402
from data.synthetic import write_brain_phantoms, write_knee_phantoms  # noqa: E402
from reproduce.settings import CONFIGURATIONS, PRESETS  # noqa: E402

REPOSITORY = Path(__file__).resolve().parents[1]
FEATURE_BATCH = 4096


def say(*parts, **options):
    """print, flushed at once: progress must show up in log files and pipes too."""
    print(*parts, **options, flush=True)


# -- command line -------------------------------------------------------------------------
def _key_value(text):
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    return key.strip(), value.strip()


def add_arguments(parser):
    """The dataset, preset and run options common to every reproduce/ script."""
    group = parser.add_argument_group("data")
    group.add_argument("--dataset", choices=["synthetic", "oai", "brats", "folder"],
                       default="synthetic", help="synthetic (default): phantoms written into "
                       "the run folder; oai / brats / folder: NIfTI subjects under --data-dir")
    group.add_argument("--phantom", choices=["knee", "brain"], default="knee",
                       help="which phantom --dataset synthetic writes (default knee: 2 "
                       "modalities, 3 classes, like OAI; brain: 4 modalities, 2 classes)")
    group.add_argument("--data-dir", type=Path, help="folder searched recursively for subjects")
    group.add_argument("--modality", action="append", type=_key_value, default=[],
                       metavar="NAME=GLOB", help="a modality and its file pattern; repeat for "
                       "each (a {subject} placeholder matches flat layouts)")
    group.add_argument("--modalities", help="comma-separated subset of the preset's "
                       "modalities, e.g. FLAIR,T1c")
    group.add_argument("--label", metavar="GLOB", help="label map file pattern")
    group.add_argument("--mask", metavar="GLOB", help="mask file pattern (default: the preset's, "
                       "else nonzero voxels)")
    group.add_argument("--class", dest="classes", action="append", type=_key_value, default=[],
                       metavar="NAME=VALUES", help="label merge map: a foreground class and "
                       "its label values, e.g. tumor=1,2,4 or lesion=nonzero; repeat per class")
    group.add_argument("--group-pattern", help="regex whose first group of the subject name "
                       "is the subject id (keeps visits in one fold)")
    group.add_argument("--published", choices=["oai", "brats", "none"],
                       help="which published table to compare with (default: oai for oai and "
                       "the knee phantom, brats for brats and the brain phantom, none for folder)")
    group = parser.add_argument_group("run")
    group.add_argument("--preset", choices=sorted(PRESETS), default="quick",
                       help="; ".join(f"{p.name}: {p.description}" for p in PRESETS.values()))
    group.add_argument("--folds", type=int, help="cross-validation folds (default: the "
                       "preset's, at most the number of subjects)")
    group.add_argument("--epochs", type=int, help="training epochs per network")
    group.add_argument("--patches-per-class", type=int, help="patches per class per subject")
    group.add_argument("--filters", help="encoder filters, e.g. 32,64,128")
    group.add_argument("--subjects", type=int, help="number of synthetic subjects")
    group.add_argument("--momentum", type=float, help="momentum of the batch-normalization "
                       "moving averages (default: the preset's; 0.99 is the Keras default)")
    group.add_argument("--seed", type=int, default=0, help="one seed for Python, NumPy, Keras, "
                       "sampling, folds and forests (default 0)")
    group.add_argument("--configs", help="comma-separated configuration names or globs to run "
                       f"(default all): {', '.join(c.name for c in CONFIGURATIONS)}")
    group.add_argument("--out", type=Path, help="run folder (default runs/<dataset>-<preset>-"
                       "seed<seed>)")
    group.add_argument("--shard", help="I/N: run only every N-th unit starting at I (0-based), "
                       "for cluster job arrays; a final call without --shard aggregates")
    group.add_argument("--mixed-precision", action="store_true",
                       help="float16 computation with float32 weights (for GPUs)")
    group.add_argument("--distribute", choices=["none", "mirrored"], default="none",
                       help="mirrored: tf.distribute.MirroredStrategy over all local GPUs")
    group.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2],
                       help="Keras progress: 0 silent, 1 progress bar, 2 one line per epoch")
    return parser


def selected_configurations(pattern_text):
    if not pattern_text:
        return list(CONFIGURATIONS)
    patterns = [p.strip() for p in pattern_text.split(",") if p.strip()]
    chosen = [c for c in CONFIGURATIONS if any(fnmatch(c.name, p) for p in patterns)]
    unmatched = [p for p in patterns if not any(fnmatch(c.name, p) for c in CONFIGURATIONS)]
    if unmatched:
        raise SystemExit(f"error: --configs {unmatched} match no configuration; choose from "
                         f"{', '.join(c.name for c in CONFIGURATIONS)}")
    return chosen


# -- the run ------------------------------------------------------------------------------
@dataclass
class Run:
    out: Path
    dataset: str
    spec: data.DatasetSpec
    data_dir: Path
    preset: str
    table: str  # published table: "oai" | "brats" | "none"
    filters: tuple
    patches_per_class: int
    epochs: int
    folds: int
    seed: int
    batch_size: int
    trees: int
    momentum: float
    configurations: list
    command: str
    verbose: int = 1
    distribute: str = "none"

    @property
    def modality_names(self):
        return self.spec.modality_names

    def fingerprint(self):
        """What fixes the numbers: a rerun must agree on it to reuse finished units."""
        return {"dataset": self.dataset, "data_dir": str(self.data_dir), "spec": asdict(self.spec),
                "filters": list(self.filters), "patches_per_class": self.patches_per_class,
                "epochs": self.epochs, "folds": self.folds, "seed": self.seed,
                "batch_size": self.batch_size, "trees": self.trees, "momentum": self.momentum,
                **({"precision": keras.mixed_precision.global_policy().name}
                   if keras.mixed_precision.global_policy().name != "float32" else {})}


def resolve_run(args, argv=None, script="table1.py"):
    """A Run from parsed arguments; writes synthetic data and checks the run folder."""
    preset = PRESETS[args.preset]
    seed = args.seed
    filters = tuple(int(f) for f in args.filters.split(",")) if args.filters else preset.filters
    if len(filters) != 3:
        raise SystemExit(f"error: --filters needs three numbers, got {args.filters}")
    out = args.out or REPOSITORY / "runs" / f"{args.dataset}{'-' + args.phantom if args.dataset == 'synthetic' else ''}-{args.preset}-seed{seed}"
    classes = {name: ("nonzero" if values == "nonzero" else
                      tuple(int(v) for v in values.split(","))) for name, values in args.classes}
    select = args.modalities.split(",") if args.modalities else None
    if args.dataset == "synthetic":
        if args.data_dir:
            raise SystemExit("error: --data-dir is for --dataset oai|brats|folder; the synthetic "
                             "data is written into the run folder")
        data_dir = out / "data" / args.phantom
        subjects = args.subjects or preset.synthetic_subjects
        if not data_dir.exists():
            writer = write_knee_phantoms if args.phantom == "knee" else write_brain_phantoms
            writer(data_dir.with_suffix(".partial"), subjects=subjects, seed=seed)
            os.replace(data_dir.with_suffix(".partial"), data_dir)
        dataset_preset = "oai" if args.phantom == "knee" else "brats"
        default_table = dataset_preset
    else:
        if not args.data_dir:
            raise SystemExit(f"error: --dataset {args.dataset} needs --data-dir")
        data_dir, dataset_preset = args.data_dir, args.dataset
        default_table = {"oai": "oai", "brats": "brats"}.get(args.dataset, "none")
    try:
        spec = data.dataset_spec(dataset_preset, modalities=dict(args.modality) or None,
                                 label=args.label, mask=args.mask, classes=classes or None,
                                 group_pattern=args.group_pattern, select=select)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    table = args.published or default_table
    run = Run(out=Path(out), dataset=args.dataset, spec=spec, data_dir=Path(data_dir),
              preset=args.preset, table=table, filters=filters,
              patches_per_class=args.patches_per_class or preset.patches_per_class,
              epochs=args.epochs or preset.epochs_for(table), folds=args.folds or preset.folds,
              seed=seed, batch_size=preset.batch_size, trees=preset.trees,
              momentum=args.momentum or preset.momentum,
              configurations=selected_configurations(args.configs),
              command=" ".join(["python", f"reproduce/{script}",
                                *(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))]),
              verbose=args.verbose, distribute=args.distribute)
    # Mixed precision changes the numbers a little: part of the fingerprint via the policy.
    models.training.use_mixed_precision(args.mixed_precision)
    return run


def check_run_folder(run):
    """Creates OUT/run.json, or refuses a folder that holds a run with other arguments."""
    run.out.mkdir(parents=True, exist_ok=True)
    path = run.out / "run.json"
    fingerprint = json.loads(json.dumps(run.fingerprint(), default=str))
    if path.exists():
        stored = json.loads(path.read_text())
        if stored != fingerprint:
            changed = sorted(k for k in set(stored) | set(fingerprint)
                             if stored.get(k) != fingerprint.get(k))
            raise SystemExit(f"error: {run.out} holds a run made with other arguments "
                             f"(they differ in: {', '.join(changed)}); its finished units are "
                             "kept. Give another --out, or the same arguments to resume.")
    else:
        atomic_write_text(path, json.dumps(fingerprint, indent=2))


def atomic_write_text(path, text):
    temporary = Path(f"{path}.tmp{os.getpid()}")
    temporary.write_text(text)
    os.replace(temporary, path)


def seed_everything(seed):
    """Python, NumPy and Keras (TensorFlow) from one number."""
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    keras.utils.set_random_seed(seed % 2 ** 32)


def derived_seed(seed, *parts):
    digest = hashlib.sha256(json.dumps([seed, *parts]).encode()).hexdigest()
    return int(digest[:8], 16)


# -- data -----------------------------------------------------------------------------------
def load_patch_table(run, log=say):
    """Every subject prepared (cached in OUT/cache) and sampled: one PatchTable."""
    subjects = data.find_subjects(run.data_dir, run.spec)
    log(f"{len(subjects)} subjects under {run.data_dir}; modalities "
        f"{', '.join(run.modality_names)}; classes {', '.join(run.spec.class_names)}")
    prepared = data.prepare_subjects(
        subjects, run.spec, cache_dir=run.out / "cache",
        progress=lambda i, n, name: log(f"  preparing {i + 1}/{n}: {name}", end="\r"))
    log("")
    centers, labels = [], []
    for subject in prepared:
        rng = np.random.default_rng(derived_seed(run.seed, "sampling", subject.name))
        subject_centers, subject_labels = data.sample_centers(
            subject.class_map, run.patches_per_class, rng, subject.class_names, subject.name)
        centers.append(subject_centers)
        labels.append(subject_labels)
    return data.PatchTable(prepared, centers, labels)


def fold_splits(run, table):
    folds = min(run.folds, len(set(table.groups)))
    if folds < 2:
        raise SystemExit(f"error: cross-validation needs at least 2 subjects; {run.data_dir} "
                         f"holds {len(set(table.groups))}")
    run.folds = folds
    return data.subject_folds(table.groups, folds, seed=run.seed)


class PatchBatches(keras.utils.PyDataset):
    """Shuffled batches cut on the fly from a PatchTable: nothing is materialized.

    ``modalities``: indices of the modalities the network takes, in order; with
    ``mixed=True`` each sample is one (row, modality) pair and the batch holds a single
    input (the "all modalities" baseline's mixture without modality identity).
    """

    def __init__(self, table, rows, modalities, batch_size, seed, mixed=False):
        super().__init__()
        self.table, self.modalities, self.batch_size, self.mixed = table, list(modalities), \
            batch_size, mixed
        rows = np.asarray(rows)
        if mixed:
            self.samples = np.stack([np.repeat(rows, len(modalities)),
                                     np.tile(self.modalities, len(rows))], axis=1)
        else:
            self.samples = rows[:, None]
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(self.samples))

    def __len__(self):
        return int(np.ceil(len(self.samples) / self.batch_size))

    def __getitem__(self, index):
        chosen = self.samples[self.order[index * self.batch_size:(index + 1) * self.batch_size]]
        patches = self.table.gather(chosen[:, 0])
        if self.mixed:
            return (patches[np.arange(len(chosen)), chosen[:, 1], ..., None],)
        return (tuple(patches[:, m, ..., None] for m in self.modalities),)

    def on_epoch_end(self):
        self.order = self.rng.permutation(len(self.samples))


def features_of_rows(table, rows, extractors_by_modality):
    """{modality index: (len(rows), F)} features, cutting patches in chunks."""
    result = {m: [] for m in extractors_by_modality}
    for start in range(0, len(rows), FEATURE_BATCH):
        patches = table.gather(rows[start:start + FEATURE_BATCH])
        for m, extractor in extractors_by_modality.items():
            result[m].append(np.asarray(models.training.predict_in_batches(
                extractor, patches[:, m, ..., None]), dtype=np.float32))
    return {m: np.concatenate(chunks) for m, chunks in result.items()}


# -- one unit: a configuration in a fold ----------------------------------------------------
def unit_dir(run, configuration, fold):
    return run.out / "units" / configuration.name / f"fold{fold}"


def unit_done(run, configuration, fold):
    return (unit_dir(run, configuration, fold) / "result.json").exists()


def train_network(run, configuration, table, training_rows, fold, modality=None):
    """Builds and trains the network of a configuration; returns it."""
    seed = derived_seed(run.seed, configuration.name, fold, modality)
    seed_everything(seed)
    with models.training.distribution_scope(run.distribute):
        return _build_and_train(run, configuration, table, training_rows, modality, seed)


def _build_and_train(run, configuration, table, training_rows, modality, seed):
    modality_count = len(run.modality_names)
    if configuration.kind == "axial":
        network = models.build_axial_network(
            run.modality_names, normalization=configuration.normalization,
            filters=run.filters, alpha=configuration.alpha,
            modality_dropout=configuration.dropout, seed=seed, momentum=run.momentum)
        batches = PatchBatches(table, training_rows, range(modality_count), run.batch_size, seed)
    else:
        network = models.build_baseline(filters=run.filters, seed=seed, momentum=run.momentum)
        modalities = range(modality_count) if modality is None else [modality]
        batches = PatchBatches(table, training_rows, modalities, run.batch_size, seed, mixed=True)
    models.train(network, batches, epochs=run.epochs, verbose=run.verbose)
    return network


def run_unit(run, configuration, table, split, fold, log=say):
    """Trains, extracts features, fits the forests; saves everything, result.json last."""
    directory = unit_dir(run, configuration, fold)
    directory.mkdir(parents=True, exist_ok=True)
    training_rows, test_rows = split
    modality_count = len(run.modality_names)
    started = time.perf_counter()
    features = {}
    if configuration.kind == "baseline" and configuration.baseline == "training":
        for a in range(modality_count):  # one network per training modality
            network = train_network(run, configuration, table, training_rows, fold, modality=a)
            network.save(directory / f"model_{models.layer_name(run.modality_names[a])}.keras")
            extractor = models.training.feature_extractor(network, 0)
            features[("train", a)] = features_of_rows(table, training_rows, {a: extractor})[a]
            test = features_of_rows(table, test_rows, {b: extractor for b in range(modality_count)})
            for b in range(modality_count):
                features[("test", a, b)] = test[b]
    else:
        network = train_network(run, configuration, table, training_rows, fold)
        network.save(directory / "model.keras")
        if configuration.kind == "axial":
            extractors = {m: models.training.feature_extractor(network, m)
                          for m in range(modality_count)}
        else:
            shared = models.training.feature_extractor(network, 0)
            extractors = {m: shared for m in range(modality_count)}
        training = features_of_rows(table, training_rows, extractors)
        test = features_of_rows(table, test_rows, extractors)
        for a in range(modality_count):
            features[("train", a)] = training[a]
            for b in range(modality_count):
                features[("test", a, b)] = test[b]
    network_seconds = time.perf_counter() - started  # training and feature extraction

    training_labels, test_labels = table.labels[training_rows], table.labels[test_rows]
    accuracy = np.zeros((modality_count, modality_count))
    for a in range(modality_count):
        forest = RandomForestClassifier(n_estimators=run.trees, n_jobs=-1,
                                        random_state=derived_seed(run.seed, "forest",
                                                                  configuration.name, fold, a))
        forest.fit(features[("train", a)], training_labels)
        for b in range(modality_count):
            accuracy[a, b] = 100.0 * np.mean(forest.predict(features[("test", a, b)]) == test_labels)

    arrays = {"training_labels": training_labels, "test_labels": test_labels,
              "training_rows": training_rows, "test_rows": test_rows,
              "test_subjects": np.array([table.subjects[i].name
                                         for i in table.subject_index[test_rows]])}
    if configuration.kind == "axial" or configuration.baseline == "all":
        arrays.update({f"train_{run.modality_names[a]}": features[("train", a)]
                       for a in range(modality_count)})
        arrays.update({f"test_{run.modality_names[b]}": features[("test", 0, b)]
                       for b in range(modality_count)})
    else:
        arrays.update({f"train_{run.modality_names[a]}": features[("train", a)]
                       for a in range(modality_count)})
        arrays.update({f"test_{run.modality_names[a]}_{run.modality_names[b]}": features[("test", a, b)]
                       for a in range(modality_count) for b in range(modality_count)})
    temporary = directory / f"features.tmp{os.getpid()}.npz"
    np.savez(temporary, **arrays)
    os.replace(temporary, directory / "features.npz")
    same, cross = same_and_cross(accuracy)
    result = {"configuration": configuration.name, "fold": fold, "accuracy": accuracy.tolist(),
              "modalities": run.modality_names, "same": same, "cross": cross,
              "seconds": time.perf_counter() - started, "network_seconds": network_seconds}
    atomic_write_text(directory / "result.json", json.dumps(result, indent=2))
    return result


def same_and_cross(accuracy):
    """Mean of the diagonal (same modality) and of the off-diagonal (every ordered pair)."""
    accuracy = np.asarray(accuracy)
    off_diagonal = ~np.eye(len(accuracy), dtype=bool)
    return float(np.mean(np.diag(accuracy))), float(np.mean(accuracy[off_diagonal]))


def load_unit_features(run, configuration, fold):
    with np.load(unit_dir(run, configuration, fold) / "features.npz") as stored:
        return {key: stored[key] for key in stored.files}


def load_unit_network(run, configuration, fold):
    return keras.saving.load_model(unit_dir(run, configuration, fold) / "model.keras",
                                   safe_mode=True)


# -- the grid -------------------------------------------------------------------------------
def parse_shard(text):
    if not text:
        return 0, 1
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise SystemExit(f"error: --shard takes I/N (e.g. 0/4), got {text!r}") from None
    if not (count >= 1 and 0 <= index < count):
        raise SystemExit(f"error: --shard {text}: need 0 <= I < N")
    return index, count


def run_grid(run, shard=(0, 1), log=say):
    """Runs every unfinished unit of this shard, with progress and an ETA."""
    table = load_patch_table(run, log=log)
    splits = fold_splits(run, table)
    check_run_folder(run)
    units = [(c, f) for c in run.configurations for f in range(len(splits))]
    mine = [unit for i, unit in enumerate(units) if i % shard[1] == shard[0]]
    todo = [(c, f) for c, f in mine if not unit_done(run, c, f)]
    log(f"{len(units)} units ({len(run.configurations)} configurations x {len(splits)} folds); "
        f"this call: {len(mine)}, {len(mine) - len(todo)} already finished, {len(todo)} to run")
    started = time.perf_counter()
    for done, (configuration, fold) in enumerate(todo):
        elapsed = time.perf_counter() - started
        eta = f", ETA {format_seconds(elapsed / done * (len(todo) - done))}" if done else ""
        log(f"[{done + 1}/{len(todo)}] {configuration.name} fold {fold + 1}/{len(splits)} "
            f"(elapsed {format_seconds(elapsed)}{eta})")
        result = run_unit(run, configuration, table, splits[fold], fold, log=log)
        log(f"    same {result['same']:.1f} %, cross {result['cross']:.1f} % "
            f"({format_seconds(result['seconds'])})")
    return len(todo)


def format_seconds(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else \
        f"{seconds // 60}m{seconds % 60:02d}s"


def versions():
    import h5py
    import nibabel
    import sklearn
    import tensorflow
    return {"python": platform.python_version(), "keras": keras.__version__,
            "tensorflow": tensorflow.__version__, "numpy": np.__version__,
            "scikit-learn": sklearn.__version__, "nibabel": nibabel.__version__,
            "h5py": h5py.__version__}


# -- figures --------------------------------------------------------------------------------
def add_figure_arguments(parser, alpha=0.1):
    """Options of the figure scripts, on top of ``add_arguments``."""
    group = parser.add_argument_group("figure")
    group.add_argument("--alpha", type=float, default=alpha,
                       help=f"weight of the similarity term of the models shown (default {alpha})")
    group.add_argument("--figures-dir", type=Path, help="where the PNG and CSV go (default "
                       "paper_figures/<run folder name>)")
    return parser


def four_settings(alpha):
    """The four axial settings of Figs. 6–8 at one alpha: none, norm, dropout, both."""
    chosen = [c for c in CONFIGURATIONS if c.kind == "axial" and c.alpha == alpha]
    if not chosen:
        raise SystemExit(f"error: --alpha {alpha} is not in the grid; choose from "
                         f"{sorted({c.alpha for c in CONFIGURATIONS if c.alpha is not None})}")
    return chosen


def prepare_figure_run(args, argv, script, configurations, log=say):
    """The run folder of table1.py with the same arguments; trains only missing units.

    Returns (run, table, splits, figures_dir).
    """
    run = resolve_run(args, argv, script=script)
    run.configurations = list(configurations)
    log(f"run folder: {run.out}")
    try:
        table = load_patch_table(run, log=log)
    except data.DataError as error:
        raise SystemExit(f"error: {error}") from None
    splits = fold_splits(run, table)
    check_run_folder(run)
    missing = [(c, f) for c in run.configurations for f in range(len(splits))
               if not unit_done(run, c, f)]
    for index, (configuration, fold) in enumerate(missing):
        log(f"[{index + 1}/{len(missing)}] training the missing unit {configuration.name} "
            f"fold {fold + 1}")
        run_unit(run, configuration, table, splits[fold], fold, log=log)
    figures_dir = args.figures_dir or REPOSITORY / "paper_figures" / run.out.name
    figures_dir.mkdir(parents=True, exist_ok=True)
    return run, table, splits, figures_dir


def script_parser(doc):
    """A parser with the common options; the script's docstring is its help."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                     epilog=doc.split("\n\n", 1)[1] if "\n\n" in doc else None,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    return add_arguments(parser)


def figure_parser(doc, alpha=0.1):
    return add_figure_arguments(script_parser(doc), alpha)


def chosen_fold(fold_number, splits):
    """The 0-based index of a 1-based --fold, checked against the run's folds."""
    if not 1 <= fold_number <= len(splits):
        raise SystemExit(f"error: --fold must lie in 1..{len(splits)}")
    return fold_number - 1


def stacked_features(features, split, modality_names):
    """[(N, F) per modality] of the 'train' or 'test' split of a unit's features."""
    return [features[f"{split}_{name}"] for name in modality_names]


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend (no display needed)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(figure, rows, figures_dir, name):
    """NAME.png and the numbers behind it, NAME.csv (one dict per row)."""
    import csv
    figure.tight_layout()
    figure.savefig(figures_dir / f"{name}.png", dpi=110)
    with open(figures_dir / f"{name}.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    say(f"wrote {figures_dir / name}.png and {name}.csv")
