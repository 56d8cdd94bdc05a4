"""The width study's numbers (``studies/central_gap_by_width.py``): per width,
the comparisons the central gap rests on; their trend per doubling of the
representation; the mechanism the paper names (features used for one modality but not
the other, per-modality offsets) per width and its trend.

Trend: for each training (fold, repeat), a least-squares line through its values at the
series' widths against log2 of the representation's width (the encoders' last filters);
the slopes (points per doubling) get the same interval as a difference of rows
(``intervals.interval``: repeated trainings within folds, conditioned on the folds). The
same training index at two widths shares its data, test patches and seeds; only the
network's width differs. Widths outside the series (other first layers, such as the
paper's 32/64/128) are compared with the reference width, paired the same way.
"""
import math

import numpy as np

from experiments.statistics import claims, intervals
CENTRAL_GAP = claims.difference("dropout+norm", "dropout", "cross", 0.0)
COMPARISONS = (CENTRAL_GAP,
               claims.difference("dropout", "plain", "cross", 0.0),
               claims.difference("dropout+norm", "plain", "cross", 0.0),
               *(claims.against_control(row, "raw-patch")
                 for row in ("dropout+norm-a0", "dropout-a0", "plain-a0")))
MECHANISM = (("before_modality_specific_share", "features used for one modality only, "
              "before normalization (share)"),
             ("after_modality_specific_share", "features used for one modality only, after "
              "normalization (share)"),
             ("before_scale_ratio", "SD ratio between modalities before normalization "
              "(1 = equal)"),
             ("after_scale_ratio", "SD ratio between modalities after normalization"),
             ("before_offset_in_pooled_sd", "offset between modalities before normalization "
              "(pooled SDs)"),
             ("after_offset_in_pooled_sd", "offset between modalities after normalization "
              "(pooled SDs)"))
ROW_COLUMNS = ["width", "filters", "representation", "comparison", "difference", "low", "high",
               "paper", "verdict", "folds", "trainings"]
TREND_COLUMNS = ["quantity", "configuration", "per_doubling", "low", "high", "decided", "widths",
                 "trainings"]


def representation(filters):
    return filters[-1]


def series(widths):
    """The names of the widths that share the reference's first two layers, narrowest
    representation first: the trend runs over them."""
    reference = next(iter(widths.values()))
    names = [name for name, filters in widths.items() if filters[:2] == reference[:2]]
    return sorted(names, key=lambda name: representation(widths[name]))


def comparison_rows(widths, results, table):
    """Per width and comparison: difference, interval, verdict (``claims.verdict``)."""
    rows = []
    for name, filters in widths.items():
        for comparison in COMPARISONS:
            grouped = claims.values_by_fold(comparison, results[name])
            if not grouped:
                continue
            mean, half, _ = intervals.interval(grouped)
            paper = claims.published_value(table, comparison)
            rows.append({"width": name, "filters": "/".join(map(str, filters)),
                         "representation": representation(filters),
                         "comparison": comparison.label, "difference": round(mean, 2),
                         "low": round(mean - half, 2), "high": round(mean + half, 2),
                         "paper": paper, "verdict": claims.verdict(mean - half, mean + half,
                                                                   paper),
                         "folds": len(grouped), "trainings": sum(map(len, grouped))})
    return rows


def trend(values_by_width, widths, names):
    """{per_doubling, low, high, decided, widths, trainings} of {name: {(fold, repeat):
    value}} over the widths ``names``, or None with fewer than two widths measured."""
    slopes = {}
    for key in set().union(*(values_by_width.get(name, {}) for name in names)):
        points = [(math.log2(representation(widths[name])), values_by_width[name][key])
                  for name in names if key in values_by_width.get(name, {})]
        if len(points) >= 2:
            slopes[key] = float(np.polyfit(*zip(*points), 1)[0])
    if not slopes:
        return None
    mean, half, _ = intervals.interval(intervals.grouped_by_fold(slopes))
    measured = [name for name in names if values_by_width.get(name)]
    return {"per_doubling": round(mean, 3), "low": round(mean - half, 3),
            "high": round(mean + half, 3), "decided": bool(mean - half > 0 or mean + half < 0),
            "widths": " ".join(measured), "trainings": len(slopes)}


def paired_against(values_by_width, name, reference):
    """(difference, low, high, trainings) of a width's values minus the reference's,
    paired by fold and repeat; None when they share no training."""
    mine, theirs = values_by_width.get(name, {}), values_by_width.get(reference, {})
    common = set(mine) & set(theirs)
    if not common:
        return None
    mean, half, _ = intervals.interval(intervals.grouped_by_fold(
        {key: mine[key] - theirs[key] for key in common}))
    return mean, mean - half, mean + half, len(common)


def mechanism_values(unit_rows, width, configuration, measure):
    """{(fold, repeat): value} of one measure of one width's row."""
    return {(row["fold"], row["repeat"]): row[measure] for row in unit_rows
            if row["reading"] == width and row["configuration"] == configuration
            and row.get(measure) is not None}


def trend_rows(widths, results, unit_rows):
    """The trend per doubling of every comparison and every mechanism measure."""
    names = series(widths)
    rows = []
    for comparison in COMPARISONS:
        found = trend({name: claims.values_by_unit(comparison, results[name]) for name in names},
                      widths, names)
        if found:
            rows.append({"quantity": comparison.label, "configuration": "", **found})
    for configuration in dict.fromkeys(row["configuration"] for row in unit_rows):
        for measure, _ in MECHANISM:
            found = trend({name: mechanism_values(unit_rows, name, configuration, measure)
                           for name in names}, widths, names)
            if found:
                rows.append({"quantity": measure, "configuration": configuration, **found})
    return rows


def mechanism_rows(widths, unit_rows):
    """Per width and row: each mechanism measure's mean and 95 % interval over trainings."""
    rows = []
    for name, filters in widths.items():
        for configuration in dict.fromkeys(r["configuration"] for r in unit_rows):
            mine = [r for r in unit_rows if (r["reading"], r["configuration"]) == (name,
                                                                                    configuration)]
            if not mine:
                continue
            row = {"width": name, "filters": "/".join(map(str, filters)),
                   "configuration": configuration, "trainings": len(mine)}
            for measure, _ in MECHANISM:
                grouped = [g for g in intervals.grouped_by_fold(mine, measure) if g]
                if grouped:
                    mean, half, _ = intervals.interval(grouped)
                    row[measure] = round(mean, 4)
                    row[f"{measure}_half_width"] = None if math.isnan(half) else round(half, 4)
            rows.append(row)
    return rows
