#!/usr/bin/env python3
"""Does per-feature normalization matter more as the representation widens (beyond the
paper)? The rows the central gap rests on, trained at several encoder widths, with the
gap per width, its trend per doubling of the representation, and the mechanism the
paper names measured on every network.

    python studies/central_gap_by_width.py --dataset folder --data-dir ../shared/data/open_ms \\
        --modality FLAIR='FLAIR_*.nii.gz' --modality T2='T2_*.nii.gz' \\
        --label 'GOLD_STANDARD_*.nii.gz' --class lesion=nonzero --published brats \\
        --patches-per-class 500 --epochs 8 --momentum 0.99 --folds 3 --repeats 8 \\
        --out runs/open_ms-flair-t2-width

The paper's argument (§II-D): with modality dropout alone a network "might allocate a
different part of the feature representation to each modality"; per-feature
normalization prevents features "used for one modality but not for another". That
needs spare features, so the gap it closes may grow with the representation's width.
--widths (default 16/32/64,16/32/128,16/32/256,32/64/128): the encoder's filters per
width. The first is the reference; the widths whose first two layers match it form the
series whose trend is reported per doubling of the representation (the last layer's
filters), so that series changes the representation's width alone; the others (the
paper's 32/64/128) are compared with the reference one by one.

Each width is a Table I run folder under OUT/widths/<16-32-64>/ (units resume; --shard
I/N and --workers as for table1.py); units run repeat by repeat, every width in turn, so
a partial study already compares every width. Rows (--configs, default plain-a0,
dropout-a0, dropout+norm-a0 and the raw-patch control). Writes into OUT, or
--figures-dir: central_gap_by_width.md (the answer), central_gap_by_width.csv (every
comparison per width with interval and verdict), central_gap_by_width_trend.csv (per
doubling), central_gap_by_width_mechanism.csv (per width and row: the modalities'
feature offsets and the share of features used for one modality but not the other,
before and after the network's normalization, with their trends),
central_gap_by_width_mechanism_by_unit.csv (every saved network),
central_gap_by_width_units.csv (every finished unit's same- and cross-modality accuracy)
and central_gap_by_width.png.
"""
import dataclasses

from runtime.console import run_script, say, script_main

from experiments.beyond_paper import reading_mechanism, variant_study, width_report
from experiments.execution import unit
from experiments.runs import command_line, run_lock
from runtime.errors import ProjectError

NAME = width_report.NAME
DEFAULT_CONFIGURATIONS = "plain-a0,dropout-a0,dropout+norm-a0,raw-patch"
DEFAULT_WIDTHS = "16/32/64,16/32/128,16/32/256,32/64/128"


def chosen_widths(text):
    """[(filters, name)] from '16/32/64,32/64/128', the reference first."""
    widths = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        layers = part.split("/")
        if len(layers) != 3 or not all(layer.isdigit() and int(layer) >= 2 for layer in layers):
            raise ProjectError(f"--widths {text!r}: each width is three filter counts such as "
                               f"16/32/64 (at least 2 each), separated by commas; got {part!r}")
        filters = tuple(int(layer) for layer in layers)
        widths.append((filters, "-".join(layers)))
    if len({filters for filters, _ in widths}) != len(widths) or len(widths) < 2:
        raise ProjectError(f"--widths {text!r}: give at least two different widths")
    return widths


@script_main
@run_lock.releasing
def main(argv=None):
    parser = command_line.script_parser(__doc__)
    command_line.default_configurations(parser, DEFAULT_CONFIGURATIONS)
    parser.add_argument("--widths", default=DEFAULT_WIDTHS,
                        help=f"the encoders' filters per width, the reference first "
                        f"(default {DEFAULT_WIDTHS})")
    variant_study.add_study_options(parser)
    args = parser.parse_args(argv)
    if args.filters:
        raise ProjectError("this study sets the encoders' filters itself; choose them with "
                           "--widths")
    widths = chosen_widths(args.widths)
    base = command_line.resolve_run(args, argv, script=f"studies/{NAME}.py", out_suffix="-widths")
    names = [name for _, name in widths]
    patch_data, runs = variant_study.prepare_study(
        base, args, f"{NAME}.py", lambda base: {
            name: dataclasses.replace(base, out=base.out / "widths" / name, filters=filters)
            for filters, name in widths}, say)
    fold_count = len(patch_data.folds)
    if not args.report_only:
        variant_study.train(names, lambda name: (runs[name], unit.UNITS, unit.run_unit), base,
                            patch_data, args, argv, __file__)
    results = {name: variant_study.collected(runs[name], unit.UNITS, base.configurations,
                                             fold_count, base.repeats) for name in names}
    out = args.figures_dir or base.out
    unit_rows = reading_mechanism.measured_units(runs, names, base.configurations, fold_count,
                                                 base.repeats, patch_data, base.out, say)
    written = width_report.write_outputs(base, {name: filters for filters, name in widths},
                                         results, unit_rows, out)
    if not written:
        say("no comparison can be made yet (too few finished units)")
        return 0
    say(written)
    say(f"wrote {out / NAME}.md, .csv, .png, {NAME}_trend.csv, {NAME}_mechanism.csv, "
        f"{NAME}_mechanism_by_unit.csv and {NAME}_units.csv")
    return 0


if __name__ == "__main__":
    run_script(main)
