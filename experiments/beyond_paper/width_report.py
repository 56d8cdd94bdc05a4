"""The width study's files (``studies/central_gap_by_width.py``): the answer as Markdown,
every number as CSV, and a figure of the comparisons against the representation's
width (numbers from ``width_numbers``)."""
import numpy as np

from experiments.beyond_paper import width_numbers
from experiments.beyond_paper.width_numbers import (COMPARISONS, MECHANISM, ROW_COLUMNS,
                                                    TREND_COLUMNS)
from experiments.measurement.mechanism import SPECIFIC_SD_RATIO
from experiments.reports import figures
from experiments.statistics import claims
from experiments.statistics.intervals import bracketed
from runtime.files import atomic_write_csv, atomic_write_text

NAME = "central_gap_by_width"
UNIT_COLUMNS = ["width", "configuration", "fold", "repeat", "same", "cross", "test_patches"]


def write_outputs(base, widths, results, unit_rows, out):
    """Write every file; the Markdown's text, or "" when no comparison can be made yet.
    ``widths``: {name: filters}, the reference first; ``results``: {name: {configuration:
    [unit results]}}; ``unit_rows``: the saved networks' mechanism (``measured_units``)."""
    rows = width_numbers.comparison_rows(widths, results, base.published_table)
    if not rows:
        return ""
    out.mkdir(parents=True, exist_ok=True)
    trends = width_numbers.trend_rows(widths, results, unit_rows)
    mechanism = width_numbers.mechanism_rows(widths, unit_rows)
    atomic_write_csv(out / f"{NAME}.csv", ROW_COLUMNS, rows)
    atomic_write_csv(out / f"{NAME}_trend.csv", TREND_COLUMNS, trends)
    mechanism_columns = ["width", "filters", "configuration", "trainings"] + [
        column for measure, _ in MECHANISM for column in (measure, f"{measure}_half_width")]
    atomic_write_csv(out / f"{NAME}_mechanism.csv", mechanism_columns, mechanism)
    atomic_write_csv(out / f"{NAME}_units.csv", UNIT_COLUMNS, [
        {"width": name, "configuration": configuration, **{key: result[key] for key in
                                                           UNIT_COLUMNS[2:]}}
        for name, by_configuration in results.items()
        for configuration, finished in by_configuration.items() for result in finished])
    if unit_rows:
        atomic_write_csv(out / f"{NAME}_mechanism_by_unit.csv",
                         list(dict.fromkeys(key for row in unit_rows for key in row)), unit_rows)
    names = list(widths)
    series = width_numbers.series(widths)
    lines = [f"# The central gap against the representation's width — {base.out.name}", "",
             f"Command: `{base.command}`  ",
             f"Modalities {', '.join(base.modality_names)}; {base.length_text()} per network; "
             f"up to {base.repeats} trainings per row, fold and width. Widths (encoder "
             f"filters): {', '.join('/'.join(map(str, widths[n])) for n in names)}; the trend "
             f"runs over {', '.join('/'.join(map(str, widths[n])) for n in series)} (only the "
             "representation changes).", "",
             "Cross-modality points, 95 % interval (repeated trainings within folds, "
             "conditioned on the folds); verdict against the paper's direction (R reproduced, "
             "C contradicted, U undecided; against the raw-patch control: H higher, L lower):",
             "", "| comparison | paper | " + " | ".join(
                 "/".join(map(str, widths[n])) for n in names) + " | per doubling |",
             "|---|---|" + "---|" * (len(names) + 1)]
    trend_of = {(t["quantity"], t["configuration"]): t for t in trends}
    for comparison in COMPARISONS:
        found = {r["width"]: r for r in rows if r["comparison"] == comparison.label}
        if not found:
            continue
        paper = next(iter(found.values()))["paper"]
        lines.append(f"| {comparison.label} | {'' if paper is None else f'{paper:+.1f}'} | "
                     + " | ".join(cell(found.get(n), "raw-patch" in comparison.label)
                                  for n in names)
                     + f" | {trend_cell(trend_of.get((comparison.label, '')))} |")
    lines += reference_lines(widths, results, names)
    lines += mechanism_lines(widths, mechanism, trend_of, names)
    text = "\n".join(lines) + "\n"
    atomic_write_text(out / f"{NAME}.md", text)
    plot(widths, rows, out)
    return text


def cell(row, control):
    if row is None:
        return "–"
    letter = {"reproduced": "R", "contradicted": "C", "undecided": "U"}[row["verdict"]]
    if control and letter != "U":
        letter = "H" if row["low"] > 0 else "L"
    return f"{bracketed(row['difference'], row['low'], row['high'])} {letter}"


