#!/usr/bin/env python3
"""Table I of van Tulder & de Bruijne (TMI 2018): same- and cross-modality accuracy of
random forests on features of 16 axial-network configurations and two baselines, in
subject-wise cross-validation, with the published numbers beside ours.

    python reproduce/table1.py                      # quick preset, synthetic knee phantom
    python reproduce/table1.py --preset paper --dataset brats --data-dir /data/BraTS2021
    python reproduce/table1.py --dataset folder --data-dir ../shared/data/open_ms \\
        --modality FLAIR='FLAIR_*.nii.gz' --modality T1='T1_*.nii.gz' \\
        --modality T1POST='T1POST_*.nii.gz' --modality T2='T2_*.nii.gz' \\
        --label 'GOLD_STANDARD_*.nii.gz' --class lesion=nonzero --published brats

Writes table1.md, table1.csv, table1_pairs.csv and table1.json into the run folder.
Every (configuration, fold) unit is saved as it finishes: rerun the same command to
resume; --shard I/N splits the grid over several processes.
"""
import csv
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reproduce import experiment  # noqa: E402
from reproduce.published import ALPHAS, published  # noqa: E402
from reproduce.settings import CONFIGURATIONS  # noqa: E402


def collect(run):
    """Per configuration: its per-fold results, or None if a unit is missing."""
    results, missing = {}, []
    for configuration in run.configurations:
        per_fold = []
        for fold in range(run.folds):
            path = experiment.unit_dir(run, configuration, fold) / "result.json"
            if path.exists():
                per_fold.append(json.loads(path.read_text()))
            else:
                missing.append(f"{configuration.name} fold {fold + 1}")
        results[configuration.name] = per_fold
    return results, missing


def table_rows(run, results):
    rows = []
    for configuration in run.configurations:
        per_fold = results[configuration.name]
        same = sum(r["same"] for r in per_fold) / len(per_fold)
        cross = sum(r["cross"] for r in per_fold) / len(per_fold)
        published_same, published_cross = published(run.table, configuration)
        rows.append({
            "name": configuration.name, "kind": configuration.kind,
            "dropout": configuration.dropout, "normalization": configuration.normalization,
            "alpha": configuration.alpha, "baseline": configuration.baseline,
            "same": round(same, 2), "cross": round(cross, 2),
            "published_same": published_same, "published_cross": published_cross,
            "per_fold": [{"fold": r["fold"], "same": round(r["same"], 2),
                          "cross": round(r["cross"], 2), "accuracy": r["accuracy"]}
                         for r in per_fold],
        })
    return rows


def cell(row, measure):
    if row is None:
        return "–"
    ours, paper = row[measure], row[f"published_{measure}"]
    if paper is None:
        return f"{ours:.1f}"
    return f"{ours:.1f} ({paper:.1f}, {ours - paper:+.1f})"


def markdown(run, rows, seconds):
    by_name = {row["name"]: row for row in rows}
    lines = [f"# Table I — {run.dataset} ({', '.join(run.modality_names)}), preset {run.preset}",
             "",
             f"Mean random-forest accuracy (%) over {run.folds} subject-wise folds and all "
             f"ordered modality pairs. Cells: ours (published {run.table.upper()}, difference)."
             if run.table != "none" else
             f"Mean random-forest accuracy (%) over {run.folds} subject-wise folds and all "
             "ordered modality pairs (no published numbers for this dataset).",
             "",
             f"Command: `{run.command}`  ",
             f"Seed {run.seed}; {run.epochs} epochs; {run.patches_per_class} patches per class "
             f"per subject; filters {'/'.join(map(str, run.filters))}; compute "
             f"{experiment.format_seconds(seconds)}.",
             "",
             "| Axial neural network | " + " | ".join(f"same α={a:g}" for a in ALPHAS) + " | "
             + " | ".join(f"cross α={a:g}" for a in ALPHAS) + " |",
             "|---|" + "---|" * 2 * len(ALPHAS)]
    settings = []
    for configuration in CONFIGURATIONS:
        if configuration.kind == "axial" and configuration.setting not in settings:
            settings.append(configuration.setting)
    for setting in settings:
        cells = {measure: [] for measure in ("same", "cross")}
        for alpha in ALPHAS:
            match = [c for c in CONFIGURATIONS if c.kind == "axial" and c.setting == setting
                     and c.alpha == alpha][0]
            for measure in cells:
                cells[measure].append(cell(by_name.get(match.name), measure))
        if any(c != "–" for c in cells["same"]):
            lines.append(f"| {setting} | " + " | ".join(cells["same"] + cells["cross"]) + " |")
    baselines = [c for c in CONFIGURATIONS if c.kind == "baseline" and c.name in by_name]
    if baselines:
        lines += ["", "| Baseline network | same | cross |", "|---|---|---|"]
        for configuration in baselines:
            row = by_name[configuration.name]
            lines.append(f"| {configuration.setting} | {cell(row, 'same')} | "
                         f"{cell(row, 'cross')} |")
    lines += ["", "Per fold (same / cross):", ""]
    for row in rows:
        folds = ", ".join(f"{f['same']:.1f} / {f['cross']:.1f}" for f in row["per_fold"])
        lines.append(f"- {row['name']}: {folds}")
    return "\n".join(lines) + "\n"


def write_outputs(run, rows, seconds):
    json_rows = [{k: v for k, v in row.items()} for row in rows]
    document = {"dataset": run.dataset, "preset": run.preset, "modalities": run.modality_names,
                "folds": run.folds, "seed": run.seed, "command": run.command,
                "versions": experiment.versions(), "seconds": round(seconds, 1),
                "rows": json_rows}
    experiment.atomic_write_text(run.out / "table1.json", json.dumps(document, indent=2))
    experiment.atomic_write_text(run.out / "table1.md", markdown(run, rows, seconds))
    columns = ["name", "kind", "dropout", "normalization", "alpha", "baseline", "same", "cross",
               "published_same", "published_cross"]
    with open(run.out / "table1.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    with open(run.out / "table1_pairs.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "fold", "training_modality", "test_modality", "accuracy"])
        for row in rows:
            for fold in row["per_fold"]:
                for a, training_modality in enumerate(run.modality_names):
                    for b, test_modality in enumerate(run.modality_names):
                        writer.writerow([row["name"], fold["fold"], training_modality,
                                         test_modality, round(fold["accuracy"][a][b], 2)])


def main(argv=None):
    args = experiment.script_parser(__doc__).parse_args(argv)
    run = experiment.resolve_run(args, argv)
    shard = experiment.parse_shard(args.shard)
    experiment.say(f"run folder: {run.out}")
    try:
        experiment.run_grid(run, shard)
    except experiment.data.DataError as error:
        raise SystemExit(f"error: {error}") from None
    results, missing = collect(run)
    if missing:
        print(f"{len(missing)} units are still missing (other shards?): {', '.join(missing[:6])}"
              f"{' …' if len(missing) > 6 else ''}. Run without --shard to finish and aggregate.")
        return 0
    rows = table_rows(run, results)
    seconds = sum(r["seconds"] for per_fold in results.values() for r in per_fold)
    write_outputs(run, rows, seconds)
    print()
    print(markdown(run, rows, seconds))
    print(f"wrote {run.out / 'table1.md'}, table1.csv, table1_pairs.csv and table1.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
