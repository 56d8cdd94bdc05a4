"""A run folder (the ``Run`` itself is in ``run.py``): what was run, on which input
files, and which units are finished.

    OUT/run.json                         the arguments that fix the results, and the
                                         identity of every input file (path, size,
                                         modification time, SHA-256)
    OUT/cache/                           the synthetic phantoms' prepared volumes (other
                                         data: one cache per data root, ``run.cache_dir``)
    OUT/units/<configuration>/fold<k>/   model*.keras, features.npz, result.json (last)

A unit counts as finished only when its ``result.json`` reads and every file it lists
is there with the recorded size and SHA-256. A rerun whose input files changed is
refused (nothing is deleted) unless ``discard_stale`` is given: every unit depends on
every subject's data (each subject is in the training or the test part of each fold).
"""
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

from runtime.files import atomic_write_text, checksum_of_file
from runtime.errors import ProjectError

RUN_FILE = "run.json"
RUN_FILE_VERSION = 2


# -- files ----------------------------------------------------------------------------------
def file_identity(path, known=None, hashes=None):
    """{size, mtime_ns, sha256}. With ``hashes`` (a ``FileHashes`` memo, which notices a
    rewrite that kept size and mtime) its SHA-256; else ``known``'s when size and mtime
    agree, or a fresh one."""
    status = os.stat(path)
    identity = {"size": status.st_size, "mtime_ns": status.st_mtime_ns}
    if hashes is not None:
        return {**identity, "sha256": hashes.sha256(path)}
    if known and {k: known.get(k) for k in identity} == identity:
        return {**identity, "sha256": known["sha256"]}
    return {**identity, "sha256": checksum_of_file(path, "sha256")}


def input_identities(paths, known=None, hashes=None):
    """{resolved path: identity} of the input files (hashing only what may have changed)."""
    known = known or {}
    result = {}
    for path in sorted({str(Path(p).resolve()) for p in paths}):
        result[path] = file_identity(path, known.get(path), hashes)
    return result


# -- run.json -------------------------------------------------------------------------------
class RunFolderError(ProjectError):
    """A run folder that cannot be used as asked; the message says how to proceed."""


