"""Part 2 of the findings page: the studies beyond the paper — the readings of what the
paper leaves open, what decides the central gain (``central_gap_page``), training length
(with the two 10,000-update runs reconciled), normalization at evaluation time, and
runs of the same settings under another arithmetic. Each file is checked as read."""
import re
from pathlib import Path

from experiments.findings import (central_gap_page, committed_runs, findings_answer,
                                  results_files)
from experiments.findings import width_page
from experiments.reports import twin_runs
from experiments.statistics import claims
from experiments.statistics.intervals import bracketed

READING_COLUMNS = ("comparison", "reading", "measure", "alpha", "difference", "low", "high",
                   "verdict", "paper")
READING_LABELS = ("dropout+norm-a0 − dropout-a0", "dropout-a0 − plain-a0",
                  "norm-a0 − plain-a0", "dropout+norm-a0 − baseline-all")
EVALUATED_ROWS = ("plain-a0", "norm-a0", "dropout-a0", "dropout+norm-a0", "baseline-all",
                  "untrained")
MARK = {"reproduced": "✓ reproduced", "contradicted": "✗ contradicted",
        "undecided": "? undecided"}
LENGTH_HEADER = re.compile(r"^Modalities (?P<modalities>.+?); (?P<folds>\d+) folds; checkpoints "
                           r"(?P<checkpoints>[\d, ]+) updates; filters (?P<filters>[\d/]+); "
                           r"(?P<patches>\d+) training")
READING_HEADER = re.compile(r"^Modalities (?P<modalities>.+?); (?P<length>.+?) per network; up "
                            r"to (?P<trainings>\d+) trainings")


def label(name):
    return f"{name} (superseded)" if committed_runs.is_superseded(name) else name


def reading_rows(results):
    """{comparison: [(study name, row)]} of the readings studies' claims_by_reading.csv,
    each row checked (numbers as numbers)."""
    readings = {}
    for path in sorted(Path(results).glob("*/claims_by_reading.csv")):
        for index, row in enumerate(results_files.read_csv(path, READING_COLUMNS)):
            where = f"row {index + 1} ({row['comparison']}, {row['reading']})"
            for key in ("difference", "low", "high"):
                row[key] = results_files.number(row[key], path, f"{where} {key}")
            row["alpha"] = results_files.number(row["alpha"], path, f"{where} alpha",
                                                optional=True) or 0.0
            results_files.number(row["paper"], path, f"{where} paper", optional=True)
            results_files.verdict(row["verdict"], path, f"{where} verdict")
            readings.setdefault(row["comparison"], []).append((path.parent.name, row))
    return readings


def study_scale_rows(results):
    """Scale rows of the studies without a table1.json, from their reports' headers."""
    rows = []
    for path in sorted(Path(results).glob("*/accuracy_vs_updates.md")):
        header = next((LENGTH_HEADER.match(line) for line in path.read_text().splitlines()
                       if LENGTH_HEADER.match(line)), None)
        if header:
            checkpoints = [int(value) for value in header["checkpoints"].split(", ")]
            rows.append({"name": path.parent.name, "modalities": header["modalities"],
                         "updates": " … ".join(f"{value:,}" for value in
                                               (checkpoints[0], checkpoints[-1])),
                         "subjects": "–", "features": header["filters"].split("/")[-1],
                         "patches": f"{int(header['patches']):,}", "trainings": "1"})
    for path in sorted(Path(results).glob("*/claims_by_reading.md")):
        header = next((READING_HEADER.match(line) for line in path.read_text().splitlines()
                       if READING_HEADER.match(line)), None)
        if header:
            rows.append({"name": path.parent.name, "modalities": header["modalities"],
                         "updates": header["length"], "subjects": "–", "features": "–",
                         "patches": "–", "trainings": f"up to {header['trainings']}"})
    return sorted(rows, key=lambda row: row["name"])


