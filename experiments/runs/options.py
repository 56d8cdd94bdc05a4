"""The options every reproduce/ script takes, with types that check them at parse time
(0 is a value, never "unset"; out-of-range numbers are refused with the reason)."""
import argparse
import os
import re
from dataclasses import dataclass
from pathlib import Path

from models.readings import DROPOUT_DISTRIBUTIONS, LAST_BLOCKS, VECTOR_NORMALIZATION_SCOPES
from experiments.paper.configurations import CONFIGURATIONS, RUN_PRESETS
from runtime.errors import ProjectError

DATASETS = ["synthetic", "oai", "brats", "folder", "msd-brats", "open-ms"]


def key_value(text):
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


def _positive_number(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {value:g}")
    if value == float("inf"):
        raise argparse.ArgumentTypeError("must be a finite number (a size in GB)")
    return value


CHECKPOINT_UNITS = {"updates": "every_updates", "s": "every_seconds", "min": "every_seconds",
                    "h": "every_seconds"}
SECONDS_PER = {"s": 1, "min": 60, "h": 3600}


def checkpoint_every(text):
    """--checkpoint-every: ``off``, or a number and a unit, e.g. 10min, 30s, 2h, 500updates
    → {"every_seconds": 600} / {"every_updates": 500} / None."""
    if text.strip().lower() == "off":
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(updates|s|min|h)\s*", text)
    if not match or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"expected off, or a positive number with a unit: "
                                         f"10min, 30s, 2h or 500updates; got {text!r}")
    number, unit = float(match.group(1)), match.group(2)
    if unit == "updates":
        if not number.is_integer():
            raise argparse.ArgumentTypeError(f"updates are whole numbers, got {text!r}")
        return {"every_updates": int(number)}
    return {"every_seconds": number * SECONDS_PER[unit]}


def seed_value(text):
    value = _at_least(0, "seeds are non-negative")(text)
    if value >= 2 ** 32:
        raise argparse.ArgumentTypeError(f"must be below 2^32, got {value}")
    return value


def _regular_expression(text):
    """A Python regular expression, compiled here so that a typo fails at parse time."""
    import re
    try:
        re.compile(text)
    except re.error as error:
        raise argparse.ArgumentTypeError(f"not a regular expression ({error}): {text!r}") from None
    return text


