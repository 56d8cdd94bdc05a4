"""Reading the committed results for the findings page, checked: every file is named in
any error, with the key or row that is wrong; a run's table1.json must agree with the
table1.csv and table1_claims.csv written beside it (a hand-edited number is refused, not
published); a run whose tables lost their JSON (or a study whose report lost its data
file) is an error, never a run that silently leaves the page."""
import csv
import json
import math
from pathlib import Path

from experiments.statistics.intervals import bracketed
from runtime.errors import ProjectError

VERDICTS = ("reproduced", "contradicted", "undecided")
# What each kind of result is: its data file, and the files that show it was made.
RESULT_FILES = {"table1.json": ("table1.csv", "table1.md"),
                "claims_by_reading.csv": ("claims_by_reading.md",),
                "accuracy_vs_updates.csv": ("accuracy_vs_updates.md",),
                "central_gap_by_width.csv": ("central_gap_by_width.md",),
                "normalization_at_evaluation.json": ("normalization_at_evaluation.md",)}
# table1.csv columns compared with table1.json's rows, and the claims CSV's with its
# comparisons (numbers to the CSV's rounding).
ROW_NUMBERS = ("same", "same_low", "same_high", "cross", "cross_low", "cross_high")
CLAIM_NUMBERS = ("difference", "low", "high")


class ResultsError(ProjectError):
    """A committed result file that is missing, damaged or disagrees with another."""


def check_complete(results):
    """Every result that shows on disk has its data file: a report without it is an
    error naming both (a deleted data file would otherwise drop the run from the page)."""
    results = Path(results)
    if not results.is_dir():
        raise ResultsError(f"--results {results} is not a folder of results")
    for data_name, shown_by in RESULT_FILES.items():
        for name in shown_by:
            for path in sorted(results.glob(f"*/{name}")):
                if not (path.parent / data_name).exists():
                    raise ResultsError(f"{path.parent} has {name} but no {data_name}: restore "
                                       f"it (git checkout), or remove the folder's {name} too")


def read_json(path):
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise ResultsError(f"{path} cannot be read as JSON ({error})") from None
    if not isinstance(document, dict):
        raise ResultsError(f"{path} is not a JSON object")
    return document


def read_csv(path, columns):
    """The rows of a CSV file that must have ``columns``."""
    try:
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            header = reader.fieldnames or []
    except (OSError, csv.Error, UnicodeDecodeError) as error:
        raise ResultsError(f"{path} cannot be read as CSV ({error})") from None
    missing = [column for column in columns if column not in header]
    if missing:
        raise ResultsError(f"{path} lacks the columns {', '.join(missing)}")
    return rows


def number(value, path, where, optional=False):
    """``value`` as a finite float; an error naming the file and the key otherwise
    (``optional``: None and "" stand for no value)."""
    if optional and value in (None, ""):
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise ResultsError(f"{path}: {where} is {value!r}, not a number") from None
    if not math.isfinite(result):
        raise ResultsError(f"{path}: {where} is {value!r}, not a finite number")
    return result


def verdict(value, path, where):
    if value not in VERDICTS:
        raise ResultsError(f"{path}: {where} is {value!r}; a verdict is one of "
                           f"{', '.join(VERDICTS)}")
    return value


def field(mapping, key, path, where):
    try:
        return mapping[key]
    except (KeyError, TypeError, IndexError):
        raise ResultsError(f"{path}: {where} has no {key!r}") from None


def check_table(path, document):
    """The keys of a table1.json that the page reads, each of the right kind."""
    modalities = field(document, "modalities", path, "the document")
    if not isinstance(modalities, list) or not all(isinstance(m, str) for m in modalities):
        raise ResultsError(f"{path}: 'modalities' is not a list of names")
    rows = field(document, "rows", path, "the document")
    if not isinstance(rows, list):
        raise ResultsError(f"{path}: 'rows' is not a list")
    for index, row in enumerate(rows):
        name = field(row, "name", path, f"rows[{index}]")
        for key in ("cross", "cross_high"):
            number(field(row, key, path, f"row {name}"), path, f"row {name} {key}")
        if "cross_low" in row:
            number(row["cross_low"], path, f"row {name} cross_low")
    for kind in ("comparisons", "pair_comparisons"):
        for index, item in enumerate(document.get(kind, [])):
            where = f"{kind}[{index}]"
            for key in ("label", "measure"):
                field(item, key, path, where)
            for key in CLAIM_NUMBERS:
                number(field(item, key, path, where), path, f"{where} {key}")
            verdict(field(item, "verdict", path, where), path, f"{where} verdict")
            number(item.get("paper"), path, f"{where} paper", optional=True)
    scale = document.get("scale")
    if scale is not None:
        for key in ("updates", "epochs", "training_subjects", "features", "patches_per_class"):
            number(field(scale, key, path, "scale"), path, f"scale {key}", optional=True)
    return document


