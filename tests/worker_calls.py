"""How the worker tests start a script: as a user's terminal would, with the scripts'
own thread settings (shared by test_workers.py and test_worker_signals.py)."""
import os

from experiments.execution import workers


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
