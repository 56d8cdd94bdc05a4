"""The grid of units: preparing a run, running its unfinished units (sharded, with
progress and an ETA), and collecting the finished results."""
import contextlib
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable

import data
import models
from experiments.execution.patch_data import load_patch_data, locate_data, write_phantoms
from experiments.runs.run_folder import (RunFolderError, check_places, check_readable_run,
                                         check_same_dataset,
                                         finished_units, input_identities, open_run_folder,
                                         read_unit_result, unit_dir, unit_label)
from experiments.runs import run_lock
from experiments.execution import unit
from experiments.runs.run import options_sha256
from experiments.runs.options import CallOptions
from experiments.execution.unit import UNITS
from runtime.console import (INTERRUPTED, PREEMPTED, console, format_seconds, on_terminal,
                             say, writing_under)
from runtime.startup import gpu_visible, import_tensorflow_quietly
from runtime.errors import ProjectError, Stopped


def prepare(run, call=CallOptions(), read_only=False, before_opening=None, computes=True):
    """The explicit side effects before any training: the phantoms (synthetic data) or the
    download of a named dataset, the precision policy, the prepared subjects and patches,
    and the checked run folder. ``call``: how this call treats the folder (``CallOptions``:
    a named cache, a shard, waiting, discarding stale units). ``read_only``: a script
    that reads the run, which must exist with unchanged input files; nothing in it is
    written or deleted.
    ``before_opening(patch_data, input_identities)``: a check that may refuse the call
    before the run folder is made or touched (a refused start leaves no folder).
    A start that fails leaves the prepared-volume cache as it found it.
    ``computes=False``: this process only hands the units to worker processes
    (``workers.Plan.delegates``), so TensorFlow does not start in it (several seconds
    before the first worker could start).
    Returns the ``PatchData``."""
    # TensorFlow starts here, after every option and place is checked (resolve_run):
    # --help and mistakes are answered in about a second.
    if computes:
        start_computing(run)
    cache_dir = run.cache_dir or run.out / "cache"
    check_places(run.out, cache_dir, call.cache_named)
    new_folder = not run.out.exists()
    if read_only:  # nothing is written into a folder that holds another run
        check_readable_run(run)
    elif (run.out / "run.json").is_file() and finished_units(run.out):
        check_same_dataset(run)  # no phantoms into a finished run of other data
    if not read_only:  # one writer per run folder, before anything in it is read or written
        writing_under(run.out)
        run_lock.hold(run.out, options_sha256(run), shard=call.shard, wait=call.wait, log=say)
    if run.dataset == "synthetic":
        write_phantoms(run, run.data_dir.name)  # OUT/data/<phantom>
    if run.precision == "mixed_float16" and not gpu_visible():
        say("note: --mixed-precision on a CPU is slower than float32 (float16 kernels are "
            "emulated) and changes the numbers; it is meant for GPUs")
    say(f"run folder: {run.out}")
    cache = data.PreparedCache(cache_dir, limit_gb=run.cache_limit_gb)
    try:
        locate_data(run, log=say)
        # A progress line on a terminal; a log file gets the one summary line.
        patch_data = load_patch_data(
            run, log=say, progress=(lambda i, n, name: say(f"  preparing {i + 1}/{n}: {name}",
                                                           end="\r"))
            if on_terminal() else None, cache=cache)
        console.close_line()
        if before_opening is not None:
            before_opening(patch_data, input_identities(patch_data.input_files,
                                                        hashes=cache.hashes))
        open_run_folder(run, patch_data.input_files,
                        discard_stale=call.discard_stale, keep_command=call.shard,
                        log=say, read_only=read_only, hashes=cache.hashes)
    except BaseException as error:
        cache.discard_new()
        if new_folder and run.out.is_dir() and not finished_units(run.out):
            # This start made the folder (the phantoms, their cache): a start that fails
            # leaves none behind.
            shutil.rmtree(run.out, ignore_errors=True)
        raise
    if not read_only:  # a reader leaves the cache as it found it (its memo, its sizes)
        cache.commit(log=say)
    return patch_data


def start_computing(run):
    """TensorFlow, started quietly, and the run's precision policy: before this process
    builds a network (``prepare``, unless the process only hands its grid to workers;
    the cost probe of a long grid)."""
    import_tensorflow_quietly()
    models.use_mixed_precision(run.precision == "mixed_float16")


def unfinished(run, units, units_folder=UNITS):
    """The (configuration, fold, repeat) units without a valid result."""
    return [(c, f, *r) for c, f, *r in units
            if read_unit_result(unit_dir(run.out, units_folder, c.name, f, *r)) is None]


