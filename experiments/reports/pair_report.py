"""Where Table I's effects live: accuracy per ordered modality pair (the forest trained on
modality a, tested on b) for every row, the claims' comparisons per pair with their
intervals, and one figure per run. A mean over 12 pairs can hide an effect that lives in
three of them; these sections show each pair."""
import numpy as np

from experiments.statistics import claims, intervals

# The comparisons shown per pair in table1.md (every comparison is per pair in the CSV).
HIGHLIGHTS = ("normalization-adds-to-dropout", "dropout-adds-to-plain", "learned-beats-input")
HIGHLIGHT_CONTROL = "raw-patch"  # of the controls, the one the per-pair section shows


def pair_names(modality_names):
    return [f"{a}→{b}" for a in modality_names for b in modality_names]


def accuracy_matrix(row, modality_count):
    """(M, M) mean over folds (each fold's trainings averaged first) of a row's
    accuracy of the forest trained on a and tested on b."""
    per_fold = [np.mean(fold, axis=0)
                for fold in intervals.grouped_by_fold(row["per_fold"], "accuracy")]
    return np.mean(per_fold, axis=0).reshape(modality_count, modality_count)


def pair_comparisons(run, results):
    """Every claim comparison per ordered pair (``claims.evaluate_pairs``)."""
    return claims.evaluate_pairs(run.published_table, results, run.modality_names)


def highlighted(item):
    if item["measure"] != "cross" or not any(k in HIGHLIGHTS for k in item["claims"]):
        return False
    if "learned-beats-input" in item["claims"]:
        return item["second"] == HIGHLIGHT_CONTROL and item["first"] in (
            "dropout+norm-a0", "dropout-a0", "plain-a0", "baseline-all")
    return item["alpha"] == 0


def markdown_lines(run, rows, compared, pairs):
    """table1.md's per-pair sections; ``compared``: the comparisons of the means (the
    "mean" column), ``pairs``: ``pair_comparisons``."""
    names = run.modality_names
    columns = pair_names(names)
    lines = ["", "## Accuracy per ordered pair", "",
             "Forest trained on the first modality, tested on the second (mean over folds; "
             "same-modality pairs where both names agree). Per fold in table1_pairs.csv.", "",
             "| configuration | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for row in rows:
        matrix = accuracy_matrix(row, len(names)).ravel()
        lines.append(f"| {row['name']} | " + " | ".join(f"{v:.1f}" for v in matrix) + " |")
    chosen = [item for item in pairs if highlighted(item)]
    if not chosen:
        return lines
    cross = [c for c in columns if c.split("→")[0] != c.split("→")[1]]
    by_label = {}
    for item in chosen:
        by_label.setdefault(item["label"], {})[item["pair"]] = item
    mark = {claims.REPRODUCED: "", claims.CONTRADICTED: " ✗", claims.UNDECIDED: " ?"}
    lines += ["", "## Where the effects live: comparisons per ordered pair", "",
              "Our difference per cross-modality pair, ± the half width of its 95 % interval over "
              "folds; ? the interval contains 0, ✗ it lies on the other side of the paper's "
              "(or the claimed) direction. Every comparison per pair: table1_claims.csv.", "",
              "| comparison | mean | " + " | ".join(cross) + " |",
              "|---|---|" + "---|" * len(cross)]
    means = {item["label"]: item for item in compared if item["measure"] == "cross"}

    def cell(item):
        return ("–" if item is None else f"{item['difference']:+.1f} "
                f"±{(item['high'] - item['low']) / 2:.1f}{mark[item['verdict']]}")

    for label, per_pair in by_label.items():
        lines.append(f"| {label} | {cell(means.get(label))} | "
                     + " | ".join(cell(per_pair.get(pair)) for pair in cross) + " |")
    return lines


def plot(run, rows, path):
    """One heatmap per row: accuracy of the forest trained on a (rows) tested on b."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = run.modality_names
    columns = min(6, len(rows))
    lines = int(np.ceil(len(rows) / columns))
    figure, axes = plt.subplots(lines, columns, figsize=(2.0 * columns, 2.1 * lines),
                                squeeze=False)
    for axis in axes.ravel():
        axis.axis("off")
    for axis, row in zip(axes.ravel(), rows):
        matrix = accuracy_matrix(row, len(names))
        axis.axis("on")
        axis.imshow(matrix, vmin=0, vmax=100, cmap="viridis")
        for a in range(len(names)):
            for b in range(len(names)):
                axis.text(b, a, f"{matrix[a, b]:.0f}", ha="center", va="center", fontsize=6,
                          color="white" if matrix[a, b] < 60 else "black")
        axis.set_xticks(range(len(names)), names, fontsize=5)
        axis.set_yticks(range(len(names)), names, fontsize=5)
        axis.set_title(row["name"], fontsize=7)
    figure.suptitle(f"Accuracy per pair: forest trained on the row's modality, tested on the "
                    f"column's — {run.out.name}", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
