"""What this reproduction found: the numbers of the answer, read from the committed files,
and the few lines a newcomer reads first (the README's first screen, the findings page's
opening). Every number here comes from the current runs of ``committed_runs``; the
words follow the numbers (a test holds each word against its condition).

Two verdicts per comparison: the *sign* (reproduced when our 95 % interval lies on the
paper's side of 0, contradicted on the other side, undecided when it holds 0) and the
*size* (whether the paper's value lies inside our interval).
"""
import json
import re
from pathlib import Path

from experiments.findings import committed_runs, results_files, width_page
from experiments.reports import twin_runs
from experiments.statistics import intervals
from experiments.statistics.intervals import bracketed
from experiments.findings.committed_runs import CENTRAL
from experiments.paper.published import PAPER_SCALE, TABLE_1

DROPOUT = "dropout-a0 − plain-a0"
BOTH = "dropout+norm-a0 − plain-a0"
FORM_COLUMNS = ("comparison", "words", "run", "data", "paper_column", "difference", "low",
                "high", "paper", "sign", "size")
GAP_COLUMNS = ("reading", "alpha", "gap", "gap_low", "gap_high")


def find(document, label, measure="cross"):
    return next((item for item in document.get("comparisons", [])
                 if item["label"] == label and item["measure"] == measure), None)


def size_word(item):
    """'inside' when the paper's value lies in our interval, 'outside' when not."""
    paper = item.get("paper")
    if paper in (None, ""):
        return "–"
    return "inside" if item["low"] <= float(paper) <= item["high"] else "outside"


def current_documents(documents):
    return {name: documents[name] for name in committed_runs.current_names()
            if name in documents}


def headline_rows(documents):
    """One row per headline comparison × current run (``committed_runs.HEADLINE``)."""
    rows = []
    for label, words in committed_runs.HEADLINE:
        for name, document in current_documents(documents).items():
            item = find(document, label)
            if item is None:
                continue
            run = committed_runs.table_run(name)
            rows.append({"comparison": label, "words": words, "run": name, "data": run.data,
                         "paper_column": run.paper_column,
                         "difference": item["difference"], "low": item["low"],
                         "high": item["high"], "paper": item.get("paper"),
                         "sign": item["verdict"], "size": size_word(item)})
    return rows


def length_gap(results, study=committed_runs.LENGTH_STUDY):
    """The central gain at a training-length study's last checkpoint, as the study's
    report gives it (``accuracy_vs_updates.md``, its paired differences over folds):
    {study, updates, folds, difference, half, low, high}; None without the study."""
    path = Path(results) / study / "accuracy_vs_updates.md"
    if not path.exists():
        return None
    for line in path.read_text().splitlines():
        found = re.match(rf"- {re.escape(CENTRAL)} \((\d+) folds\): (.*)$", line)
        if not found:
            continue
        updates, value = found.group(2).split("; ")[-1].split(": ")
        difference, _, half = value.partition(" ± ")
        difference = results_files.number(difference, path, f"{CENTRAL} at {updates}")
        half = results_files.number(half, path, f"{CENTRAL} at {updates} half width")
        return {"study": study, "updates": int(updates), "folds": int(found.group(1)),
                "difference": difference, "half": half, "low": difference - half,
                "high": difference + half}
    return None


def last_block_gaps(results):
    """[(study, reading, gap, low, high)] of the last-block studies at α = 0."""
    found = []
    for path in sorted(Path(results).glob("*/claims_by_reading_gap.csv")):
        for index, row in enumerate(results_files.read_csv(path, GAP_COLUMNS)):
            if results_files.number(row["alpha"], path, f"row {index + 1} alpha") != 0:
                continue
            values = [results_files.number(row[key], path, f"row {index + 1} {key}")
                      for key in ("gap", "gap_low", "gap_high")]
            found.append((path.parent.name, row["reading"], *values))
    return found


def other_readings(readings):
    """[(study, reading, difference, low, high, verdict)] of the central comparison under
    the readings that are neither the default nor another last block."""
    return [(study, row["reading"], row["difference"], row["low"], row["high"], row["verdict"])
            for study, row in readings.get(CENTRAL, [])
            if row["measure"] == "cross" and row["alpha"] == 0
            and row["reading"] != "default" and not row["reading"].startswith("last-block")]


