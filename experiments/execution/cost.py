"""What a long run will cost on this machine, said in one line before it starts.

The `paper` preset is days of training per network on a CPU: before a grid whose
networks together train more than ``LONG_UPDATES`` updates, the run times a short
training of one of its own networks (``PROBE_UPDATES`` and ``2 * PROBE_UPDATES``
updates, so that building and tracing cancel) and says how long its unfinished units
will take at that pace with its worker processes. The quick presets stay below the
threshold and start at once.
"""
import math
import time

from runtime.console import format_seconds

LONG_UPDATES = 20_000
PROBE_UPDATES = 8


def updates_per_network(run, patch_data):
    """The optimizer updates one network of ``run`` trains (given, or epochs × batches
    of fold0's training patches)."""
    if run.updates:
        return run.updates
    return run.epochs * math.ceil(len(patch_data.rows(patch_data.training, 0, "training")) /
                                  run.batch_size)


def networks_to_train(run, units):
    """Networks the (configuration, fold, repeat) ``units`` train: none for a control,
    one per modality for the training-modality baseline, else one."""
    count = 0
    for configuration, *_ in units:
        if configuration.kind == "control":
            continue
        count += (len(run.modality_names) if configuration.kind == "baseline"
                  and configuration.baseline == "training" else 1)
    return count


def seconds_per_update(run, configuration, patch_data):
    """One network's training pace here, in seconds per update: two short trainings of
    it, the difference over their difference in updates."""
    from experiments.execution import unit
    from experiments.execution.grid import start_computing
    # The probe may be the first training of a process that hands its grid to workers
    # (grid.prepare started nothing there).
    start_computing(run)
    timings = []
    for updates in (PROBE_UPDATES, 2 * PROBE_UPDATES):
        started = time.perf_counter()
        unit.train_network(run, configuration, patch_data, 0, updates=updates)
        timings.append(time.perf_counter() - started)
    return max(timings[1] - timings[0], 1e-6) / PROBE_UPDATES


def announce(run, patch_data, units, workers=1, log=print):
    """The cost line for the unfinished ``units`` when they are long (returns the
    estimated seconds, or None for a short run)."""
    networks = networks_to_train(run, units)
    per_network = updates_per_network(run, patch_data)
    if networks * per_network < LONG_UPDATES:
        return None
    configuration = next(c for c, *_ in units if c.kind != "control")
    pace = seconds_per_update(run, configuration, patch_data)
    seconds = networks * per_network * pace / max(workers, 1)
    log(f"cost: {networks} networks × {per_network:,} updates to train; at "
        f"{run.batch_size / pace:.0f} samples/s per process (probed just now) with "
        f"{workers} worker process{'es' if workers != 1 else ''}, about "
        f"{format_seconds(seconds)} on this machine")
    return seconds
