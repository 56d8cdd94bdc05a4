"""A long study's finished units kept as scores beside its committed figures.

The training-length study needs hours; its run folder (networks included) does not
outlive a session, and networks are not committed. So every finished unit's result
(the scores at each checkpoint, no network) is also written to
``<figures folder>/units/<configuration>_fold<k>.json`` with what fixes its numbers:
the run's arguments, ``models.ARITHMETIC_VERSION`` and the SHA-256 of its input files.
A later call with the same arguments on the same files counts those units as finished
and reports them beside its own; a record made under other arguments, arithmetic or
files stops the call, naming the difference, instead of mixing two runs in one figure.
"""
import json
from pathlib import Path

import models
from runtime.files import atomic_write_text
from runtime.metadata import computed_on

UNITS_FOLDER = "units"


class KeptScoresError(SystemExit):
    def __init__(self, message):
        super().__init__(f"error: {message}")


def identity(run, input_identities):
    """What a kept unit must share with this run: arguments (but the data folder's
    spelling), the version of the training arithmetic and the contents of the input
    files."""
    arguments = {key: value for key, value in run.fingerprint().items() if key != "data_dir"}
    arguments["arithmetic_version"] = models.ARITHMETIC_VERSION
    return {"arguments": arguments,
            "input_sha256": sorted(found["sha256"] for found in input_identities.values())}


def record_path(folder, configuration_name, fold):
    return Path(folder) / UNITS_FOLDER / f"{configuration_name}_fold{fold}.json"


def keep(folder, run_identity, result):
    """Writes one finished unit's result beside the figures (atomically)."""
    path = record_path(folder, result["configuration"], result["fold"])
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps({**run_identity, "machine": computed_on(), "result": result},
                                       indent=1) + "\n")


def kept_result(folder, run_identity, configuration_name, fold):
    """The kept result of one unit, or None; an error when the record belongs to
    another run (other arguments or input files) or cannot be read."""
    path = record_path(folder, configuration_name, fold)
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
        result = record["result"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise KeptScoresError(f"{path} cannot be read ({error}); remove it to train the unit "
                              "again") from None
    before, after = record.get("arguments", {}), run_identity["arguments"]
    changed = sorted(key for key in set(before) | set(after) if before.get(key) != after.get(key))
    if changed:
        raise KeptScoresError(f"{path} was computed with other arguments (they differ in: "
                              f"{', '.join(changed)}); give another --figures-dir, or the same "
                              "arguments to resume")
    if record.get("input_sha256") != run_identity["input_sha256"]:
        raise KeptScoresError(f"{path} was computed on other input files; give another "
                              "--figures-dir, or remove the folder's units/ to start afresh")
    return {**result, "machine": record.get("machine")}
