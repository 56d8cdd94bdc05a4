"""The library's exceptions: what a user can act on, and a call stopped by a signal. The
library raises them; only the scripts' edge (``runtime.console.script_main`` and
``run_script``) turns them into an ``error: …`` line or a message and an exit status, so
that the same code runs in a notebook or a test without leaving the process."""


class ProjectError(Exception):
    """A problem the user can fix (an option, a file, a run folder): its message is the
    whole error line after ``error:``, naming what is wrong and what to do."""


class Stopped(Exception):
    """A call that stopped on request after saving what it had (SIGTERM: status 75, to be
    requeued; Ctrl-C: 130). Its message says what is saved and the command that resumes."""

    def __init__(self, message, status):
        super().__init__(message)
        self.status = status
