"""One harness for bad input: every script, run as a user runs it (a process), against the
same kinds of bad input. Each must exit non-zero with exactly one line holding "error:",
that names the option or file, print no traceback, and create or delete nothing (the
working folder, its run and cache folders and the data root are listed before and after).
A new script joins by adding one row to SCRIPTS."""
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # end to end: the fast tier (-m "not slow") leaves it out

REPOSITORY = Path(__file__).resolve().parents[1]
RUN_SCRIPTS = ["reproduce/table1.py", "reproduce/fig5.py", "reproduce/fig6.py",
               "reproduce/fig7.py", "reproduce/fig8.py", "studies/normalization_at_evaluation.py",
               "studies/recalibration_effect.py", "studies/accuracy_vs_updates.py",
               "studies/claims_by_reading.py", "studies/central_gap_by_width.py"]
# The bad inputs every script that takes a run's options must refuse (FOLDER is the
# scratch folder; AFILE a file in it). Each case: (arguments, what the error line names:
# one of several words where scripts check in another order; a script that reads a run
# first finds that there is none).
RUN_CASES = {
    "unknown option": (["--no-such-option"], "--no-such-option"),
    "out is a file": (["--out", "AFILE"], "AFILE"),
    "missing data folder": (["--dataset", "folder", "--data-dir", "FOLDER/nowhere",
                             "--modality", "A=a_*.nii.gz", "--modality", "B=b_*.nii.gz",
                             "--label", "l_*.nii.gz", "--out", "FOLDER/run"], ("nowhere", "holds no run")),
    "cache is a file": (["--dataset", "folder", "--data-dir", "FOLDER/nowhere",
                         "--modality", "A=a_*.nii.gz", "--modality", "B=b_*.nii.gz",
                         "--label", "l_*.nii.gz", "--cache-dir", "AFILE",
                         "--out", "FOLDER/run"], ("--cache-dir", "holds no run")),
    "bad group pattern": (["--group-pattern", "(unclosed"], "--group-pattern"),
}
SCRIPTS = {script: RUN_CASES for script in RUN_SCRIPTS}
SEGMENT = ["--data-dir", "FOLDER", "--labelled", "A=a_*.nii.gz", "--label", "l_*.nii.gz",
           "--class", "x=1", "--target", "B=b_*.nii.gz", "--out", "FOLDER/maps"]
SCRIPTS.update({
    "studies/segment.py": {
        "unknown option": (["--unit", "FOLDER", *SEGMENT, "--no-such-option"],
                           "--no-such-option"),
        "not a unit": (["--unit", "FOLDER/nowhere", *SEGMENT], "nowhere"),
        "out is a file": (["--unit", "FOLDER", *SEGMENT[:-1], "AFILE"], ("AFILE", "not a unit",
                                                                         "not a finished unit"))},
    "studies/findings.py": {
        "unknown option": (["--no-such-option"], "--no-such-option"),
        "missing results folder": (["--results", "FOLDER/nowhere"], "nowhere")},
    "-m data.fetch": {
        "unknown option": (["open-ms", "--no-such-option"], "--no-such-option"),
        "data root is a file": (["open-ms", "--data-root", "AFILE", "--mirror",
                                 "http://127.0.0.1:9"], "AFILE")},
    "examples/cross_modality_walkthrough.py": {
        "unknown option": (["--no-such-option"], "--no-such-option")},
    "examples/make_notebook.py": {
        "unknown option": (["--no-such-option"], "--no-such-option"),
        "arguments reversed": (["AFILE", str(REPOSITORY / "examples" / "make_notebook.py")],
                               "does not end in .ipynb"),
        "missing script": (["FOLDER/nowhere.py"], "nowhere.py")},
})
for reader in ("reproduce/fig5.py", "studies/normalization_at_evaluation.py"):
    SCRIPTS[reader] = {**RUN_CASES,
                       "run folder missing": (["FOLDER/nowhere"], "is not a folder"),
                       "folder that is not a run": (["FOLDER"], "holds no run"),
                       "run folder and --out": (["FOLDER", "--out", "FOLDER"],
                                                ("not both", "holds no run"))}
SCRIPTS["reproduce/table1.py"] = {
    **RUN_CASES,
    "infinite cache limit": (["--cache-limit", "inf", "--out", "FOLDER/run"], "--cache-limit"),
    "workers with a shard": (["--shard", "0/2", "--workers", "2", "--out", "FOLDER/run"],
                             "--workers with --shard")}
ROWS = [(script, case) for script, cases in SCRIPTS.items() for case in cases]


def listing(folder):
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*"))


