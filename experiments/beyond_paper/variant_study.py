"""A study of Table I runs under several variants of one run (readings of the paper,
representation widths): one run folder per variant, its units interleaved repeat by
repeat, every variant in turn, so a study stopped part way already compares every
variant on the same folds and repeats.

A variant's units live in ``(run, units folder)``; ``locate(name)`` says where, and with
which step they are made (``unit.run_unit`` trains; a recalibrated reading recomputes
from another variant's networks).
"""
import numpy as np

from experiments.execution import grid
from experiments.runs.run_folder import read_unit_result, unit_dir, unit_label


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