def readings_lines(readings):
    lines = ["### The readings of what the paper leaves open", "",
             "Our difference at α = 0 under each reading, from the readings and last-block "
             "studies (`claims_by_reading.csv`). The studies marked *older arithmetic* were "
             "made under an earlier arithmetic version and not repeated since (the findings "
             "page's index says which): their default reading's units are not the current "
             "Table I runs'.", ""]
    for comparison in READING_LABELS:
        rows = [(name, row) for name, row in readings.get(comparison, [])
                if row["measure"] == "cross" and row["alpha"] == 0]
        if not rows:
            continue
        lines += [f"**{comparison}** (cross-modality)", "",
                  "| study | reading | ours | sign | paper | size |", "|---|---|---|---|---|---|"]
        for name, row in rows:
            paper = "–" if row["paper"] in (None, "") else f"{float(row['paper']):+.1f}"
            older = " (older arithmetic)" if name in committed_runs.OLDER_ARITHMETIC else ""
            lines.append(f"| {name}{older} | {row['reading']} | "
                         f"{bracketed(row['difference'], row['low'], row['high'])} | "
                         f"{MARK[row['verdict']]} | {paper} | {findings_answer.size_word(row)} |")
        lines.append("")
    return lines


def length_lines(results):
    lines = ["### Training length", "",
             "Cross-modality accuracy (%) by updates per network, mean over folds "
             "(`accuracy_vs_updates.csv` of each study).", ""]
    tables = []
    for path in sorted(Path(results).glob("*/accuracy_vs_updates.csv")):
        rows = results_files.read_csv(path, ("configuration", "updates", "folds", "cross"))
        for index, row in enumerate(rows):
            where = f"row {index + 1} ({row['configuration']})"
            results_files.number(row["cross"], path, f"{where} cross")
            results_files.number(row["updates"], path, f"{where} updates")
        tables.append((path.parent.name, rows))
    checkpoints = sorted({int(float(row["updates"])) for _, rows in tables for row in rows})
    if not tables:
        return lines + ["No study has measured it yet (`studies/accuracy_vs_updates.py`).", ""]
    lines += ["| study | configuration | folds | " + " | ".join(f"{c:,}" for c in checkpoints)
              + " |", "|---|---|---|" + "---|" * len(checkpoints)]
    for name, rows in tables:
        for configuration in dict.fromkeys(row["configuration"] for row in rows):
            mine = {int(float(row["updates"])): row for row in rows
                    if row["configuration"] == configuration}
            folds = next(iter(mine.values())).get("folds") or "–"
            lines.append(f"| {label(name)} | {configuration} | {folds} | " + " | ".join(
                f"{float(mine[c]['cross']):.1f}" if c in mine else "–" for c in checkpoints)
                + " |")
    return lines + [""] + reconciled_lines(results)


def reconciled_lines(results):
    """The central gain at 10,000 updates from each training-length study that measured
    it, and which is current."""
    found = [gap for gap in (findings_answer.length_gap(results, path.parent.name)
                             for path in sorted(Path(results).glob("*/accuracy_vs_updates.md")))
             if gap is not None]
    longest = max((gap["updates"] for gap in found), default=None)
    found = [gap for gap in found if gap["updates"] == longest]
    if len(found) < 2:
        return []
    lines = [f"**The central gain after {longest:,} updates, measured twice** (the same data, "
             "options and seed; only the arithmetic differs):", "",
             "| study | status | dropout+norm-a0 − dropout-a0 | inside the other's interval |",
             "|---|---|---|---|"]
    for gap in found:
        others = [other for other in found if other is not gap]
        inside = all(other["low"] <= gap["difference"] <= other["high"] for other in others)
        lines.append(f"| {gap['study']} | {committed_runs.status(gap['study'])} | "
                     f"{gap['difference']:+.1f} ± {gap['half']:.1f} ({gap['folds']} folds) | "
                     f"{'yes' if inside else 'no'} |")
    current = [gap["study"] for gap in found if not committed_runs.is_superseded(gap["study"])]
    return lines + ["", "Both ask whether the central gain opens with training; float32 "
                    "round-off, amplified by 10,000 updates, makes other networks, so their "
                    "numbers differ by about their interval's width and answer alike: no "
                    "gain near the paper's. The current answer is "
                    + (", ".join(current) or "neither") + ".", ""]


