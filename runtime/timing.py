"""Where a job's time goes: named sections of wall-clock time, summed; and the median
timing of a call, for the benchmarks."""
import contextlib
import time
from collections import defaultdict


class Stopwatch:
    """Seconds per named section; ``with stopwatch("training"): ...`` adds to one."""

    def __init__(self):
        self.seconds = defaultdict(float)

    @contextlib.contextmanager
    def __call__(self, section):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[section] += time.perf_counter() - started

    def rounded(self):
        return {section: round(value, 4) for section, value in self.seconds.items()}


class TimedPatches:
    """A patch table whose ``gather`` (cutting patches out of the volumes) is timed into
    ``stopwatch`` under ``section``; everything else is the table's own."""

    def __init__(self, table, stopwatch, section="patch cutting"):
        self._table, self._stopwatch, self._section = table, stopwatch, section

    def gather(self, rows):
        with self._stopwatch(self._section):
            return self._table.gather(rows)

    def __len__(self):
        return len(self._table)

    def __getattr__(self, name):
        return getattr(self._table, name)


def median_milliseconds(function, repeats=15, warmup=2):
    """Median wall-clock milliseconds of ``function()`` over ``repeats`` calls after
    ``warmup`` untimed ones (benchmarks; a tf.function's call on a CPU returns when its
    computation is done)."""
    import numpy as np
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return 1000.0 * float(np.median(times))
