"""One writer per run folder.

A call that writes a run folder holds OUT/.writer.lock for its whole life: an ``flock``,
which the kernel releases when the process ends, so a killed call never leaves a stale
lock behind. The file records who holds it (process, host, start, command, the sha256 of
the run's options), for the message a second call gets:

- a call without ``--shard`` holds the lock alone: a second call on the folder, with any
  options, fails at once naming the folder and the other process (or, with ``wait``,
  waits for it). Its worker processes (``workers.py``) write under their parent's lock:
  the parent names itself to them in ``HOLDER_VARIABLE``.
- calls with ``--shard I/N`` (a cluster's job array) share the lock with each other, as
  long as they run the same options: each records itself in OUT/.writers/<pid>.json,
  and a shard of other options fails at once naming the live shard it would mix with.

Readers (figure scripts, ``--report-only``) take no lock.
"""
import contextlib
import fcntl
import functools
import json
import os
import socket
import sys
import time
from pathlib import Path

from experiments.runs.run_folder import RunFolderError

LOCK_NAME = ".writer.lock"
WRITERS = ".writers"
HOLDER_VARIABLE = "CROSS_MODALITY_RUN_WRITER"  # the process id of the call holding the locks
WAIT_REPORT_SECONDS = 60
_held = {}  # resolved run folder -> its open lock file: a lock lasts while it stays open


class RunBusyError(RunFolderError):
    """Another live call writes the run folder."""


def holder_for_workers(out=None):
    """The environment entry that tells this call's workers they write under its locks."""
    return {HOLDER_VARIABLE: str(os.getpid())}


def _is_worker_of_holder(out):
    """Whether this process is a worker started by the call that holds ``out``'s lock."""
    parent = os.environ.get(HOLDER_VARIABLE, "")
    return (parent == str(os.getppid())
            and str(_read(Path(out) / LOCK_NAME).get("pid")) == parent)


def _describe(record, out):
    if not record:
        return f"another process writes {out}"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.get("started", 0)))
    return (f"{out} is being written by process {record.get('pid')} on "
            f"{record.get('host')} (since {started}): {record.get('command')}")


def _read(path):
    try:
        return json.loads(Path(path).read_text() or "{}")
    except (OSError, ValueError):
        return {}


def _record(options_sha256):
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "",
            "options_sha256": options_sha256}


def _alive(pid):
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError, TypeError):
        return False
    except PermissionError:
        return True
    return True


def hold(out, options_sha256, shard=False, wait=False, log=print):
    """Takes the folder's writer lock for this process (kept until it ends); returns the
    lock file's path, or None for a worker writing under its parent's lock. Raises
    ``RunBusyError`` when another call writes the folder (``wait``: waits for it)."""
    out = Path(out)
    if _is_worker_of_holder(out):
        return None
    if str(out.resolve()) in _held:  # this process holds it already (a second call in it)
        return out / LOCK_NAME
    out.mkdir(parents=True, exist_ok=True)
    path = out / LOCK_NAME
    handle = open(path, "a+")
    mode = fcntl.LOCK_SH if shard else fcntl.LOCK_EX
    try:
        fcntl.flock(handle, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        record = _read(path)
        if not wait:
            handle.close()
            raise RunBusyError(
                f"{_describe(record, out)}. One call writes a run folder at a time: wait for "
                "it to finish (or add --wait to queue behind it), or give another --out")
        log(f"waiting: {_describe(record, out)}")
        fcntl.flock(handle, mode)
    if shard:
        _join_shards(out, options_sha256, handle)
    else:
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(_record(options_sha256)))
        handle.flush()
    _held[str(out.resolve())] = handle
    return path


def release_all():
    """Releases every lock this process holds (the end of a call made from Python: a
    notebook or a test goes on without holding the folders)."""
    for handle in _held.values():
        handle.close()
    _held.clear()


@contextlib.contextmanager
def one_call():
    """The locks taken inside are released when the block ends (a script's ``main``)."""
    try:
        yield
    finally:
        release_all()


def _join_shards(out, options_sha256, handle):
    """Records this shard in OUT/.writers/, after checking the live shards run the same
    options (under a short exclusive lock of their own, so two shards cannot both miss
    each other)."""
    folder = out / WRITERS
    folder.mkdir(exist_ok=True)
    with open(folder / ".lock", "a+") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        for entry in sorted(folder.glob("*.json")):
            record = _read(entry)
            if record.get("host") == socket.gethostname() and not _alive(record.get("pid")):
                entry.unlink(missing_ok=True)  # a shard of this machine that ended or died
                continue
            if record.get("options_sha256") != options_sha256:
                handle.close()
                raise RunBusyError(
                    f"{_describe(record, out)} with other options: shards of one run folder "
                    "must give the same options (only --shard differs). Wait for it to "
                    "finish, or give another --out")
        mine = folder / f"{os.getpid()}.json"
        mine.write_text(json.dumps(_record(options_sha256)))
    import atexit
    atexit.register(lambda: mine.unlink(missing_ok=True))


def releasing(main):
    """A script's ``main`` that releases the locks it took when it returns or fails."""
    @functools.wraps(main)
    def wrapped(*arguments, **keywords):
        with one_call():
            return main(*arguments, **keywords)
    return wrapped