def evaluation_lines(results):
    lines = ["### Normalizing the features at evaluation time (no training)", "",
             "Cross-modality accuracy (%): saved features → (a) z-scored per modality by its "
             "forest-training patches → (b) by the test patches' own statistics.", ""]
    found = sorted(Path(results).glob("*/normalization_at_evaluation.json"))
    if not found:
        return lines + ["No run has it yet (`studies/normalization_at_evaluation.py`).", ""]
    lines += ["| run | configuration | saved | (a) change | (b) change |", "|---|---|---|---|---|"]
    for path in found:
        rows = results_files.field(results_files.read_json(path), "rows", path, "the document")
        for index, row in enumerate(rows if isinstance(rows, list) else []):
            name = results_files.field(row, "name", path, f"rows[{index}]")
            if name not in EVALUATED_ROWS:
                continue
            results_files.number(results_files.field(row, "cross_saved", path, f"row {name}"),
                                 path, f"row {name} cross_saved")
            for key in [k for k in row if k.startswith("cross_") and k != "cross_saved"]:
                results_files.number(row[key], path, f"row {name} {key}")
            changes = [bracketed(row[f"cross_{v}_change"], row[f"cross_{v}_low"],
                                 row[f"cross_{v}_high"]) if f"cross_{v}_change" in row
                       else "n/a" for v in ("training_statistics", "test_statistics")]
            lines.append(f"| {label(path.parent.name)} | {row['name']} | "
                         f"{row['cross_saved']:.1f} | " + " | ".join(changes) + " |")
    return lines + [""]


def twin_lines(documents):
    lines = ["### Same settings, other arithmetic", "",
             "Runs with the same data, preset, seed, reading, scale and options whose units "
             "were computed with another thread count or on another processor: only float32 "
             "round-off differs, so this is how much of a table is arithmetic noise.", ""]
    groups = twin_runs.twin_groups(documents)
    if not groups:
        return lines + ["No two committed runs share their settings yet.", ""]
    lines += ["| first run (computed on) | second run (computed on) | trained cells | median "
              "move | largest move | inside the first's / second's interval | verdicts "
              "agree |", "|---|---|---|---|---|---|---|"]
    changes = []
    for first, *others in groups:
        for second in others:
            found = twin_runs.compare(documents[first], documents[second])
            machines = [twin_runs.machine_text(documents[name]) for name in (first, second)]
            lines.append(
                f"| {label(first)} ({machines[0]}) | {label(second)} ({machines[1]}) | "
                f"{found['cells']} | {found['median_move']:.1f} | "
                f"{found['largest_move']:.1f} ({found['largest_row']}) | "
                f"{found['inside_first']} / {found['inside_second']} of {found['cells']} | "
                f"{found['same_verdict']} of {found['comparisons']} |")
            changes += [(first, second, item) for item in found["changed"]]
    if changes:
        lines += ["", "The verdicts that change:", "",
                  "| runs | comparison | first run | second run |", "|---|---|---|---|"]
        lines += [f"| {first} / {second} | {item['label']}"
                  f"{'' if item['measure'] == 'cross' else ' (same-modality)'} | "
                  f"{word(item, 'first')} {item['first'][1]:+.1f} | "
                  f"{word(item, 'second')} {item['second'][1]:+.1f} |"
                  for first, second, item in changes]
    return lines + [""]


def word(item, side):
    """A changed verdict in its vocabulary: the paper's comparisons are reproduced /
    contradicted / undecided, a network against a control higher / lower / undecided."""
    verdict = item[side][0]
    return claims.AGAINST_CONTROL[verdict] if item.get("beyond_paper") else verdict


def lines(documents, readings, results):
    gap = [line.replace("## ", "### ", 1) if line.startswith("## ") else line
           for line in central_gap_page.section(results)]
    return (readings_lines(readings) + gap + width_page.lines(results) + length_lines(results)
            + evaluation_lines(results) + twin_lines(documents))

