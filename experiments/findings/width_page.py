"""The findings page's part on the representation's width (``studies/central_gap_by_width.py``):
the central gain and dropout − plain per width, their trend per doubling, the mechanism's
trend, and one answer line; the README's answer takes ``width_studies`` from here. Every
file is checked as read (``results_files``)."""
from pathlib import Path

from experiments.findings import results_files
from experiments.statistics.intervals import bracketed

ROW_COLUMNS = ("width", "filters", "representation", "comparison", "difference", "low", "high",
               "verdict", "trainings")
TREND_COLUMNS = ("quantity", "configuration", "per_doubling", "low", "high", "decided",
                 "widths", "trainings")
CENTRAL = "dropout+norm-a0 − dropout-a0"
SHOWN = (CENTRAL, "dropout-a0 − plain-a0", "dropout+norm-a0 − raw-patch")
# The mechanism's trends that answer the paper's argument, in the answer's order.
ANSWERED = (("before_modality_specific_share", "dropout-a0",
             "the dropout-only networks' features used for one modality only"),
            ("after_modality_specific_share", "dropout+norm-a0",
             "those left after per-feature normalization"),
            ("before_scale_ratio", "dropout-a0",
             "the dropout-only features' SD ratio between modalities"),
            ("before_offset_in_pooled_sd", "dropout-a0",
             "the dropout-only features' offset between modalities"))


def trend_word(row):
    if row["per_doubling"] == row["low"] == row["high"] == 0:
        return "the same at every width"
    if row["decided"] != "True":
        return "undecided"
    return "grows" if row["per_doubling"] > 0 else "shrinks"


def read_trends(path):
    rows = results_files.read_csv(path, TREND_COLUMNS)
    for index, row in enumerate(rows):
        where = f"row {index + 1} ({row['quantity']}, {row['configuration']})"
        for key in ("per_doubling", "low", "high", "trainings"):
            row[key] = results_files.number(row[key], path, f"{where} {key}")
        if row["decided"] not in ("True", "False"):
            raise results_files.ResultsError(
                f"{path}: {where} decided is {row['decided']!r}, not True or False")
    return rows


def read_rows(path):
    rows = results_files.read_csv(path, ROW_COLUMNS)
    for index, row in enumerate(rows):
        where = f"row {index + 1} ({row['width']}, {row['comparison']})"
        for key in ("representation", "difference", "low", "high", "trainings"):
            row[key] = results_files.number(row[key], path, f"{where} {key}")
        results_files.verdict(row["verdict"], path, f"{where} verdict")
    return rows


def width_studies(results):
    """[{study, rows, trends, gaps: [(filters, gap, low, high)], trend: the central gain's
    trend row or None, features: [representation widths]}] of every committed width study."""
    studies = []
    for path in sorted(Path(results).glob("*/central_gap_by_width.csv")):
        trend_path = path.parent / "central_gap_by_width_trend.csv"
        if not trend_path.exists():
            raise results_files.ResultsError(f"{path.parent} has central_gap_by_width.csv but "
                                             f"no {trend_path.name}: restore it or rerun the "
                                             "study's --report-only command")
        rows, trends = read_rows(path), read_trends(trend_path)
        mechanism_path = path.parent / "central_gap_by_width_mechanism.csv"
        mechanism = read_mechanism(mechanism_path) if mechanism_path.exists() else []
        central = [row for row in rows if row["comparison"] == CENTRAL]
        studies.append({
            "study": path.parent.name, "rows": rows, "trends": trends, "mechanism": mechanism,
            "gaps": [(row["filters"], row["difference"], row["low"], row["high"])
                     for row in central],
            "trend": next((t for t in trends if t["quantity"] == CENTRAL), None),
            "features": sorted({int(row["representation"]) for row in central})})
    return studies


def mechanism_answer(trend, study, quantity, configuration):
    """'grows (+0.010 [+0.002, +0.018] per doubling)', or for a measure that does not move
    at all, its value: 'the same at every width (0.000)'."""
    word = trend_word(trend)
    if word != "the same at every width":
        return (f"{word} ({bracketed(trend['per_doubling'], trend['low'], trend['high'], 3)} "
                "per doubling)")
    values = {row[quantity] for row in study["mechanism"]
              if row["configuration"] == configuration and row.get(quantity) is not None}
    return word + (f" ({values.pop():.3f})" if len(values) == 1 else "")


def read_mechanism(path):
    """Per width and row, the mechanism's means (``central_gap_by_width_mechanism.csv``)."""
    rows = results_files.read_csv(path, ("width", "filters", "configuration", "trainings"))
    for index, row in enumerate(rows):
        for key in [k for k in row if k not in ("width", "filters", "configuration")]:
            row[key] = results_files.number(row[key], path, f"row {index + 1} {key}",
                                            optional=True)
    return rows


def lines(results):
    studies = width_studies(results)
    found = ["### The representation's width", "",
             "Does per-feature normalization add more when the encoders end in more features "
             "(the paper's 128, our quick preset's 64)? The paper's argument (§II-D) needs "
             "room: spare features that dropout alone could give to one modality. Per width, "
             "cross-modality points with 95 % intervals; the trend is a line per training "
             "through the widths that change only the last layer, per doubling of the "
             "representation (`central_gap_by_width.csv`, `central_gap_by_width_trend.csv`)."]
    if not studies:
        return found + ["", "No study has measured it yet "
                        "(`studies/central_gap_by_width.py`).", ""]
    for study in studies:
        widths = list(dict.fromkeys(row["filters"] for row in study["rows"]))
        found += ["", f"**{study['study']}**:", "",
                  "| comparison | " + " | ".join(widths) + " | per doubling |",
                  "|---|" + "---|" * (len(widths) + 1)]
        trend_of = {(t["quantity"], t["configuration"]): t for t in study["trends"]}
        for comparison in SHOWN:
            cells = {row["filters"]: bracketed(row["difference"], row["low"], row["high"])
                     for row in study["rows"] if row["comparison"] == comparison}
            if not cells:
                continue
            trend = trend_of.get((comparison, ""))
            found.append(f"| {comparison} | " + " | ".join(cells.get(w, "–") for w in widths)
                         + " | " + ("–" if trend is None else
                                    f"{bracketed(trend['per_doubling'], trend['low'], trend['high'])} "
                                    f"{trend_word(trend)}") + " |")
        answer = [f"the central gain: {trend_word(t)} "
                  f"({bracketed(t['per_doubling'], t['low'], t['high'])} points per doubling)"
                  for t in [trend_of.get((CENTRAL, ""))] if t is not None]
        answer += [f"{what}: {mechanism_answer(t, study, quantity, configuration)}"
                   for quantity, configuration, what in ANSWERED
                   for t in [trend_of.get((quantity, configuration))] if t is not None]
        if answer:
            found += ["", "Answer: as the representation widens, " + "; ".join(answer) + "."]
    return found + [""]