def run_case(script, case, folder):
    arguments, named = SCRIPTS[script][case]
    name = f"{script.replace('/', '_')}-{case.replace(' ', '_')}"
    scratch, home = folder / name, folder / "homes" / name
    scratch.mkdir()
    home.mkdir(parents=True)  # libraries' own settings and caches go here, unlisted
    (scratch / "afile").write_text("a file, not a folder")

    def place(text):
        return text.replace("AFILE", str(scratch / "afile")).replace("FOLDER", str(scratch))
    before = listing(scratch)
    command = [sys.executable, *script.split()] if script.startswith("-m") else \
        [sys.executable, str(REPOSITORY / script)]
    environment = {**os.environ, "HOME": str(home),
                   "CROSS_MODALITY_DATA": str(scratch / "data_root"),
                   "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([*command, *map(place, arguments)], cwd=scratch, env=environment,
                          capture_output=True, text=True, timeout=300)
    named = (named,) if isinstance(named, str) else named
    return done, [place(word) for word in named], before, listing(scratch)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """Every row run once, two at a time (they are processes)."""
    folder = tmp_path_factory.mktemp("bad_inputs")
    with ThreadPoolExecutor(2) as pool:
        futures = {row: pool.submit(run_case, *row, folder) for row in ROWS}
    return {row: future.result() for row, future in futures.items()}


@pytest.mark.parametrize("script,case", ROWS, ids=[f"{s}: {c}" for s, c in ROWS])
def test_bad_input_gives_one_error_line_and_changes_nothing(outcomes, script, case):
    done, named, before, after = outcomes[(script, case)]
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if "error:" in line]
    assert len(errors) == 1, output
    assert any(word in errors[0] for word in named), output
    assert after == before, f"created or deleted: {set(after) ^ set(before)}"


# The scripts that read a run, and the options that would change it.
READERS = ["reproduce/fig5.py", "reproduce/fig6.py", "reproduce/fig7.py", "reproduce/fig8.py",
           "studies/normalization_at_evaluation.py", "studies/recalibration_effect.py"]


def test_help_is_quick_lists_what_a_script_accepts_and_creates_nothing(tmp_path):
    """--help of every script answers without doing any work (the walkthrough used to
    run in full), and a script that reads a run lists no option that changes it."""
    def show(script):
        command = [sys.executable, *script.split()] if script.startswith("-m") else \
            [sys.executable, str(REPOSITORY / script)]
        arguments = ["open-ms", "--help"] if script == "-m data.fetch" else ["--help"]
        return subprocess.run([*command, *arguments], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120,
                              env={**os.environ, "CROSS_MODALITY_DATA": str(tmp_path / "d")})
    with ThreadPoolExecutor(2) as pool:
        shown = dict(zip(SCRIPTS, pool.map(show, SCRIPTS)))
    for script, done in shown.items():
        assert done.returncode == 0 and done.stdout.startswith("usage:"), (script, done.stderr)
        if script in READERS:
            assert "--discard-stale-units" not in done.stdout, script
    assert "--shard" not in shown["studies/normalization_at_evaluation.py"].stdout
    assert all("--configs" not in shown[script].stdout for script in READERS[:4])
    assert listing(tmp_path) == []


@pytest.mark.parametrize("variable,value,named", [
    ("KERAS_BACKEND", "nonsense", "KERAS_BACKEND=nonsense is not a Keras backend"),
    ("CROSS_MODALITY_WORKERS", "two", "CROSS_MODALITY_WORKERS='two' is not a number")])
def test_a_bad_environment_variable_is_one_error_line(tmp_path, variable, value, named):
    """The probe: an unknown Keras backend ended in a traceback, and a bad worker count
    fell back silently."""
    done = subprocess.run([sys.executable, str(REPOSITORY / "reproduce" / "table1.py"),
                           "--out", str(tmp_path / "run")], cwd=tmp_path,
                          env={**os.environ, variable: value, "TF_CPP_MIN_LOG_LEVEL": "3"},
                          capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode != 0 and "Traceback" not in output, output
    (line,) = [line for line in output.splitlines() if "error:" in line]
    assert named in line
    assert not (tmp_path / "run").exists()


# The libraries a script must not load before its options are parsed: a bad option or
# --help is answered in a fraction of a second (data and models import their submodules
# on first use; SciPy and scikit-learn load in the functions that use them).
HEAVY_LIBRARIES = ("tensorflow", "keras", "jax", "torch", "sklearn", "scipy", "h5py",
                   "nibabel", "matplotlib")
PROBE = """
import runpy, sys
loaded = {}
for script in sys.argv[1:]:
    before = set(sys.modules)
    sys.argv = [script, "--no-such-option"]
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit:
        pass
    loaded[script] = sorted({name.split(".")[0] for name in set(sys.modules) - before}
                            & set(HEAVY))
print(loaded)
"""


def test_a_bad_option_is_answered_before_any_heavy_library_loads():
    """Every run-reading script, segment.py and findings.py, run as by a user: after the
    refused option none of TensorFlow, scikit-learn, SciPy, h5py, nibabel, … is loaded."""
    import ast
    scripts = [*RUN_SCRIPTS, "studies/segment.py", "studies/findings.py"]
    done = subprocess.run([sys.executable, "-c", f"HEAVY = {HEAVY_LIBRARIES!r}\n{PROBE}",
                           *scripts], cwd=REPOSITORY, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    loaded = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    assert loaded == {script: [] for script in scripts}
