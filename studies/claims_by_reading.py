#!/usr/bin/env python3
"""Which reading of the paper reproduces its claims (beyond the paper): the rows the
claims rest on, trained under each reading of what the paper leaves open, with a
verdict on every claim per reading and the mechanism behind normalization measured.

    python studies/claims_by_reading.py --dataset open-ms --modalities FLAIR,T2 \\
        --subjects patient07,patient19,patient26 \\
        --patches-per-class 500 --epochs 8 --momentum 0.99 --folds 3 --repeats 4

Readings: without the §II-C feature-vector normalization (the model before it was
implemented); the default; both with statistics recalibrated after training (computed
from the same networks); the encoder's last block LeakyReLU only, or linear; and, with
three or more modalities, modality dropout by count. Rows (--configs): plain, norm,
dropout and dropout+norm at α = 0 and 0.1, and the all-modalities baseline.

Each reading is a Table I run folder under OUT/readings/<reading>/ (units resume;
--shard I/N as for table1.py); units run repeat by repeat, every reading in turn, so a
partial study already compares every reading. Writes claims_by_reading.md / .csv /
.png (reading × claim → difference, interval, verdict),
claims_by_reading_mechanism.csv (per reading and row: the mean per-feature offset
between modalities in pooled SDs and the mean single-feature AUC for telling the
modalities apart, on test patches), claims_by_reading_gap.csv (the central gap,
dropout + normalization − dropout, per reading and against the default reading, paired
by fold and training) and claims_by_reading_mechanism_by_unit.csv (every saved
network's feature offsets and scales between modalities before and after its
normalization, and its last batch normalization's γ and β gaps) into OUT, or
--figures-dir.
"""
import dataclasses
from pathlib import Path

from runtime.console import run_script, script_main

import numpy as np

from experiments.statistics import claims
from experiments.runs import command_line, run_lock
from experiments.execution import grid, unit, workers
from experiments.beyond_paper import reading_mechanism, reading_report
from experiments.beyond_paper.recalibrated_units import RECALIBRATED_UNITS, recalibrated_unit
from experiments.runs.run_folder import (open_run_folder, read_unit_result, require_run,
                                         unit_dir, unit_label)
from runtime.console import say

NAME = reading_report.NAME
DEFAULT_CONFIGURATIONS = ("plain-a0,norm-a0,dropout-a0,dropout+norm-a0,plain-a0.1,norm-a0.1,"
                          "dropout-a0.1,dropout+norm-a0.1,baseline-all")
# name: (Run fields of a trained reading, or the trained reading it recalibrates)
READINGS = {
    "without-vector-normalization": {"vector_normalization": "never"},
    "default": {},
    "without-vector-normalization-recalibrated": "without-vector-normalization",
    "default-recalibrated": "default",
    "last-block-lrelu": {"last_block": "lrelu"},
    "last-block-linear": {"last_block": "linear"},
    "dropout-by-count": {"dropout_distribution": "uniform-count"},  # three or more modalities
}


def chosen_readings(text, modality_count):
    names = [n.strip() for n in text.split(",") if n.strip()] if text else [
        n for n in READINGS if n != "dropout-by-count" or modality_count >= 3]
    unknown = [n for n in names if n not in READINGS]
    if unknown or not names:
        raise SystemExit(f"error: --readings {unknown or text!r}: choose from "
                         f"{', '.join(READINGS)}")
    for name in names:  # a recalibrated reading needs the networks it recalibrates
        source = READINGS[name]
        if isinstance(source, str) and source not in names:
            names.insert(names.index(name), source)
    return list(dict.fromkeys(names))


def reading_runs(base, names):
    """{reading: Run} — a Table I run folder per trained reading; recalibrated readings
    use the run of the reading they recalibrate."""
    runs = {}
    for name in names:
        options = READINGS[name]
        if isinstance(options, dict):
            runs[name] = dataclasses.replace(base, out=base.out / "readings" / name, **options)
    return runs


def study_units(runs, names, configurations, fold_count, repeats):
    """(reading, configuration, fold, repeat), repeat by repeat, every reading in turn."""
    return [(name, configuration, fold, repeat) for repeat in range(repeats) for name in names
            for fold in range(fold_count) for configuration in configurations]


def where(runs, name):
    """(run, units folder) of a reading's units."""
    source = READINGS[name]
    return (runs[source], RECALIBRATED_UNITS) if isinstance(source, str) else \
        (runs[name], unit.UNITS)


