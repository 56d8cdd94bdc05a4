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
    """As the README runs it (no WALKTHROUGH_FIGURES): from a copy of the script beside
    the repository's code, its figures go to runs/walkthrough/ of that copy, the committed
    figures are untouched and the temporary folder is left empty."""
    import shutil
    copy = tmp_path / "checkout" / "examples" / SCRIPT.name
    copy.parent.mkdir(parents=True)
    shutil.copyfile(SCRIPT, copy)
    temporary = tmp_path / "temporary"
    temporary.mkdir()
    committed = {p: p.stat().st_mtime_ns for p in (EXAMPLES / "walkthrough_figures").iterdir()}
    environment = {**{k: v for k, v in os.environ.items() if k != "WALKTHROUGH_FIGURES"},
                   "WALKTHROUGH_QUICK": "1", "PYTHONPATH": str(REPOSITORY),
                   "TMPDIR": str(temporary)}
    finished = subprocess.run([sys.executable, str(copy)], capture_output=True, text=True,
                              env=environment, timeout=300)
    assert finished.returncode == 0, finished.stdout[-2000:] + finished.stderr[-2000:]
    for line in ("tested on FS:", "plain: same-modality", "dropout + normalization: same-modality",
                 "median NCC"):
        assert line in finished.stdout
    figures = tmp_path / "checkout" / "runs" / "walkthrough"
    assert sorted(p.name for p in figures.glob("*.png")) == [
        "1_contrasts.png", "4_loss_curves.png", "5_reconstructions.png",
        "6_feature_correlation.png"]
    assert list(temporary.iterdir()) == []
    assert {p: p.stat().st_mtime_ns for p in (EXAMPLES / "walkthrough_figures").iterdir()} \
        == committed


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
