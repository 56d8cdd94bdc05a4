"""Table I's files: table1.json (everything, for programs), table1.md (``table_report``),
the CSV files and the per-pair figure, each written atomically."""
import json

from experiments.statistics import claims, intervals
from experiments.reports import pair_report
from experiments.reports.table_report import markdown
from runtime.files import atomic_write_csv, atomic_write_text
from runtime.metadata import versions

CSV_COLUMNS = ["name", "kind", "dropout", "normalization", "alpha", "baseline",
               "same", "same_low", "same_high", "same_patch_se", "published_same",
               "published_same_inside", "cross", "cross_low", "cross_high", "cross_patch_se",
               "published_cross", "published_cross_inside"]


CLAIM_COLUMNS = ["claims", "comparison", "pair", "measure", "alpha", "difference", "low", "high",
                 "paper", "paper_inside", "verdict", "folds", "trainings", "beyond_paper"]


def write_outputs(run, rows, compared, split, fold_count, pairs=(), updates=None, machines=()):
    """table1.json / .md / .csv, table1_feature_scale.csv, table1_claims.csv (every
    comparison over the mean of pairs, "pair" = mean, then per ordered pair),
    table1_pairs.csv and table1_pairs.png, each written atomically."""
    document = {"dataset": run.dataset, "preset": run.preset, "modalities": run.modality_names,
                "folds": fold_count, "updates": run.updates, "epochs": run.epochs,
                "seed": run.seed, "command": run.command, "reading": run.reading,
                "scale": run_scale(run, rows, fold_count, updates),
                "confidence": intervals.CONFIDENCE,
                "interval": rows[0]["interval"] if rows else intervals.FOLD_METHOD,
                "repeats": run.repeats, "versions": versions(), "computed_on": list(machines),
                "arithmetic_version": run.fingerprint()["arithmetic_version"],
                "seconds": split["total"], "time_split": split, "rows": rows,
                "comparisons": compared, "pair_comparisons": list(pairs),
                "claims_summary": claims.summary(claims.paper_comparisons(compared)),
                "controls_summary": claims.summary([c for c in compared
                                                    if c.get("beyond_paper")],
                                                   beyond_paper=True),
                "claims": [{"key": c.key, "statement": c.statement,
                            "beyond_paper": c.beyond_paper,
                            "comparisons": [f["label"] + ("" if f["measure"] == "cross" else
                                                          f" ({f['measure']})")
                                            for f in compared if c.key in f["claims"]]}
                           for c in claims.CLAIMS]}
    atomic_write_text(run.out / "table1.json", json.dumps(document, indent=2))
    text = markdown(run, rows, compared, split, fold_count, pairs, machines)
    atomic_write_text(run.out / "table1.md", text)
    atomic_write_csv(run.out / "table1.csv", CSV_COLUMNS, rows)
    atomic_write_csv(run.out / "table1_feature_scale.csv",
                     ["name", "modality", "train_median_sd", "train_median_abs_mean",
                      "test_median_sd", "test_median_abs_mean"],
                     [[row["name"], *scale.values()] for row in rows
                      for scale in row["feature_scale"]])
    atomic_write_csv(run.out / "table1_claims.csv", CLAIM_COLUMNS, [
        {**item, "claims": " ".join(item["claims"]), "comparison": item["label"],
         "pair": item.get("pair", "mean"), "beyond_paper": bool(item.get("beyond_paper"))}
        for item in [*compared, *pairs]])
    atomic_write_csv(run.out / "table1_pairs.csv",
                     ["name", "fold", "training_modality", "test_modality", "accuracy"]
                     + (["repeat"] if run.repeats > 1 else []),
                     [[row["name"], fold["fold"], training_modality, test_modality,
                       round(fold["accuracy"][a][b], 2)]
                      + ([fold["repeat"]] if run.repeats > 1 else [])
                      for row in rows for fold in row["per_fold"]
                      for a, training_modality in enumerate(run.modality_names)
                      for b, test_modality in enumerate(run.modality_names)])
    if rows:
        pair_report.plot(run, rows, run.out / "table1_pairs.png")
    return text


def run_scale(run, rows, fold_count, updates=None):
    """How big the run was, beside the paper's (the findings page puts them side by side):
    updates per network (``updates``: given, or epochs × batches per epoch), training
    subjects per fold, features, forest and training patches."""
    subjects = [len(f.get("training_subjects", ())) for row in rows for f in row["per_fold"]]
    return {"updates": updates or run.updates, "epochs": run.epochs,
            "batch_size": run.batch_size,
            "features": run.filters[-1], "filters": list(run.filters),
            "training_subjects": max(subjects) if subjects and max(subjects) else None,
            "folds": fold_count, "patches_per_class": run.patches_per_class,
            "evaluation_patches_per_class": run.evaluation_patches_per_class}
