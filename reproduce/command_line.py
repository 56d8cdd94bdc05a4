"""The options every reproduce/ script takes, and the Run they describe.

``resolve_run`` only reads the arguments: it writes no file and sets no global state.
Writing the phantoms, setting the mixed-precision policy and opening the run folder are
explicit steps of ``grid.prepare``.
"""
import argparse
import shlex
import sys
from fnmatch import fnmatch
from pathlib import Path

import data
import models
from reproduce.patch_data import default_out
from reproduce.run_folder import Run
from reproduce.settings import CONFIGURATIONS, PRESETS

REPOSITORY = Path(__file__).resolve().parents[1]
DATASETS = ["synthetic", "oai", "brats", "folder", "msd-brats", "open-ms"]
FETCHED = {"msd-brats", "open-ms"}  # named public datasets that data.fetch can download


class Console:
    """Flushed output; a progress line (ending in ``\\r``) is closed before anything else."""

    def __init__(self):
        self.line_open = False

    def say(self, *parts, end="\n"):
        print(*parts, end=end, flush=True)
        self.line_open = end == "\r"

    def close_line(self):
        if self.line_open:
            print(flush=True)
            self.line_open = False

    def fail(self, message):
        """Closes a progress line and exits with ``error: message``."""
        self.close_line()
        raise SystemExit(f"error: {message}")


console = Console()
say = console.say


# -- argument types ---------------------------------------------------------------------
def _key_value(text):
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    return key.strip(), value.strip()


def _at_least(minimum, why):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum} ({why}), got {value}")
        return value
    return parse


