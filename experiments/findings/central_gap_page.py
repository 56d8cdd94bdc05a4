"""The findings page's section "What decides the central gain": the central gain
(dropout + normalization − dropout) per reading of the encoders' last block and its
difference from the default reading (``claims_by_reading_gap.csv``), the mechanism on
the saved networks (``claims_by_reading_mechanism_by_unit.csv``) and against training
length (``accuracy_vs_updates_mechanism_trend.csv``), each file checked as read."""
from pathlib import Path

from experiments.findings import results_files
from experiments.statistics.intervals import bracketed, interval_text
from experiments.measurement.mechanism import summarized

GAP_COLUMNS = ("reading", "alpha", "gap", "gap_low", "gap_high", "trainings", "versus",
               "difference", "low", "high", "decided")
MECHANISM_COLUMNS = ("reading", "configuration", "fold", "repeat", "before_offset_in_pooled_sd",
                     "after_offset_in_pooled_sd")
TREND_COLUMNS = ("configuration", "measure", "slope", "slope_half", "at_target",
                 "at_target_half", "folds")
MECHANISM_ROWS = ("plain-a0", "dropout-a0", "dropout+norm-a0")




def gap_lines(results):
    lines = []
    for path in sorted(Path(results).glob("*/claims_by_reading_gap.csv")):
        rows = results_files.read_csv(path, GAP_COLUMNS)
        lines += ["", f"**{path.parent.name}**: dropout + normalization − dropout "
                  "(cross-modality points, 95 % interval) per reading, and its difference "
                  "from the default reading, paired by fold and training:", "",
                  "| reading | α | gap | trainings | − default's gap | |",
                  "|---|---|---|---|---|---|"]
        decided = []
        for index, row in enumerate(rows):
            where = f"row {index + 1} ({row['reading']})"
            values = {key: results_files.number(row[key], path, f"{where} {key}")
                      for key in ("alpha", "gap", "gap_low", "gap_high", "trainings")}
            against, word = "", ""
            if row["versus"]:
                difference = [results_files.number(row[key], path, f"{where} {key}")
                              for key in ("difference", "low", "high")]
                if row["decided"] not in ("True", "False"):
                    raise results_files.ResultsError(
                        f"{path}: {where} decided is {row['decided']!r}, not True or False")
                against = bracketed(*difference)
                word = "**decided**" if row["decided"] == "True" else "undecided"
                if row["decided"] == "True":
                    decided.append(decided_text(row["reading"], values["alpha"], difference))
            lines.append(f"| {row['reading']} | {values['alpha']:g} | "
                         f"{bracketed(values['gap'], values['gap_low'], values['gap_high'])} | "
                         f"{values['trainings']:.0f} | {against} | {word} |")
        lines += ["", "Answer: " + ("the last block moves the central gain here: "
                                     + "; ".join(decided) + "." if decided else
                                     "no reading's gain differs decidedly from the default's "
                                     "here.")]
    return lines


def decided_text(reading, alpha, difference):
    """'under last-block-linear (α = 0) it is smaller by 3.0 [0.0, 6.0] points, with a bound
    at 0.0: at the edge, where round-off changes verdicts' — the size, not a signed
    difference, after 'smaller' or 'larger'."""
    mean, low, high = difference
    word = "larger" if mean > 0 else "smaller"
    size = (mean, low, high) if mean > 0 else (-mean, -high, -low)
    text = (f"under {reading} (α = {alpha:g}) it is {word} than under the default by "
            f"{size[0]:.1f} [{size[1]:.1f}, {size[2]:.1f}] points")
    if min(abs(low), abs(high)) < 0.05:
        text += (", an interval that ends at 0.0: at the edge, where another arithmetic "
                 "changes verdicts (*Same settings, other arithmetic*)")
    return text


def mechanism_lines(results):
    lines = []
    for path in sorted(Path(results).glob("*/claims_by_reading_mechanism_by_unit.csv")):
        rows = results_files.read_csv(path, MECHANISM_COLUMNS)
        for index, row in enumerate(rows):
            for key in list(row):
                if key not in ("reading", "configuration"):
                    row[key] = results_files.number(row[key], path, f"row {index + 1} {key}",
                                                    optional=key.startswith("last_bn"))
                    if row[key] is None:
                        del row[key]
        summary = [r for r in summarized(rows) if r["configuration"] in MECHANISM_ROWS]
        lines += ["", f"**{path.parent.name}**, the saved networks on their test patches "
                  "(mean ± 95 % interval over trainings): offset between modalities per "
                  "feature in pooled SDs before → after the network's normalization, and "
                  "the last batch normalization's mean |γ_a − γ_b| / |β_a − β_b|:", "",
                  "| reading | row | trainings | offset before → after | last BN γ / β gap |",
                  "|---|---|---|---|---|"]
        for row in summary:
            bn = ("–" if "last_bn_gamma_gap" not in row else
                  f"{row['last_bn_gamma_gap']:.3f} / {row['last_bn_beta_gap']:.3f}")
            lines.append(f"| {row['reading']} | {row['configuration']} | {row['trainings']} | "
                         f"{_mean(row, 'before_offset_in_pooled_sd')} → "
                         f"{_mean(row, 'after_offset_in_pooled_sd')} | {bn} |")
    return lines


