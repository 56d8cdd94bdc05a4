"""The findings page (paper_figures/FINDINGS.md) from the committed results (read and
checked by ``results_files``), in two parts: the answer and the current Table I runs
(scale, the paper's comparisons run by run, controls, where the central gain lives),
then the studies beyond the paper (``findings_studies_page``). Superseded runs
(``committed_runs``) stay on the page, marked, and out of every count.
``studies/findings.py`` writes it."""
from pathlib import Path

from experiments.statistics import claims
from experiments.findings import committed_runs, findings_answer, findings_studies_page
from experiments.findings import results_files
from experiments.findings.findings_studies_page import MARK, study_scale_rows
from experiments.statistics.intervals import bracketed
from experiments.paper.published import PAPER_SCALE

RESULTS = committed_runs.RESULTS
README = RESULTS.parent / "README.md"
PAGE = "FINDINGS.md"
# The comparisons the page follows across runs (cross-modality unless marked), at α = 0.
CENTRAL = ("dropout+norm-a0 − dropout-a0", "dropout-a0 − plain-a0", "norm-a0 − plain-a0",
           "dropout+norm-a0 − baseline-all", "dropout+norm-a0 − plain-a0")
CONTROL_ROWS = ("plain-a0", "dropout-a0", "dropout+norm-a0", "baseline-all")
CONTROLS = ("raw-patch", "raw-centre", "untrained")
reading_rows = findings_studies_page.reading_rows
TERMS = (
    "**Terms.** A *run* is one folder of paper_figures/; *current* runs are made by today's "
    "code, *superseded* ones by an earlier arithmetic or model (kept, marked, left out of "
    "counts). A *configuration* is one network setting of Table I (`plain`, `norm` = "
    "per-feature normalization, `dropout` = modality dropout, `dropout+norm` both; `-a0.1`: "
    "the similarity term's weight α = 0.1; `baseline-all` and `baseline-training`: the "
    "paper's baselines, one shared encoder and decoder for every modality, trained on all "
    "modalities or on the forest's training modality only); a *unit* is one "
    "configuration trained and "
    "scored on one fold; a *cell* is one number of a table; a *control* is a forest "
    "without a trained network (`raw-patch`: each patch's raw 15³ intensities); a "
    "*reading* is one way of filling in what the paper leaves open. *open_ms* is three MS "
    "patients with FLAIR, T1, T1POST and T2 (compared with the paper's BRATS column); the "
    "*knee phantom* is synthetic, with N and FS (compared with OAI, as a pattern). *The "
    "central gain* is dropout + normalization − dropout at α = 0: what per-feature "
    "normalization adds to modality dropout, the paper's +14.1 on BRATS (the studies' "
    "files call it the gap). The paper's *lost Fig. 2* drew the encoders' blocks; its "
    "text leaves their last one open, hence the last-block readings. Each number is "
    "our difference for one of the paper's comparisons (e.g. dropout − plain: the dropout "
    "network's cross-modality accuracy minus the plain network's) in percentage points "
    "with its 95 % interval; its *sign* verdict is reproduced, contradicted or undecided, "
    "its *size* says whether the paper's value lies inside our interval; a network "
    "against a control is higher, lower or undecided. The *β gap* is the mean over "
    "features of |β_FLAIR − β_T2| in the encoders' last batch normalization (its shift per "
    "modality); a trend *per decade* is the change per tenfold more updates. *Arithmetic "
    "version*: how float32 sums are ordered (2 today: one TensorFlow thread per process).")


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


def ordered(documents):
    """Current runs first (in ``committed_runs`` order), then the others by name."""
    current = [name for name in committed_runs.current_names() if name in documents]
    return current + [name for name in documents if name not in current]


status = committed_runs.status


def run_label(name):
    return f"{name} (superseded)" if committed_runs.is_superseded(name) else name


def _paper(value):
    return "–" if value in (None, "") else f"{float(value):+.1f}"


PAPER_MODALITIES = {"brats": "T1, T1c, T2, FLAIR", "oai": "N, FS"}
# OAI's training "subjects" are scan pairs (4/5 of 172 pairs from 88 subjects, §III).
PAPER_UNITS = {"brats": "", "oai": " scan pairs (of 88 subjects in all)"}


def scale_lines(documents, results):
    lines = ["### Scale of every run beside the paper's", "",
             "| run | status | modalities | updates per network | training subjects per fold | "
             "features | patches per class and subject | trainings per cell |",
             "|---|---|---|---|---|---|---|---|"]
    for table, scale in PAPER_SCALE.items():
        lines.append(f"| the paper, {table.upper()} | published | {PAPER_MODALITIES[table]} | "
                     f"{scale['updates']:,} | {scale['training_subjects']}"
                     f"{PAPER_UNITS[table]} | {scale['features']} | "
                     f"{scale['patches_per_class']:,} | 1 |")
    for name in ordered(documents):
        document = documents[name]
        scale, modalities = document.get("scale"), ", ".join(document["modalities"])
        if scale is None:
            lines.append(f"| {name} | {status(name)} | {modalities} | not recorded "
                         "(made before the scale was) | | | | |")
            continue
        updates = (f"{scale['updates']:,}" if scale["updates"] else
                   f"{scale['epochs']} epochs")
        lines.append(f"| {name} | {status(name)} | {modalities} | {updates} | "
                     f"{scale['training_subjects'] or '–'} | {scale['features']} | "
                     f"{scale['patches_per_class']:,} | {document.get('repeats', 1)} |")
    lines += [f"| {row['name']} | {status(row['name'])} | " + " | ".join(
        row[key] for key in ("modalities", "updates", "subjects", "features", "patches",
                             "trainings")) + " |" for row in study_scale_rows(results)]
    return lines + ["", "Studies record no training subjects per fold: theirs are the "
                    "Table I runs' (3 patients, 3 folds: 2 per fold).", ""]


