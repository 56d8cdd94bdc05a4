"""The console of the job scripts: flushed lines, one progress line at a time (closed
before anything else is printed), and durations and byte counts for people."""
import functools
import sys
import warnings

from runtime.errors import ProjectError, Stopped


class Console:
    """Flushed output; a progress line (ending in ``\\r``) is closed before anything else."""

    def __init__(self, stream=None):
        self.stream = stream
        self.line_open = False

    def say(self, *parts, end="\n"):
        print(*parts, end=end, flush=True, file=self.stream or sys.stdout)
        self.line_open = end == "\r"

    def close_line(self):
        if self.line_open:
            print(flush=True, file=self.stream or sys.stdout)
            self.line_open = False


console = Console()
say = console.say


def format_seconds(seconds):
    """'4m05s', or '2h16m' from an hour on."""
    seconds = int(round(seconds))
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else \
        f"{seconds // 60}m{seconds % 60:02d}s"


def format_bytes(count):
    """'512 B', '3.4 MB', '7.6 GB' (powers of 1000)."""
    for unit in ("B", "kB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000


def on_terminal(stream=None):
    """Whether output goes to a terminal: progress lines (``\\r``) only then; a log file
    gets whole lines."""
    return (stream or sys.stdout).isatty()


INTERRUPTED = 130  # the shell's exit status for Ctrl-C
PREEMPTED = 75  # EX_TEMPFAIL: stopped by SIGTERM with its state saved; a job script requeues


def show_warning_in_one_line(message, category, filename, lineno, file=None, line=None):
    """``warnings.showwarning`` for the scripts: ``warning: <message>`` after any open
    progress line, without the file name and the source line a user cannot act on."""
    console.close_line()
    print(f"warning: {message}", file=file or sys.stderr, flush=True)


writing_place = []  # the folder a script writes its results under (for an error naming it)


def writing_under(folder):
    """Says where this script writes, so that a system error without a file name (a full
    disk inside a library) still names the place."""
    writing_place[:] = [folder]


def script_main(main):
    """A script's ``main`` at the edge: the library's exceptions become what a user reads —
    a ``ProjectError`` one ``error: …`` line (exit status 1), a ``Stopped`` its message and
    its status (75 preempted, 130 interrupted). The one place they are turned into exits
    (tests calling ``main`` see the ``SystemExit`` a user's shell would)."""
    @functools.wraps(main)
    def edge(*arguments, **keywords):
        try:
            return main(*arguments, **keywords)
        except ProjectError as error:
            console.close_line()
            raise SystemExit(f"error: {error}") from None
        except Stopped as stopped:
            console.close_line()
            print(str(stopped), file=sys.stderr, flush=True)
            raise SystemExit(stopped.status) from None
    return edge


def run_script(main):
    """Runs a script's ``main`` and exits with its status; warnings are one line each; the
    library's exceptions as ``script_main`` says; Ctrl-C ends it with one line (what is
    saved stays saved: every result is written atomically) instead of a traceback."""
    warnings.showwarning = show_warning_in_one_line
    try:
        status = script_main(main)()
    except KeyboardInterrupt:
        console.close_line()
        print("interrupted (Ctrl-C): everything finished so far is saved; rerun the same "
              "command to resume", file=sys.stderr, flush=True)
        status = INTERRUPTED
    except OSError as error:  # a file or folder the system refused: one line naming it
        console.close_line()
        where = (f"{error.filename}: " if error.filename else
                 f"writing under {writing_place[0]}: " if writing_place else "")
        print(f"error: {where}{error.strerror or error}; everything finished so far is saved",
              file=sys.stderr, flush=True)
        status = 1
    sys.exit(status)