def check_writable(out, option="--out", purpose="the run"):
    """Fails with one line, before anything is computed, when ``out`` cannot be a folder
    that this process writes (``option`` names where it came from, ``purpose`` what it is
    for): an existing file (or one above it), or a place this user cannot write
    (read-only mount, mode). Creates nothing: a start that fails later leaves no folder."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"{option} {out} is a file, not a folder; give a folder for "
                             f"{purpose}")
    existing = next(place for place in (out, *out.absolute().parents) if place.exists())
    if not existing.is_dir():
        raise RunFolderError(f"{option} {out} cannot be a folder: {existing} is a file; give "
                             f"another folder for {purpose}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise RunFolderError(f"{option} {out} cannot be written ({existing} is not writable "
                             f"by this user); give a folder you can write to for {purpose}")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise RunFolderError(f"{option} {out} cannot be written ({error.strerror or error}); "
                             f"give a folder you can write to for {purpose}") from None


def check_places(out, cache_dir, cache_given):
    """The run folder and the prepared-volume cache can be folders this process writes
    (checked again by ``grid.prepare``; here, before TensorFlow starts)."""
    check_writable(out)
    check_writable(cache_dir, "--cache-dir" if cache_given else
                   "the prepared-volume cache (--cache-dir; default DATA_ROOT/prepared, "
                   "DATA_ROOT from --data-root or $CROSS_MODALITY_DATA)", "the prepared volumes")


def require_run(out, reader, how_to_make):
    """Fails with one line when ``out`` holds no run (no run.json): ``reader`` (a script
    that reads a finished run) then writes nothing, not even the folder."""
    if not (Path(out) / RUN_FILE).is_file():
        raise RunFolderError(f"{out} holds no run (no {RUN_FILE}): {reader} reads a run that "
                             f"exists; check --out and the run's options, or make it with "
                             f"{how_to_make}")


def open_run_folder(run, input_files, discard_stale=False, log=print, read_only=False,
                    hashes=None, keep_command=False):
    """Creates OUT/run.json, or checks that the folder's run matches this one.

    Refuses a folder made with other arguments, and one whose input files changed,
    naming them; with ``discard_stale`` the finished units of changed data are deleted
    and the run starts afresh on the new data. ``read_only`` (a script that reads the
    run): the folder must hold this run on unchanged files, and nothing in it is
    written, replaced or deleted. ``hashes``: a ``runtime.files.FileHashes`` memo, so
    that the SHA-256 recorded here is the one the prepared-volume cache was keyed by.
    ``keep_command`` (a --shard call, such as a worker process): the command recorded by
    the call that made the run stays the run's command.
    """
    if discard_stale and read_only:
        raise ValueError("a read-only use of a run folder never discards its units")
    if not read_only:
        run.out.mkdir(parents=True, exist_ok=True)
    path = run.out / RUN_FILE
    fingerprint = run.fingerprint()
    stored = None
    if read_only and not path.exists():
        raise RunFolderError(f"{run.out} holds no run (no {RUN_FILE}); check --out and the "
                             "run's options")
    if path.exists():
        stored = read_run_file(path)
        arguments = recorded_arguments(stored)
        if (canonical(arguments) != canonical(fingerprint) and not finished_units(run.out)
                and not read_only):
            # Nothing was computed under the old arguments (a start that failed): the
            # folder takes the new ones.
            log(f"{run.out} has no finished unit: its run.json is replaced by this run's "
                "(and the training states of the old options are removed)")
            shutil.rmtree(run.out / TRAINING_STATES, ignore_errors=True)
            stored = None
        elif canonical(arguments) != canonical(fingerprint):
            refuse_other_arguments(run, arguments, fingerprint)
    known = stored.get("inputs", {}) if stored else {}
    inputs = input_identities(input_files, known, hashes)
    if stored:
        changes = describe_changes(known, inputs)
        if changes:
            finished = finished_units(run.out)
            listed = "; ".join(changes[:8]) + (" …" if len(changes) > 8 else "")
            if read_only:
                raise RunFolderError(
                    f"the input files of {run.out} changed since its {len(finished)} finished "
                    f"units were made: {listed}. This script only reads the run and changes "
                    "nothing in it: restore the files, or make the run again on the new data "
                    "with table1.py (another --out keeps both)")
            if not finished:
                # Nothing was computed on the old files (a start that failed): nothing to
                # keep or discard, the folder takes the new files.
                log(f"{run.out} has no finished unit: its input files are recorded anew")
            elif not discard_stale:
                raise RunFolderError(
                    f"the input files of {run.out} changed since its {len(finished)} finished "
                    f"units were made: {listed}. Every unit depends on every subject's data, so "
                    "none can be reused. Give another --out to keep both runs, or add "
                    "--discard-stale-units to delete the finished units and start again on the "
                    "new data.")
            else:
                log(f"input files changed ({len(changes)}): discarding {len(finished)} "
                    f"finished units of the old data in {run.out}")
                for directory in finished:
                    shutil.rmtree(directory)
                for name in ("table1.md", "table1.csv", "table1.json", "table1_pairs.csv",
                             "table1_pairs.png", "table1_claims.csv",
                             "table1_feature_scale.csv"):
                    (run.out / name).unlink(missing_ok=True)
            # Trainings in progress on the old files never resume on the new ones.
            shutil.rmtree(run.out / TRAINING_STATES, ignore_errors=True)
    if not read_only:
        from experiments.runs.run import run_record
        record = run_record(run)
        if keep_command and stored and stored.get("run", {}).get("command"):
            record["command"] = stored["run"]["command"]
        atomic_write_text(path, json.dumps({"version": RUN_FILE_VERSION,
                                            "arguments": fingerprint, "inputs": inputs,
                                            "run": record}, indent=2))


def refuse_other_arguments(run, arguments, fingerprint, reader=False):
    """The error for a folder whose run.json holds ``arguments`` other than this run's
    ``fingerprint``, naming the options that differ as a user gives them (``reader``: a
    script that reads the run and resumes nothing)."""
    before, after = canonical(arguments), canonical(fingerprint)
    changed = sorted(k for k in set(before or {}) | set(after)
                     if (before or {}).get(k) != after.get(k))
    if changed == ["modality_order"]:
        raise RunFolderError(
            f"{run.out} holds a run of the modalities in the order "
            f"{', '.join(before['modality_order'])}, this call gives "
            f"{', '.join(after['modality_order'])}: features and figures are indexed "
            "by position, so give the --modality options (or --modalities) in the run's "
            "order, or another --out")
    if "arithmetic_version" in changed:
        raise RunFolderError(
            f"{run.out} holds a run computed under arithmetic version "
            f"{(before or {}).get('arithmetic_version', 'before 3')}; this code computes version "
            f"{after['arithmetic_version']} (docs/design.md), whose round-off gives other "
            "networks, so their units never share a folder. Give another --out to make the "
            "run under this version; the folder is kept as it is")
    advice = ("give the run's own arguments (its table1.md header shows the command that "
              "made it), or the --out of the run you mean" if reader else
              "its finished units are kept. Give another --out, or the same arguments to "
              "resume")
    raise RunFolderError(
        f"{run.out} holds a run made with other arguments (they differ in: "
        f"{', '.join(option_names(changed, before, after))}); {advice}.")


def read_run_file(path):
    """run.json's contents, or the one error naming it."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise RunFolderError(f"{path} cannot be read ({error}); give another --out") from None


