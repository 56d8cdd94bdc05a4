"""A study of Table I runs under several variants of one run (readings of the paper,
representation widths): one run folder per variant, its units interleaved repeat by
repeat, every variant in turn, so a study stopped part way already compares every
variant on the same folds and repeats.

A variant's units live in ``(run, units folder)``; ``locate(name)`` says where, and with
which step they are made (``unit.run_unit`` trains; a recalibrated reading recomputes
from another variant's networks).
"""
from pathlib import Path

import numpy as np

from experiments.execution import grid, workers
from experiments.runs import command_line
from experiments.runs.run_folder import (open_run_folder, read_unit_result, require_run,
                                         unit_dir, unit_label)


def study_units(names, configurations, fold_count, repeats):
    """(variant, configuration, fold, repeat), repeat by repeat, every variant in turn."""
    return [(name, configuration, fold, repeat) for repeat in range(repeats) for name in names
            for fold in range(fold_count) for configuration in configurations]


def run_study(units, locate, patch_data, shard, command, out, worker_plan=None):
    """Every unfinished unit of this shard, through the one grid loop (``grid.run_tasks``:
    progress, ETA, Ctrl-C with the command that resumes). ``locate(name)`` gives a
    variant's (run, units folder, step)."""
    tasks = []
    for name, configuration, fold, repeat in units:
        run, units_folder, step = locate(name)
        tasks.append(grid.unit_task(run, configuration, patch_data, fold, repeat, step,
                                    units_folder, f"{name}: "
                                    f"{unit_label(configuration.name, fold, repeat)}"))
    grid.run_tasks(tasks, shard, command, out,
                   describe=lambda r: f"    same {r['same']:.1f} %, cross {r['cross']:.1f} %",
                   workers=worker_plan)


def collected(run, units_folder, configurations, fold_count, repeats):
    """{configuration: [unit results]} of one variant (finished units only)."""
    results = {}
    for configuration in configurations:
        results[configuration.name] = [
            {"repeat": repeat, **result} for fold in range(fold_count)
            for repeat in range(repeats)
            if (result := read_unit_result(unit_dir(run.out, units_folder, configuration.name,
                                                    fold, repeat), verify=False)) is not None]
    return results


def separation_means(name, results, key="reading"):
    """Per row of one variant: mean over units of (offset, AUC) of the modalities' test
    features, as every unit records them (``features.modality_separation``)."""
    rows = []
    for configuration_name, per_unit in results.items():
        values = [r["modality_separation"] for r in per_unit if "modality_separation" in r]
        if values:
            rows.append({key: name, "configuration": configuration_name,
                         "trainings": len(values),
                         "offset_in_pooled_sd": round(float(np.mean([v[0] for v in values])), 3),
                         "single_feature_auc": round(float(np.mean([v[1] for v in values])), 3)})
    return rows


def add_study_options(parser):
    """The options every variant study adds to the run's: where its files go, and a
    report of what is finished without training."""
    parser.add_argument("--figures-dir", type=Path, help="where the MD, CSV and PNG go "
                        "(default: the study folder)")
    parser.add_argument("--report-only", action="store_true",
                        help="train nothing: report the units finished so far")


def prepare_study(base, args, script_name, make_runs, log):
    """(patch data, {variant: Run}): the data, its cache and OUT/run.json once, then each
    variant's run folder opened; --report-only requires a finished run and writes nothing
    into the folder (not even the variants' run.json). ``make_runs(base)`` gives the runs."""
    if args.report_only:
        require_run(base.out, f"{script_name} --report-only", "the same command without "
                    "--report-only")
    patch_data = grid.prepare(base, command_line.call_options(args), read_only=args.report_only)
    runs = make_runs(base)
    if not args.report_only:
        for run in runs.values():
            open_run_folder(run, patch_data.input_files,
                            discard_stale=args.discard_stale_units, log=log)
    return patch_data, runs


def train(names, locate, base, patch_data, args, argv, script):
    """Every unfinished unit of the study (this call's shard, in its worker processes)."""
    run_study(study_units(names, base.configurations, len(patch_data.folds), base.repeats),
              locate, patch_data, command_line.parse_shard(args.shard), base.command, base.out,
              workers.plan(args, argv, script))
