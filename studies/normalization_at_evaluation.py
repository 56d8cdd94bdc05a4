#!/usr/bin/env python3
"""What normalizing the features at evaluation time does (beyond the paper): every finished
unit of a Table I run folder scored again, without training anything, after each
modality's features are z-scored per feature

  (a) by that modality's statistics over the forests' training patches (what per-feature
      normalization does inside the network, done afterwards), and
  (b) by the test patches' own statistics (batch statistics at inference: the other way
      to read "batch normalization" at test time),

beside the saved features, with the unit's own forest seeds (the saved variant equals the
unit's result).

    python studies/normalization_at_evaluation.py          # the default run of table1.py
    python studies/normalization_at_evaluation.py --dataset open-ms \\
        --data-dir /data/open_ms ...               # the options of that table1.py run

Give the options of the table1.py run (they find its run folder). If per-feature
normalization helps only by removing each modality's offset and scale, (a) should lift
the networks without it to the level of those with it. Controls without saved features
(the raw intensities) and, for (a), the training-modality baseline (its networks never
saw the other modalities' training patches) are left out. Writes
normalization_at_evaluation.md / .csv / .json into the run folder (or --figures-dir).
"""
import json

import numpy as np

from experiments.runs import command_line
from experiments.measurement import forests
from experiments.execution import grid, unit
from experiments.statistics import intervals
from experiments.runs.run_folder import check_writable
from runtime.console import run_script, say, script_main
from runtime.files import atomic_write_csv, atomic_write_text

NAME = "normalization_at_evaluation"
VARIANTS = {"saved": "the unit's saved features",
            "training_statistics": "(a) z-scored by the modality's forest-training patches",
            "test_statistics": "(b) z-scored by the test patches' own statistics"}


def z_scored(values, reference):
    """``values`` (N, F) minus the per-feature mean of ``reference``, over its SD (a
    constant feature keeps SD 1)."""
    mean, deviation = reference.mean(axis=0), reference.std(axis=0)
    return (values - mean) / np.where(deviation > 0, deviation, 1.0)


def variant_features(features, variant):
    """The unit's features.npz arrays under a VARIANTS normalization; None where it does
    not apply (training statistics of a modality its network never trained on)."""
    train, test, network_of = features["train"], features["test"], features["network_of"]
    if variant == "saved":
        return features
    if variant == "training_statistics":
        if len(test) > 1:  # the training-modality baseline: network k saw modality k only
            return None
        new_train = np.stack([z_scored(train[m], train[m]) for m in range(len(train))])
        new_test = np.stack([[z_scored(test[k, b], train[b]) for b in range(len(train))]
                             for k in range(len(test))])
    else:
        new_train = np.stack([z_scored(train[m], train[m]) for m in range(len(train))])
        new_test = np.stack([[z_scored(test[k, b], test[k, b]) for b in range(len(train))]
                             for k in range(len(test))])
    return {**features, "train": new_train, "test": new_test, "network_of": network_of}


def unit_scores(run, configuration, fold, repeat):
    """{variant: (same, cross)} of one finished unit; None without saved features."""
    try:
        features = unit.load_unit_features(run, configuration, fold, repeat)
    except FileNotFoundError:
        return None
    scores = {}
    for variant in VARIANTS:
        chosen = variant_features(features, variant)
        if chosen is not None:
            accuracy, _ = forests.score_forests(chosen, run.trees,
                                                unit.forest_seed(run, configuration, fold,
                                                                 repeat))
            scores[variant] = forests.same_and_cross(accuracy)
    return scores


