"""The teaching walkthrough: the notebook is generated from the script, and the script
runs top to bottom (at its small CI setting)."""
import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from examples import make_notebook
import pytest

pytestmark = pytest.mark.slow  # end to end: the fast tier (-m "not slow") leaves it out

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
REPOSITORY = EXAMPLES.parent
SCRIPT = EXAMPLES / "cross_modality_walkthrough.py"


def test_the_committed_notebook_is_the_one_generated_from_the_script():
    committed = json.loads((EXAMPLES / "cross_modality_walkthrough.ipynb").read_text())
    expected = make_notebook.cells(SCRIPT.read_text())
    got = [(cell["cell_type"], "".join(cell["source"])) for cell in committed["cells"]]
    assert got == expected
    # Every line of code of the script is in a code cell, in order, and nothing else is:
    # the script's lines outside its top-level prose strings, blank lines aside.
    script = SCRIPT.read_text()
    prose = set()
    for node in ast.parse(script).body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) \
                and isinstance(node.value.value, str):
            prose.update(range(node.lineno, node.end_lineno + 1))
    script_code = [line for number, line in enumerate(script.splitlines(), start=1)
                   if number not in prose and line.strip()]
    cell_code = [line for kind, source in expected if kind == "code"
                 for line in source.splitlines() if line.strip()]
    assert cell_code == script_code
    assert all(not cell.get("outputs") for cell in committed["cells"] if cell["cell_type"] == "code")
    assert expected[0][1].startswith("# Cross-modality representations")


def test_cells_split_prose_from_code():
    text = '"""\nTitle: T\nAuthor: A\n"""\n"""\n## One\n\nprose\n"""\n\nx = 1\n\n\ndef f():\n    """doc"""\n    return x\n"""## Two"""\ny = 2\n'
    assert make_notebook.cells(text) == [
        ("markdown", "# T\n\n**Author:** A<br>"), ("markdown", "## One\n\nprose"),
        ("code", 'x = 1\n\n\ndef f():\n    """doc"""\n    return x'), ("markdown", "## Two"),
        ("code", "y = 2")]


def test_the_walkthrough_runs_top_to_bottom_at_its_small_setting(tmp_path):
    """As the README runs it (no WALKTHROUGH_FIGURES): its figures go to
    runs/walkthrough-quick/ under the current folder (a full run's are runs/walkthrough/), the committed figures are untouched, the temporary folder is
    left empty, the three networks are trained and shown, and --quick says in its first
    and last lines that its numbers mean nothing."""
    here = tmp_path / "elsewhere"
    here.mkdir()
    temporary = tmp_path / "temporary"
    temporary.mkdir()
    committed = {p: p.stat().st_mtime_ns for p in (EXAMPLES / "walkthrough_figures").iterdir()}
    environment = {**{k: v for k, v in os.environ.items() if k != "WALKTHROUGH_FIGURES"},
                   "PYTHONPATH": str(REPOSITORY), "TMPDIR": str(temporary)}
    finished = subprocess.run([sys.executable, str(SCRIPT), "--quick"], capture_output=True,
                              text=True, env=environment, timeout=300, cwd=here)
    assert finished.returncode == 0, finished.stdout[-2000:] + finished.stderr[-2000:]
    lines = finished.stdout.strip().splitlines()
    for line in (lines[0], lines[-1]):
        assert line.startswith("--quick:") and "mean nothing" in line
    rows = [line.split() for line in lines if line.strip().startswith(
        ("plain ", "dropout ", "dropout + normalization ")) and line.strip().endswith("%")]
    assert [" ".join(row[:-4]) for row in rows] == ["plain", "dropout",
                                                    "dropout + normalization"]
    assert "tested on FS:" in finished.stdout and "median NCC" in finished.stdout
    assert str(REPOSITORY) not in finished.stdout  # no machine path in the output
    figures = here / "runs" / "walkthrough-quick"  # never a full run's folder
    assert sorted(p.name for p in figures.glob("*.png")) == [
        "1_contrasts.png", "4_loss_curves.png", "5_reconstructions.png",
        "6_feature_correlation.png"]
    assert list(temporary.iterdir()) == []
    assert {p: p.stat().st_mtime_ns for p in (EXAMPLES / "walkthrough_figures").iterdir()} \
        == committed