def _mean(row, key):
    half = row.get(f"{key}_half_width")
    return f"{row[key]:.2f}" + ("" if half is None else f" ± {half:.2f}")


def trend_lines(results):
    lines = []
    for path in sorted(Path(results).glob("*/accuracy_vs_updates_mechanism_trend.csv")):
        rows = results_files.read_csv(path, TREND_COLUMNS)
        lines += ["", f"**{path.parent.name}**, against training length (a line in "
                  "log10(updates) per fold; slope per tenfold more updates ± 95 % interval "
                  "over folds). The last column carries each line to the paper's length: an "
                  "**extrapolation**, not a measurement:", "",
                  "| row | measure | slope per decade | trend | line at the paper's length "
                  "(extrapolated) |", "|---|---|---|---|---|"]
        for index, row in enumerate(rows):
            where = f"row {index + 1} ({row['configuration']}, {row['measure']})"
            slope = results_files.number(row["slope"], path, f"{where} slope")
            half = results_files.number(row["slope_half"], path, f"{where} slope_half",
                                        optional=True)
            target = results_files.number(row["at_target"], path, f"{where} at_target")
            target_half = results_files.number(row["at_target_half"], path,
                                               f"{where} at_target_half", optional=True)
            word = ("undecided" if half is None or slope - half <= 0 <= slope + half
                    else "**grows**" if slope > 0 else "**shrinks**")
            folds = results_files.number(row["folds"], path, f"{where} folds")
            lines.append(f"| {row['configuration']} ({folds:.0f} fold{'s' if folds != 1 else ''}) "
                         f"| {row['measure']} | {interval_text(slope, half)}"
                         f" | {word} | {interval_text(target, target_half)} |")
        answer = trend_answer(rows, path)
        if answer:
            lines += ["", "Answer: with training, " + "; ".join(answer) + "."]
    return lines


def trend_answer(rows, path):
    """["<what>: grows / shrinks / undecided (<slope> per decade)"] for the rows of a
    trend file (``accuracy_vs_updates_mechanism_trend.csv``) that answer the question."""
    answer = []
    for configuration, start, what in ANSWERED_TRENDS:
        for index, row in enumerate(rows):
            if row["configuration"] == configuration and row["measure"].startswith(start):
                where = f"row {index + 1} ({row['configuration']}, {row['measure']})"
                slope = results_files.number(row["slope"], path, f"{where} slope")
                half = results_files.number(row["slope_half"], path, f"{where} slope_half",
                                            optional=True)
                word = ("undecided" if half is None or slope - half <= 0 <= slope + half
                        else "grows" if slope > 0 else "shrinks")
                answer.append(f"{what}: {word} ({interval_text(slope, half)} per decade)")
    return answer


# The trends that answer the question, in the order the answer gives them: the
# dropout-only features' offset, the drift of the last batch normalization that would
# cause it, and the central gap.
ANSWERED_TRENDS = [
    ("dropout-a0", "offset between modalities before normalization",
     "the dropout-only features' offset between modalities"),
    ("dropout-a0", "last batch normalization: mean |β", "their last batch normalization's β gap"),
    ("dropout+norm-a0 − dropout-a0", "cross-modality gap", "the central gain"),
]




def section(results):
    lines = ["## What decides the central gain", "",
             "Does the encoders' last block decide how much per-feature normalization adds "
             "to modality dropout (the paper's +14.1 on BRATS), and do the modalities' "
             "feature offsets that it removes grow with training? (docs/design.md, *The "
             "encoders' last block*, has what the paper's text says.)"]
    found = gap_lines(results) + mechanism_lines(results) + trend_lines(results)
    if not found:
        return lines + ["", "No study has measured it yet (`studies/claims_by_reading.py` "
                        "with the last-block readings, `studies/accuracy_vs_updates.py`).", ""]
    return lines + found + [""]
