"""The files of the readings study (``claims_by_reading.py``): the grid reading × claim →
difference, interval and verdict as CSV, Markdown and a figure, and the mechanism
numbers as CSV."""

import numpy as np

from experiments.statistics import claims
from experiments.reports import figures
from experiments.measurement.mechanism import MEASURES, summarized
from experiments.statistics.intervals import bracketed
from runtime.files import atomic_write_csv, atomic_write_text

NAME = "claims_by_reading"


def write_outputs(base, names, grid_rows, mechanism_rows, out, gaps=(), unit_rows=()):
    columns = ["reading", "claims", "comparison", "measure", "alpha", "difference", "low",
               "high", "paper", "paper_inside", "verdict", "folds", "trainings"]
    atomic_write_csv(out / f"{NAME}.csv", columns, grid_rows)
    atomic_write_csv(out / f"{NAME}_mechanism.csv", ["reading", "configuration", "trainings",
                                                     "offset_in_pooled_sd",
                                                     "single_feature_auc"], mechanism_rows)
    comparisons = list(dict.fromkeys((r["comparison"], r["measure"]) for r in grid_rows))
    lines = [f"# Claims by reading — {base.out.name}", "", f"Command: `{base.command}`  ",
             f"Modalities {', '.join(base.modality_names)}; {base.length_text()} per network; "
             f"up to {base.repeats} trainings per configuration and fold.", "",
             "Per reading, our difference for each of the paper's comparisons (e.g. "
             "dropout-a0 − plain-a0: our dropout network's accuracy minus our plain "
             "network's; percentage points with its 95 % interval; R reproduced, C "
             "contradicted, U undecided; against a control, which the paper does not have: "
             "H higher, L lower, U undecided; the paper's value in the second column):", "",
             "| comparison | paper | " + " | ".join(names) + " |",
             "|---|---|" + "---|" * len(names)]
    for label, measure in comparisons:
        found = {r["reading"]: r for r in grid_rows
                 if r["comparison"] == label and r["measure"] == measure}
        paper = next(iter(found.values()))["paper"]
        cells = [(f"{bracketed(found[n]['difference'], found[n]['low'], found[n]['high'])}"
                  f" {verdict_letter(found[n])}") if n in found else "–" for n in names]
        suffix = "" if measure == "cross" else f" ({measure})"
        lines.append(f"| {label}{suffix} | {'' if paper is None else f'{paper:+.1f}'} | "
                     + " | ".join(cells) + " |")
    lines += ["", "| summary of the paper's comparisons | | " + " | ".join(claims.summary(
        [r for r in grid_rows if r["reading"] == n and not against_control(r)])
        for n in names) + " |"]
    lines += ["", "Mechanism (test patches, mean over trainings): mean per-feature offset "
              "between modalities in pooled SDs / mean single-feature AUC for telling the "
              "modalities apart (0.5 = not at all):", "",
              "| row | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for configuration in dict.fromkeys(r["configuration"] for r in mechanism_rows):
        found = {r["reading"]: r for r in mechanism_rows if r["configuration"] == configuration}
        lines.append(f"| {configuration} | " + " | ".join(
            f"{found[n]['offset_in_pooled_sd']:.2f} / {found[n]['single_feature_auc']:.2f}"
            if n in found else "–" for n in names) + " |")
    lines += gap_lines(gaps, out) + unit_mechanism_lines(unit_rows, out)
    text = "\n".join(lines) + "\n"
    atomic_write_text(out / f"{NAME}.md", text)
    plot(names, grid_rows, comparisons, out)
    return text


def against_control(row):
    """A network against a control: beyond the paper, so no paper value."""
    return row.get("paper") in (None, "")


def verdict_letter(row):
    """R / C / U for the paper's comparisons, H / L / U against a control."""
    if against_control(row):
        return {"reproduced": "H", "contradicted": "L"}.get(row["verdict"], "U")
    return row["verdict"][0].upper()


def plot(names, grid_rows, comparisons, out):
    plt = figures.pyplot()
    cross = [c for c in comparisons if c[1] == "cross" and " − baseline-training" not in c[0]
             and not c[0].startswith("(")]
    columns = max(1, min(4, len(cross)))  # one comparison: one panel, not a sliver
    rows = max(1, -(-len(cross) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 2.8 * rows + 1.2),
                                squeeze=False, sharex=True)
    for axis, (label, measure) in zip(axes.ravel(), cross):
        found = [next((r for r in grid_rows if r["reading"] == n and r["comparison"] == label
                       and r["measure"] == measure), None) for n in names]
        for position, row in enumerate(found):
            if row is None:
                continue
            colour = {"reproduced": "tab:green", "contradicted": "tab:red"}.get(
                row["verdict"], "0.4")
            error = [[row["difference"] - row["low"]], [row["high"] - row["difference"]]]
            axis.errorbar([position], [row["difference"]],
                          yerr=None if np.isnan(error[0][0]) else error, fmt="o", color=colour,
                          capsize=3)
        paper = next((r["paper"] for r in found if r is not None), None)
        if paper is not None:
            axis.axhline(paper, color="tab:blue", lw=1, ls="--", label="paper")
        axis.axhline(0, color="0.7", lw=0.6)
        axis.set_title(label, fontsize=8)
    for axis in axes.ravel()[len(cross):]:
        axis.axis("off")
    for axis in axes[-1]:
        axis.set_xticks(range(len(names)))
        axis.set_xticklabels(names, rotation=60, ha="right", fontsize=7)
    axes[0, 0].set_ylabel("difference (points), 95 % interval")
    if axes[0, 0].get_legend_handles_labels()[0]:  # a paper line to name
        axes[0, 0].legend(fontsize=7)
    figure.suptitle("Claims by reading (green reproduced, red contradicted, grey undecided)",
                    fontsize=10)
    top = 1 - 0.5 / figure.get_figheight()
    figure.tight_layout(rect=(0, 0, 1, top))
    figure.savefig(out / f"{NAME}.png", dpi=100)


GAP_COLUMNS = ["reading", "comparison", "alpha", "gap", "gap_low", "gap_high", "trainings",
               "versus", "difference", "low", "high", "paired_trainings", "decided"]


def gap_lines(gaps, out):
    """The central gap per reading and against the reference reading (``gap_rows``)."""
    if not gaps:
        return []
    atomic_write_csv(out / f"{NAME}_gap.csv", GAP_COLUMNS, gaps)
    lines = ["", "The central gap, dropout + normalization − dropout (cross-modality points, "
             "95 % interval), per reading and its difference from the reference reading "
             "(paired by fold and training; decided when the interval excludes 0):", "",
             f"| reading | α | gap | trainings | − {reference_of(gaps)}'s gap | |",
             "|---|---|---|---|---|---|"]
    for row in gaps:
        against = "" if "versus" not in row else (
            bracketed(row['difference'], row['low'], row['high']))
        decided = "" if "versus" not in row else ("decided" if row["decided"] else "undecided")
        lines.append(f"| {row['reading']} | {row['alpha']:g} | "
                     f"{bracketed(row['gap'], row['gap_low'], row['gap_high'])} | {row['trainings']} | "
                     f"{against} | {decided} |")
    return lines


def reference_of(gaps):
    return next((row["versus"] for row in gaps if "versus" in row), "the reference reading")


def unit_mechanism_lines(unit_rows, out):
    """Per reading and row, the saved networks' feature gaps between modalities before
    and after their normalization and the last batch normalization's drift (means over
    trainings with 95 % half widths)."""
    if not unit_rows:
        return []
    columns = list(dict.fromkeys(key for row in unit_rows for key in row))
    atomic_write_csv(out / f"{NAME}_mechanism_by_unit.csv", columns, unit_rows)
    summary = summarized(unit_rows)

    def cell(row, measure, digits=2):
        if measure not in row:
            return "–"
        half = row.get(f"{measure}_half_width")
        return f"{row[measure]:.{digits}f}" + ("" if half is None else f" ± {half:.{digits}f}")
    lines = ["", "Mechanism measured on the saved networks (test patches; mean ± 95 % "
             "interval over trainings): per-feature offset between modalities in pooled SDs "
             "and SD ratio (1 = equal), before the network's normalization (the encoders' "
             "outputs) and after it (what is averaged and what the forests see); and, where "
             "the encoders' last block has batch normalization, mean |γ_a − γ_b| and "
             "|β_a − β_b| of that layer and the offset they imply:", "",
             "| reading | row | trainings | offset before | offset after | SD ratio before | "
             "SD ratio after | last BN |γ| gap | last BN |β| gap | implied offset |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in summary:
        lines.append(f"| {row['reading']} | {row['configuration']} | {row['trainings']} | "
                     + " | ".join(cell(row, measure, 3 if measure.startswith("last_bn") else 2)
                                  for measure in MEASURES) + " |")
    return lines
