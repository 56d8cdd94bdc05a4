"""The committed runs of paper_figures/, in one place: which are the current Table I runs
(their data, the paper's column each is compared with, the command a user types to make
it), which runs are superseded and by what, and which hold the current answer to a
study's question. The README's answer and results, the findings page and its figure
read this module; a test holds it against the folders.

A run is *superseded* when a later committed run answers the same question with the
same settings under today's code (today: arithmetic version 4: one TensorFlow thread per
process, the matrix-product layers and the decoders' last layer by rows of
``models/fast_layers.py``): its numbers stay on the findings page, marked, and are left out
of every count and of the README.
"""
from dataclasses import dataclass
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[2] / "paper_figures"


@dataclass(frozen=True)
class TableRun:
    name: str  # its folder in paper_figures/
    data: str  # what a reader needs to know about the data, briefly
    paper_column: str  # the paper's Table I column its numbers are compared with
    command: str  # what a user types to make the same run (and where it writes)
    note: str = ""  # how to read the comparison with the paper's column


THREE_PATIENTS = "--dataset open-ms --subjects patient07,patient19,patient26"
CURRENT_TABLE_RUNS = (
    TableRun("open_ms-quick", "open_ms, 3 MS patients (FLAIR, T1, T1POST, T2)", "BRATS",
             f"python reproduce/table1.py {THREE_PATIENTS} --patches-per-class 500 "
             "--epochs 8 --folds 3 --momentum 0.99 --out runs/open_ms-quick"),
    TableRun("open_ms-flair-t2-repeats", "open_ms, 3 MS patients (FLAIR, T2), 8 trainings "
             "per fold", "BRATS",
             f"python reproduce/table1.py {THREE_PATIENTS} --modalities FLAIR,T2 "
             "--patches-per-class 500 --epochs 8 --momentum 0.99 --folds 3 --configs "
             "dropout-a0,dropout+norm-a0,plain-a0,raw-patch,raw-centre,untrained --repeats 8 "
             "--out runs/open_ms-flair-t2-repeats"),
    TableRun("synthetic-knee-quick-seed0", "knee phantom (N, FS)", "OAI",
             "python reproduce/table1.py",
             note="a pattern comparison: a synthetic phantom against real knee MRI"),
)
TWO_THREADS = "arithmetic version 1: two TensorFlow threads per process"
KERAS_LAYERS = ("arithmetic version 2: one thread per process, oneDNN's convolutions for the "
                "encoders' last and the decoders' first layer")
PLANAR_LAST_LAYER = ("arithmetic version 3: the decoders' last layer's forward pass as a 2-D "
                     "transposed convolution and a sum over depth shifts")
# superseded run -> (the run that supersedes it, what differs); each run's twins newest first
SUPERSEDED = {
    "synthetic-knee-quick-seed0-arithmetic-3": ("synthetic-knee-quick-seed0", PLANAR_LAST_LAYER),
    "open_ms-quick-arithmetic-3": ("open_ms-quick", PLANAR_LAST_LAYER),
    "open_ms-flair-t2-repeats-arithmetic-3": ("open_ms-flair-t2-repeats", PLANAR_LAST_LAYER),
    "synthetic-knee-quick-seed0-arithmetic-2": ("synthetic-knee-quick-seed0", KERAS_LAYERS),
    "open_ms-quick-arithmetic-2": ("open_ms-quick", KERAS_LAYERS),
    "open_ms-flair-t2-repeats-arithmetic-2": ("open_ms-flair-t2-repeats", KERAS_LAYERS),
    "synthetic-knee-quick-seed0-two-threads": ("synthetic-knee-quick-seed0", TWO_THREADS),
    "open_ms-quick-two-threads": ("open_ms-quick", TWO_THREADS),
    "open_ms-flair-t2-repeats-two-threads": ("open_ms-flair-t2-repeats", TWO_THREADS),
    "open_ms-flair-t2-training-length-10k": ("open_ms-flair-t2-training-length-mechanism",
                                             TWO_THREADS),
    "open_ms-flair-t2-training-length": ("open_ms-flair-t2-training-length-mechanism",
                                         "the model before the §II-C step; "
                                         + TWO_THREADS),
}
# Studies made under an earlier arithmetic that no later run repeats: current for their
# question, with that caveat (their units are not the current Table I runs').
OLDER_ARITHMETIC = {"open_ms-readings": "arithmetic version 1, not repeated since",
                    "open_ms-flair-t2-readings": "arithmetic version 1, not repeated since",
                    "open_ms-last-block": "arithmetic version 2, not repeated since",
                    "open_ms-flair-t2-last-block": "arithmetic version 2, not repeated since",
                    "open_ms-flair-t2-training-length-mechanism":
                        "arithmetic version 2, not repeated since",
                    "open_ms-flair-t2-width": "arithmetic version 3, not repeated since",
                    "synthetic-knee-width": "arithmetic version 3, not repeated since"}
# The current answer to "does the central gap open with training?" (10,000 updates).
LENGTH_STUDY = "open_ms-flair-t2-training-length-mechanism"
# The comparison the paper's central claim rests on, and the one word for it.
CENTRAL = "dropout+norm-a0 − dropout-a0"
CENTRAL_NAME = "the central gain"
# The paper's comparisons the README's table and the forest plot show (cross-modality),
# each with the words a newcomer reads.
HEADLINE = (
    ("dropout-a0 − plain-a0", "modality dropout"),
    ("norm-a0 − plain-a0", "per-feature normalization alone"),
    (CENTRAL, "normalization added to dropout (the central gain)"),
    ("dropout+norm-a0 − plain-a0", "both techniques"),
    ("dropout+norm-a0 − baseline-all", "both against the baseline network"),
    ("dropout-a0.1 − plain-a0.1", "modality dropout with the similarity term (α = 0.1)"),
)


def current_names():
    return [run.name for run in CURRENT_TABLE_RUNS]


def table_run(name):
    return next((run for run in CURRENT_TABLE_RUNS if run.name == name), None)


def is_superseded(name):
    return name in SUPERSEDED


def status(name):
    """'current', 'study', 'study (arithmetic version 1, …)' or 'superseded by …'."""
    if name in SUPERSEDED:
        return superseded_note(name)
    if name in current_names():
        return "current"
    return f"study ({OLDER_ARITHMETIC[name]})" if name in OLDER_ARITHMETIC else "study"


def superseded_note(name):
    """'superseded by X (it was made under …)', or '' for a current run."""
    if name not in SUPERSEDED:
        return ""
    successor, why = SUPERSEDED[name]
    return f"superseded by {successor} ({why})"
