"""The console of the job scripts: flushed lines, one progress line at a time (closed
before anything else is printed), and durations and byte counts for people."""
import sys
import warnings


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

    def fail(self, message):
        """Closes a progress line and exits with ``error: message``."""
        self.close_line()
        raise SystemExit(f"error: {message}")


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


def run_script(main):
    """Runs a script's ``main`` and exits with its status; warnings are one line each;
    Ctrl-C ends it with one line (what is saved stays saved: every result is written
    atomically) instead of a traceback."""
    warnings.showwarning = show_warning_in_one_line
    try:
        status = main()
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