def claim_lines(documents):
    """Per headline comparison at α = 0: one row per Table I run, current runs first;
    the counts over current runs only."""
    lines = ["### The paper's comparisons, run by run", "",
             "Our difference at α = 0 with its 95 % interval over folds, the sign verdict, "
             "the paper's value and whether it lies inside our interval. The readings "
             "studies' rows are in part 2.", ""]
    for label in CENTRAL:
        measure = "same" if label == CENTRAL[-1] else "cross"
        rows, current = [], []
        for name in ordered(documents):
            for item in documents[name].get("comparisons", []):
                if item["label"] == label and item["measure"] == measure:
                    rows.append(f"| {run_label(name)} | {bracketed(item['difference'], item['low'], item['high'])} | "
                                f"{MARK[item['verdict']]} | {_paper(item['paper'])} | "
                                f"{findings_answer.size_word(item)} |")
                    if not committed_runs.is_superseded(name):
                        current.append(item)
        counts = claims.summary(current) if current else "no current run"
        lines += [f"**{label}** ({measure}-modality; current runs: {counts})", "",
                  "| run | ours | sign | paper | size |", "|---|---|---|---|---|",
                  *rows, ""]
    return lines


def control_lines(documents):
    lines = ["### Controls: what a forest gets without a trained network", "",
             "Cross-modality accuracy (%) of the controls and of the networks at α = 0, and "
             "every network − control comparison counted (beyond the paper: higher, lower "
             "or undecided).", "",
             "| run | " + " | ".join(CONTROLS + CONTROL_ROWS) + " | networks − controls |",
             "|---|" + "---|" * (len(CONTROLS) + len(CONTROL_ROWS) + 1)]
    for name in ordered(documents):
        document = documents[name]
        rows = {row["name"]: row for row in document["rows"]}
        if not any(control in rows for control in CONTROLS):
            lines.append(f"| {run_label(name)} | " + " | ".join(["not run"] * len(CONTROLS))
                         + " | " + " | ".join(f"{rows[r]['cross']:.1f}" if r in rows else "–"
                                              for r in CONTROL_ROWS) + " | – |")
            continue
        lines.append(f"| {run_label(name)} | " + " | ".join(
            f"{rows[r]['cross']:.1f} ± {rows[r]['cross_high'] - rows[r]['cross']:.1f}"
            if r in rows else "–" for r in CONTROLS + CONTROL_ROWS)
            + f" | {controls_summary(document)} |")
    return lines + [""]


def controls_summary(document):
    """How the networks fare against the controls, counted from the run's comparisons
    (the same words for every run, whenever its table was written)."""
    beyond = [item for item in document.get("comparisons", []) if item.get("beyond_paper")]
    if not beyond:  # an older table: its recorded summary, in today's words
        summary = document.get("controls_summary", "–")
        for verdict, words in claims.BEYOND_WORDS.items():
            summary = summary.replace(f" {verdict}", f" {words}")
        return summary
    return claims.summary(beyond, beyond_paper=True)


def pair_lines(documents):
    lines = ["### Where the central gain lives: dropout+norm-a0 − dropout-a0 per pair", "",
             "Per ordered pair (forest trained on the first modality, tested on the second): "
             "our difference ± the half width of its 95 % interval; **bold** where the "
             "interval excludes 0.", ""]
    for name in ordered(documents):
        items = [item for item in documents[name].get("pair_comparisons", [])
                 if item["label"] == CENTRAL[0] and item["measure"] == "cross"]
        if not items:
            lines.append(f"- {run_label(name)}: not recorded (made before the per-pair "
                         "comparisons)")
            continue
        cells = []
        for item in items:
            half = (item["high"] - item["low"]) / 2
            text = f"{item['pair']} {item['difference']:+.1f} ±{half:.1f}"
            cells.append(f"**{text}**" if item["verdict"] != "undecided" else text)
        lines.append(f"- {run_label(name)}: " + "; ".join(cells))
    return lines + [""]


def page(results=RESULTS):
    documents = tables(results)
    readings = reading_rows(results)
    found = findings_answer.facts(documents, readings, results)
    lines = ["# Findings: what reproduces", "",
             "Generated by `python studies/findings.py` from the committed results in "
             "paper_figures/ (do not edit by hand; a test fails when this page and the files "
             "disagree). Each run's folder has its command, tables and reading.", "",
             results_files.sources(results), "", "## The answer", "",
             *findings_answer.answer_lines(found), "",
             "The picture: [findings_forest.png](findings_forest.png) (its numbers: "
             "`findings_forest.csv`; the answer's: `findings_answer.json`).", "",
             TERMS, "", "## Part 1: the paper's Table I", ""]
    for part in (scale_lines(documents, results), claim_lines(documents),
                 control_lines(documents), pair_lines(documents),
                 ["## Part 2: studies beyond the paper", ""],
                 findings_studies_page.lines(documents, readings, results)):
        lines += part
    return "\n".join(lines).rstrip() + "\n"

