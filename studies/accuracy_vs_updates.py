#!/usr/bin/env python3
"""Accuracy against training length (beyond the paper): same- and cross-modality
accuracy of the configurations that the paper's claims rest on, evaluated at
checkpoints of one training run per network, with 95 % intervals over folds.

    python studies/accuracy_vs_updates.py                 # knee phantom, 100 ... 3000 updates
    python studies/accuracy_vs_updates.py --dataset open-ms --modalities FLAIR,T2 \\
        --subjects patient07,patient19,patient26   # downloads these MS patients once

The scaled presets train each network for a few hundred updates (quick: 120; the
open_ms runs: 256), the paper for millions: this
shows whether the differences between configurations (above all, what per-feature
normalization adds to modality dropout) change with training. Each network is trained
once; a callback scores it at every checkpoint. The controls (raw-patch, raw-centre,
untrained) train nothing: scored once, they are flat lines. Units are saved as they finish
(resume by rerunning; --shard I/N as for table1.py), all configurations of fold0
first, so a partial run already compares them. Writes accuracy_vs_updates.png / .csv /
.md into OUT/figures/ (or --figures-dir) (also from a partial run, marked as such), and
the mechanism at every checkpoint (the modalities' feature offsets and scales before and
after the network's normalization, the last batch normalization's γ and β gaps) with
its trend per fold, in the .md and accuracy_vs_updates_mechanism.csv / _trend.csv.
"""
import argparse
import dataclasses
from pathlib import Path

from runtime.console import format_seconds, run_script, script_main

import numpy as np

from experiments.statistics import claims, intervals
from experiments.runs import command_line, run_lock
from experiments.reports import figures
from experiments.execution import grid, workers
from experiments.beyond_paper import kept_scores, length_mechanism
from experiments.beyond_paper.training_length_units import collect_with_kept, kept_tasks
from experiments.runs.run_folder import check_writable, require_run
from runtime.console import say
from runtime.files import atomic_write_csv, atomic_write_text

DEFAULT_CONFIGURATIONS = ("plain-a0,norm-a0,dropout-a0,dropout+norm-a0,plain-a0.1,norm-a0.1,"
                          "dropout-a0.1,dropout+norm-a0.1,baseline-all")
NAME = "accuracy_vs_updates"
CONTROL_COLOURS = {"raw-patch": "tab:brown", "raw-centre": "tab:olive", "untrained": "tab:purple"}


def parse_checkpoints(text):
    try:
        values = sorted({int(v) for v in text.split(",")})
    except ValueError:
        raise SystemExit(f"error: --checkpoints takes numbers of updates, e.g. 100,300,1000; "
                         f"got {text!r}") from None
    if not values or values[0] < 1:
        raise SystemExit("error: --checkpoints must be positive numbers of updates")
    return values


def at_checkpoint(results, updates):
    """{configuration: [unit results]} as Table I units at one checkpoint."""
    return {name: [{"fold": r["fold"], "repeat": r.get("repeat", 0), **c}
                   for r in per_unit for c in r["checkpoints"] if c["updates"] == updates]
            for name, per_unit in results.items()}


def curves(results, checkpoints):
    """rows: one per (configuration, checkpoint) with per-fold values and intervals."""
    rows = []
    for updates in checkpoints:
        for name, found in at_checkpoint(results, updates).items():
            if not found:
                continue
            row = {"configuration": name, "updates": updates, "folds": len(found)}
            for measure in ("same", "cross"):
                mean, half, _ = intervals.interval(intervals.grouped_by_fold(found, measure))
                row.update({measure: round(mean, 2), f"{measure}_low": round(mean - half, 2),
                            f"{measure}_high": round(mean + half, 2)})
            row["cross_by_fold"] = " ".join(f"{c['cross']:.1f}" for c in found)
            rows.append(row)
    return sorted(rows, key=lambda row: (list(results).index(row["configuration"]),
                                         row["updates"]))


def paired_gaps(results, checkpoints, table):
    """Lines of the claims' simple cross-modality differences at every checkpoint."""
    by_label = {}
    for updates in checkpoints:
        for item in claims.evaluate(table, at_checkpoint(results, updates)):
            if item["measure"] == "cross" and "first" in item and item["folds"] >= 2:
                by_label.setdefault((item["label"], item["folds"]), []).append(
                    f"{updates}: " + intervals.format_interval(
                        item["difference"], item["high"] - item["difference"], signed=True))
    return [f"- {label} ({folds} folds): " + "; ".join(cells)
            for (label, folds), cells in by_label.items()]