def paper_share(table):
    """Percentage of what both techniques add over the plain network (α = 0,
    cross-modality) that modality dropout alone adds, in the paper's table."""
    axial = TABLE_1[table]["axial"]
    plain, dropout, both = (axial[key][0.0][1] for key in
                            ((False, False), (True, False), (True, True)))
    return 100 * (dropout - plain) / (both - plain)


def facts(documents, readings, results):
    """Every number of the answer, from the committed files (``findings_answer.json``)."""
    current = current_documents(documents)
    per_run = {}
    for name, document in current.items():
        entry = {key: find(document, label) for key, label in
                 (("dropout", DROPOUT), ("central", CENTRAL), ("both", BOTH))}
        entry = {key: {k: item[k] for k in ("difference", "low", "high", "paper", "verdict")}
                 for key, item in entry.items() if item is not None}
        if "dropout" in entry and "both" in entry and entry["both"]["difference"] > 0:
            entry["dropout_share_percent"] = (100 * entry["dropout"]["difference"]
                                              / entry["both"]["difference"])
        entry["paper_column"] = committed_runs.table_run(name).paper_column
        entry["scale"] = document.get("scale")
        per_run[name] = entry
    scales = [entry["scale"] for entry in per_run.values() if entry["scale"]]
    updates = max((scale["updates"] or 0 for scale in scales), default=0)
    # Per paper column, the longest training among the runs compared with it.
    column_updates = {}
    for entry in per_run.values():
        if entry["scale"] and entry["scale"]["updates"]:
            column = entry["paper_column"]
            column_updates[column] = max(column_updates.get(column, 0),
                                         entry["scale"]["updates"])
    return {
        "runs": per_run,
        "length": length_gap(results),
        "last_blocks": [dict(zip(("study", "reading", "gap", "low", "high"), row))
                        for row in last_block_gaps(results) if row[1] != "default"],
        "last_block_defaults": [dict(zip(("study", "reading", "gap", "low", "high"), row))
                                for row in last_block_gaps(results) if row[1] == "default"],
        "widths": [{key: study[key] for key in ("study", "gaps", "trend", "features")}
                   for study in width_page.width_studies(results)],
        "other_readings": [dict(zip(("study", "reading", "difference", "low", "high",
                                     "verdict"), row)) for row in other_readings(readings)],
        "paper_dropout_share_percent": {table.upper(): paper_share(table)
                                        for table in ("brats", "oai")},
        "scale": {"updates": updates,
                  "training_subjects": sorted({s["training_subjects"] for s in scales
                                               if s.get("training_subjects")}),
                  "features": sorted({s["features"] for s in scales}),
                  "updates_by_paper_column": column_updates,
                  "paper_updates_ratio": {
                      column: PAPER_SCALE[column.lower()]["updates"] / value
                      for column, value in column_updates.items()},
                  "paper": PAPER_SCALE},
    }


def _span(values, places=1):
    """'+0.7 to +1.3' ('+0.7' for one value)."""
    low, high = min(values), max(values)
    if f"{low:+.{places}f}" == f"{high:+.{places}f}":
        return f"{low:+.{places}f}"
    return f"{low:+.{places}f} to {high:+.{places}f}"


def _by_column(entries, key):
    """'+8.7 and +15.5 on open_ms (paper, BRATS: +1.5) and +12.8 on the knee phantom
    (paper, OAI: +9.9)'."""
    columns = {}
    for name, entry in entries.items():
        if key in entry:
            columns.setdefault(entry["paper_column"], []).append(entry[key])
    parts = []
    for column, items in columns.items():
        where = "the knee phantom" if column == "OAI" else "open_ms"
        values = " and ".join(f"{item['difference']:+.1f}" for item in items)
        paper = items[0]["paper"]
        parts.append(f"{values} on {where}" + ("" if paper is None else
                                                f" (paper, {column}: {float(paper):+.1f})"))
    return " and ".join(parts)


