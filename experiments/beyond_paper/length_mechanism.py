"""The training-length study's mechanism: how the modalities' feature offsets and scales
(before and after the network's normalization) and the last batch normalization's γ and
β gaps (``mechanism.measure``, recorded at every checkpoint) change with training, and
whether the central gap (dropout + normalization − dropout) follows them.

Trend: per fold, a straight line in log10(updates) through that fold's checkpoints; its
slope (per tenfold more updates) and its value at the paper's length are averaged over
folds with a fold-level t interval (each fold one replicate, as for the accuracies).
That value is an *extrapolation of a line*, far outside the measured range: it says where
the measured trend points, not what a paper-length training would give.
"""
import math

import numpy as np

from experiments.statistics import intervals
from experiments.statistics.intervals import interval_text, significant

PAPER_UPDATES = 1_375_000  # BRATS: SPEC's paper preset (the OAI runs are similar)
SERIES = (("before", "offset_in_pooled_sd", "offset between modalities before normalization "
           "(pooled SDs)"),
          ("after", "offset_in_pooled_sd", "offset between modalities after normalization "
           "(pooled SDs)"),
          ("before", "scale_ratio", "SD ratio between modalities before normalization"),
          ("last_normalization", "gamma_gap", "last batch normalization: mean |γ_a − γ_b|"),
          ("last_normalization", "beta_gap", "last batch normalization: mean |β_a − β_b|"),
          ("last_normalization", "implied_offset_in_pooled_sd",
           "offset implied by the last batch normalization's γ and β (pooled SDs)"))
GAP = ("dropout+norm-a0", "dropout-a0")


def series(results, configuration, side, key):
    """{fold: [(updates, value)]} of one measure of one configuration's checkpoints."""
    found = {}
    for result in results.get(configuration, []):
        points = [(c["updates"], (c.get("mechanism") or {}).get(side) or {})
                  for c in result["checkpoints"]]
        points = [(updates, values[key]) for updates, values in points if key in values]
        if points:
            found[result["fold"]] = points
    return found


def gap_series(results):
    """{fold: [(updates, cross of dropout + normalization − cross of dropout)]}."""
    first, second = ({r["fold"]: {c["updates"]: c["cross"] for c in r["checkpoints"]}
                      for r in results.get(name, [])} for name in GAP)
    return {fold: [(u, first[fold][u] - second[fold][u]) for u in sorted(first[fold])
                   if u in second[fold]] for fold in sorted(set(first) & set(second))}


def trend(by_fold, target=PAPER_UPDATES):
    """{slope, slope_half, at_target, at_target_half, folds}: per fold a least-squares
    line in log10(updates); slopes per decade and the lines' values at ``target``, each
    with a fold-level t interval (NaN half widths with one fold)."""
    slopes, values = [], []
    for points in by_fold.values():
        if len({u for u, _ in points}) < 2:
            continue
        x = np.log10([u for u, _ in points])
        y = np.array([v for _, v in points], float)
        slope, intercept = np.polyfit(x, y, 1)
        slopes.append(slope)
        values.append(intercept + slope * math.log10(target))
    if not slopes:
        return None
    slope, slope_half = intervals.t_interval(slopes)
    value, value_half = intervals.t_interval(values)
    return {"slope": slope, "slope_half": slope_half, "at_target": value,
            "at_target_half": value_half, "folds": len(slopes)}


def rows(results, checkpoints):
    """Per configuration, measure and checkpoint: the mean over folds with its interval,
    and per configuration and measure the trend; and the same for the central gap."""
    table, trends = [], []
    measured = [(name, side, key, label) for name in results for side, key, label in SERIES]
    measured += [("dropout+norm-a0 − dropout-a0", "gap", "cross", "cross-modality gap (points)")]
    for name, side, key, label in measured:
        by_fold = gap_series(results) if side == "gap" else series(results, name, side, key)
        if not by_fold:
            continue
        for updates in checkpoints:
            values = [v for points in by_fold.values() for u, v in points if u == updates]
            if values:
                mean, half = intervals.t_interval(values)
                table.append({"configuration": name, "measure": label, "updates": updates,
                              "mean": rounded(mean, 8), "half_width": rounded(half, 8),
                              "folds": len(values)})
        found = trend(by_fold)
        if found:
            trends.append({"configuration": name, "measure": label,
                           **{k: rounded(v, 8) if k != "folds" else v
                              for k, v in found.items()}})
    return table, trends


def rounded(value, digits=4):
    return None if value is None or math.isnan(value) else round(float(value), digits)


def lines(table, trends):
    """The Markdown section of the study's report."""
    if not table:
        return []
    checkpoints = sorted({row["updates"] for row in table})
    text = ["", "## Mechanism against training length", "",
            "Test patches of each fold; mean ± 95 % interval over folds (the measures of "
            "experiments/measurement/mechanism.py).", "",
            "| configuration | measure | " + " | ".join(f"{u:,}" for u in checkpoints) + " |",
            "|---|---|" + "---|" * len(checkpoints)]
    for name, measure in dict.fromkeys((r["configuration"], r["measure"]) for r in table):
        cells = {r["updates"]: r for r in table
                 if (r["configuration"], r["measure"]) == (name, measure)}
        text.append(f"| {name} | {measure} | " + " | ".join(
            "–" if u not in cells else
            interval_text(cells[u]["mean"], cells[u]["half_width"]).lstrip("+")
            for u in checkpoints) + " |")
    text += ["", f"Trend per tenfold more updates (a line in log10(updates) per fold; slope "
             f"± 95 % interval over folds: *grows* or *shrinks* when the interval excludes 0) "
             f"and **extrapolated** to the paper's {PAPER_UPDATES:,} updates — a line carried "
             f"{math.log10(PAPER_UPDATES / checkpoints[-1]):.1f} decades past the last "
             "measurement, not a measurement:", "",
             "| configuration | measure | slope per decade | trend | line at the paper's "
             "length (extrapolated) |", "|---|---|---|---|---|"]
    for row in trends:
        half = row["slope_half"]
        word = ("undecided" if half is None or row["slope"] - half <= 0 <= row["slope"] + half
                else "grows" if row["slope"] > 0 else "shrinks")
        text.append(f"| {row['configuration']} | {row['measure']} | "
                    f"{interval_text(row['slope'], half)} | {word} | "
                    f"{interval_text(row['at_target'], row['at_target_half'])} |")
    return text
