"""From a script's options (``options.py``) to the Run they describe.

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
from experiments.runs.run_folder import check_places
from experiments.runs.options import WRITER_ONLY, add_arguments, call_options  # noqa: F401
from experiments.runs.run import Run, default_out
from experiments.paper.configurations import CONFIGURATIONS, RUN_PRESETS
from runtime.console import on_terminal
from runtime.errors import ProjectError
from runtime.metadata import keras_backend

KERAS_BACKENDS = ("tensorflow", "jax", "torch")
FETCHED = {"msd-brats", "open-ms"}  # named public datasets that data.fetch can download


def script_parser(doc, omit=()):
    """A parser with the common options (but those in ``omit``: a script lists only what
    it accepts); the script's docstring is its help."""
    # allow_abbrev=False: a misspelt or foreign option (fig7's --alpha for --alphas) is an
    # error, never silently taken for a longer one.
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0], allow_abbrev=False,
                                     epilog=doc.split("\n\n", 1)[1] if "\n\n" in doc else None,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    return add_arguments(parser, omit)


def default_configurations(parser, names):
    """Sets --configs' default to ``names`` (comma-separated) and says so in --help."""
    parser.set_defaults(configs=names)  # a string default goes through the option's type
    for action in parser._actions:
        if action.dest == "configs":
            action.help = (f"comma-separated configuration names or globs to run (default: "
                           f"{names.replace(',', ', ')})")


def selected_configurations(patterns):
    """The configurations that a parsed --configs (a list of names or globs) names; all
    when the option was not given."""
    if patterns is None:
        return list(CONFIGURATIONS)
    chosen = [c for c in CONFIGURATIONS if any(fnmatch(c.name, p) for p in patterns)]
    unmatched = [p for p in patterns if not any(fnmatch(c.name, p) for c in CONFIGURATIONS)]
    if unmatched:
        raise ProjectError(f"--configs {unmatched} match no configuration; choose from "
                         f"{', '.join(c.name for c in CONFIGURATIONS)}")
    return chosen


def parse_shard(text):
    if not text:
        return 0, 1
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ProjectError(f"--shard takes I/N (e.g. 0/4), got {text!r}") from None
    if not (count >= 1 and 0 <= index < count):
        raise ProjectError(f"--shard {text}: need 0 <= I < N")
    return index, count


def _modality_patterns(pairs):
    """{name: glob} and {name: channel} from NAME=GLOB[#CHANNEL] options."""
    patterns, channels = {}, {}
    for name, value in pairs:
        glob, _, channel = value.partition("#")
        if channel:
            if not channel.isdigit():
                raise ProjectError(f"--modality {name}={value}: the channel after # must be "
                                 "a number (0 for the first)")
            channels[name] = int(channel)
        patterns[name] = glob
    return patterns, channels


