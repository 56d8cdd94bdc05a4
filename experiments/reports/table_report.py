"""Table I from finished units: rows with 95 % intervals, the published-number check, the
paper's claims with verdicts (``claims``) and the controls, as table1.md (the files:
``table_files``)."""

from experiments.statistics import claims, intervals
from experiments.reports import pair_report
from experiments.paper.published import ALPHAS, published
from experiments.paper.configurations import CONFIGURATIONS
from runtime.console import format_seconds


def table_rows(run, results):
    rows = []
    for configuration in run.configurations:
        per_fold = results[configuration.name]  # every unit: folds and repeats
        published_same, published_cross = published(run.published_table, configuration)
        row = {"name": configuration.name, "kind": configuration.kind,
               "dropout": configuration.dropout, "normalization": configuration.normalization,
               "alpha": configuration.alpha, "baseline": configuration.baseline,
               "trainings": len(per_fold)}
        for measure, paper in (("same", published_same), ("cross", published_cross)):
            mean, half, row["interval"] = intervals.interval(intervals.grouped_by_fold(per_fold, measure))
            # Repeated trainings share their fold's test patches: one per fold.
            first_trainings = [r for r in per_fold if r.get("repeat", 0) == 0] or per_fold
            pair_accuracies = [_pairs(r["accuracy"], measure) for r in first_trainings]
            row.update({
                measure: round(mean, 2), f"{measure}_low": round(mean - half, 2),
                f"{measure}_high": round(mean + half, 2),
                f"{measure}_patch_se": round(intervals.patch_standard_error(
                    pair_accuracies, [r["test_patches"] for r in first_trainings]), 2),
                f"published_{measure}": paper,
                f"published_{measure}_inside": intervals.contains(mean, half, paper)})
        row["per_fold"] = [{"fold": r["fold"], "repeat": r.get("repeat", 0),
                            "same": round(r["same"], 2),
                            "cross": round(r["cross"], 2), "accuracy": r["accuracy"],
                            "test_patches": r["test_patches"],
                            "test_subjects": r["test_subjects"],
                            "training_subjects": r.get("training_subjects", [])}
                           for r in per_fold]
        row["feature_scale"] = mean_feature_scale(per_fold, run.modality_names)
        rows.append(row)
    return rows


def _pairs(accuracy, measure):
    size = len(accuracy)
    return [accuracy[a][b] for a in range(size) for b in range(size)
            if (a == b) == (measure == "same")]


def comparisons(run, results):
    """The claims' comparisons that these results allow, with verdicts (``claims``)."""
    return claims.evaluate(run.published_table, results)


def cell(row, measure):
    """'69.3 ± 2.1' and, where published, '(65.8 ✓)' if the paper's number is inside."""
    if row is None:
        return "–"
    text = intervals.format_interval(row[measure], row[f"{measure}_high"] - row[measure])
    paper, inside = row[f"published_{measure}"], row[f"published_{measure}_inside"]
    if paper is None:
        return text
    return f"{text} ({paper:.1f} {'✓' if inside else '✗' if inside is False else '?'})"


SECTIONS = ("training", "feature extraction", "forests")


def machines_of(results):
    """The distinct machines and thread counts the units were computed with (a unit from
    before this was recorded: "not recorded"), sorted."""
    return sorted({r.get("computed_on", "not recorded") for per_unit in results.values()
                   for r in per_unit})


def time_split(results):
    """Seconds of compute summed over the units: in all, per section of a unit
    (``unit.run_unit``'s timing; patch cutting happens inside training and feature
    extraction) and "other" (features' statistics, saving); units from before the split
    was recorded count in "total" only."""
    units = [r for per_unit in results.values() for r in per_unit]
    split = {"total": sum(r["seconds"] for r in units)}
    timed = [r for r in units if "timing" in r]
    if timed:
        for section in (*SECTIONS, "patch cutting"):
            split[section] = sum(r["timing"].get(section, 0.0) for r in timed)
        split["other"] = sum(r["seconds"] for r in timed) - sum(split[s] for s in SECTIONS)
    return {key: round(value, 1) for key, value in split.items()}