def _sign_title(items, name):
    verdicts = [item["verdict"] for item in items]
    if all(verdict == "reproduced" for verdict in verdicts):
        return f"{name} reproduces"
    if all(verdict == "contradicted" for verdict in verdicts):
        return f"{name} is contradicted"
    reproduced, undecided = verdicts.count("reproduced"), verdicts.count("undecided")
    if reproduced and reproduced + undecided == len(verdicts):
        return (f"{name} reproduces in {reproduced} of {len(verdicts)} runs "
                f"(undecided in {undecided})")
    return f"{name} is undecided in {undecided} of {len(verdicts)} runs"


def answer_lines(found):
    """The first screen's answer: at most a handful of bullets, generated from ``found``
    (``facts``)."""
    runs = found["runs"]
    lines = []
    dropout = [entry["dropout"] for entry in runs.values() if "dropout" in entry]
    if dropout:
        title = _sign_title(dropout, "Modality dropout")
        larger = all(item["paper"] is not None and item["difference"] > float(item["paper"])
                     for item in dropout)
        decided = sum(item["verdict"] != "undecided" for item in dropout)
        lines.append(f"- **{title}{', larger than in the paper' if larger else ''}**: "
                     f"dropout − plain is {_by_column(runs, 'dropout')}; {decided} of "
                     f"{len(dropout)} intervals exclude 0.")
    central = [entry["central"] for entry in runs.values() if "central" in entry]
    if central:
        checked = list(central)  # each against its own paper column's value
        length = found.get("length")
        length_text = ""
        if length:
            brats = next((e["central"]["paper"] for e in runs.values()
                          if "central" in e and e["paper_column"] == "BRATS"), None)
            checked.append({**length, "paper": brats})
            length_text = (f" and {length['difference']:+.1f} ± {length['half']:.1f} after "
                           f"{length['updates']:,} updates")
        outside = all(size_word(item) == "outside" for item in checked)
        undecided = sum(item["verdict"] == "undecided" for item in central)
        papers = " and ".join(
            f"{float(e['central']['paper']):+.1f} ({column})" for column, e in
            {e["paper_column"]: e for e in runs.values() if "central" in e}.items())
        title = ("Per-feature normalization's central gain does not reproduce in size"
                 if outside else "Per-feature normalization's central gain")
        lines.append(
            f"- **{title}**: dropout + normalization − dropout is "
            f"{_span([item['difference'] for item in central])} points in the "
            f"{len(central)} Table I runs (undecided in {undecided} of {len(central)})"
            f"{length_text}, against the paper's {papers}"
            + (f"; the paper's value lies outside each of our {len(checked)} intervals."
               if outside else "."))
    shares = [entry["dropout_share_percent"] for entry in runs.values()
              if "dropout_share_percent" in entry]
    if shares:
        both = [entry["both"]["difference"] for entry in runs.values() if "both" in entry]
        paper = found["paper_dropout_share_percent"]
        carries = min(shares) >= 75
        lines.append(
            f"- **{'Modality dropout alone carries the effect here' if carries else 'What modality dropout alone carries'}**: "
            f"of what both techniques add over the plain network ({_span(both)} points), "
            f"dropout alone gives {min(shares):.0f}–{max(shares):.0f} %; in the paper "
            + " and ".join(f"{value:.0f} % ({table})" for table, value in paper.items())
            + ".")
    tried = []
    if found["last_blocks"]:
        tried.append(f"the encoders' other last blocks "
                     f"({_span([row['gap'] for row in found['last_blocks']])})")
    if found.get("length"):
        instead = (f" instead of {found['scale']['updates']:,}" if found["scale"]["updates"]
                   else "")
        tried.append(f"{found['length']['updates']:,} updates{instead} "
                     f"({found['length']['difference']:+.1f})")
    width_studies = found.get("widths", [])
    for study in width_studies:
        trend = study["trend"]
        where = f" on {study['study']}" if len(width_studies) > 1 else ""  # which data
        tried.append(f"a representation of {study['features'][0]}–{study['features'][-1]} "
                     f"features{where} ({_span([gap[1] for gap in study['gaps']])}"
                     + ("" if trend is None else
                        f"; {bracketed(trend['per_doubling'], trend['low'], trend['high'])} "
                        f"per doubling, {width_page.trend_word(trend)}") + ")")
    if found["other_readings"]:
        decided = sum(row["verdict"] != "undecided" for row in found["other_readings"])
        tried.append(f"recalibrated statistics and other readings of the paper "
                     f"({_span([row['difference'] for row in found['other_readings']])}; "
                     f"{decided} of {len(found['other_readings'])} decided)")
    if tried:
        values = ([row["gap"] for row in found["last_blocks"]]
                  + [row["difference"] for row in found["other_readings"]]
                  + ([found["length"]["difference"]] if found.get("length") else [])
                  + [gap[1] for study in found.get("widths", []) for gap in study["gaps"]])
        paper = min((float(e["central"]["paper"]) for e in runs.values()
                     if "central" in e and e["central"]["paper"] is not None), default=None)
        # "without restoring the gain": none of them reaches half the paper's value.
        restores = paper is None or max(values) >= paper / 2
        lines.append(f"- **Tried{' without restoring the gain' if not restores else ''}**: "
                     + "; ".join(tried) + ".")
    scale = found["scale"]
    if scale["updates"]:
        ratio = scale["paper_updates_ratio"]
        subjects = scale["training_subjects"]
        ours = scale["updates_by_paper_column"]
        lines.append(
            "- **Untested: the paper's scale**: "
            + " and ".join(f"{value:,.0f}× more updates than our {ours[column]:,} ({column})"
                           for column, value in sorted(ratio.items()))
            + ", "
            f"{scale['paper']['brats']['training_subjects']} training subjects per fold "
            f"instead of {subjects[0]}–{subjects[-1]}"
            + ("" if any(scale['paper']['brats']['features'] in study["features"]
                         for study in found.get("widths", [])) else
               f", {scale['paper']['brats']['features']} features instead of "
               f"{', '.join(str(f) for f in scale['features'])}") + ".")
    return lines