def _filters(text):
    """Three encoder widths, e.g. 32,64,128, each at least 1."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        raise argparse.ArgumentTypeError(f"expected three whole numbers such as 32,64,128, got "
                                         f"{text!r}")
    filters = tuple(int(part) for part in parts)
    if min(filters) < 1:
        raise argparse.ArgumentTypeError(f"every layer needs at least 1 filter, got {text!r}")
    return filters


def class_values(text):
    """NAME=VALUES: a foreground class and its label values (whole numbers, or nonzero)."""
    name, values = key_value(text)
    if not name:
        raise argparse.ArgumentTypeError(f"the class in {text!r} has no name")
    if values == "nonzero":
        return name, values
    parts = [part.strip() for part in values.split(",")]
    if not parts or not all(part.lstrip("-").isdigit() for part in parts):
        raise argparse.ArgumentTypeError(f"class {name}: expected label values as whole numbers "
                                         f"(e.g. {name}=1,2,4) or {name}=nonzero, got {values!r}")
    return name, tuple(int(part) for part in parts)


def _configurations(text):
    """Configuration names or globs; an empty selection is a mistake (an unset variable?)."""
    patterns = [part.strip() for part in text.split(",") if part.strip()]
    if not patterns:
        raise argparse.ArgumentTypeError("names no configuration (an unset shell variable?); "
                                         "leave the option out to run them all")
    return patterns


def _subjects(text):
    """A count (a seeded choice of N subjects) or comma-separated subject names."""
    if text.isdigit():
        return _at_least(2, "cross-validation needs two subjects")(text)
    names = [name.strip() for name in text.split(",") if name.strip()]
    if len(names) < 2:
        raise argparse.ArgumentTypeError("name at least two subjects, or give a count")
    return names


# The options that only a script that trains units takes: a script that reads a run
# (a figure, an evaluation-only study) never deletes, shards or distributes anything.
@dataclass(frozen=True)
class CallOptions:
    """How this call treats the run folder (not the run's settings, ``Run``): whether the
    user named the cache (then it is checked as a place of its own), whether it is one
    --shard of several writers, whether it waits for another writer, whether it discards
    units computed with other settings. Read from the parsed options once
    (``call_options``), so that no parsed-options object travels below this layer."""
    cache_named: bool = False
    shard: bool = False
    wait: bool = False
    discard_stale: bool = False


def call_options(args):
    """The ``CallOptions`` of parsed options (a script without an option gets its default)."""
    return CallOptions(cache_named=bool(getattr(args, "cache_dir", None)),
                       shard=bool(getattr(args, "shard", None)),
                       wait=bool(getattr(args, "wait", False)),
                       discard_stale=bool(getattr(args, "discard_stale_units", False)))


WRITER_ONLY = ("discard_stale_units", "shard", "distribute", "workers", "checkpoint_every",
               "wait")


def add_arguments(parser, omit=()):
    """The dataset, preset and run options common to every reproduce/ script, but those
    whose destination is in ``omit`` (a script lists only the options it accepts)."""
    def option(group, *flags, **settings):
        dest = settings.get("dest") or flags[0].lstrip("-").replace("-", "_")
        if dest not in omit:
            group.add_argument(*flags, **settings)

    group = parser.add_argument_group("data")
    option(group, "--dataset", choices=DATASETS, default="synthetic",
                  help="synthetic (default): phantoms written into the run folder; "
                  "oai / brats / folder: NIfTI subjects under --data-dir; msd-brats "
                  "(Decathlon brain tumours, 7.6 GB) / open-ms (30 MS patients, 0.5 GB): "
                  "downloaded once into the data root unless --data-dir names a copy")
    option(group, "--phantom", choices=["knee", "brain"], default="knee",
                  help="which phantom --dataset synthetic writes (default knee: 2 "
                  "modalities, 3 classes, like OAI; brain: 4 modalities, 2 classes)")
    option(group, "--data-dir", type=Path, help="folder searched recursively for subjects "
                  "(msd-brats: also the Task01_BrainTumour .tar or its folder)")
    option(group, "--data-root", type=Path, help="where msd-brats / open-ms are "
                  "downloaded (default $CROSS_MODALITY_DATA, else ~/.cache/cross_modality)")
    option(group, "--cache-dir", type=Path, help="where prepared volumes are cached, shared "
                  "by every run on the same files (default: DATA_ROOT/prepared; the "
                  "synthetic phantoms: OUT/cache)")
    option(group, "--cache-limit", type=_positive_number, default=20.0, metavar="GB",
           help="size limit of the prepared-volume cache in GB (default 20): after a "
           "start, the volumes used least recently (never this run's) are removed until "
           "the cache fits, with a line saying so")
    option(group, "--mirror", metavar="URL", help="download msd-brats / open-ms from "
                  "another copy with the same paths and checksums")
    option(group, "--modality", action="append", type=key_value, default=[],
                  metavar="NAME=GLOB[#CHANNEL]", help="a modality and its file pattern; "
                  "repeat for each (a {subject} placeholder matches flat layouts; #N "
                  "picks channel N of a 4-D file)")
    option(group, "--modalities", help="comma-separated subset of the preset's "
                  "modalities, e.g. FLAIR,T1c")
    option(group, "--label", metavar="GLOB", help="label map file pattern")
    option(group, "--mask", metavar="GLOB", help="mask file pattern (default: the preset's, "
                  "else nonzero voxels)")
    option(group, "--class", dest="classes", action="append", type=class_values, default=[],
                  metavar="NAME=VALUES", help="label merge map: a foreground class and "
                  "its label values, e.g. tumor=1,2,4 or lesion=nonzero; repeat per class")
    option(group, "--group-pattern", type=_regular_expression, help="regex whose first group of the subject name "
                  "is the subject id (keeps visits in one fold)")
    option(group, "--subjects", type=_subjects, metavar="N|NAME,NAME,...",
                  help="use part of the data: a seeded choice of N subjects, or the named "
                  "ones (synthetic: how many phantoms to write)")
    option(group, "--published", choices=["oai", "brats", "none"],
                  help="which published table to compare with (default: oai for oai and "
                  "the knee phantom, brats for brats and the brain phantom, none for folder)")
    group = parser.add_argument_group(
        "model reading", "what the paper leaves open (recorded in run.json and the table header)")
    option(group, "--vector-normalization", choices=list(VECTOR_NORMALIZATION_SCOPES),
                  default="unless-per-feature", help="which networks normalize each "
                  "feature vector to zero mean and unit SD before the mean (§II-C): " +
                  "; ".join(f"{k}: {v}" for k, v in VECTOR_NORMALIZATION_SCOPES.items()))
    option(group, "--last-block", choices=list(LAST_BLOCKS), default="bn-lrelu",
                  help="the encoder's last block (the representation): " +
                  "; ".join(f"{k}: {v}" for k, v in LAST_BLOCKS.items()))
    option(group, "--dropout-distribution", choices=list(DROPOUT_DISTRIBUTIONS),
                  default="uniform-subsets", help="modality dropout's subsets: " +
                  "; ".join(f"{k}: {v}" for k, v in DROPOUT_DISTRIBUTIONS.items()))
    option(group, "--recalibrate-statistics", action=argparse.BooleanOptionalAction,
                  help="after training, recompute every normalization layer's moving "
                  "statistics from the training patches under the final weights "
                  "(default: the preset's)")
    group = parser.add_argument_group("run")
    option(group, "--preset", choices=sorted(RUN_PRESETS), default="quick",
                  help="; ".join(f"{p.name}: {p.description}" for p in RUN_PRESETS.values()))
    option(group, "--folds", type=_at_least(2, "cross-validation needs a training and a "
                                             "test part"),
                  help="cross-validation folds (default: the preset's, at most the "
                  "number of subjects)")
    option(group, "--updates", type=_at_least(1, "a network must train"),
                  help="optimizer updates per network (the quick preset's budget)")
    option(group, "--epochs", type=_at_least(1, "a network must train"),
                  help="training epochs per network (instead of --updates)")
    option(group, "--patches-per-class", type=_at_least(1, "every class is sampled"),
                  help="autoencoder training patches per class per subject")
    option(group, "--evaluation-patches-per-class", type=_at_least(1, "every class is "
                                                                     "sampled"),
                  help="random-forest patches per class per subject (sampled apart from "
                  "the training patches)")
    option(group, "--filters", type=_filters, help="encoder filters, e.g. 32,64,128")
    option(group, "--momentum", type=_fraction_below_one, help="momentum of the "
                  "batch-normalization moving averages, in [0, 1) (default: the preset's; "
                  "0.99 is the Keras default)")
    option(group, "--seed", type=seed_value, default=0, help="one seed for Python, NumPy, Keras, "
                  "sampling, folds and forests, in [0, 2^32) (default 0)")
    option(group, "--repeats", type=_at_least(1, "every unit trains once"), default=1,
                  help="trainings per configuration and fold, from derived seeds (default "
                  "1); with 2 or more the intervals condition on the folds and narrow with "
                  "the repeats (docs/design.md, Uncertainty); raising it extends a run folder")
    option(group, "--configs", type=_configurations,
                  help="comma-separated configuration names or globs to run "
                  f"(default all): {', '.join(c.name for c in CONFIGURATIONS)}")
    option(group, "--out", type=Path, help="run folder (default runs/<dataset>-<preset>-"
                  "seed<seed> under the current folder)")
    option(group, "--discard-stale-units", action="store_true",
                  help="when the input files changed since the run folder's units were "
                  "made, delete those units and start again (otherwise the run refuses)")
    option(group, "--shard", help="I/N: run only every N-th unit starting at I (0-based), "
                  "for cluster job arrays; a final call without --shard aggregates")
    option(group, "--workers", type=_at_least(1, "one process trains"), default=None,
           metavar="N", help="train the units in N one-thread worker processes (default: "
           "the usable cores; 1 where TensorFlow sees a GPU; or $CROSS_MODALITY_WORKERS; 1: "
           "in this process). The numbers do not depend on N: every process computes with "
           "one thread")
    option(group, "--wait", action="store_true",
           help="when another call is writing the run folder, wait for it to end (default: "
           "stop at once, naming it)")
    option(group, "--checkpoint-every", type=checkpoint_every, default="10min",
           metavar="EVERY", help="save a training network's state every EVERY (10min, 30s, "
           "2h, 500updates; default 10min; off) and when the process gets SIGTERM (then it "
           "exits with status 75, to be requeued): a killed unit resumes from its last "
           "state with the weights it would have had uninterrupted. The states go to "
           "OUT/training-states and are removed when the unit finishes")
    option(group, "--mixed-precision", action="store_true",
                  help="float16 computation with float32 weights (for GPUs)")
    option(group, "--distribute", choices=["none", "mirrored"], default="none",
                  help="mirrored: tf.distribute.MirroredStrategy over all local GPUs")
    option(group, "--verbose", type=int, default=1, choices=[0, 1, 2],
                  help="Keras progress: 0 silent, 1 progress bar (on a terminal; "
                  "redirected output gets the per-unit lines only), 2 one line per epoch")
    return parser


def configured_count():
    """$CROSS_MODALITY_WORKERS as a number, None when unset; an error line when it is not a
    count (checked before anything is prepared: ``command_line.resolve_run``)."""
    configured = os.environ.get("CROSS_MODALITY_WORKERS", "").strip()
    if not configured:
        return None
    if not configured.isdigit() or int(configured) < 1:
        raise ProjectError(f"CROSS_MODALITY_WORKERS={configured!r} is not a number of "
                         "worker processes (1 or more); set it to one, or unset it for one "
                         "per usable core")
    return int(configured)
