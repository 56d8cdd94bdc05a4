#!/usr/bin/env python3
"""What recalibrated statistics change: every finished unit of a Table I run folder
scored again after its networks' moving statistics are recomputed from the training
patches under the final weights (``--recalibrate-statistics``).

    python studies/recalibration_effect.py          # the default run folder of table1.py
    python studies/recalibration_effect.py --dataset open-ms --data-dir /data/open_ms ...

Give the options of the table1.py run (they find its run folder). For each finished
unit the saved network(s) are loaded, recalibrated exactly as a run with
--recalibrate-statistics would (same patches, same seeded order), the forests'
features extracted again and the forests scored with the unit's own seeds: the result
equals that run's unit without training anything again. Per configuration it reports
same- and cross-modality accuracy with the moving averages and recalibrated, the paired
difference with its 95 % interval over folds, and the scale of the features the forests
see (median per-feature SD per modality, training / test patches) before and after.

Writes recalibration_effect.md / .csv / .json into the run folder (or --figures-dir);
recalibrated units are kept in OUT/recalibrated/ so a rerun resumes.
"""
import dataclasses
import json

from runtime.console import run_script, script_main

from experiments.runs import command_line
from experiments.execution import grid, workers
from experiments.statistics import intervals
from experiments.runs.run_folder import check_writable
from experiments.beyond_paper.recalibrated_units import RECALIBRATED_UNITS, recalibrated_unit
from runtime.console import say
from runtime.files import atomic_write_csv, atomic_write_text
from experiments.reports.table_report import mean_feature_scale

NAME = "recalibration_effect"
def effect_rows(run, before, after):
    rows = []
    for configuration in run.configurations:
        first = {(r["fold"], r["repeat"]): r for r in before[configuration.name]}
        second = {(r["fold"], r["repeat"]): r for r in after[configuration.name]}
        units = sorted(set(first) & set(second))
        if not units:
            continue
        folds = sorted({fold for fold, _ in units})
        row = {"name": configuration.name, "folds": len(folds), "trainings": len(units)}

        def by_fold(results, measure):
            return [[results[u][measure] for u in units if u[0] == fold] for fold in folds]

        for measure in ("same", "cross"):
            for label, results in (("moving", first), ("recalibrated", second)):
                mean, half, _ = intervals.interval(by_fold(results, measure))
                row[f"{measure}_{label}"], row[f"{measure}_{label}_half"] = round(mean, 2), \
                    round(half, 2)
            mean, half, _ = intervals.paired_interval(by_fold(second, measure),
                                                      by_fold(first, measure))
            row.update({f"{measure}_change": round(mean, 2),
                        f"{measure}_change_low": round(mean - half, 2),
                        f"{measure}_change_high": round(mean + half, 2)})
        for label, results in (("moving", first), ("recalibrated", second)):
            for scale in mean_feature_scale([results[u] for u in units], run.modality_names):
                for side in ("train", "test"):
                    row[f"sd_{side}_{scale['modality']}_{label}"] = scale[f"{side}_median_sd"]
        rows.append(row)
    return rows


def markdown(run, rows):
    names = run.modality_names
    lines = [f"# Recalibrated statistics — {run.out.name}", "",
             f"Command: `{run.command}`  ",
             f"Model reading: {run.reading_text()}.", "",
             "Accuracy (%) with the moving averages → recalibrated (mean over folds), and the "
             "paired change with its 95 % interval over folds (* excludes 0):", "",
             "| configuration | same | change | cross | change |", "|---|---|---|---|---|"]
    for row in rows:
        cells = []
        for measure in ("same", "cross"):
            star = " *" if row[f"{measure}_change_low"] > 0 or row[f"{measure}_change_high"] < 0 \
                else ""
            cells += [f"{row[f'{measure}_moving']:.1f} → {row[f'{measure}_recalibrated']:.1f}",
                      intervals.bracketed(row[f'{measure}_change'],
                                          row[f'{measure}_change_low'],
                                          row[f'{measure}_change_high']) + star]
        lines.append(f"| {row['name']} | " + " | ".join(cells) + " |")
    lines += ["", "Median per-feature SD of the features the forests see, by modality, training "
              "/ test patches, moving averages → recalibrated:", "",
              "| configuration | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for row in rows:
        lines.append(f"| {row['name']} | " + " | ".join(
            f"{row[f'sd_train_{n}_moving']:.2f} / {row[f'sd_test_{n}_moving']:.2f} → "
            f"{row[f'sd_train_{n}_recalibrated']:.2f} / {row[f'sd_test_{n}_recalibrated']:.2f}"
            for n in names) + " |")
    return "\n".join(lines) + "\n"


@script_main
def main(argv=None):
    # It keeps recalibrated units in OUT/recalibrated/ (sharded like table1.py's), and
    # never changes or deletes the run's own.
    args = command_line.run_reader_parser(
        __doc__, omit=("discard_stale_units", "distribute")).parse_args(argv)
    if args.recalibrate_statistics:
        raise SystemExit("error: give the options of a run trained without "
                         "--recalibrate-statistics; this script recalibrates its units")
    run = command_line.finished_run(args, argv, NAME)
    # The controls have no trained statistics to recalibrate (the untrained network's
    # are recalibrated already).
    run = dataclasses.replace(run, configurations=[c for c in run.configurations
                                                   if c.kind != "control"])
    out = args.figures_dir or run.out
    check_writable(out, "--figures-dir", "the tables")  # before any work
    patch_data = grid.prepare(run, command_line.call_options(args), read_only=True)
    fold_count = len(patch_data.folds)
    run = grid.complete_configurations(run, fold_count, args.configs is not None)
    before, _ = grid.collect(run, fold_count)
    grid.run_grid(run, patch_data, command_line.parse_shard(args.shard),
                  workers=workers.plan(args, argv, __file__),
                  run_one=recalibrated_unit, units_folder=RECALIBRATED_UNITS)
    after, _ = grid.collect(run, fold_count, RECALIBRATED_UNITS)
    rows = effect_rows(run, before, after)
    out.mkdir(parents=True, exist_ok=True)
    text = markdown(run, rows)
    atomic_write_text(out / f"{NAME}.md", text)
    atomic_write_text(out / f"{NAME}.json", json.dumps(
        {"command": run.command, "reading": run.reading, "rows": rows}, indent=2,
        allow_nan=False))
    atomic_write_csv(out / f"{NAME}.csv", list(rows[0]), rows)
    say(text)
    say(f"wrote {out / NAME}.md, .csv and .json")
    return 0


if __name__ == "__main__":
    run_script(main)