def run_study(runs, patch_data, units, shard, command, out, worker_plan=None):
    """Every unfinished unit of this shard, through the one grid loop (``grid.run_tasks``:
    progress, ETA, Ctrl-C with the command that resumes)."""
    tasks = []
    for name, configuration, fold, repeat in units:
        run, units_folder = where(runs, name)
        step = recalibrated_unit if units_folder == RECALIBRATED_UNITS else unit.run_unit
        tasks.append(grid.unit_task(run, configuration, patch_data, fold, repeat, step,
                                    units_folder, f"{name}: "
                                    f"{unit_label(configuration.name, fold, repeat)}"))
    grid.run_tasks(tasks, shard, command, out,
                   describe=lambda r: f"    same {r['same']:.1f} %, cross {r['cross']:.1f} %",
                   workers=worker_plan)


def collected(runs, name, configurations, fold_count, repeats):
    """{configuration: [unit results]} of one reading (finished units only)."""
    run, units_folder = where(runs, name)
    results = {}
    for configuration in configurations:
        results[configuration.name] = [
            {"repeat": repeat, **result} for fold in range(fold_count)
            for repeat in range(repeats)
            if (result := read_unit_result(unit_dir(run.out, units_folder, configuration.name, fold,
                                                    repeat), verify=False)) is not None]
    return results


def mechanism(name, results):
    """Per row: mean over units of (offset, AUC) of the modalities' test features, as
    every unit records them (``features.modality_separation``)."""
    rows = []
    for configuration_name, per_unit in results.items():
        values = [r["modality_separation"] for r in per_unit if "modality_separation" in r]
        if values:
            rows.append({"reading": name, "configuration": configuration_name,
                         "trainings": len(values),
                         "offset_in_pooled_sd": round(float(np.mean([v[0] for v in values])), 3),
                         "single_feature_auc": round(float(np.mean([v[1] for v in values])), 3)})
    return rows


@script_main
@run_lock.releasing
def main(argv=None):
    parser = command_line.script_parser(__doc__)
    command_line.default_configurations(parser, DEFAULT_CONFIGURATIONS)
    parser.add_argument("--readings", help=f"comma-separated readings (default all): "
                        f"{', '.join(READINGS)}")
    parser.add_argument("--figures-dir", type=Path, help="where the MD, CSV and PNG go "
                        "(default: the study folder)")
    parser.add_argument("--report-only", action="store_true",
                        help="train nothing: report the units finished so far")
    args = parser.parse_args(argv)
    if (args.vector_normalization, args.last_block, args.dropout_distribution) != (
            "unless-per-feature", "bn-lrelu", "uniform-subsets") or args.recalibrate_statistics:
        raise SystemExit("error: this study sets the model readings itself; choose them with "
                         "--readings")
    base = command_line.resolve_run(args, argv, script=f"studies/{NAME}.py", out_suffix="-readings")
    names = chosen_readings(args.readings, len(base.modality_names))
    if args.report_only:
        require_run(base.out, f"{NAME}.py --report-only", "the same command without "
                    "--report-only")
    # The data, its cache and OUT/run.json, once; --report-only writes nothing into the
    # folder (not even the readings' run.json).
    patch_data = grid.prepare(base, command_line.call_options(args), read_only=args.report_only)
    runs = reading_runs(base, names)
    for run in runs.values():
        if not args.report_only:
            open_run_folder(run, patch_data.input_files,
                            discard_stale=args.discard_stale_units, log=say)
    fold_count = len(patch_data.folds)
    if not args.report_only:
        run_study(runs, patch_data, study_units(runs, names, base.configurations, fold_count,
                                                base.repeats),
                  command_line.parse_shard(args.shard), base.command, base.out,
                  workers.plan(args, argv, __file__))
    grid_rows, mechanism_rows, results_by_reading = [], [], {}
    for name in names:
        results = collected(runs, name, base.configurations, fold_count, base.repeats)
        results_by_reading[name] = results
        for item in claims.evaluate(base.published_table, results):
            grid_rows.append({"reading": name, **item, "claims": " ".join(item["claims"]),
                              "comparison": item["label"]})
        mechanism_rows += mechanism(name, results)
    if not grid_rows:
        say("no comparison can be made yet (too few finished units)")
        return 0
    out = args.figures_dir or base.out
    out.mkdir(parents=True, exist_ok=True)
    gaps = reading_mechanism.gap_rows(results_by_reading,
                                      "default" if "default" in names else names[0])
    unit_rows = reading_mechanism.measured_units(runs, names, base.configurations, fold_count,
                                                 base.repeats, patch_data, base.out, say)
    say(reading_report.write_outputs(base, names, grid_rows, mechanism_rows, out, gaps,
                                     unit_rows))
    say(f"wrote {out / NAME}.md, .csv, .png, {NAME}_mechanism.csv, {NAME}_gap.csv and "
        f"{NAME}_mechanism_by_unit.csv")
    return 0


if __name__ == "__main__":
    run_script(main)
