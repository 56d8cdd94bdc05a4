"""Table I from finished units: rows with 95 % intervals, the published-number check,
paired comparisons of the rows the paper's claims rest on, and the four output files."""
import csv
import json

from reproduce import intervals
from reproduce.grid import format_seconds, versions
from reproduce.published import ALPHAS, published
from reproduce.run_folder import atomic_write_text
from reproduce.settings import CONFIGURATIONS, axial_name

# (first, second): the paper's claims, each tested as first − second at every alpha.
CLAIMS = [("dropout+norm", "dropout"), ("dropout+norm", "plain"), ("dropout", "plain"),
          ("dropout+norm", "baseline-all"), ("dropout+norm", "baseline-training")]


def table_rows(run, results):
    rows = []
    for configuration in run.configurations:
        per_fold = results[configuration.name]
        published_same, published_cross = published(run.table, configuration)
        row = {"name": configuration.name, "kind": configuration.kind,
               "dropout": configuration.dropout, "normalization": configuration.normalization,
               "alpha": configuration.alpha, "baseline": configuration.baseline}
        for measure, paper in (("same", published_same), ("cross", published_cross)):
            values = [r[measure] for r in per_fold]
            mean, half = intervals.t_interval(values)
            pair_accuracies = [_pairs(r["accuracy"], measure) for r in per_fold]
            row.update({
                measure: round(mean, 2), f"{measure}_low": round(mean - half, 2),
                f"{measure}_high": round(mean + half, 2),
                f"{measure}_patch_se": round(intervals.patch_standard_error(
                    pair_accuracies, [r["test_patches"] for r in per_fold]), 2),
                f"published_{measure}": paper,
                f"published_{measure}_inside": intervals.contains(mean, half, paper)})
        row["per_fold"] = [{"fold": r["fold"], "same": round(r["same"], 2),
                            "cross": round(r["cross"], 2), "accuracy": r["accuracy"],
                            "test_patches": r["test_patches"],
                            "test_subjects": r["test_subjects"]} for r in per_fold]
        row["feature_scale"] = feature_scale(per_fold, run.modality_names)
        rows.append(row)
    return rows


def _pairs(accuracy, measure):
    size = len(accuracy)
    return [accuracy[a][b] for a in range(size) for b in range(size)
            if (a == b) == (measure == "same")]


def comparisons(run, results):
    """[{first, second, alpha, measure, difference, low, high, folds}] for the claims."""
    found = []
    for first, second in CLAIMS:
        for alpha in ALPHAS:
            names = [_name(first, alpha), _name(second, alpha)]
            if not all(results.get(n) for n in names):
                continue
            by_fold = [{r["fold"]: r for r in results[n]} for n in names]
            folds = sorted(set(by_fold[0]) & set(by_fold[1]))
            for measure in ("cross", "same"):
                mean, half = intervals.paired_difference(
                    [by_fold[0][f][measure] for f in folds], [by_fold[1][f][measure] for f in folds])
                found.append({"first": names[0], "second": names[1], "alpha": alpha,
                              "measure": measure, "difference": round(mean, 2),
                              "low": round(mean - half, 2), "high": round(mean + half, 2),
                              "folds": len(folds)})
            if second.startswith("baseline"):
                break  # a baseline has no alpha: compare it once, at alpha = 0
    return found


def _name(setting, alpha):
    if setting.startswith("baseline"):
        return setting
    return axial_name(*{"plain": (False, False), "norm": (False, True), "dropout": (True, False),
                        "dropout+norm": (True, True)}[setting], alpha)


def cell(row, measure):
    """'69.3 ± 2.1' and, where published, '(65.8 ✓)' if the paper's number is inside."""
    if row is None:
        return "–"
    half = row[f"{measure}_high"] - row[measure]
    text = f"{row[measure]:.1f}" + ("" if half != half else f" ± {half:.1f}")
    paper, inside = row[f"published_{measure}"], row[f"published_{measure}_inside"]
    if paper is None:
        return text
    return f"{text} ({paper:.1f} {'✓' if inside else '✗' if inside is False else '?'})"


