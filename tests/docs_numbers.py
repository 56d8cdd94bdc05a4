"""Every number in the docs backed by a committed file: the finder behind
``test_docs_numbers.py``.

A markdown file is split into sections (by heading) and blocks (paragraphs, list items,
table rows). A block's *named files* are the committed files (and run folders) its backticked
paths and links name, with those of its section, and
for a run's README in paper_figures/, the run folder's own files; the paper's numbers
(``experiments/paper/published.py``) are named everywhere. A *stated number* is a number in
the prose (code spans and blocks are commands and paths, not results), except
integers below 10 (counts such as 3 folds appear in nearly every file), years, section,
figure, table, equation and issue numbers, versions, and the values of α. A stated
number is *backed* when a named file holds a number that rounds to it at the decimals
shown (signs and thousands separators aside), or when ``DERIVED`` lists it with the
formula that gives it.
"""
import bisect
import re
from functools import lru_cache
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
DOCUMENTS = ["README.md", "docs/*.md", "benchmarks/README.md", "tests/README.md",
             "paper_figures/README.md", "paper_figures/*/README.md"]
ALWAYS_NAMED = ["experiments/paper/published.py"]
READABLE = {".md", ".csv", ".json", ".txt", ".py", ".sh", ".cff", ".toml"}
# Derived numbers the docs state, per document, each with the arithmetic that gives it
# from backed numbers (checked: the formula must round to the value at the decimals
# shown). The paper's scale: 1,375,000 updates (experiments/paper/published.py) × batch 64 at
# 157.6 samples/s (benchmarks/results/speed-2core-cpu.txt, M = 4); msd-brats: 387
# training subjects per fold.
PAPER_SAMPLES = "1375000 * 64"
NETWORK_HOURS = f"({PAPER_SAMPLES} / 157.6 / 3600)"
MSD_DAYS = "(50 * 387 * 10000 / 64 * 64 / 157.6 / 86400)"
DERIVED = {
    # The confidence level of every interval (experiments/statistics/intervals.py, 0.95).
    "README.md": {"95": "100 * 0.95"},
    # The last-block study: 3 readings × 4 rows × 3 folds × 8 trainings; the default's.
    "paper_figures/open_ms-flair-t2-last-block/README.md": {"288": "3 * 4 * 3 * 8",
                                                            "96": "4 * 3 * 8"},
    # Four modalities: 2 readings × 4 rows × 3 folds × 4 trainings; 3 folds × 4 per row.
    "paper_figures/open_ms-last-block/README.md": {"96": "2 * 4 * 3 * 4", "12": "3 * 4"},
    "benchmarks/README.md": {
        "88,000,000": PAPER_SAMPLES,
        # Per backend (speed-<backend>-2core-cpu.txt, M = 2): fast layers over Keras's own.
        "1.49": "167.0 / 111.8",
        "155": NETWORK_HOURS,
        "310": f"2 * {NETWORK_HOURS}",
        "517": f"80 * {NETWORK_HOURS} / 24",
        "24,817": f"80 * 2 * {NETWORK_HOURS}",
        "40": f"25 * 0.25 * {NETWORK_HOURS} / 24",
        "1,939": f"25 * 0.25 * 2 * {NETWORK_HOURS}",
        "1.5": f"(80 + 25 * 0.25) * {NETWORK_HOURS} / 24 / 365.25",
        "26,755": f"(80 + 25 * 0.25) * 2 * {NETWORK_HOURS}",
        "3.0": "50 * 387 * 10000 / 64 / 1e6",
        "14.2": MSD_DAYS,
        "682": f"{MSD_DAYS} * 24 * 2",
        "3.1": f"80 * {MSD_DAYS} / 365.25",
        "54,569": f"80 * {MSD_DAYS} * 24 * 2",
        # The grid: 16 axial configurations and 2 baselines; per fold one all-modality and
        # four single-modality baseline networks; 5,000 patches for each of 2 classes;
        # msd-brats's 484 labelled cases, four fifths for training.
        "18": "16 + 2",
        "25": "5 * (1 + 4)",
        "105": "80 + 5 * (1 + 4)",
        "10,000": "2 * 5000",
        "387": "484 * 4 / 5",
        # The matrix-product layers' saving: two layers' saved ms (layer-alternatives
        # records), per modality (M = 2), over the profile's whole step.
        "10.6": "100 * 2 * ((7.92 - 2.82) + (8.53 - 2.76)) / 206",
        "10.1": "100 * 2 * ((2.82 - 0.86) + (3.56 - 0.94)) / 91",
    },
    # Training length against the paper's 1,375,000 updates and the open_ms Table I
    # runs' 256; the paper's central difference from its BRATS cells (65.8 − 51.7).
    "paper_figures/open_ms-flair-t2-training-length-10k/README.md": {
        "138": "1375000 / 10000", "39": "10000 / 256", "3.3": "10000 / 3000",
        "14.1": "65.8 - 51.7"},
    "paper_figures/open_ms-flair-t2-training-length/README.md": {"458": "1375000 / 3000"},
    # The repeats run: 3 networks and 3 controls, 3 folds, 8 trainings.
    "paper_figures/open_ms-flair-t2-repeats/README.md": {"72": "3 * 3 * 8",
                                                         "144": "6 * 3 * 8"},
    "paper_figures/open_ms-flair-t2-repeats-two-threads/README.md": {"72": "3 * 3 * 8",
                                                                     "144": "6 * 3 * 8"},
    "docs/design.md": {"3,375": "15 ** 3"},  # a raw patch's voxels
}