def trend_cell(found, places=1):
    if found is None:
        return "–"
    if found["per_doubling"] == found["low"] == found["high"] == 0:
        return "none (the same at every width)"
    verdict = "decided" if found["decided"] else "undecided"
    return (f"{bracketed(found['per_doubling'], found['low'], found['high'], places)} "
            f"{verdict}")


def reference_lines(widths, results, names):
    """Widths outside the series against the reference width, paired by training."""
    outside = [n for n in names[1:] if n not in width_numbers.series(widths)]
    if not outside:
        return []
    reference = names[0]
    lines = ["", f"Widths outside the series against the reference "
             f"{'/'.join(map(str, widths[reference]))} (the same trainings' difference, "
             "paired by fold and repeat):", "",
             "| comparison | " + " | ".join("/".join(map(str, widths[n])) + " − reference"
                                           for n in outside) + " |",
             "|---|" + "---|" * len(outside)]
    for comparison in COMPARISONS[:3]:
        values = {n: claims.values_by_unit(comparison, results[n]) for n in names}
        cells = []
        for name in outside:
            found = width_numbers.paired_against(values, name, reference)
            cells.append("–" if found is None else f"{bracketed(*found[:3])} ({found[3]})")
        lines.append(f"| {comparison.label} | " + " | ".join(cells) + " |")
    return lines


def mechanism_lines(widths, mechanism, trend_of, names):
    if not mechanism:
        return []
    lines = ["", f"The mechanism (every saved network on its fold's test patches; mean ± 95 % "
             f"interval over trainings): the share of features used for one modality but not "
             f"the other (SD in one modality below {SPECIFIC_SD_RATIO:g} × its SD in the "
             "other) and the per-feature offset between modalities in pooled SDs, before the "
             "network's normalization and after it:", "",
             "| measure | row | " + " | ".join("/".join(map(str, widths[n])) for n in names)
             + " | per doubling |", "|---|---|" + "---|" * (len(names) + 1)]
    for measure, label in MECHANISM:
        for configuration in dict.fromkeys(r["configuration"] for r in mechanism):
            found = {r["width"]: r for r in mechanism
                     if r["configuration"] == configuration and measure in r}
            if not found:
                continue
            cells = ["–" if n not in found else
                     f"{found[n][measure]:.3f}" + ("" if found[n][f"{measure}_half_width"] is None
                                                   else f" ± {found[n][f'{measure}_half_width']:.3f}")
                     for n in names]
            lines.append(f"| {label} | {configuration} | " + " | ".join(cells) + " | "
                         + trend_cell(trend_of.get((measure, configuration)), 3) + " |")
    return lines


def plot(widths, rows, out):
    """One panel per comparison: difference against the representation's width, the
    series joined, the other widths as open markers."""
    plt = figures.pyplot()
    labels = list(dict.fromkeys(r["comparison"] for r in rows))
    columns = min(3, len(labels))
    panel_rows = -(-len(labels) // columns)
    figure, axes = plt.subplots(panel_rows, columns, figsize=(4.2 * columns, 3.0 * panel_rows),
                                squeeze=False)
    series = width_numbers.series(widths)
    for axis, label in zip(axes.ravel(), labels):
        mine = [r for r in rows if r["comparison"] == label]
        for group, style in ((series, "o-"), ([n for n in widths if n not in series], "s")):
            found = [r for r in mine if r["width"] in group]
            if not found:
                continue
            x = [r["representation"] for r in found]
            y = [r["difference"] for r in found]
            error = [[r["difference"] - r["low"] for r in found],
                     [r["high"] - r["difference"] for r in found]]
            axis.errorbar(x, y, yerr=None if np.isnan(error[0]).any() else error, fmt=style,
                          capsize=3, mfc="none" if style == "s" else None,
                          label=("series" if style == "o-" else ", ".join(
                              r["filters"] for r in found)))
        if mine[0]["paper"] is not None:
            axis.axhline(mine[0]["paper"], color="tab:blue", lw=1, ls="--", label="paper")
        axis.axhline(0, color="0.7", lw=0.6)
        axis.set_xscale("log", base=2)
        axis.set_xticks(sorted({widths[n][-1] for n in widths}))
        axis.set_xticklabels(sorted({widths[n][-1] for n in widths}))
        axis.set_title(label, fontsize=8)
        axis.set_xlabel("representation (last layer's filters)", fontsize=7)
    for axis in axes.ravel()[len(labels):]:
        axis.axis("off")
    axes[0, 0].set_ylabel("cross-modality points, 95 % interval")
    axes[0, 0].legend(fontsize=7)
    figure.suptitle("The central gap and its neighbours against the representation's width",
                    fontsize=10)
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.5 / figure.get_figheight()))
    figure.savefig(out / f"{NAME}.png", dpi=100)
