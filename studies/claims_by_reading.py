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

from runtime.console import run_script, script_main

from experiments.statistics import claims
from experiments.runs import command_line, run_lock
from experiments.execution import unit
from experiments.beyond_paper import reading_mechanism, reading_report, variant_study
from experiments.beyond_paper.recalibrated_units import RECALIBRATED_UNITS, recalibrated_unit
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


def locate(runs, name):
    """(run, units folder, step) of a reading's units: a recalibrated reading's units sit
    in the run of the reading it recalibrates."""
    source = READINGS[name]
    if isinstance(source, str):
        return runs[source], RECALIBRATED_UNITS, recalibrated_unit
    return runs[name], unit.UNITS, unit.run_unit


@script_main
@run_lock.releasing
def main(argv=None):
    parser = command_line.script_parser(__doc__)
    command_line.default_configurations(parser, DEFAULT_CONFIGURATIONS)
    parser.add_argument("--readings", help=f"comma-separated readings (default all): "
                        f"{', '.join(READINGS)}")
    variant_study.add_study_options(parser)
    args = parser.parse_args(argv)
    if (args.vector_normalization, args.last_block, args.dropout_distribution) != (
            "unless-per-feature", "bn-lrelu", "uniform-subsets") or args.recalibrate_statistics:
        raise SystemExit("error: this study sets the model readings itself; choose them with "
                         "--readings")
    base = command_line.resolve_run(args, argv, script=f"studies/{NAME}.py", out_suffix="-readings")
    names = chosen_readings(args.readings, len(base.modality_names))
    patch_data, runs = variant_study.prepare_study(
        base, args, f"{NAME}.py", lambda base: reading_runs(base, names), say)
    fold_count = len(patch_data.folds)
    if not args.report_only:
        variant_study.train(names, lambda name: locate(runs, name), base, patch_data, args, argv,
                            __file__)
    grid_rows, mechanism_rows, results_by_reading = [], [], {}
    for name in names:
        run, units_folder, _ = locate(runs, name)
        results = variant_study.collected(run, units_folder, base.configurations, fold_count,
                                          base.repeats)
        results_by_reading[name] = results
        for item in claims.evaluate(base.published_table, results):
            grid_rows.append({"reading": name, **item, "claims": " ".join(item["claims"]),
                              "comparison": item["label"]})
        mechanism_rows += variant_study.separation_means(name, results)
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