def test_make_notebook_has_help_and_never_overwrites_a_script(tmp_path, capsys):
    import pytest
    with pytest.raises(SystemExit) as stopped:
        make_notebook.main(["--help"])
    assert stopped.value.code == 0 and "SCRIPT" in capsys.readouterr().out.upper()
    script = tmp_path / "walk.py"
    script.write_text('"""\nTitle: T\n"""\nx = 1\n')
    other = tmp_path / "other.py"
    other.write_text("keep = 1\n")
    plain = tmp_path / "plain.ipynb"
    plain.write_text("not a notebook\n")
    for arguments, message in (([str(script), str(other)], "does not end in .ipynb"),
                               ([str(tmp_path / "x.ipynb"), str(script)], "is not a file"),
                               ([str(script), str(plain)], "is not a notebook")):
        with pytest.raises(SystemExit) as stopped:
            make_notebook.main(arguments)
        assert stopped.value.code == 2 and message in capsys.readouterr().err
    assert other.read_text() == "keep = 1\n" and plain.read_text() == "not a notebook\n"
    assert make_notebook.main([str(script)]) == 0
    assert json.loads(script.with_suffix(".ipynb").read_text())["nbformat"] == 4
    assert make_notebook.main([str(script)]) == 0  # a notebook may be renewed


def test_the_slurm_example_submits_shards_then_a_dependent_aggregating_call(tmp_path):
    """bash -n, then a run against a stand-in `sbatch` that records its arguments: an
    array of N shards 0..N-1, each with --shard ${SLURM_ARRAY_TASK_ID}/N, and a final call
    without --shard that waits for the array (afterany)."""
    script = REPOSITORY / "examples" / "slurm_table1.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    fake = tmp_path / "bin" / "sbatch"
    fake.parent.mkdir()
    calls = tmp_path / "calls"
    fake.write_text(f'#!/bin/bash\nprintf "%s\\n" "$@" > {calls}.$$\necho $$\n')
    fake.chmod(0o755)
    environment = {**os.environ, "PATH": f"{fake.parent}:{os.environ['PATH']}", "SHARDS": "4",
                   "OUT": str(tmp_path / "out"), "DATA": "/data/My BraTS"}
    finished = subprocess.run(["bash", str(script)], cwd=REPOSITORY, env=environment,
                              capture_output=True, text=True, timeout=60, check=True)
    submitted = [path.read_text().splitlines() for path in
                 sorted(tmp_path.glob("calls.*"), key=lambda p: int(p.suffix[1:]))]
    assert len(submitted) == 2
    shards, final = submitted
    array_id = finished.stdout.split("as job ")[1].split()[0]
    assert "--array=0-3" in shards
    job = tmp_path / "out" / "slurm" / "job.sh"
    shard_command = [a for a in shards if a.startswith("--wrap=")][0]
    assert shard_command == f"--wrap=exec {job} --shard ${{SLURM_ARRAY_TASK_ID}}/4"
    assert "reproduce/table1.py" in job.read_text() and "/data/My\\ BraTS" in job.read_text()
    assert f"--dependency=afterany:{array_id}" in final
    assert [a for a in final if a.startswith("--wrap=")] == [f"--wrap=exec {job}"]
    for call in (shards, final):  # SIGTERM 5 minutes before the end, then requeued
        assert "--requeue" in call and "--signal=B:TERM@300" in call


def test_the_slurm_job_passes_sigterm_on_and_requeues_on_status_75(tmp_path):
    """The job body forwards Slurm's SIGTERM to table1.py (here a stand-in that exits
    with 75, as table1.py does after saving) and then requeues its own array task."""
    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    (bin_folder / "sbatch").write_text("#!/bin/bash\necho 1\n")
    requeued = tmp_path / "requeued"
    (bin_folder / "scontrol").write_text(f'#!/bin/bash\necho "$@" > {requeued}\n')
    python = bin_folder / "python"
    python.write_text("#!/bin/bash\ntrap 'exit 75' TERM\nwhile true; do sleep 0.05; done\n")
    for path in bin_folder.iterdir():
        path.chmod(0o755)
    environment = {**os.environ, "PATH": f"{bin_folder}:{os.environ['PATH']}",
                   "OUT": str(tmp_path / "out"), "PYTHON": str(python)}
    subprocess.run(["bash", str(REPOSITORY / "examples" / "slurm_table1.sh")], cwd=REPOSITORY,
                   env=environment, capture_output=True, check=True, timeout=60)
    job = subprocess.Popen([str(tmp_path / "out" / "slurm" / "job.sh"), "--shard", "2/4"],
                           env={**environment, "SLURM_ARRAY_JOB_ID": "123",
                                "SLURM_ARRAY_TASK_ID": "2", "SLURM_JOB_ID": "125"})
    import signal
    import time
    time.sleep(1.0)
    job.send_signal(signal.SIGTERM)
    assert job.wait(timeout=30) == 75
    assert requeued.read_text().split() == ["requeue", "123_2"]