def resolve_run(args, argv=None, script="reproduce/table1.py", out_suffix=""):
    """A Run from parsed arguments. Writes nothing and sets no global state (it only
    looks at whether a named dataset's --data-dir is an archive or a folder, and checks
    that the run folder and the cache are places it could write)."""
    preset = RUN_PRESETS[args.preset]
    backend = keras_backend()
    if backend not in KERAS_BACKENDS:
        raise ProjectError(f"KERAS_BACKEND={backend} is not a Keras backend this project "
                         f"runs on; choose one of {', '.join(KERAS_BACKENDS)} (JAX and PyTorch: "
                         "pip install -r requirements-backends.txt)")
    if backend != "tensorflow":
        import importlib.util
        if importlib.util.find_spec({"jax": "jax", "torch": "torch"}[backend]) is None:
            raise ProjectError(f"KERAS_BACKEND={backend}, but {backend} is not installed: "
                             "pip install -r requirements-backends.txt, or leave KERAS_BACKEND "
                             "unset for TensorFlow")
    from experiments.runs.options import configured_count
    configured_count()  # a bad $CROSS_MODALITY_WORKERS stops here, before any work
    if getattr(args, "shard", None) and getattr(args, "workers", None) not in (None, 1):
        raise ProjectError("--workers with --shard: a shard runs in its own process; "
                         "start more shards instead (or leave --shard out and give --workers)")
    if getattr(args, "distribute", "none") == "mirrored" and backend != "tensorflow":
        raise ProjectError(f"--distribute mirrored is TensorFlow's MirroredStrategy; under "
                         f"KERAS_BACKEND={backend} train on one device (leave --distribute out)")
    filters = args.filters or preset.filters
    if filters[-1] < 2 and args.vector_normalization != "never":
        raise ProjectError(f"--filters {','.join(map(str, filters))}: the encoder's last "
                         "layer gives the features, and the feature-vector normalization "
                         "(§II-C) sets a single feature to 0 for every patch; give at least 2 "
                         "(or --vector-normalization never)")
    if args.updates and args.epochs:
        raise ProjectError("give --updates or --epochs, not both")
    out = args.out or default_out(args.dataset, args.phantom, args.preset, args.seed,
                                  out_suffix)
    classes = dict(args.classes)
    select = args.modalities.split(",") if args.modalities else None
    patterns, channels = _modality_patterns(args.modality)
    subjects, phantom_subjects, fetch_options = args.subjects, None, None
    if args.dataset == "synthetic":
        if args.data_dir:
            raise ProjectError("--data-dir is for --dataset oai|brats|folder; the synthetic "
                             "data is written into the run folder")
        if isinstance(subjects, list):
            raise ProjectError("--subjects for the synthetic data is a count")
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
            raise ProjectError(f"--dataset {args.dataset} needs --data-dir")
        data_dir, dataset_preset = args.data_dir, args.dataset
        default_table = {"oai": "oai", "brats": "brats"}.get(args.dataset, "none")
    try:
        spec = data.dataset_spec(dataset_preset, modalities=patterns or None, channels=channels,
                                 label=args.label, mask=args.mask, classes=classes or None,
                                 group_pattern=args.group_pattern, select=select)
    except ValueError as error:
        raise ProjectError(f"{error}") from None
    table = args.published or default_table
    if args.cache_dir:
        cache_dir = args.cache_dir
    elif args.dataset == "synthetic":  # the phantoms live and go with the run folder
        cache_dir = Path(out) / "cache"
    else:
        from data import fetch
        cache_dir = (args.data_root or fetch.default_data_root()) / "prepared"
    check_places(out, cache_dir, bool(args.cache_dir))
    if args.dataset not in ("synthetic", *FETCHED):  # answered now, before TensorFlow starts
        data.require_data_folder(data_dir)
    updates = args.updates or (None if args.epochs else preset.updates)
    epochs = args.epochs or (None if updates else preset.epochs_for(table))
    return Run(
        out=Path(out), dataset=args.dataset, spec=spec, data_dir=Path(data_dir),
        preset=args.preset, published_table=table, filters=filters,
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
        configurations=selected_configurations(getattr(args, "configs", None)),
        command=command_of(script, argv),
        subjects=subjects, phantom_subjects=phantom_subjects, fetch=fetch_options,
        cache_dir=Path(cache_dir), cache_limit_gb=args.cache_limit,
        repeats=getattr(args, "repeats", 1),
        precision="mixed_float16" if args.mixed_precision else "float32",
        verbose=progress_level(args.verbose), distribute=getattr(args, "distribute", "none"),
        checkpoint_every=getattr(args, "checkpoint_every", None))


def progress_level(verbose, stream=None):
    """Keras's progress bar only on a terminal: in a log file its redraws are noise, so
    redirected output gets the per-unit lines only (--verbose 2 stays one line per epoch)."""
    return 0 if verbose == 1 and not on_terminal(stream) else verbose


def add_run_folder(parser):
    """The optional RUN_FOLDER argument of a script that reads a finished run."""
    parser.add_argument("run_folder", nargs="?", type=Path, metavar="RUN_FOLDER",
                        help="a finished run's folder (e.g. runs/synthetic-knee-quick-seed0): "
                        "the run is opened from its run.json, no option retyped; without it, "
                        "the run's own options (as table1.py took them) find it")
    return parser


def opened_run(args, argv, script):
    """The run a reading script works on: recorded in RUN_FOLDER's run.json, or resolved
    from the run's own options (``resolve_run``)."""
    if getattr(args, "run_folder", None) is None:
        return resolve_run(args, argv, script=script)
    if args.out is not None:
        raise ProjectError(f"give the run folder ({args.run_folder}) or --out, not both")
    import dataclasses
    from experiments.runs.run_folder import recorded_run
    # The recorded command made the run; this script's own makes what it writes now.
    return dataclasses.replace(recorded_run(args.run_folder), command=command_of(script, argv))


def command_of(script, argv=None):
    """'python SCRIPT ARGUMENTS…' as typed (quoted for a shell): what a report names as
    the command that made it."""
    return " ".join(["python", script,
                     *(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))])


def run_reader_parser(doc, omit=WRITER_ONLY):
    """The options of a script that reads a finished run: its folder (RUN_FOLDER), or the
    run's own options (they find its folder); --figures-dir; none that deletes, shards or
    distributes."""
    parser = add_run_folder(script_parser(doc, omit))
    parser.add_argument("--figures-dir", type=Path, help="where the MD, CSV and JSON go "
                        "(default: the run folder)")
    return parser


def finished_run(args, argv, name):
    """The Run of ``studies/<name>.py``'s options, refused (nothing written) when its folder
    holds no run."""
    from experiments.runs.run_folder import require_run
    run = opened_run(args, argv, f"studies/{name}.py")
    require_run(run.out, f"{name}.py", "table1.py and the same options")
    return run