def run_answer_lines(document, paper_column):
    """For one run's table1.json: each headline comparison it has, our difference beside
    the paper's, with both verdicts."""
    lines = []
    for label, words in committed_runs.HEADLINE:
        item = find(document, label)
        if item is None:
            continue
        paper = item.get("paper")
        against = ("" if paper is None else
                   f"; paper ({paper_column}) {float(paper):+.1f}, {size_word(item)} our "
                   "interval")
        lines.append(f"{words} ({label}): {intervals.bracketed(item['difference'], item['low'], item['high'])}, "
                     f"{item['verdict']}{against}")
    return lines


def matching_committed_run(document, results=committed_runs.RESULTS):
    """The current committed run with the same settings as ``document`` (a table1.json),
    or None."""
    key = twin_runs.settings_key(document)
    for path in sorted(Path(results).glob("*/table1.json")):
        if committed_runs.is_superseded(path.parent.name):
            continue
        try:
            committed = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # the findings page names a damaged file; here it only cannot match
        if twin_runs.settings_key(committed) == key:
            return path.parent.name
    return None


def closing_lines(document, published_table, report, results=committed_runs.RESULTS):
    """What ``reproduce/table1.py`` ends on after Table I: this run's answer beside the
    paper's column, where the full report is and which committed table to compare with."""
    column = None if published_table in (None, "none") else published_table.upper()
    found = run_answer_lines(document, column)
    lines = ["", "What this run found" + (f", against the paper's {column} column" if column
                                          else "") + " (our difference with its 95 % "
             "interval, the sign verdict, whether the paper's value lies inside):"]
    lines += [f"  {line}" for line in found] or ["  none of the paper's headline comparisons "
                                                 "is in this run (see --configs)"]
    lines.append(f"The full report (every claim, the controls, each ordered pair, the feature "
                 f"scale): {report}")
    match = matching_committed_run(document, results)
    if match:
        lines.append(f"Compare with the committed run: paper_figures/{match}/table1.md (another "
                     "processor or thread count moves cells by round-off: README.md, *Compare "
                     "your run*).")
    else:
        lines.append("No committed run has these settings; the committed Table I runs and "
                     "their commands: README.md, *Compare your run*.")
    return lines
