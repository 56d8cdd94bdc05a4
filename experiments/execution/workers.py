"""A grid's units on every core: one-thread worker processes.

TensorFlow's intra-op threads scale poorly for these small 3-D convolutions, and the
thread count decides float32 round-off (docs/design.md). So every process that trains
computes with one thread (``runtime.startup``), and a run uses the cores by starting
``--workers N`` processes of the same command, each with ``--shard i/N`` — the run
folder's own machinery: every unit is saved as it finishes, shards share one folder,
a rerun resumes. The numbers are those of one one-thread process whatever N is.

The calling process prepares the data first (so the workers find the cache and the run
folder ready; it starts no TensorFlow: ``grid.prepare(computes=False)``), then watches
the units finish, printing progress with an ETA; each
worker's output goes to ``OUT/logs/worker<i>.log``. Ctrl-C stops the workers (what they
finished is saved) and names the command that resumes; SIGTERM (a cluster's warning)
makes each save the state of its training in progress and stop, and the call exits with
status 75 (``runtime.console.PREEMPTED``) for the job to be requeued.
"""
import os
import signal
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from experiments.runs.options import configured_count
from experiments.runs.run_folder import read_unit_result
from runtime.console import INTERRUPTED, PREEMPTED, console, format_seconds, say
from runtime.errors import ProjectError, Stopped
from runtime.startup import gpu_visible

POLL_SECONDS = 2.0
ONE_THREAD = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}