def time_split_text(split):
    """'14m39s (training 9m02s, of which patch cutting 0m40s; …)'."""
    text = format_seconds(split["total"])
    if "training" in split:
        text += (f" (training {format_seconds(split['training'])}, of which cutting patches "
                 f"{format_seconds(split['patch cutting'])} in training and feature extraction "
                 f"together; feature extraction {format_seconds(split['feature extraction'])}; "
                 f"forests {format_seconds(split['forests'])}; other "
                 f"{format_seconds(split['other'])})")
    return text


def markdown(run, rows, compared, split, fold_count, pairs=(), machines=()):
    by_name = {row["name"]: row for row in rows}
    length = f"{run.updates} updates per network" if run.updates else f"{run.epochs} epochs"
    published_note = (f" In brackets the published {run.published_table.upper()} number: ✓ inside our "
                      "interval, ✗ outside." if run.published_table != "none" else "")
    method = rows[0]["interval"] if rows else intervals.FOLD_METHOD
    repeats = (f", {run.repeats} trainings per configuration and fold (--repeats)"
               if run.repeats > 1 else "")
    lines = [f"# Table I — {run.dataset} ({', '.join(run.modality_names)}), preset {run.preset}, "
             f"{length}", "",
             f"Mean random-forest accuracy (%) over {fold_count} subject-wise folds{repeats} "
             f"and all ordered modality pairs, ± the half width of its 95 % interval ({method})."
             + published_note, "",
             f"Command: `{run.command}`  ",
             f"Seed {run.seed}; {length}; {run.patches_per_class} training and "
             f"{run.evaluation_patches_per_class} forest patches per class per subject; filters "
             f"{'/'.join(map(str, run.filters))}; compute {time_split_text(split)}.  ",
             f"Model reading: {run.reading_text()}.  ",
             f"Computed on: {' | '.join(machines) or 'not recorded'} (the thread count and "
             "the processor decide the float32 round-off: docs/design.md).", "",
             "| Axial neural network | " + " | ".join(f"same α={a:g}" for a in ALPHAS) + " | "
             + " | ".join(f"cross α={a:g}" for a in ALPHAS) + " |",
             "|---|" + "---|" * 2 * len(ALPHAS)]
    labels = list(dict.fromkeys(c.row_label for c in CONFIGURATIONS if c.kind == "axial"))
    for label in labels:
        cells = {measure: [] for measure in ("same", "cross")}
        for alpha in ALPHAS:
            match = next(c for c in CONFIGURATIONS if c.kind == "axial" and c.row_label == label
                         and c.alpha == alpha)
            for measure in cells:
                cells[measure].append(cell(by_name.get(match.name), measure))
        if any(c != "–" for c in cells["same"]):
            lines.append(f"| {label} | " + " | ".join(cells["same"] + cells["cross"]) + " |")
    for kind, heading in (("baseline", "Baseline network"),
                          ("control", "Control, no trained network (beyond the paper)")):
        chosen = [c for c in CONFIGURATIONS if c.kind == kind and c.name in by_name]
        if chosen:
            lines += ["", f"| {heading} | same | cross |", "|---|---|---|"]
            for configuration in chosen:
                row = by_name[configuration.name]
                lines.append(f"| {configuration.row_label} | {cell(row, 'same')} | "
                             f"{cell(row, 'cross')} |")
    patch_errors = [row[f"{m}_patch_se"] for row in rows for m in ("same", "cross")]
    lines += ["", f"Standard error from test-patch sampling alone: at most "
              f"{max(patch_errors):.2f} points per cell (the rest of each interval is "
              "variation between folds and trainings)."]
    lines += claims.claim_lines(compared)
    lines += claims.control_lines(compared)
    lines += pair_report.markdown_lines(run, rows, compared, pairs)
    lines += scale_lines(run, rows)
    lines += ["", "Per fold (same / cross" + ("; one pair per training" if run.repeats > 1
                                              else "") + "):", ""]
    for row in rows:
        folds = intervals.grouped_by_fold(row["per_fold"],
                                          lambda f: f"{f['same']:.1f} / {f['cross']:.1f}")
        lines.append(f"- {row['name']}: " + "; ".join(", ".join(fold) for fold in folds))
    return "\n".join(lines) + "\n"


def table_section(text):
    """The part of table1.md before its claims: the header and Table I itself."""
    return text.split("\n## ", 1)[0].rstrip()


def mean_feature_scale(per_fold, modality_names):
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