def all_units(run, fold_count, fold_major=False):
    """(configuration, fold, repeat) for every unit of the run; repeats last, so that a
    partial run has every configuration's first training of every fold first."""
    units = []
    for repeat in range(run.repeats):
        if fold_major:
            units += [(c, f, repeat) for f in range(fold_count) for c in run.configurations]
        else:
            units += [(c, f, repeat) for c in run.configurations for f in range(fold_count)]
    return units


@dataclass(frozen=True)
class Task:
    """One unit of work for ``run_tasks``: its console label, whether it is finished, and
    how to run it (returns the unit's result)."""
    label: str
    finished: Callable[[], bool]
    run: Callable[[], dict]
    directory: object = None  # the unit's folder, where it has one


def run_tasks(tasks, shard, command, out, describe=None, shape="", workers=None):
    """Runs this shard's unfinished ``tasks`` (every N-th, from I) with progress and an
    ETA; Ctrl-C ends with one line naming what is saved in ``out`` and the ``command``
    that resumes. The one grid loop of every script. ``workers`` (a ``workers.Plan`` of
    more than one process): the tasks run in one-thread worker processes instead, each a
    shard of the same command. Returns the number run."""
    if workers is not None and workers.count > 1 and shard == (0, 1):
        from experiments.execution.workers import run_workers
        return run_workers(tasks, workers, command, out, shape)
    mine = [task for index, task in enumerate(tasks) if index % shard[1] == shard[0]]
    todo = [task for task in mine if not task.finished()]
    say(f"{len(tasks)} units{shape}; this call: {len(mine)}, {len(mine) - len(todo)} already "
        f"finished, {len(todo)} to run")
    started = time.perf_counter()
    for done, task in enumerate(todo):
        elapsed = time.perf_counter() - started
        eta = f", ETA {format_seconds(elapsed / done * (len(todo) - done))}" if done else ""
        say(f"[{done + 1}/{len(todo)}] {task.label} (elapsed {format_seconds(elapsed)}{eta})")
        stop = {}
        try:
            with stopping_on_sigterm(stop):
                result = task.run()
        except models.TrainingStopped as stopped:
            console.close_line()
            if stop.get("signal") == signal.SIGINT:  # Ctrl-C saved the training, as SIGTERM
                raise Stopped(f"interrupted (Ctrl-C) in {task.label}: {stopped}. {done} units "
                              f"of this call finished and are saved in {out}. Resume with the "
                              f"same command:\n  {command}", INTERRUPTED) from None
            raise Stopped(f"stopped (SIGTERM) in {task.label}: {stopped}. {done} units of this "
                          f"call finished and are saved in {out}. The same command resumes (a "
                          f"job script requeues on exit status {PREEMPTED}):\n  {command}",
                          PREEMPTED) from None
        except KeyboardInterrupt:
            console.close_line()
            if task.directory is not None and task.directory.is_dir() \
                    and not any(task.directory.iterdir()):
                task.directory.rmdir()  # stopped before it wrote anything: no empty folder
            raise Stopped(f"interrupted (Ctrl-C) in {task.label}: {done} units of this call "
                          f"finished and are saved in {out} ({len(mine) - len(todo) + done} of "
                          f"this call's {len(mine)}). Resume with the same command:\n  "
                          f"{command}", INTERRUPTED) from None
        say(describe(result) if describe else
            f"    same {result['same']:.1f} %, cross {result['cross']:.1f} %"
            + (f" ({format_seconds(result['seconds'])})" if result.get("seconds") else ""))
    return len(todo)


