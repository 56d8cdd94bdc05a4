"""The common options (reproduce/options.py, command_line.py): every number means what it
says, a bad value is one `error:` line before anything is computed, and --help answers
without starting TensorFlow."""
import io
import subprocess
import sys
from pathlib import Path

import pytest

from experiments.runs import command_line
from runtime.errors import ProjectError
from tests.conftest import TINY_RUN

REPOSITORY = Path(__file__).resolve().parents[1]
SCRIPTS = ["reproduce/table1", "reproduce/fig5", "reproduce/fig6", "reproduce/fig7",
           "reproduce/fig8", "studies/accuracy_vs_updates", "studies/claims_by_reading",
           "studies/recalibration_effect", "studies/segment"]


@pytest.mark.parametrize("option, value, problem", [
    ("--configs", "", "names no configuration (an unset shell variable?)"),
    ("--filters", "0,0,0", "every layer needs at least 1 filter"),
    ("--filters", "abc", "expected three whole numbers"),
    ("--filters", "8,16", "expected three whole numbers"),
    ("--class", "lesion=abc", "class lesion: expected label values as whole numbers"),
    ("--seed", "-1", "must be at least 0"),
    ("--momentum", "5", "must lie in [0, 1)"),
    ("--patches-per-class", "0", "must be at least 1"),
    ("--group-pattern", "(", "not a regular expression (missing ), unterminated subpattern"),
    ("--checkpoint-every", "10", "expected off, or a positive number with a unit"),
    ("--checkpoint-every", "2.5updates", "updates are whole numbers"),
])
def test_a_bad_value_is_one_error_line_and_writes_nothing(tmp_path, option, value, problem):
    out = tmp_path / "run"
    finished = subprocess.run(
        [sys.executable, "reproduce/table1.py", *TINY_RUN, "--out", str(out), option, value],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 2 and "Traceback" not in finished.stderr
    last = finished.stderr.strip().splitlines()[-1]
    assert f"error: argument {option}" in last and problem in last
    assert not out.exists()


def test_one_feature_under_the_vector_normalization_is_refused_before_any_work(tmp_path):
    """The §II-C step maps a single feature to 0: every cell would read 50.0 ± 0.0."""
    out = tmp_path / "run"
    finished = subprocess.run(
        [sys.executable, "reproduce/table1.py", *TINY_RUN, "--out", str(out), "--filters",
         "4,4,1"], cwd=REPOSITORY, capture_output=True, text=True, timeout=120)
    assert finished.returncode != 0 and "Traceback" not in finished.stderr
    last = finished.stderr.strip().splitlines()[-1]
    assert last.startswith("error: --filters 4,4,1") and "give at least 2" in last
    assert not out.exists()
    args = command_line.script_parser("x").parse_args(
        [*TINY_RUN, "--filters", "4,4,1", "--vector-normalization", "never"])
    assert command_line.resolve_run(args, argv=[]).filters == (4, 4, 1)  # nothing to zero


def test_checkpoint_every_reads_as_seconds_or_updates():
    parse = command_line.script_parser("x").parse_args
    assert command_line.resolve_run(parse([]), []).checkpoint_every == {"every_seconds": 600.0}
    for text, expected in (("30s", {"every_seconds": 30.0}), ("1.5h", {"every_seconds": 5400.0}),
                           ("500updates", {"every_updates": 500}), ("off", None)):
        args = parse(["--checkpoint-every", text])
        assert command_line.resolve_run(args, []).checkpoint_every == expected, text


def test_parsed_values_are_the_given_ones():
    args = command_line.script_parser("x").parse_args(
        ["--filters", "8,16,32", "--class", "tumor=1,2,4", "--class", "edema=nonzero",
         "--momentum", "0", "--configs", "plain-*, baseline-all"])
    run = command_line.resolve_run(args, [])
    assert run.filters == (8, 16, 32) and run.momentum == 0.0
    assert dict(args.classes) == {"tumor": (1, 2, 4), "edema": "nonzero"}
    assert [c.name for c in run.configurations] == [
        "plain-a0", "plain-a0.1", "plain-a0.2", "plain-a0.5", "baseline-all"]


def test_help_answers_before_tensorflow_starts():
    """Each script's --help (and any option error) comes before TensorFlow is imported."""
    probe = ("import runpy, sys\n"
             "for name in sys.argv[1:]:\n"
             "    sys.argv = [name, '--help']\n"
             "    try:\n"
             "        runpy.run_path(f'{name}.py', run_name='__main__')\n"
             "    except SystemExit:\n"
             "        pass\n"
             "print('TENSORFLOW', 'tensorflow' in sys.modules, 'keras' in sys.modules)\n")
    finished = subprocess.run([sys.executable, "-c", probe, *SCRIPTS], cwd=REPOSITORY,
                              capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert finished.stdout.count("usage: ") == len(SCRIPTS)
    assert finished.stdout.strip().splitlines()[-1] == "TENSORFLOW False False"


def test_accuracy_vs_updates_lists_only_options_it_takes():
    finished = subprocess.run([sys.executable, "studies/accuracy_vs_updates.py", "--help"],
                              cwd=REPOSITORY, capture_output=True, text=True, timeout=120)
    assert "--checkpoints" in finished.stdout
    for refused in ("--updates", "--epochs", "--repeats", "--recalibrate-statistics"):
        assert refused not in finished.stdout


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bars_only_on_a_terminal():
    assert command_line.progress_level(1, _Terminal()) == 1
    assert command_line.progress_level(1, io.StringIO()) == 0  # a log file: unit lines only
    assert command_line.progress_level(2, io.StringIO()) == 2
    assert command_line.progress_level(0, _Terminal()) == 0


def test_a_missing_data_folder_is_refused_by_the_options_before_any_work(tmp_path):
    """resolve_run runs before TensorFlow starts (the scripts import it after): a mistyped
    --data-dir is answered there, and the run folder is not made."""
    argv = ["--dataset", "folder", "--data-dir", str(tmp_path / "nowhere"),
            "--modality", "A=a_*.nii.gz", "--modality", "B=b_*.nii.gz",
            "--label", "l_*.nii.gz", "--out", str(tmp_path / "run")]
    args = command_line.script_parser("x").parse_args(argv)
    with pytest.raises(ProjectError, match="nowhere does not exist or is not a folder"):
        command_line.resolve_run(args, argv)
    assert not (tmp_path / "run").exists()
    (tmp_path / "nowhere").mkdir()
    assert command_line.resolve_run(args, argv).data_dir == tmp_path / "nowhere"