def recorded_arguments(stored):
    """The arguments a run.json of this version records (None for an older version)."""
    return stored.get("arguments") if stored.get("version") == RUN_FILE_VERSION else None


def recorded_run(folder):
    """The Run recorded in ``folder``'s run.json, opened where the folder is now: a
    finished run read by its folder, without retyping an option. A folder made before
    runs recorded their settings gets an error with the remedy."""
    folder = Path(folder)
    path = folder / RUN_FILE
    if not folder.is_dir():
        raise RunFolderError(f"{folder} is not a folder: give the folder of a run (e.g. "
                             "runs/synthetic-knee-quick-seed0)")
    if not path.is_file():
        raise RunFolderError(f"{folder} holds no run (no {RUN_FILE}): give the folder a "
                             "table1.py run wrote (its --out)")
    stored = read_run_file(path)
    if "run" not in stored:
        raise RunFolderError(
            f"{path} was written before run folders recorded their settings: rerun the "
            "table1.py command that made it (its table1.md header names it; it trains "
            "nothing that is finished, and records them), or give this script that run's "
            "options with --out instead of the folder")
    from experiments.runs.run import run_from_record
    try:
        return run_from_record(stored["run"], out=folder)
    except (KeyError, TypeError, ValueError) as error:
        raise RunFolderError(f"{path}: its recorded run cannot be read ({error})") from None


def check_same_dataset(run):
    """Before a writer prepares data in a folder of finished units: the folder's run reads
    the same kind of data (else the error of other arguments, before any phantom or
    cache is written there)."""
    try:
        stored = read_run_file(run.out / RUN_FILE)
    except RunFolderError:
        return  # open_run_folder names an unreadable run.json
    arguments = stored.get("arguments") or {}
    if arguments.get("dataset") not in (None, run.dataset):
        refuse_other_arguments(run, arguments, run.fingerprint())


def check_readable_run(run, reader=True):
    """Before a script that reads a run writes or prepares anything: the folder holds a
    run (run.json) made with this run's arguments; else the error, with nothing created
    in the folder (no phantom, no cache)."""
    path = run.out / RUN_FILE
    if not path.is_file():
        raise RunFolderError(f"{run.out} holds no run (no {RUN_FILE}); check --out and the "
                             "run's options")
    arguments = recorded_arguments(read_run_file(path))
    fingerprint = run.fingerprint()
    if canonical(arguments) != canonical(fingerprint):
        refuse_other_arguments(run, arguments, fingerprint, reader=reader)


TRAINING_STATES = "training-states"  # OUT/training-states: trainings in progress (unit.py)


# Recorded keys that are not an option's name: what a user changed to change them.
KEY_OPTIONS = {"preset_folds": "--preset (its folds)", "classes": "--class",
               "label": "--label", "mask": "--mask", "modalities": "--modality",
               "group_pattern": "--group-pattern", "channels": "--modality (#channel)",
               "precision": "--mixed-precision", "batch_size": "--preset (its batch size)",
               "trees": "--preset (its trees)",
               "keras_backend": "the Keras backend (KERAS_BACKEND)",
               "reading": "the model reading (--vector-normalization, --last-block, "
                          "--dropout-distribution, --recalibrate-statistics)"}


