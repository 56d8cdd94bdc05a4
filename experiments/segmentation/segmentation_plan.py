"""What one ``segment.py`` call will do, decided before any work: the units (from --unit
folders and globs), where each unit's maps go, the labelled scans of each unit's forest,
its targets, and for every map the record of what makes it (kept when it matches, a
difference stops the call naming it) and the target's role."""
import glob
from pathlib import Path

import data
from experiments.runs.run_folder import RUN_FILE
from experiments.segmentation import segmentation_records as records
from runtime.errors import ProjectError


def names(text):
    return [name.strip() for name in text.split(",") if name.strip()] if text else None


def unit_folders(patterns):
    """The folders the --unit options name; a pattern (absolute or relative) that names
    nothing is an error, even beside one that does."""
    folders = []
    for pattern in patterns:
        if glob.has_magic(pattern):
            found = sorted(Path(p) for p in glob.glob(pattern))
            if not found:
                raise ProjectError(f"--unit {pattern} matches no folder")
            folders += found
        else:
            folders.append(Path(pattern))
    folders = list(dict.fromkeys(folders))
    for folder in folders:  # before TensorFlow starts: a typo is answered in a second
        check_unit_folder(folder)
    return folders


def check_unit_folder(directory):
    """A clear error for a --unit that is a run folder, or no folder with a result.json
    (whether that result is valid is ``segmentation.load_unit``'s check)."""
    if (directory / RUN_FILE).exists():
        raise ProjectError(f"{directory} is a run folder, not a unit: name its units, "
                           f"e.g. {directory / 'units' / 'dropout+norm-a0' / 'fold0'} (a glob "
                           "such as 'OUT/units/*-a0/fold*' names several)")
    if not (directory / "result.json").is_file():
        raise not_a_unit(directory)


def not_a_unit(directory):
    return ProjectError(f"{directory} is not a finished unit (no valid result.json "
                        "beside its network): train it with table1.py and the same run "
                        "options (e.g. --configs dropout+norm-a0 --out OUT), then name "
                        "OUT/units/<configuration>/fold<k>")


def maps_folder(out, unit):
    """OUT/<run folder>-<run id>/<configuration>/<fold>: keyed by what the unit's run is
    (``segmentation.run_id``), so units of different runs never share one, even across
    calls and when their run folders have the same name."""
    return (Path(out) / f"{run_name(unit)}-{unit.run_id}" / unit.configuration /
            unit.directory.name)


def run_name(unit):
    """The name of the unit's run folder (OUT/units/<configuration>/<fold>)."""
    return unit.directory.resolve().parents[2].name


def plan(args, units, labelled_files):
    """Every (unit, labelled scans, targets) of this call, with the record of each map,
    checked before any work: a kept map made under other options stops the call, naming
    the difference. Returns [(unit, [labelled ScanFiles], {subject: identity},
    [(files, modality, record, role, keep)])]."""
    checksums = records.Checksums()
    options = {"labelled_modality": args.labelled[0], "classes": dict(args.classes),
               "patches_per_class": args.patches_per_class, "trees": args.trees,
               "seed": args.seed, "prior": args.prior}
    known = [f.subject for f in labelled_files]
    asked = names(args.labelled_subjects)
    if asked is not None and not asked:
        raise ProjectError("--labelled-subjects names no subject")
    unknown = [name for name in asked or [] if name not in known]
    if unknown:
        raise ProjectError(f"--labelled-subjects {', '.join(unknown)}: no "
                         f"{args.labelled[1]!r} scan under {args.data_dir}; found "
                         f"{', '.join(known[:8]) or 'none'}")
    steps, folders, conflicts = [], {}, []
    for unit in units:
        folder = maps_folder(args.out, unit)
        other = folders.setdefault(folder, unit.directory.resolve())
        if other != unit.directory.resolve():
            raise ProjectError(f"units {other} and {unit.directory} would share the map "
                             f"folder {folder}: give them in separate calls with other --out")
        chosen = asked or [name for name in known if name not in unit.test_subjects]
        scans = [f for f in labelled_files if f.subject in chosen]
        if not scans:
            raise ProjectError(f"{unit.name}: no labelled subject is left for the forest "
                             f"(every scan under {args.data_dir} is one of its test subjects); "
                             "give --labelled-subjects")
        labelled = {f.subject: records.scan_identity(f, checksums) for f in scans}
        targets = names(args.target_subjects) or (None if args.target_dir else unit.test_subjects)
        work = []
        for modality, pattern in args.target:
            for files in data.find_scans(args.target_dir or args.data_dir, pattern,
                                         args.target_label or args.label, args.mask,
                                         subjects=targets):
                target = records.scan_identity(files, checksums)
                record = records.maps_record(unit, labelled, target, modality, options)
                kept = records.kept_record(folder / files.subject, modality)
                keep = kept == record and all(
                    (folder / files.subject / f"{modality}_{kind}.nii.gz").exists()
                    for kind in ("probability", "labels"))
                if kept is not None and kept != record:
                    conflicts.append((folder / files.subject / f"{modality}_maps.json",
                                      records.differences(kept, record)))
                role = records.target_role(unit, files.subject, target, labelled)
                work.append((files, modality, record, role, keep))
        steps.append((unit, scans, labelled, work))
    if conflicts:
        path, changed = conflicts[0]
        more = f" (and {len(conflicts) - 1} more maps)" if len(conflicts) > 1 else ""
        raise ProjectError(f"{path.parent} holds maps made under other options{more}: "
                         f"{'; '.join(changed[:6])}. Give another --out, or delete those maps "
                         "to make them again under these options")
    return steps