def usable_cores():
    """The cores this process may run on (its affinity; a cluster job's allocation)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def default_count():
    """The default of --workers: $CROSS_MODALITY_WORKERS, else 1 where TensorFlow sees a
    GPU (one process keeps it busy; several would share its memory), else the usable
    cores."""
    configured = configured_count()
    if configured:
        return configured
    return 1 if gpu_visible() else usable_cores()


@dataclass(frozen=True)
class Plan:
    """How a script's grid runs: ``count`` workers of ``script`` with ``arguments`` (the
    command line without --workers), or in this process when ``count`` is 1."""
    count: int
    script: str
    arguments: tuple

    @property
    def delegates(self):
        """Whether the units run in worker processes (this one then computes nothing)."""
        return self.count > 1

    def command(self, index):
        return [sys.executable, self.script, *self.arguments, "--shard",
                f"{index}/{self.count}", "--workers", "1"]


def plan(args, argv, script):
    """The Plan of a parsed command line: in this process when it names a --shard (it is
    then one worker of a larger run) or --workers 1."""
    count = getattr(args, "workers", None) or default_count()
    if getattr(args, "shard", None):
        count = 1
    arguments = list(sys.argv[1:] if argv is None else argv)
    kept, skip = [], False
    for word in arguments:  # drop --workers N / --workers=N
        if skip:
            skip = False
        elif word == "--workers":
            skip = True
        elif not word.startswith("--workers="):
            kept.append(word)
    return Plan(count, str(Path(script).resolve()), tuple(kept))


def run_workers(tasks, worker_plan, command, out, shape=""):
    """Runs the unfinished ``tasks`` (grid.Task) in ``worker_plan.count`` worker
    processes and waits for them, reporting each unit as it finishes. Returns the number
    of units that finished in this call; an error names a worker that failed and its log."""
    todo = [task for task in tasks if not task.finished()]
    say(f"{len(tasks)} units{shape}; {len(tasks) - len(todo)} already finished, {len(todo)} "
        f"to run in {worker_plan.count} one-thread worker processes (logs in "
        f"{Path(out) / 'logs'})")
    if not todo:
        return 0
    logs = Path(out) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    from experiments.runs.run_lock import holder_for_workers
    environment = {**os.environ, **ONE_THREAD, **holder_for_workers(out)}
    workers, handles = [], []
    for index in range(worker_plan.count):
        handle = open(logs / f"worker{index}.log", "a")
        handle.write(f"==== {time.strftime('%Y-%m-%d %H:%M:%S')} worker {index} of "
                     f"{worker_plan.count}: {command}\n")  # one call's lines from the next's
        handle.flush()
        handles.append(handle)
        workers.append(subprocess.Popen(worker_plan.command(index), stdout=handle,
                                        stderr=subprocess.STDOUT, env=environment,
                                        start_new_session=True))
    started, done, paces, failure = time.perf_counter(), set(), [], []
    saving = saves_training_states(worker_plan.arguments)

    def finished_now():
        """Every unit of this call finished so far (recounted: a unit may finish between
        two looks)."""
        with warnings.catch_warnings():  # a unit in progress is not "unfinished"
            warnings.simplefilter("ignore")
            return [task for task in todo if task.finished()]

    def stopped_line(cause, status):
        count = len(finished_now())
        states = (" and the workers saved the state of the trainings in progress" if saving
                  else " (no training state is saved under --checkpoint-every off: the "
                  "trainings in progress start over)")
        message = (f"{cause}: {count} of this call's {len(todo)} units finished and are saved "
                   f"in {out}{states}. The same command resumes"
                   + (f" (a job script requeues on exit status {PREEMPTED})"
                      if status == PREEMPTED else "") + f":\n  {command}")
        if status == 1:  # a failure, not a stop on request
            raise ProjectError(f"{failure[0]}; {message}")
        raise Stopped(message, status)

    def terminated(signum, frame):  # a cluster's warning signal: the workers save and stop
        stop(workers, signal.SIGTERM)
        console.close_line()
        stopped_line("stopped (SIGTERM)", PREEMPTED)
    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        while True:
            for task in todo:
                with warnings.catch_warnings():  # a unit in progress is not "unfinished"
                    warnings.simplefilter("ignore")
                    finished = task.label not in done and task.finished()
                if finished:
                    done.add(task.label)
                    elapsed = time.perf_counter() - started
                    left = len(todo) - len(done)
                    seconds = unit_seconds(task)
                    if seconds is not None:
                        paces.append(seconds)
                    # The units' own compute time over the workers (a measured pace): the
                    # elapsed time of the first finish also holds the workers' start-up.
                    pace = (sum(paces) / len(paces) / worker_plan.count if paces
                            else elapsed / len(done))
                    eta = f", ETA {format_seconds(pace * left)}" if left else ""
                    say(f"[{len(done)}/{len(todo)}] {task.label} finished (elapsed "
                        f"{format_seconds(elapsed)}{eta})")
            ended = [(index, worker.returncode) for index, worker in enumerate(workers)
                     if worker.poll() is not None]
            if len(ended) == len(workers):
                break
            failed = [(index, code) for index, code in ended if code not in (0, PREEMPTED)]
            if failed:  # a worker died: stop the others now rather than at their end
                stop(workers, signal.SIGTERM)
                console.close_line()
                index, code = failed[0]
                failure.append(worker_failure(index, code, worker_plan.count, logs))
                stopped_line("stopped the other workers", 1)
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:  # Ctrl-C: the workers save their trainings, as on SIGTERM
        stop(workers, signal.SIGTERM)
        console.close_line()
        stopped_line("interrupted (Ctrl-C)", INTERRUPTED)
    finally:
        signal.signal(signal.SIGTERM, previous)
        for handle in handles:
            handle.close()
    failed = [(index, worker.returncode) for index, worker in enumerate(workers)
              if worker.returncode != 0]
    if any(code == PREEMPTED for _, code in failed):  # a worker got SIGTERM itself
        stopped_line("stopped (SIGTERM to the workers)", PREEMPTED)
    if failed:
        index, code = failed[0]
        raise ProjectError(f"{worker_failure(index, code, worker_plan.count, logs)}; what "
                           "finished is saved, rerun to resume")
    return len(done)


def unit_seconds(task):
    """The compute seconds a finished unit recorded (None without them)."""
    if task.directory is None:
        return None
    result = read_unit_result(task.directory, verify=False)
    return None if result is None or "seconds" not in result else float(result["seconds"])


def saves_training_states(arguments):
    """Whether a command line's trainings save their state (not --checkpoint-every off)."""
    for index, word in enumerate(arguments):
        if word.startswith("--checkpoint-every="):
            return word.split("=", 1)[1] != "off"
        if word == "--checkpoint-every" and index + 1 < len(arguments):
            return arguments[index + 1] != "off"
    return True


def worker_failure(index, code, count, logs):
    """'worker 1 of 2 killed by signal 9 (SIGKILL) (its log: …)' or '… stopped with status
    1: <its last line> (its log: …)'."""
    log = logs / f"worker{index}.log"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "an unknown signal"
        return f"worker {index} of {count} killed by signal {-code} ({name}) (its log: {log})"
    tail = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
    return (f"worker {index} of {count} stopped with status {code}: "
            f"{tail[-1] if tail else 'no output'} (its log: {log})")


def stop(workers, signum):
    """Sends ``signum`` to every worker still running and waits for them."""
    for worker in workers:
        if worker.poll() is None:
            try:
                os.killpg(worker.pid, signum)
            except ProcessLookupError:
                pass
    for worker in workers:
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