def effect_rows(run, results):
    """Per configuration: mean same/cross per variant and the paired change of (a) and (b)
    against the saved features, with 95 % intervals over folds."""
    rows = []
    for configuration in run.configurations:
        found = {(r["fold"], r.get("repeat", 0)): unit_scores(run, configuration, r["fold"],
                                                              r.get("repeat", 0))
                 for r in results.get(configuration.name, [])}
        found = {key: value for key, value in found.items() if value}
        if not found:
            continue
        folds = sorted({fold for fold, _ in found})
        row = {"name": configuration.name, "folds": len(folds), "trainings": len(found)}
        for variant in VARIANTS:
            for index, measure in enumerate(("same", "cross")):
                per_fold = [[scores[variant][index] for (f, _), scores in found.items()
                             if f == fold and variant in scores] for fold in folds]
                if not all(per_fold):
                    continue
                row[f"{measure}_{variant}"] = round(float(np.mean(sum(per_fold, []))), 2)
                if variant != "saved":
                    changes = [[scores[variant][index] - scores["saved"][index]
                                for (f, _), scores in found.items() if f == fold]
                               for fold in folds]
                    mean, half, _ = intervals.interval(changes)
                    if not np.isfinite(half):  # no interval (one fold): "n/a", never NaN
                        continue
                    row.update({f"{measure}_{variant}_change": round(mean, 2),
                                f"{measure}_{variant}_low": round(mean - half, 2),
                                f"{measure}_{variant}_high": round(mean + half, 2)})
        rows.append(row)
    return rows


def markdown(run, rows):
    lines = [f"# Normalizing the features at evaluation time — {run.out.name}", "",
             f"Command: `{run.command}`  ", f"Model reading: {run.reading_text()}.", "",
             "Cross-modality accuracy (%) of the saved features, then with every modality's "
             "features z-scored per feature (a) by its forest-training patches' statistics, "
             "(b) by the test patches' own; the change against the saved features with its "
             "95 % interval over folds (* excludes 0). No network is trained again.", "",
             "| configuration | saved | (a) training statistics | change | (b) test statistics "
             "| change |", "|---|---|---|---|---|---|"]

    def change(row, variant):
        key = f"cross_{variant}"
        if f"{key}_change" not in row:
            return "n/a"
        low, high = row[f"{key}_low"], row[f"{key}_high"]
        star = " *" if low > 0 or high < 0 else ""
        return intervals.bracketed(row[f'{key}_change'], low, high) + star

    def value(row, variant):
        key = f"cross_{variant}"
        return f"{row[key]:.1f}" if key in row else "n/a"

    for row in rows:
        lines.append(f"| {row['name']} | {value(row, 'saved')} | "
                     f"{value(row, 'training_statistics')} | "
                     f"{change(row, 'training_statistics')} | "
                     f"{value(row, 'test_statistics')} | {change(row, 'test_statistics')} |")
    return "\n".join(lines) + "\n"


@script_main
def main(argv=None):
    args = command_line.run_reader_parser(__doc__).parse_args(argv)
    run = command_line.finished_run(args, argv, NAME)
    out = args.figures_dir or run.out
    check_writable(out, "--figures-dir", "the tables")  # before any work
    # Only reads the run (its input files must be unchanged); writes only NAME.* files.
    patch_data = grid.prepare(run, command_line.call_options(args), read_only=True)
    run = grid.complete_configurations(run, len(patch_data.folds), args.configs is not None)
    results, _ = grid.collect(run, len(patch_data.folds))
    rows = effect_rows(run, results)
    if not rows:
        raise SystemExit(f"error: {run.out} has no finished unit with saved features")
    out.mkdir(parents=True, exist_ok=True)
    text = markdown(run, rows)
    atomic_write_text(out / f"{NAME}.md", text)
    atomic_write_text(out / f"{NAME}.json", json.dumps(
        {"command": run.command, "reading": run.reading, "variants": VARIANTS, "rows": rows},
        indent=2, allow_nan=False))
    columns = list(dict.fromkeys(key for row in rows for key in row))
    atomic_write_csv(out / f"{NAME}.csv", columns, rows)
    say(text)
    say(f"wrote {out / NAME}.md, .csv and .json")
    return 0


if __name__ == "__main__":
    run_script(main)