def _fraction_below_one(text):
    """A momentum: a number in [0, 1) (0 is a value, not "unset")."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1), got {value:g}")
    return value


def _seed(text):
    value = _at_least(0, "seeds are non-negative")(text)
    if value >= 2 ** 32:
        raise argparse.ArgumentTypeError(f"must be below 2^32, got {value}")
    return value


def _subjects(text):
    """A count (a seeded choice of N subjects) or comma-separated subject names."""
    if text.isdigit():
        return _at_least(2, "cross-validation needs two subjects")(text)
    names = [name.strip() for name in text.split(",") if name.strip()]
    if len(names) < 2:
        raise argparse.ArgumentTypeError("name at least two subjects, or give a count")
    return names


def add_arguments(parser):
    """The dataset, preset and run options common to every reproduce/ script."""
    group = parser.add_argument_group("data")
    group.add_argument("--dataset", choices=DATASETS, default="synthetic",
                       help="synthetic (default): phantoms written into the run folder; "
                       "oai / brats / folder: NIfTI subjects under --data-dir; msd-brats "
                       "(Decathlon brain tumours, 7.6 GB) / open-ms (30 MS patients, 0.5 GB): "
                       "downloaded once into the data root unless --data-dir names a copy")
    group.add_argument("--phantom", choices=["knee", "brain"], default="knee",
                       help="which phantom --dataset synthetic writes (default knee: 2 "
                       "modalities, 3 classes, like OAI; brain: 4 modalities, 2 classes)")
    group.add_argument("--data-dir", type=Path, help="folder searched recursively for subjects "
                       "(msd-brats: also the Task01_BrainTumour .tar or its folder)")
    group.add_argument("--data-root", type=Path, help="where msd-brats / open-ms are "
                       "downloaded (default $CROSS_MODALITY_DATA, else ~/.cache/cross_modality)")
    group.add_argument("--mirror", metavar="URL", help="download msd-brats / open-ms from "
                       "another copy with the same paths and checksums")
    group.add_argument("--modality", action="append", type=_key_value, default=[],
                       metavar="NAME=GLOB[#CHANNEL]", help="a modality and its file pattern; "
                       "repeat for each (a {subject} placeholder matches flat layouts; #N "
                       "picks channel N of a 4-D file)")
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
    group.add_argument("--subjects", type=_subjects, metavar="N|NAME,NAME,...",
                       help="use part of the data: a seeded choice of N subjects, or the named "
                       "ones (synthetic: how many phantoms to write)")
    group.add_argument("--published", choices=["oai", "brats", "none"],
                       help="which published table to compare with (default: oai for oai and "
                       "the knee phantom, brats for brats and the brain phantom, none for folder)")
    group = parser.add_argument_group(
        "model reading", "what the paper leaves open (recorded in run.json and the table header)")
    group.add_argument("--vector-normalization", choices=list(models.VECTOR_NORMALIZATION_SCOPES),
                       default="unless-per-feature", help="which networks normalize each "
                       "feature vector to zero mean and unit SD before the mean (§II-C): " +
                       "; ".join(f"{k}: {v}" for k, v in models.VECTOR_NORMALIZATION_SCOPES.items()))
    group.add_argument("--last-block", choices=list(models.LAST_BLOCKS), default="bn-lrelu",
                       help="the encoder's last block (the representation): " +
                       "; ".join(f"{k}: {v}" for k, v in models.LAST_BLOCKS.items()))
    group.add_argument("--dropout-distribution", choices=list(models.DROPOUT_DISTRIBUTIONS),
                       default="uniform-subsets", help="modality dropout's subsets: " +
                       "; ".join(f"{k}: {v}" for k, v in models.DROPOUT_DISTRIBUTIONS.items()))
    group.add_argument("--recalibrate-statistics", action=argparse.BooleanOptionalAction,
                       help="after training, recompute every normalization layer's moving "
                       "statistics from the training patches under the final weights "
                       "(default: the preset's)")
    group = parser.add_argument_group("run")
    group.add_argument("--preset", choices=sorted(PRESETS), default="quick",
                       help="; ".join(f"{p.name}: {p.description}" for p in PRESETS.values()))
    group.add_argument("--folds", type=_at_least(2, "cross-validation needs a training and a "
                                                  "test part"),
                       help="cross-validation folds (default: the preset's, at most the "
                       "number of subjects)")
    group.add_argument("--updates", type=_at_least(1, "a network must train"),
                       help="optimizer updates per network (the quick preset's budget)")
    group.add_argument("--epochs", type=_at_least(1, "a network must train"),
                       help="training epochs per network (instead of --updates)")
    group.add_argument("--patches-per-class", type=_at_least(1, "every class is sampled"),
                       help="autoencoder training patches per class per subject")
    group.add_argument("--evaluation-patches-per-class", type=_at_least(1, "every class is "
                                                                          "sampled"),
                       help="random-forest patches per class per subject (sampled apart from "
                       "the training patches)")
    group.add_argument("--filters", help="encoder filters, e.g. 32,64,128")
    group.add_argument("--momentum", type=_fraction_below_one, help="momentum of the "
                       "batch-normalization moving averages, in [0, 1) (default: the preset's; "
                       "0.99 is the Keras default)")
    group.add_argument("--seed", type=_seed, default=0, help="one seed for Python, NumPy, Keras, "
                       "sampling, folds and forests, in [0, 2^32) (default 0)")
    group.add_argument("--repeats", type=_at_least(1, "every unit trains once"), default=1,
                       help="trainings per configuration and fold, from derived seeds (default "
                       "1); with 2 or more the intervals condition on the folds and narrow with "
                       "the repeats (README, Uncertainty); raising it extends a run folder")
    group.add_argument("--configs", help="comma-separated configuration names or globs to run "
                       f"(default all): {', '.join(c.name for c in CONFIGURATIONS)}")
    group.add_argument("--out", type=Path, help="run folder (default runs/<dataset>-<preset>-"
                       "seed<seed>)")
    group.add_argument("--discard-stale-units", action="store_true",
                       help="when the input files changed since the run folder's units were "
                       "made, delete those units and start again (otherwise the run refuses)")
    group.add_argument("--shard", help="I/N: run only every N-th unit starting at I (0-based), "
                       "for cluster job arrays; a final call without --shard aggregates")
    group.add_argument("--mixed-precision", action="store_true",
                       help="float16 computation with float32 weights (for GPUs)")
    group.add_argument("--distribute", choices=["none", "mirrored"], default="none",
                       help="mirrored: tf.distribute.MirroredStrategy over all local GPUs")
    group.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2],
                       help="Keras progress: 0 silent, 1 progress bar, 2 one line per epoch")
    return parser


def script_parser(doc):
    """A parser with the common options; the script's docstring is its help."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                     epilog=doc.split("\n\n", 1)[1] if "\n\n" in doc else None,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    return add_arguments(parser)


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