def plot(rows, checkpoints, alphas, run, complete, figures_dir):
    plt = figures.pyplot()
    figure, axes = plt.subplots(2, len(alphas), figsize=(5.2 * len(alphas), 7.5), sharex=True,
                                sharey="row", squeeze=False)
    styles = {"plain": ("0.55", "o"), "norm": ("tab:green", "^"), "dropout": ("tab:blue", "s"),
              "dropout+norm": ("tab:red", "D"), "baseline-all": ("black", "x")}
    for column, alpha in enumerate(alphas):
        for setting, (colour, marker) in styles.items() if alpha is not None else ():
            name = claims.row_name(setting, alpha)
            chosen = [r for r in rows if r["configuration"] == name]
            if not chosen:
                continue
            for row_index, measure in enumerate(("cross", "same")):
                x = [r["updates"] for r in chosen]
                y = np.array([r[measure] for r in chosen])
                error = np.array([r[f"{measure}_high"] - r[measure] for r in chosen])
                axes[row_index, column].errorbar(
                    x, y, yerr=None if np.isnan(error).all() else error, color=colour,
                    marker=marker, ms=4, capsize=3, lw=1.2,
                    ls="--" if setting.startswith("baseline") else "-",
                    label=f"{name} ({chosen[-1]['folds']} folds)")
        for name, colour in CONTROL_COLOURS.items():  # no training: flat lines
            chosen = [r for r in rows if r["configuration"] == name]
            for row_index, measure in enumerate(("cross", "same")):
                if chosen:
                    axes[row_index, column].axhline(
                        chosen[0][measure], color=colour, ls=":", lw=1.2,
                        label=f"{name} control, no training ({chosen[0]['folds']} folds)")
        axes[0, column].set_title("controls" if alpha is None else f"alpha = {alpha:g}",
                                  fontsize=10)
        axes[1, column].set_xlabel("optimizer updates per network (log scale)")
    for row_index, measure in enumerate(("cross-modality", "same-modality")):
        axes[row_index, 0].set_ylabel(f"{measure} accuracy (%), 95 % interval")
    for axis in axes.ravel():
        axis.set_xscale("log")
        axis.minorticks_off()
        axis.set_xticks(checkpoints, [str(c) for c in checkpoints])
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    figure.suptitle(f"Accuracy against training length: {run.out.name} "
                    f"({', '.join(run.modality_names)})"
                    + ("" if complete else " — partial run"), fontsize=10)
    figures.save_figure(figure, rows, figures_dir, NAME)


