"""The grid of units: preparing a run, running its unfinished units (sharded, with
progress and an ETA), and collecting the finished results."""
import platform
import time

import data
import models
from reproduce.command_line import console, say
from reproduce.patch_data import load_patch_data, locate_data, write_phantoms
from reproduce.run_folder import open_run_folder, read_unit_result, unit_dir
from reproduce import unit
from reproduce.unit import UNITS


def prepare(run, args):
    """The explicit side effects before any training: the phantoms (synthetic data) or the
    download of a named dataset, the precision policy, the prepared subjects and patches,
    and the checked run folder.
    Returns the ``PatchData``."""
    if run.dataset == "synthetic":
        write_phantoms(run, args.phantom)
    models.training.use_mixed_precision(run.precision == "mixed_float16")
    say(f"run folder: {run.out}")
    try:
        locate_data(run, log=say)
        patch_data = load_patch_data(
            run, log=say, progress=lambda i, n, name: say(f"  preparing {i + 1}/{n}: {name}",
                                                          end="\r"))
    except data.DataError as error:
        console.fail(str(error))
    console.close_line()
    open_run_folder(run, patch_data.input_files, discard_stale=args.discard_stale_units, log=say)
    return patch_data


def unfinished(run, units, kind=UNITS):
    return [(c, f) for c, f in units if read_unit_result(unit_dir(run.out, kind, c.name, f)) is None]


def run_grid(run, patch_data, shard=(0, 1), run_one=None, kind=UNITS, describe=None,
             fold_major=False):
    """Runs every unfinished unit of this shard, with progress and an ETA.

    ``fold_major``: all configurations of fold 1 first (a partial run then compares every
    configuration on the same folds)."""
    fold_count = len(patch_data.folds)
    units = [(c, f) for f in range(fold_count) for c in run.configurations] if fold_major \
        else [(c, f) for c in run.configurations for f in range(fold_count)]
    mine = [unit for i, unit in enumerate(units) if i % shard[1] == shard[0]]
    todo = unfinished(run, mine, kind)
    say(f"{len(units)} units ({len(run.configurations)} configurations x {fold_count} folds); "
        f"this call: {len(mine)}, {len(mine) - len(todo)} already finished, {len(todo)} to run")
    started = time.perf_counter()
    for done, (configuration, fold) in enumerate(todo):
        elapsed = time.perf_counter() - started
        eta = f", ETA {format_seconds(elapsed / done * (len(todo) - done))}" if done else ""
        say(f"[{done + 1}/{len(todo)}] {configuration.name} fold {fold + 1}/{fold_count} "
            f"(elapsed {format_seconds(elapsed)}{eta})")
        result = (run_one or unit.run_unit)(run, configuration, patch_data, fold)
        say(describe(result) if describe else
            f"    same {result['same']:.1f} %, cross {result['cross']:.1f} % "
            f"({format_seconds(result['seconds'])})")
    return len(todo)


def collect(run, fold_count, kind=UNITS):
    """Per configuration: its per-fold results; and the units still missing."""
    results, missing = {}, []
    for configuration in run.configurations:
        per_fold = []
        for fold in range(fold_count):
            result = read_unit_result(unit_dir(run.out, kind, configuration.name, fold),
                                      verify=False)
            if result is None:
                missing.append(f"{configuration.name} fold {fold + 1}")
            else:
                per_fold.append(result)
        results[configuration.name] = per_fold
    return results, missing


def format_seconds(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else \
        f"{seconds // 60}m{seconds % 60:02d}s"


def versions():
    import h5py
    import keras
    import nibabel
    import numpy
    import sklearn
    import tensorflow
    return {"python": platform.python_version(), "keras": keras.__version__,
            "tensorflow": tensorflow.__version__, "numpy": numpy.__version__,
            "scikit-learn": sklearn.__version__, "nibabel": nibabel.__version__,
            "h5py": h5py.__version__}