@contextlib.contextmanager
def stopping_on_sigterm(stop=None):
    """SIGTERM (a cluster's warning before it stops or preempts a job) or Ctrl-C
    (SIGINT): a training in progress saves its state and stops at the end of its batch
    (``models.checkpoints``); outside training the unit stops at once (its finished
    trainings' states are kept). Either way ``TrainingStopped`` ends the task; ``stop``
    (a dict) gets the signal under "signal"."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminated(signum, frame):
        if stop is not None:
            stop["signal"] = signum
        if models.TrainingCheckpoint.stop_requested:
            return  # asked already: the training is saving
        if not models.TrainingCheckpoint.request_stop():
            raise models.TrainingStopped("stopped without a training state to save (none "
                                         "in progress, or --checkpoint-every off)")
    previous = {number: signal.signal(number, terminated)
                for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def unit_task(run, configuration, patch_data, fold, repeat=0, run_one=None,
              units_folder=UNITS, label=None):
    """The Task of one (configuration, fold, repeat) unit of ``run``."""
    directory = unit_dir(run.out, units_folder, configuration.name, fold, repeat)
    options = {"repeat": repeat} if repeat else {}
    return Task(label or unit_label(configuration.name, fold, repeat),
                lambda: read_unit_result(directory) is not None,
                lambda: (run_one or unit.run_unit)(run, configuration, patch_data, fold,
                                                   **options), directory)


def run_grid(run, patch_data, shard=(0, 1), run_one=None, units_folder=UNITS, describe=None,
             fold_major=False, units=None, workers=None):
    """Runs every unfinished unit of this shard (of ``units``, default the whole run),
    with progress and an ETA.

    ``fold_major``: all configurations of fold0 first (a partial run then compares every
    configuration on the same folds)."""
    fold_count = len(patch_data.folds)
    repeats = f" x {run.repeats} repeats" if run.repeats > 1 else ""
    shape = f" ({len(run.configurations)} configurations x {fold_count} folds{repeats})"
    if units is not None:
        shape = ""
    units = all_units(run, fold_count, fold_major) if units is None else units
    if run_one is None:  # training units: a long grid says what it will cost first
        from experiments.execution import cost
        mine = [u for index, u in enumerate(units) if index % shard[1] == shard[0]]
        cost.announce(run, patch_data, unfinished(run, mine, units_folder),
                      workers.count if workers is not None and shard == (0, 1) else 1, say)
    tasks = [unit_task(run, configuration, patch_data, fold, repeat, run_one, units_folder)
             for configuration, fold, repeat in units]
    return run_tasks(tasks, shard, run.command, run.out, describe, shape, workers)


def complete_configurations(run, fold_count, explicit):
    """``run`` narrowed to the configurations whose units are finished on every fold (and
    repeat), so that every row of a report that reads the run rests on the same folds.
    ``explicit`` (--configs given): an unfinished one is an error naming its units;
    otherwise the unfinished ones are left out with a line naming them."""
    import dataclasses
    missing = {}
    for configuration, fold, repeat in all_units(run, fold_count):
        if read_unit_result(unit_dir(run.out, UNITS, configuration.name, fold, repeat),
                            verify=False, consequence="it counts as missing") is None:
            missing.setdefault(configuration.name, []).append(
                unit_label(configuration.name, fold, repeat))
    labels = [label for found in missing.values() for label in found]
    listed = f"{', '.join(labels[:4])}{' …' if len(labels) > 4 else ''}"
    if missing and explicit:
        raise ProjectError(f"{len(labels)} units of {run.out} are not finished "
                         f"({listed}); finish them with table1.py and the same options, or "
                         "leave their configurations out of --configs")
    complete = [c for c in run.configurations if c.name not in missing]
    if not complete:
        raise ProjectError(f"no configuration of {run.out} is finished on every fold "
                         f"({len(labels)} units missing: {listed}); finish the run with "
                         "table1.py first")
    if missing:
        say(f"left out {len(missing)} configurations not finished on every fold "
            f"({', '.join(missing)}): {len(labels)} units missing ({listed})")
    return dataclasses.replace(run, configurations=complete)


def check_unit_options(run, directory, result):
    """A unit made with other options (its result.json records their SHA-256) is never
    counted in this run's tables; units older than the record are taken as the run's."""
    recorded = result.get("options_sha256")
    if recorded is not None and recorded != options_sha256(run):
        raise RunFolderError(
            f"unit {directory} was made with other options than this run's (its result.json "
            "records another options_sha256): the folder mixes two runs. Remove that unit "
            "folder to train it again with this run's options, or give another --out")


def collect(run, fold_count, units_folder=UNITS):
    """Per configuration: the results of its finished units (each with "fold" and
    "repeat"), in fold then repeat order; and the units still missing."""
    results = {configuration.name: [] for configuration in run.configurations}
    missing = []
    for configuration, fold, repeat in sorted(all_units(run, fold_count),
                                              key=lambda u: (u[1], u[2])):
        directory = unit_dir(run.out, units_folder, configuration.name, fold, repeat)
        result = read_unit_result(directory, verify=False, consequence="it counts as missing")
        if result is None:
            missing.append(unit_label(configuration.name, fold, repeat))
        else:
            check_unit_options(run, directory, result)
            results[configuration.name].append({"repeat": repeat, **result})
    return results, missing