def option_names(changed, before, after):
    """The changed keys of run.json as a user knows them: the dataset spec's own keys
    (--class, --label, …) rather than "spec", options by their flag."""
    names = []
    for key in changed:
        if key == "spec":
            old, new = (before or {}).get("spec") or {}, after.get("spec") or {}
            keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            names += [KEY_OPTIONS.get(k, f"the dataset's {k}") for k in keys] or ["the dataset"]
        else:
            names.append(KEY_OPTIONS.get(key, "--" + key.replace("_", "-")))
    return list(dict.fromkeys(names))


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
    # Features, accuracies and figures are indexed by the modalities' positions: the order
    # is part of the run (a dict comparison alone would ignore it).
    return {**arguments, "spec": spec, "modality_order": list(spec.get("modalities", {}))}


def describe_changes(before, after):
    changes = [f"{p} changed" for p in sorted(set(before) & set(after))
               if before[p]["sha256"] != after[p]["sha256"] or before[p]["size"] != after[p]["size"]]
    changes += [f"{p} is new" for p in sorted(set(after) - set(before))]
    changes += [f"{p} is gone" for p in sorted(set(before) - set(after))]
    return changes


# -- units ----------------------------------------------------------------------------------
def unit_label(name, fold, repeat=0):
    """<configuration>/fold<k>[-repeat<r>]: how the console and the folders name a unit
    (folds and repeats counted from 0, as in the folder names)."""
    return f"{name}/fold{fold}" + (f"-repeat{repeat}" if repeat else "")


def unit_dir(out, units_folder, name, fold, repeat=0):
    """OUT/<units folder>/<configuration>/fold<k>, or fold<k>-repeat<r> for repeated trainings."""
    return Path(out) / units_folder / unit_label(name, fold, repeat)


def finished_units(out):
    return sorted(p.parent for p in Path(out).glob("*/*/fold*/result.json"))


def write_unit_result(directory, result):
    """result.json, last and atomically, with the size and SHA-256 of the unit's files."""
    files = {p.name: {"size": p.stat().st_size, "sha256": checksum_of_file(p, "sha256")}
             for p in sorted(Path(directory).iterdir())
             if p.is_file() and p.name != "result.json" and ".tmp" not in p.name}
    atomic_write_text(Path(directory) / "result.json", json.dumps({**result, "files": files},
                                                                   indent=2))


def read_unit_result(directory, verify=True, consequence="it will be trained again"):
    """The unit's result, or None when it is missing, incomplete or damaged (a warning
    names what is wrong and ``consequence``: what the caller does about it)."""
    path = Path(directory) / "result.json"
    if not path.exists():
        if Path(directory).is_dir() and any(Path(directory).iterdir()):
            # A shard that is still training it looks the same as one that was stopped.
            return _damaged(directory, "no result.json: it was stopped before it finished, "
                            "or another process is still training it", consequence,
                            state="unfinished")
        return None
    try:
        result = json.loads(path.read_text())
        files = result["files"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        return _damaged(directory, f"result.json cannot be read ({error})", consequence)
    for name, recorded in files.items():
        file = Path(directory) / name
        if not file.exists():
            return _damaged(directory, f"{name} is missing", consequence)
        if file.stat().st_size != recorded["size"]:
            return _damaged(directory, f"{name} has {file.stat().st_size} bytes, not "
                            f"{recorded['size']}", consequence)
        if verify and checksum_of_file(file, "sha256") != recorded["sha256"]:
            return _damaged(directory, f"{name} does not have its recorded SHA-256",
                            consequence)
    return result


_warned = set()  # (unit, problem) already said in this process: said once, not per look


def _damaged(directory, problem, consequence, state="damaged"):
    key = (str(directory), problem, consequence)
    if key not in _warned:
        _warned.add(key)
        warnings.warn(f"unit {directory} is {state} ({problem}); {consequence}", stacklevel=3)
    return None


def clear_unit(directory):
    """Empties a unit folder before it is (re)trained."""
    directory = Path(directory)
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