NUMBER = re.compile(r"(?<![\w.§/#×-])[+\-−]?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\w³²]|/\d)|"
                    r"(?<![\w.§/#×-])[+\-−]?\d+(?:\.\d+)?(?![\w³²]|\.\d|/\d)")
SKIP_BEFORE = re.compile(r"(§|Fig\.?|Figs\.|Figures?|Table|issue|equations?|α\s*=|alpha\s*=|"
                         r"step|version|Python|Keras|TensorFlow|torch|v|commit|stop|#|"
                         r"\(\d+\)–|D)\s*\(?$", re.IGNORECASE)
PATH = re.compile(r"`([^`\s]+)`|\]\(([^)\s]+)\)")


def documents():
    found = []
    for pattern in DOCUMENTS:
        found += sorted(REPOSITORY.glob(pattern))
    return [path for path in found if path.name != "FINDINGS.md"]


def strip_code(text):
    """The prose: fenced blocks and code spans removed, links kept as their text."""
    text = re.sub(r"```.*?```", " ", text, flags=re.DOTALL)
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.DOTALL)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"`[^`]*`", " ", text)


def named_files(text, document):
    """The committed files a text names (backticked paths or link targets, relative to
    the repository or to the document's folder; a folder stands for its files)."""
    found = set()
    for match in PATH.finditer(text):
        token = (match.group(1) or match.group(2)).split("#")[0].rstrip(".,:;)")
        if "/" not in token and "." in token:  # a bare file name: below the document
            found.update(p for p in document.parent.rglob(token) if p.is_file())
        for base in (REPOSITORY, document.parent):
            candidate = (base / token).resolve()
            if REPOSITORY in candidate.parents or candidate == REPOSITORY:
                if candidate.is_file():
                    found.add(candidate)
                elif candidate.is_dir() and candidate.parent == REPOSITORY / "paper_figures":
                    # A run's folder stands for its files; wider folders (paper_figures/,
                    # benchmarks/results/) would back any number.
                    found.update(p for p in candidate.rglob("*") if p.is_file())
    return found


def blocks(text):
    """(section heading, block text) of a markdown text; a block is a paragraph, a list
    item or a table row."""
    section, current, result = "", [], []

    def flush():
        if current:
            result.append((section, "\n".join(current)))
            current.clear()
    in_fence = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
            current.append(line)
            continue
        if in_fence:
            current.append(line)
            continue
        if line.startswith("#"):
            flush()
            section = line.strip("# ").strip()
        elif not line.strip() or line.lstrip().startswith(("- ", "* ", "| ")) or \
                re.match(r"\s*\d+\. ", line):
            flush()
            if line.strip():
                current.append(line)
        else:
            current.append(line)
    flush()
    return result


def stated_numbers(prose):
    """(text, value, decimals) of every number the prose states (see the module)."""
    for match in NUMBER.finditer(prose):
        text = match.group(0)
        before = prose[max(0, match.start() - 14):match.start()]
        bare = text.lstrip("+-−").replace(",", "")
        decimals = len(bare.split(".")[1]) if "." in bare else 0
        value = float(bare)
        if SKIP_BEFORE.search(before):
            continue
        if decimals == 0 and (value < 10 or (1900 <= value <= 2100 and "," not in text)):
            continue
        if re.match(r"\.\d", prose[match.end():match.end() + 2]):  # a version a.b.c
            continue
        yield text, value, decimals


@lru_cache(maxsize=None)
def file_numbers(path):
    """Every number a readable committed file holds (absolute values), ascending: a
    binary search finds a stated number (a run folder's unit tables hold tens of
    thousands; a document states hundreds)."""
    path = Path(path)
    if path.suffix not in READABLE:
        return ()
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ()
    values = set()
    for match in re.finditer(r"\d[\d,_]*(?:\.\d+)?(?:[eE][+-]?\d+)?", text):
        token = match.group(0).rstrip(",_")
        try:
            values.add(abs(float(token.replace(",", "").replace("_", ""))))
        except ValueError:
            continue
        if "," in token:  # "1,2,3" is also three numbers
            for part in token.split(","):
                if part:
                    values.add(float(part))
    return tuple(sorted(values))


def backed(value, decimals, files):
    """Whether a file holds a number that shows as ``value`` at ``decimals``."""
    tolerance = 0.5 * 10 ** -decimals + 1e-9
    for path in files:
        numbers = file_numbers(str(path))
        at = bisect.bisect_left(numbers, value - tolerance)
        if at < len(numbers) and numbers[at] <= value + tolerance:
            return True
    return False


def unbacked(document):
    """[(line, number text, block)] of a document's stated numbers that no named file
    holds."""
    text = document.read_text()
    own = set()
    if document.parent.parent == REPOSITORY / "paper_figures":
        own = {p for p in document.parent.rglob("*") if p.is_file() and p != document}
    always = {REPOSITORY / name for name in ALWAYS_NAMED}
    sections = {}
    for section, block in blocks(text):
        sections.setdefault(section, set()).update(named_files(block, document))
    problems = []
    for section, block in blocks(text):
        files = named_files(block, document) | sections[section] | own | always
        for number, value, decimals in stated_numbers(strip_code(block)):
            derived = DERIVED.get(str(document.relative_to(REPOSITORY)), {})
            if number.lstrip("+-−") in derived or backed(value, decimals, files):
                continue
            line = text[:text.index(block)].count("\n") + 1 if block in text else 0
            problems.append((line, number, block.strip().splitlines()[0][:100]))
    return problems