def markdown(run, rows, found, seconds, fold_count):
    by_name = {row["name"]: row for row in rows}
    length = f"{run.updates} updates per network" if run.updates else f"{run.epochs} epochs"
    published_note = (f" In brackets the published {run.table.upper()} number: ✓ inside our "
                      "interval, ✗ outside." if run.table != "none" else "")
    lines = [f"# Table I — {run.dataset} ({', '.join(run.modality_names)}), preset {run.preset}, "
             f"{length}", "",
             f"Mean random-forest accuracy (%) over {fold_count} subject-wise folds and all "
             f"ordered modality pairs, ± the half width of its 95 % t interval over folds."
             + published_note, "",
             f"Command: `{run.command}`  ",
             f"Seed {run.seed}; {length}; {run.patches_per_class} training and "
             f"{run.evaluation_patches_per_class} forest patches per class per subject; filters "
             f"{'/'.join(map(str, run.filters))}; compute {format_seconds(seconds)}.  ",
             f"Model reading: {run.reading_text()}.", "",
             "| Axial neural network | " + " | ".join(f"same α={a:g}" for a in ALPHAS) + " | "
             + " | ".join(f"cross α={a:g}" for a in ALPHAS) + " |",
             "|---|" + "---|" * 2 * len(ALPHAS)]
    settings = list(dict.fromkeys(c.setting for c in CONFIGURATIONS if c.kind == "axial"))
    for setting in settings:
        cells = {measure: [] for measure in ("same", "cross")}
        for alpha in ALPHAS:
            match = next(c for c in CONFIGURATIONS if c.kind == "axial" and c.setting == setting
                         and c.alpha == alpha)
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
    patch_errors = [row[f"{m}_patch_se"] for row in rows for m in ("same", "cross")]
    lines += ["", f"Standard error from test-patch sampling alone: at most "
              f"{max(patch_errors):.2f} points per cell (the rest of each interval is "
              "fold-to-fold variation)."]
    if found:
        lines += ["", "Paired comparisons (cross-modality, percentage points, first − second, "
                  "95 % interval over folds; * excludes 0):", ""]
        for item in (f for f in found if f["measure"] == "cross"):
            star = " *" if item["low"] > 0 or item["high"] < 0 else ""
            lines.append(f"- {item['first']} − {item['second']}: {item['difference']:+.1f} "
                         f"[{item['low']:+.1f}, {item['high']:+.1f}]{star}")
    lines += scale_lines(run, rows)
    lines += ["", "Per fold (same / cross):", ""]
    for row in rows:
        folds = ", ".join(f"{f['same']:.1f} / {f['cross']:.1f}" for f in row["per_fold"])
        lines.append(f"- {row['name']}: {folds}")
    return "\n".join(lines) + "\n"


def feature_scale(per_fold, modality_names):
    """Per modality: the median per-feature SD and |mean| of the features the forests
    see, on training and on test patches, averaged over folds ([] for older units)."""
    scales = [r["feature_scale"] for r in per_fold if "feature_scale" in r]
    if not scales:
        return []
    rows = []
    for name in modality_names:
        row = {"modality": name}
        for side in ("train", "test"):
            for statistic in ("median_sd", "median_abs_mean"):
                row[f"{side}_{statistic}"] = round(float(sum(
                    s[side][name][statistic] for s in scales) / len(scales)), 3)
        rows.append(row)
    return rows


def scale_lines(run, rows):
    scale_rows = [r for r in rows if r.get("feature_scale")]
    if not scale_rows:
        return []
    names = run.modality_names
    lines = ["", "Scale of the features the forests see (median over features of the "
             "per-feature SD, training / test patches, mean over folds; per-feature "
             "normalization aims at 1 for every modality):", "",
             "| configuration | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for row in scale_rows:
        by_modality = {s["modality"]: s for s in row["feature_scale"]}
        lines.append(f"| {row['name']} | " + " | ".join(
            f"{by_modality[n]['train_median_sd']:.2f} / {by_modality[n]['test_median_sd']:.2f}"
            for n in names) + " |")
    return lines


CSV_COLUMNS = ["name", "kind", "dropout", "normalization", "alpha", "baseline",
               "same", "same_low", "same_high", "same_patch_se", "published_same",
               "published_same_inside", "cross", "cross_low", "cross_high", "cross_patch_se",
               "published_cross", "published_cross_inside"]


def write_outputs(run, rows, found, seconds, fold_count):
    document = {"dataset": run.dataset, "preset": run.preset, "modalities": run.modality_names,
                "folds": fold_count, "updates": run.updates, "epochs": run.epochs,
                "seed": run.seed, "command": run.command, "reading": run.reading,
                "confidence": intervals.CONFIDENCE,
                "interval": "fold-level t interval", "versions": versions(),
                "seconds": round(seconds, 1), "rows": rows, "comparisons": found}
    atomic_write_text(run.out / "table1.json", json.dumps(document, indent=2))
    text = markdown(run, rows, found, seconds, fold_count)
    atomic_write_text(run.out / "table1.md", text)
    with open(run.out / "table1.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    with open(run.out / "table1_feature_scale.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "modality", "train_median_sd", "train_median_abs_mean",
                         "test_median_sd", "test_median_abs_mean"])
        for row in rows:
            for scale in row["feature_scale"]:
                writer.writerow([row["name"], *scale.values()])
    with open(run.out / "table1_pairs.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "fold", "training_modality", "test_modality", "accuracy"])
        for row in rows:
            for fold in row["per_fold"]:
                for a, training_modality in enumerate(run.modality_names):
                    for b, test_modality in enumerate(run.modality_names):
                        writer.writerow([row["name"], fold["fold"], training_modality,
                                         test_modality, round(fold["accuracy"][a][b], 2)])
    return text
