"""The findings page (paper_figures/FINDINGS.md), section by section, from the committed
results (read and checked by ``results_files``): the scale of every run beside the
paper's, the central claims per run and reading, the controls, where the central effect
lives, what decides the central gap, evaluation-time normalization, training length and
runs of other arithmetic.
``studies/findings.py`` writes it."""
from pathlib import Path

from experiments import central_gap_page, claims, results_files, twin_runs
from experiments.published import PAPER_SCALE

RESULTS = Path(__file__).resolve().parents[1] / "paper_figures"
README = RESULTS.parent / "README.md"
PAGE = "FINDINGS.md"
# The comparisons the page follows across runs (cross-modality unless marked), at α = 0.
CENTRAL = ("dropout+norm-a0 − dropout-a0", "dropout-a0 − plain-a0", "norm-a0 − plain-a0",
           "dropout+norm-a0 − baseline-all", "dropout+norm-a0 − plain-a0")
CONTROL_ROWS = ("plain-a0", "dropout-a0", "dropout+norm-a0", "baseline-all")
CONTROLS = ("raw-patch", "raw-centre", "untrained")
READING_COLUMNS = ("comparison", "reading", "measure", "alpha", "difference", "low", "high",
                   "verdict", "paper")
MARK = {"reproduced": "✓ reproduced", "contradicted": "✗ contradicted",
        "undecided": "? undecided"}


def tables(results):
    """{run name: table1.json document}, sorted by name; each checked, and against the
    CSV files beside it (``results_files``)."""
    results_files.check_complete(results)
    documents = {}
    for path in sorted(Path(results).glob("*/table1.json")):
        document = results_files.check_table(path, results_files.read_json(path))
        results_files.cross_check(path, document)
        documents[path.parent.name] = document
    return documents


def _interval(item):
    return f"{item['difference']:+.1f} [{item['low']:+.1f}, {item['high']:+.1f}]"


def _paper(value):
    return "–" if value in (None, "") else f"{float(value):+.1f}"


PAPER_MODALITIES = {"brats": "T1, T1c, T2, FLAIR", "oai": "N, FS"}
# OAI's training "subjects" are scan pairs (4/5 of 172 pairs from 88 subjects, §III).
PAPER_UNITS = {"brats": "", "oai": " scan pairs (of 88 subjects in all)"}


def scale_lines(documents):
    lines = ["## Scale of every run beside the paper's", "",
             "| run | modalities | updates per network | training subjects per fold | "
             "features | patches per class and subject | trainings per cell |",
             "|---|---|---|---|---|---|---|"]
    for table, scale in PAPER_SCALE.items():
        lines.append(f"| the paper, {table.upper()} | {PAPER_MODALITIES[table]} | "
                     f"{scale['updates']:,} | {scale['training_subjects']}"
                     f"{PAPER_UNITS[table]} | {scale['features']} | "
                     f"{scale['patches_per_class']:,} | 1 |")
    for name, document in documents.items():
        scale, modalities = document.get("scale"), ", ".join(document["modalities"])
        if scale is None:
            lines.append(f"| {name} | {modalities} | not recorded (made before the scale "
                         "was) | | | | |")
            continue
        updates = (f"{scale['updates']:,}" if scale["updates"] else
                   f"{scale['epochs']} epochs")
        lines.append(f"| {name} | {modalities} | {updates} | "
                     f"{scale['training_subjects'] or '–'} | {scale['features']} | "
                     f"{scale['patches_per_class']:,} | {document.get('repeats', 1)} |")
    return lines


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


def claim_lines(documents, results):
    """Per central comparison: one line per run (default reading) and per reading of the
    readings studies."""
    readings = reading_rows(results)
    lines = ["## The central claims, run by run", "",
             "Ours − at α = 0 (percentage points), 95 % interval over folds, verdict, and the "
             "paper's difference. A verdict is *reproduced* when the interval lies on the "
             "paper's side of 0.", ""]
    for label in CENTRAL:
        measure = "same" if label == CENTRAL[-1] else "cross"
        lines += [f"**{label}** ({measure}-modality)", "",
                  "| run | reading | ours | verdict | paper |", "|---|---|---|---|---|"]
        for name, document in documents.items():
            for item in document.get("comparisons", []):
                if item["label"] == label and item["measure"] == measure:
                    lines.append(f"| {name} | default | {_interval(item)} | "
                                 f"{MARK[item['verdict']]} | {_paper(item['paper'])} |")
        for name, row in readings.get(label, []):
            if row["measure"] == measure and row["alpha"] == 0:
                item = {k: row[k] for k in ("difference", "low", "high")}
                lines.append(f"| {name} | {row['reading']} | {_interval(item)} | "
                             f"{MARK[row['verdict']]} | {_paper(row['paper'])} |")
        lines.append("")
    return lines


def control_lines(documents):
    lines = ["## Controls: what a forest gets without a trained network", "",
             "Cross-modality accuracy (%) of the controls and of the networks at α = 0, and "
             "the summary of every network − control comparison (beyond the paper).", "",
             "| run | " + " | ".join(CONTROLS + CONTROL_ROWS) + " | networks − controls |",
             "|---|" + "---|" * (len(CONTROLS) + len(CONTROL_ROWS) + 1)]
    for name, document in documents.items():
        rows = {row["name"]: row for row in document["rows"]}
        if not any(control in rows for control in CONTROLS):
            lines.append(f"| {name} | " + " | ".join(["not run"] * len(CONTROLS)) + " | "
                         + " | ".join(f"{rows[r]['cross']:.1f}" if r in rows else "–"
                                      for r in CONTROL_ROWS) + " | – |")
            continue
        lines.append(f"| {name} | " + " | ".join(
            f"{rows[r]['cross']:.1f} ± {rows[r]['cross_high'] - rows[r]['cross']:.1f}"
            if r in rows else "–" for r in CONTROLS + CONTROL_ROWS)
            + f" | {controls_summary(document)} |")
    return lines + [""]