def _modality_patterns(pairs):
    """{name: glob} and {name: channel} from NAME=GLOB[#CHANNEL] options."""
    patterns, channels = {}, {}
    for name, value in pairs:
        glob, _, channel = value.partition("#")
        if channel:
            if not channel.isdigit():
                raise SystemExit(f"error: --modality {name}={value}: the channel after # must be "
                                 "a number (0 for the first)")
            channels[name] = int(channel)
        patterns[name] = glob
    return patterns, channels


def resolve_run(args, argv=None, script="table1.py", out_suffix=""):
    """A Run from parsed arguments. Writes nothing and sets no global state (it only
    looks at whether a named dataset's --data-dir is an archive or a folder)."""
    preset = PRESETS[args.preset]
    filters = tuple(int(f) for f in args.filters.split(",")) if args.filters else preset.filters
    if len(filters) != 3:
        raise SystemExit(f"error: --filters needs three numbers, got {args.filters}")
    if args.updates and args.epochs:
        raise SystemExit("error: give --updates or --epochs, not both")
    out = args.out or default_out(REPOSITORY, args.dataset, args.phantom, args.preset, args.seed,
                                  out_suffix)
    classes = {name: (data.NONZERO if values == data.NONZERO else
                      tuple(int(v) for v in values.split(","))) for name, values in args.classes}
    select = args.modalities.split(",") if args.modalities else None
    patterns, channels = _modality_patterns(args.modality)
    subjects, phantom_subjects, fetch_options = args.subjects, None, None
    if args.dataset == "synthetic":
        if args.data_dir:
            raise SystemExit("error: --data-dir is for --dataset oai|brats|folder; the synthetic "
                             "data is written into the run folder")
        if isinstance(subjects, list):
            raise SystemExit("error: --subjects for the synthetic data is a count")
        phantom_subjects, subjects = subjects or preset.synthetic_subjects, None
        data_dir = Path(out) / "data" / args.phantom
        dataset_preset = "oai" if args.phantom == "knee" else "brats"
        default_table = dataset_preset
    elif args.dataset in FETCHED:
        from data import fetch
        root = args.data_root or fetch.default_data_root()
        given = args.data_dir
        data_dir = fetch.folder_of(args.dataset, given, root)
        fetch_options = {"data_dir": given, "data_root": root, "mirror": args.mirror}
        dataset_preset, default_table = args.dataset, "brats"
    else:
        if not args.data_dir:
            raise SystemExit(f"error: --dataset {args.dataset} needs --data-dir")
        data_dir, dataset_preset = args.data_dir, args.dataset
        default_table = {"oai": "oai", "brats": "brats"}.get(args.dataset, "none")
    try:
        spec = data.dataset_spec(dataset_preset, modalities=patterns or None, channels=channels,
                                 label=args.label, mask=args.mask, classes=classes or None,
                                 group_pattern=args.group_pattern, select=select)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    table = args.published or default_table
    updates = args.updates or (None if args.epochs else preset.updates)
    epochs = args.epochs or (None if updates else preset.epochs_for(table))
    return Run(
        out=Path(out), dataset=args.dataset, spec=spec, data_dir=Path(data_dir),
        preset=args.preset, table=table, filters=filters,
        patches_per_class=args.patches_per_class or preset.patches_per_class,
        evaluation_patches_per_class=(args.evaluation_patches_per_class
                                      or preset.evaluation_patches_per_class),
        epochs=epochs, updates=updates, folds=args.folds, preset_folds=preset.folds, seed=args.seed,
        batch_size=preset.batch_size, trees=preset.trees,
        momentum=preset.momentum if args.momentum is None else args.momentum,
        vector_normalization=args.vector_normalization, last_block=args.last_block,
        dropout_distribution=args.dropout_distribution,
        recalibrate_statistics=(preset.recalibrate_statistics
                                if args.recalibrate_statistics is None
                                else args.recalibrate_statistics),
        configurations=selected_configurations(args.configs),
        command=" ".join(["python", f"reproduce/{script}",
                          *(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))]),
        subjects=subjects, phantom_subjects=phantom_subjects, fetch=fetch_options,
        repeats=args.repeats,
        precision="mixed_float16" if args.mixed_precision else "float32",
        verbose=args.verbose, distribute=args.distribute)
