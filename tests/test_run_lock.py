"""One writer per run folder: a second call on a live folder fails at once naming the
other process (or waits), shards share a folder only with the same options, a killed
holder leaves no stale lock, and units of other options are never collected."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from experiments.runs import run_lock
from tests.conftest import TINY_RUN

REPOSITORY = Path(__file__).resolve().parents[1]
HOLD = ("import sys, time\nfrom experiments.runs import run_lock\n"
        "try:\n    run_lock.hold(sys.argv[1], sys.argv[2], shard=sys.argv[3] == 'shard')\n"
        "except run_lock.RunBusyError as error:\n    print(f'error: {error}'); sys.exit(1)\n"
        "print('holding', flush=True)\ntime.sleep(float(sys.argv[4]))\n")


def holder(folder, options="a", shard=False, seconds=60):
    """A process holding ``folder``'s lock for ``seconds`` (started, and holding, on return)."""
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(folder), options,
                                "shard" if shard else "alone", str(seconds)],
                               stdout=subprocess.PIPE, text=True, cwd=REPOSITORY)
    line = process.stdout.readline()
    return process, line


def test_a_second_writer_fails_at_once_naming_the_first(tmp_path):
    first, line = holder(tmp_path / "run")
    try:
        assert line == "holding\n"
        with pytest.raises(run_lock.RunBusyError) as refused:
            run_lock.hold(tmp_path / "run", "b")
        message = f"error: {refused.value}"
        assert message.startswith(f"error: {tmp_path / 'run'} is being written by process "
                                  f"{first.pid} on ")
        assert "--wait" in message and "another --out" in message
        # a shard of the same run cannot join a call that holds the folder alone either
        with pytest.raises(run_lock.RunBusyError):
            run_lock.hold(tmp_path / "run", "a", shard=True)
    finally:
        first.kill()
        first.wait()


def test_a_killed_holder_leaves_no_stale_lock_and_wait_queues(tmp_path):
    first, _ = holder(tmp_path / "run")
    first.send_signal(signal.SIGKILL)
    first.wait()
    second, line = holder(tmp_path / "run", seconds=1)
    assert line == "holding\n"  # the kernel released the killed process's lock
    lines = []
    started = time.monotonic()
    run_lock.hold(tmp_path / "run", "c", wait=True, log=lines.append)  # behind the second
    run_lock.release_all()
    assert time.monotonic() - started > 0.2 and lines[0].startswith("waiting: ")
    assert json.loads((tmp_path / "run" / run_lock.LOCK_NAME).read_text())["pid"] == os.getpid()
    second.wait()


def test_shards_share_a_folder_only_with_the_same_options(tmp_path):
    first, line = holder(tmp_path / "run", "a", shard=True)
    try:
        assert line == "holding\n"
        same, line = holder(tmp_path / "run", "a", shard=True, seconds=0)
        assert line == "holding\n"
        same.wait()
        other, line = holder(tmp_path / "run", "b", shard=True, seconds=0)
        assert other.wait() == 1
        assert f"is being written by process {first.pid}" in line
        assert "with other options" in line
        alone, line = holder(tmp_path / "run", "a", seconds=0)  # a call without --shard
        assert alone.wait() == 1 and "One call writes a run folder at a time" in line
    finally:
        first.kill()
        first.wait()
    # the killed shard's record is stale: a shard of other options may start now
    other, line = holder(tmp_path / "run", "b", shard=True, seconds=0)
    assert other.wait() == 0 and line == "holding\n"


def test_two_table1_calls_on_one_folder_cannot_mix_units(tmp_path):
    """The probe: a 30-update and a 6-update call on one new folder made one table of
    both. Now the second call stops at once, naming the first, and the table holds the
    first call's units only."""
    out = tmp_path / "run"
    first_arguments = [*TINY_RUN[:-4], "--updates", "30", "--verbose", "0", "--out", str(out),
                       "--configs", "plain-a0,dropout-a0", "--workers", "1"]
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
    first = subprocess.Popen([sys.executable, "reproduce/table1.py", *first_arguments],
                             cwd=REPOSITORY, env=environment, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    lock = out / run_lock.LOCK_NAME
    for _ in range(600):
        if lock.exists() and lock.read_text().strip():
            break
        time.sleep(0.1)
    second = subprocess.run([sys.executable, "reproduce/table1.py", *TINY_RUN, "--out",
                             str(out), "--configs", "plain-a0,dropout-a0", "--workers", "1"],
                            cwd=REPOSITORY, env=environment, capture_output=True, text=True,
                            timeout=120)
    output, _ = first.communicate(timeout=600)
    assert first.returncode == 0, output[-2000:]
    assert second.returncode == 1
    assert f"is being written by process {first.pid}" in second.stdout + second.stderr
    assert "Traceback" not in second.stdout + second.stderr
    document = json.loads((out / "table1.json").read_text())
    assert document["updates"] == 30 or document["scale"]["updates"] == 30


def test_a_unit_of_other_options_is_refused_when_collecting(tmp_path):
    from experiments.runs import command_line, run_folder
    from experiments.execution import grid
    from experiments.runs.run import options_sha256
    out = tmp_path / "run"
    arguments = [*TINY_RUN, "--out", str(out), "--configs", "plain-a0", "--workers", "1"]
    from reproduce import table1
    assert table1.main(arguments) == 0
    run = command_line.resolve_run(command_line.script_parser("x").parse_args(arguments),
                                   arguments)
    result_path = out / "units" / "plain-a0" / "fold0" / "result.json"
    result = json.loads(result_path.read_text())
    assert result["options_sha256"] == options_sha256(run)
    result["options_sha256"] = "0" * 64
    result_path.write_text(json.dumps(result))
    with pytest.raises(run_folder.RunFolderError) as refused:
        grid.collect(run, 2)
    assert f"unit {result_path.parent} was made with other options" in str(refused.value)