def controls_summary(document):
    """How the networks fare against the controls, counted from the run's comparisons
    (the same words for every run, whenever its table was written)."""
    beyond = [item for item in document.get("comparisons", []) if item.get("beyond_paper")]
    if not beyond:
        return document.get("controls_summary", "–")
    return claims.summary(beyond, beyond_paper=True)


def pair_lines(documents):
    lines = ["## Where the central effect lives: dropout+norm-a0 − dropout-a0 per pair", "",
             "Per ordered pair (forest trained on the first modality, tested on the second): "
             "ours ± the half width of its 95 % interval; **bold** where the interval "
             "excludes 0.", ""]
    for name, document in documents.items():
        items = [item for item in document.get("pair_comparisons", [])
                 if item["label"] == CENTRAL[0] and item["measure"] == "cross"]
        if not items:
            lines.append(f"- {name}: not recorded (made before the per-pair comparisons)")
            continue
        cells = []
        for item in items:
            half = (item["high"] - item["low"]) / 2
            text = f"{item['pair']} {item['difference']:+.1f} ±{half:.1f}"
            cells.append(f"**{text}**" if item["verdict"] != "undecided" else text)
        lines.append(f"- {name}: " + "; ".join(cells))
    return lines + [""]


def evaluation_lines(results):
    lines = ["## Normalizing the features at evaluation time (no training)", "",
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
            if name not in CONTROL_ROWS + ("norm-a0", "untrained"):
                continue
            results_files.number(results_files.field(row, "cross_saved", path, f"row {name}"),
                                 path, f"row {name} cross_saved")
            for key in [k for k in row if k.startswith("cross_") and k != "cross_saved"]:
                results_files.number(row[key], path, f"row {name} {key}")
            changes = [f"{row[f'cross_{v}_change']:+.1f} [{row[f'cross_{v}_low']:+.1f}, "
                       f"{row[f'cross_{v}_high']:+.1f}]" if f"cross_{v}_change" in row
                       else "n/a" for v in ("training_statistics", "test_statistics")]
            lines.append(f"| {path.parent.name} | {row['name']} | {row['cross_saved']:.1f} | "
                         + " | ".join(changes) + " |")
    return lines + [""]


def length_lines(results):
    lines = ["## Training length", ""]
    for path in sorted(Path(results).glob("*/accuracy_vs_updates.csv")):
        rows = results_files.read_csv(path, ("configuration", "updates", "folds", "cross"))
        by_configuration = {}
        for index, row in enumerate(rows):
            where = f"row {index + 1} ({row['configuration']})"
            results_files.number(row["cross"], path, f"{where} cross")
            results_files.number(row["updates"], path, f"{where} updates")
            by_configuration.setdefault(row["configuration"], []).append(row)
        report = path.with_suffix(".md")
        model = (" — the model before the §II-C step" if report.exists() and
                 "before the §II-C step" in report.read_text() else "")
        lines.append(f"- {path.parent.name}{model} (cross-modality %, by updates): " + "; ".join(
            length_cells(name, found) for name, found in by_configuration.items()))
    return lines + [""]


def length_cells(name, rows):
    """'dropout-a0 (3 folds) 100: 67.5, …'; a control, which trains nothing, as one value."""
    folds = rows[-1].get("folds")
    label = f"{name} ({folds} fold{'s' if folds != '1' else ''})" if folds else name
    values = {f"{float(row['cross']):.1f}" for row in rows}
    if name in CONTROLS and len(values) == 1:
        return f"{label} control, no training: {values.pop()}"
    return f"{label} " + ", ".join(f"{int(row['updates']):,}: {float(row['cross']):.1f}"
                                   for row in rows)


def twin_lines(documents):
    lines = ["## Same settings, other arithmetic", "",
             "Runs with the same data, preset, seed, reading, scale and options whose units "
             "were computed on another processor or with another thread count: only float32 "
             "round-off differs, so this is how much of a table is arithmetic noise.", ""]
    groups = twin_runs.twin_groups(documents)
    if not groups:
        return lines + ["No two committed runs share their settings yet.", ""]
    for first, *others in groups:
        lines += [twin_runs.summary_line(documents, first, second) for second in others]
    return lines + [""]


def page(results=RESULTS):
    documents = tables(results)
    lines = ["# Findings: what reproduces", "",
             "Generated by `python studies/findings.py` from the committed results in "
             "paper_figures/ (do not edit by hand; a test fails when this page and the files "
             "disagree). Each run's folder has its command, tables and reading.", "",
             results_files.sources(results), ""]
    for part in (scale_lines(documents), [""], claim_lines(documents, results),
                 control_lines(documents), pair_lines(documents),
                 central_gap_page.section(results), evaluation_lines(results),
                 length_lines(results), twin_lines(documents)):
        lines += part
    return "\n".join(lines).rstrip() + "\n"