@script_main
@run_lock.releasing
def main(argv=None):
    parser = command_line.script_parser(__doc__)
    command_line.default_configurations(parser, DEFAULT_CONFIGURATIONS)
    parser.add_argument("--checkpoints", default="100,300,1000,3000",
                        help="numbers of updates at which every network is scored "
                        "(default 100,300,1000,3000; each network trains to the last)")
    parser.add_argument("--figures-dir", type=Path, help="where the PNG, CSV and MD go "
                        "(default OUT/figures)")
    parser.add_argument("--report-only", action="store_true",
                        help="train nothing: write the figure from the units finished so far "
                        "(e.g. while another process is still training)")
    for action in parser._actions:  # set by --checkpoints here: not listed, refused if given
        if action.dest in ("updates", "epochs", "repeats", "recalibrate_statistics"):
            action.help = argparse.SUPPRESS
    args = parser.parse_args(argv)
    if args.updates or args.epochs:
        raise SystemExit("error: --checkpoints sets the training length of this study; "
                         "--updates and --epochs do not apply")
    if args.repeats > 1:
        raise SystemExit("error: --repeats is for table1.py and the readings study; this study "
                         "trains one network per configuration and fold")
    if args.recalibrate_statistics:
        raise SystemExit("error: --recalibrate-statistics applies after training; this study "
                         "scores networks in the middle of their training")
    checkpoints = parse_checkpoints(args.checkpoints)
    run = command_line.resolve_run(args, argv, script=f"studies/{NAME}.py",
                                   out_suffix="-training-length")
    if any(c.baseline == "training" for c in run.configurations):
        raise SystemExit("error: this study takes the axial configurations, baseline-all and "
                         "the controls (baseline-training trains one network per modality)")
    run = dataclasses.replace(run, epochs=None, updates=checkpoints[-1],
                              extra={"checkpoints": checkpoints})
    if args.report_only:
        require_run(run.out, f"{NAME}.py --report-only", "the same command without --report-only")
    figures_dir = args.figures_dir or run.out / "figures"
    check_writable(figures_dir, "--figures-dir", "the figure and the kept scores")
    identities = {}

    def check_kept_scores(patch_data, inputs):
        """Every kept record is checked before the run folder is made: a refused call
        leaves nothing behind."""
        identities.update(kept_scores.identity(run, inputs))
        for configuration, fold, _ in grid.all_units(run, len(patch_data.folds)):
            kept_scores.kept_result(figures_dir, identities, configuration.name, fold)

    patch_data = grid.prepare(run, command_line.call_options(args), before_opening=check_kept_scores)
    figures_dir = figures.figures_dir_of(args, run)
    run_identity = identities  # the inputs' hashes run.json now records, checked above
    fold_count = len(patch_data.folds)
    if not args.report_only:
        grid.run_tasks(kept_tasks(run, patch_data, figures_dir, run_identity),
                       command_line.parse_shard(args.shard), run.command, run.out,
                       describe=lambda r: "    " + ", ".join(
                           f"{c['updates']}: {c['cross']:.1f}" for c in r["checkpoints"])
                       + " % cross",
                       shape=f" ({len(run.configurations)} configurations x {fold_count} folds)",
                       workers=workers.plan(args, argv, __file__))
    results, missing = collect_with_kept(run, fold_count, figures_dir, run_identity)
    if not results:
        say("no finished unit yet")
        return 0
    alphas = sorted({c.alpha for c in run.configurations if c.alpha is not None}) or [None]
    rows = curves(results, checkpoints)
    machines = sorted({r["machine"] for per in results.values() for r in per if r.get("machine")})
    plot(rows, checkpoints, alphas, run, not missing, figures_dir)
    gaps = paired_gaps(results, checkpoints, run.published_table)
    text = [f"# Accuracy against training length — {run.out.name}", "",
            f"Command: `{run.command}`  ",
            f"Model reading: {run.reading_text()}.  ",
            f"Modalities {', '.join(run.modality_names)}; {len(patch_data.folds)} folds; "
            f"checkpoints {', '.join(map(str, checkpoints))} updates; filters "
            f"{'/'.join(map(str, run.filters))}; {run.patches_per_class} training and "
            f"{run.evaluation_patches_per_class} forest patches per class per subject; compute "
            f"{format_seconds(sum(r['seconds'] for per in results.values() for r in per))} "
            f"over {sum(len(per) for per in results.values())} units.",
            f"Units computed on: {'; '.join(machines)} (float32 round-off depends on the "
            "processor and the thread count: same seed, same numbers holds for one of each)."
            if len(machines) > 1
            else f"Units computed on: {machines[0]}." if machines else "",
            "" if not missing else f"Partial run: {len(missing)} units missing "
            f"({', '.join(missing[:6])}{' …' if len(missing) > 6 else ''}).", "",
            "| configuration | updates | folds | same (95 % interval) | cross (95 % interval) |",
            "|---|---|---|---|---|"]
    for row in rows:
        text.append(f"| {row['configuration']} | {row['updates']} | {row['folds']} | "
                    + " | ".join(intervals.format_interval(row[m], row[f"{m}_high"] - row[m])
                                 for m in ("same", "cross")) + " |")
    text += ["", "Paired cross-modality differences (percentage points, 95 % interval over "
             "folds):", "", *(gaps or ["- (need two finished folds of both rows)"])]
    mechanism_table, trends = length_mechanism.rows(results, checkpoints)
    if mechanism_table:
        atomic_write_csv(figures_dir / f"{NAME}_mechanism.csv", list(mechanism_table[0]),
                         mechanism_table)
        if trends:
            atomic_write_csv(figures_dir / f"{NAME}_mechanism_trend.csv", list(trends[0]), trends)
        text += length_mechanism.lines(mechanism_table, trends)
    atomic_write_text(figures_dir / f"{NAME}.md", "\n".join(text) + "\n")
    print("\n".join(text))
    return 0


if __name__ == "__main__":
    run_script(main)