def _close(first, second, places):
    return abs(first - second) <= 0.5 * 10 ** -places + 1e-9


def cross_check(path, document):
    """table1.json against the table1.csv and table1_claims.csv beside it: a number that
    differs (a hand-edited file, or files of two runs) is an error naming both files."""
    folder = Path(path).parent
    table = folder / "table1.csv"
    if table.exists():
        by_name = {row["name"]: row for row in document["rows"]}
        for row in read_csv(table, ("name", *ROW_NUMBERS)):
            if row["name"] not in by_name:
                raise ResultsError(f"{table} has the row {row['name']!r}, {path} has not")
            for key in ROW_NUMBERS:
                if row[key] in ("", None):
                    continue
                value = number(row[key], table, f"row {row['name']} {key}")
                if not _close(value, float(by_name[row["name"]][key]), 2):
                    raise ResultsError(f"{path} and {table} disagree on row {row['name']} {key} "
                                       f"({by_name[row['name']][key]} against {row[key]}): "
                                       "regenerate both from the run folder")
    claims = folder / "table1_claims.csv"
    if claims.exists():
        by_label = {(c["label"], c["measure"]): c for c in document.get("comparisons", [])}
        for row in read_csv(claims, ("comparison", "pair", "measure", "verdict",
                                     *CLAIM_NUMBERS)):
            item = by_label.get((row["comparison"], row["measure"]))
            if row["pair"] != "mean" or item is None:
                continue
            changed = [key for key in CLAIM_NUMBERS
                       if not _close(number(row[key], claims, f"{row['comparison']} {key}"),
                                     float(item[key]), 2)]
            if changed or row["verdict"] != item["verdict"]:
                raise ResultsError(f"{path} and {claims} disagree on {row['comparison']} "
                                   f"({row['measure']}): regenerate both from the run folder")

    report = folder / "table1.md"
    if report.exists():
        check_report(report, path, document)


def check_report(report, path, document):
    """table1.md shows every cell of table1.json (in its Table I) and every comparison
    (in its claims and controls): a cell edited by hand, or a report of another run, is an
    error naming both files."""
    text = report.read_text()
    table, _, rest = text.partition("\n## ")
    for row in document["rows"]:
        for measure in ("same", "cross"):
            if row.get(measure) is None:
                continue
            cell = f"{row[measure]:.1f} ± {row[f'{measure}_high'] - row[measure]:.1f}"
            if cell not in table:
                raise ResultsError(f"{report} does not show row {row['name']} {measure} "
                                   f"{cell} of {path}: regenerate both from the run folder")
    for item in document.get("comparisons", []):
        shown = bracketed(item['difference'], item['low'], item['high'])
        if item["measure"] == "cross" and shown not in rest:
            raise ResultsError(f"{report} does not show {item['label']} {shown} of {path}: "
                               "regenerate both from the run folder")


SOURCES = "Results read (folders of paper_figures/): "


def sources(results):
    """The result folders the page is made from, in one line (so that --check can say
    which of them vanished)."""
    names = sorted({path.parent.name for data_name in RESULT_FILES
                    for path in Path(results).glob(f"*/{data_name}")})
    return SOURCES + (", ".join(names) if names else "none") + "."


def stale_runs(current, text):
    """Which result folders the committed page reports otherwise than the files:
    changed (a line of theirs differs) and vanished (read for the page, gone now)."""
    def read(page):
        line = next((l for l in page.splitlines() if l.startswith(SOURCES)), SOURCES + ".")
        return [n for n in line[len(SOURCES):].rstrip(".").split(", ") if n and n != "none"]
    before, after = read(current), read(text)
    differing = set(current.splitlines()) ^ set(text.splitlines())
    changed = [name for name in after if any(
        line.startswith((f"| {name} |", f"- {name}:", f"- {name} (", f"- {name} —"))
        for line in differing)]
    vanished = [name for name in before if name not in after]
    new = [name for name in after if name not in before]
    parts = ([f"changed: {', '.join(changed)}"] if changed else []) + \
        ([f"vanished from the files: {', '.join(vanished)}"] if vanished else []) + \
        ([f"new: {', '.join(new)}"] if new else [])
    return "; ".join(parts) or "its text differs from what the files give"
