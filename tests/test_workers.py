"""Worker processes: the same tiny grid with 1, 2 and 3 one-thread workers gives the same
table, byte for byte; the workers' units are the run folder's, and their output goes to
per-worker logs. (Signals and killed workers: test_worker_signals.py.)"""
import subprocess
import sys
from pathlib import Path

import pytest

from experiments.execution import workers
from tests.conftest import TINY_RUN
from tests.worker_calls import as_at_a_terminal, script_environment

pytestmark = pytest.mark.slow  # processes: the fast tier leaves it out

REPOSITORY = Path(__file__).resolve().parents[1]
GRID = [*TINY_RUN, "--configs", "plain-a0,dropout+norm-a0,raw-patch"]


def table(tmp_path, count):
    out = tmp_path / f"workers{count}"
    environment = script_environment()
    done = subprocess.run([sys.executable, str(REPOSITORY / "reproduce" / "table1.py"), *GRID,
                           "--workers", str(count), "--out", str(out)], cwd=tmp_path,
                          env=environment, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return out, done.stdout


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """The grid computed with 1, 2 and 3 workers: {count: (run folder, what it printed)}."""
    folder = tmp_path_factory.mktemp("workers")
    return {count: table(folder, count) for count in (1, 2, 3)}


def test_one_two_and_three_workers_give_the_same_table(tables):
    for count, (out, printed) in tables.items():
        if count > 1:
            assert f"to run in {count} one-thread worker processes" in printed
            assert sorted(p.name for p in (out / "logs").iterdir()) == [
                f"worker{i}.log" for i in range(count)]
            assert "finished (elapsed" in printed
            assert "is unfinished" not in printed  # a unit in progress is no warning
    csv = {count: (out / "table1.csv").read_bytes() for count, (out, _) in tables.items()}
    assert csv[1] == csv[2] == csv[3]
    assert "1 TensorFlow thread" in (tables[2][0] / "table1.md").read_text()


def test_the_plan_drops_workers_from_the_command_and_a_shard_runs_in_process():
    class Arguments:
        workers, shard = 3, None
    plan = workers.plan(Arguments(), ["--out", "x", "--workers", "3", "--workers=2"], "s.py")
    assert plan.count == 3 and plan.arguments == ("--out", "x")
    assert plan.command(1)[-4:] == ["--shard", "1/3", "--workers", "1"]
    Arguments.shard = "0/2"
    assert workers.plan(Arguments(), [], "s.py").count == 1


def test_ctrl_c_stops_the_workers_and_a_rerun_resumes_to_the_same_table(tmp_path, tables):
    """Ctrl-C in the calling process stops its workers (none is left running), keeps
    what they finished, names the command that resumes; the rerun trains the rest and
    gives the table of an uninterrupted run."""
    import signal
    import time
    uninterrupted = tables[2][0]
    out = tmp_path / "interrupted"
    environment = script_environment()
    command = [sys.executable, str(REPOSITORY / "reproduce" / "table1.py"), *GRID,
               "--workers", "2", "--out", str(out)]
    parent = subprocess.Popen(command, cwd=tmp_path, env=environment, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, preexec_fn=as_at_a_terminal)
    deadline = time.time() + 300
    while not list(out.glob("units/*/fold*/result.json")) and time.time() < deadline:
        time.sleep(0.5)
    parent.send_signal(signal.SIGINT)
    printed, errors = parent.communicate(timeout=120)
    assert parent.returncode == 130, printed + errors
    assert "The same command resumes" in errors
    still = subprocess.run(["pgrep", "-f", "--", f"--out {out} --shard"], capture_output=True,
                           text=True)
    assert still.stdout.strip() == ""  # no worker left running
    assert not (out / "table1.csv").exists()
    done = subprocess.run(command, cwd=tmp_path, env=environment, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (out / "table1.csv").read_bytes() == (uninterrupted / "table1.csv").read_bytes()


def test_worker_logs_separate_the_calls_and_a_changed_backend_is_named_as_users_set_it(tables):
    out, _ = tables[2]
    first = (out / "logs" / "worker0.log").read_text().splitlines()[0]
    assert first.startswith("==== ") and "worker 0 of 2: python reproduce/table1.py" in first
    from experiments.runs.run_folder import option_names
    assert option_names(["keras_backend"], {}, {}) == ["the Keras backend (KERAS_BACKEND)"]
