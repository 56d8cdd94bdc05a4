"""Worker processes: the same tiny grid with 1, 2 and 3 one-thread workers gives the same
table, byte for byte; the workers' units are the run folder's, and their output goes to
per-worker logs."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from experiments.execution import workers
from tests.conftest import TINY_RUN

pytestmark = pytest.mark.slow  # processes: the fast tier leaves it out

REPOSITORY = Path(__file__).resolve().parents[1]
GRID = [*TINY_RUN, "--configs", "plain-a0,dropout+norm-a0,raw-patch"]


def as_at_a_terminal():
    """For a call that the test will Ctrl-C: SIGINT at its default, as in a terminal. A
    shell starts a background job (``pytest ... &``) with SIGINT ignored, its children
    inherit that, and Python then installs no Ctrl-C handler at all."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def script_environment():
    """The scripts' environment: the default worker count, and no thread settings (the
    scripts pin one thread themselves)."""
    environment = {**os.environ, "CROSS_MODALITY_WORKERS": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
    for name in workers.ONE_THREAD:
        environment.pop(name, None)
    return environment


def table(tmp_path, count):
    out = tmp_path / f"workers{count}"
    environment = script_environment()
    # -X importtime: the calling process lists every module it imports on its standard
    # error stream (the workers' go to their logs).
    done = subprocess.run([sys.executable, "-X", "importtime",
                           str(REPOSITORY / "reproduce" / "table1.py"), *GRID,
                           "--workers", str(count), "--out", str(out)], cwd=tmp_path,
                          env=environment, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()
                if line.startswith("import time:")}
    assert ("tensorflow" in imported) == (count == 1), (count, sorted(imported)[:20])
    return out, done.stdout


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """The grid computed with 1, 2 and 3 workers: {count: (run folder, what it printed)}."""
    folder = tmp_path_factory.mktemp("workers")
    return {count: table(folder, count) for count in (1, 2, 3)}


def test_one_two_and_three_workers_give_the_same_table(tables):
    # (``table`` also checks that a call handing its grid to workers never starts
    # TensorFlow itself, while one computing in-process does.)
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


def test_sigterm_saves_the_trainings_in_progress_and_the_rerun_ends_as_uninterrupted(tmp_path):
    """A cluster's warning signal: the workers save their trainings' states and stop, the
    call exits with status 75 (requeue) naming the command; the rerun resumes the
    trainings from their states and gives the table and features of an uninterrupted run,
    and removes the states."""
    import json
    import signal
    import time
    import numpy as np
    grid = [*TINY_RUN[:-4], "--updates", "60", "--verbose", "0", "--configs",
            "plain-a0,dropout+norm-a0"]
    environment = script_environment()

    def command(out, count, every="10updates"):
        return [sys.executable, str(REPOSITORY / "reproduce" / "table1.py"), *grid,
                "--checkpoint-every", every, "--workers", str(count), "--out", str(out)]
    uninterrupted = tmp_path / "uninterrupted"  # saving no state at all
    done = subprocess.run(command(uninterrupted, 1, "off"), cwd=tmp_path, env=environment,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    out = tmp_path / "stopped"
    parent = subprocess.Popen(command(out, 2), cwd=tmp_path, env=environment,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not list(out.glob("training-states/*/fold*/network.npz")) and time.time() < deadline:
        time.sleep(0.05)
    parent.send_signal(signal.SIGTERM)
    printed, errors = parent.communicate(timeout=120)
    assert parent.returncode == 75, printed + errors
    assert "stopped (SIGTERM)" in errors and "The same command resumes" in errors
    states = list(out.glob("training-states/*/fold*/network.npz"))  # the states are kept
    assert states
    with np.load(states[0]) as state:  # saved in the middle of the training
        assert 0 < json.loads(str(state["about"]))["updates_done"] < 60
    still = subprocess.run(["pgrep", "-f", "--", f"--out {out} --shard"], capture_output=True,
                           text=True)
    assert still.stdout.strip() == ""  # no worker left running
    done = subprocess.run(command(out, 2), cwd=tmp_path, env=environment, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (out / "table1.csv").read_bytes() == (uninterrupted / "table1.csv").read_bytes()
    for features in sorted(uninterrupted.glob("units/*/fold*/features.npz")):
        with np.load(features) as expected, \
                np.load(out / features.relative_to(uninterrupted)) as resumed:
            for key in expected.files:
                np.testing.assert_array_equal(resumed[key], expected[key])
    assert not (out / "training-states").exists()


def start_two_workers(tmp_path, extra=()):
    """A 2-worker table1.py call in the middle of training (a training's log line seen):
    (the call, its run folder, its command)."""
    import time
    grid = [*TINY_RUN[:-4], "--updates", "400", "--verbose", "0", "--configs",
            "plain-a0,dropout+norm-a0", *extra]
    out = tmp_path / "run"
    command = [sys.executable, str(REPOSITORY / "reproduce" / "table1.py"), *grid,
               "--workers", "2", "--out", str(out)]
    parent = subprocess.Popen(command, cwd=tmp_path, env=script_environment(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              preexec_fn=as_at_a_terminal)
    deadline = time.time() + 300
    while time.time() < deadline and not all(
            (out / "logs" / f"worker{i}.log").exists() and "[1/" in
            (out / "logs" / f"worker{i}.log").read_text() for i in range(2)):
        time.sleep(0.1)
    time.sleep(3)  # into the first training
    return parent, out, command


def test_a_killed_worker_is_noticed_within_seconds_and_named(tmp_path):
    """The probe: a kill -9ed worker was noticed only when the other finished, named by
    its last log line. Now the call stops the other worker (which saves its training) at
    once, names the signal and the command that resumes."""
    import signal
    import time
    parent, out, _ = start_two_workers(tmp_path)
    found = subprocess.run(["pgrep", "-f", "--", f"--out {out} --shard 1/2"], capture_output=True,
                           text=True).stdout.split()
    assert found, "worker 1 is not running"
    os.kill(int(found[0]), signal.SIGKILL)
    killed = time.monotonic()
    printed, errors = parent.communicate(timeout=120)
    assert time.monotonic() - killed < 30, errors
    assert parent.returncode == 1, printed + errors
    assert "error: worker 1 of 2 killed by signal 9 (SIGKILL)" in errors
    assert "stopped the other workers: " in errors and "The same command resumes" in errors
    assert "Traceback" not in errors
    still = subprocess.run(["pgrep", "-f", "--", f"--out {out} --shard"], capture_output=True,
                           text=True)
    assert still.stdout.strip() == ""


def test_ctrl_c_saves_the_trainings_in_progress_like_sigterm(tmp_path):
    """Ctrl-C in a call with workers: they save their trainings (the default interval of
    10 minutes has not come: only the stop request saves) and the call exits 130."""
    import signal
    parent, out, _ = start_two_workers(tmp_path)
    parent.send_signal(signal.SIGINT)
    printed, errors = parent.communicate(timeout=120)
    assert parent.returncode == 130, printed + errors
    assert "interrupted (Ctrl-C): " in errors
    assert "the workers saved the state of the trainings in progress" in errors
    assert list(out.glob("training-states/*/fold*/network.npz"))
    assert "Traceback" not in errors and "tensorflow" not in errors.lower()


def test_under_checkpoint_off_no_message_promises_a_saved_state(tmp_path):
    import signal
    parent, _, _ = start_two_workers(tmp_path, ("--checkpoint-every", "off"))
    parent.send_signal(signal.SIGTERM)
    printed, errors = parent.communicate(timeout=120)
    assert parent.returncode == 75, printed + errors
    assert "saved the state" not in errors
    assert "no training state is saved under --checkpoint-every off" in errors
    assert workers.saves_training_states(["--checkpoint-every=off"]) is False
    assert workers.saves_training_states(["--checkpoint-every", "30s"]) is True


def test_ctrl_c_in_one_process_saves_the_training_and_ends_on_one_line(tmp_path):
    """The probe: Ctrl-C with --workers 1 saved nothing and ended on a TensorFlow error
    line. Now it saves the training's state (like SIGTERM), says from where the same
    command resumes, exits 130; the rerun says from which update it resumes."""
    import signal
    import time
    out = tmp_path / "run"
    command = [sys.executable, str(REPOSITORY / "reproduce" / "table1.py"), *TINY_RUN[:-4],
               "--updates", "2000", "--verbose", "0", "--configs", "plain-a0", "--workers",
               "1", "--out", str(out)]
    parent = subprocess.Popen(command, cwd=tmp_path, env=script_environment(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              preexec_fn=as_at_a_terminal)
    deadline = time.time() + 300
    while time.time() < deadline and not (out / "run.json").exists():
        time.sleep(0.1)
    time.sleep(12)  # into the first training
    parent.send_signal(signal.SIGINT)
    printed, errors = parent.communicate(timeout=120)
    assert parent.returncode == 130, printed + errors
    (line, resume) = errors.strip().splitlines()
    assert line.startswith("interrupted (Ctrl-C) in plain-a0/fold0: training stopped after ")
    assert "Resume with the same command:" in line and resume.strip().startswith("python")
    assert list(out.glob("training-states/plain-a0/fold0/network.npz"))
    log = (out / "logs") if (out / "logs").exists() else None
    assert log is None  # one process: no worker logs


def test_worker_logs_separate_the_calls_and_a_changed_backend_is_named_as_users_set_it(tables):
    out, _ = tables[2]
    first = (out / "logs" / "worker0.log").read_text().splitlines()[0]
    assert first.startswith("==== ") and "worker 0 of 2: python reproduce/table1.py" in first
    from experiments.runs.run_folder import option_names
    assert option_names(["keras_backend"], {}, {}) == ["the Keras backend (KERAS_BACKEND)"]
