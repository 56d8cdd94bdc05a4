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
from runtime.errors import ProjectError

UNITS_FOLDER = "units"


class KeptScoresError(ProjectError):
    """Kept scores that cannot be used by this run (another run's, or damaged)."""


def identity(run, input_identities):
    """What a kept unit must share with this run: arguments (but the data folder's
    spelling), the version of the training arithmetic and the contents of the input
    files."""
    arguments = {key: value for key, value in run.fingerprint().items() if key != "data_dir"}
    arguments["arithmetic_version"] = models.ARITHMETIC_VERSION
    # The modality order is not in the arguments (a JSON object's order is not compared):
    # it is checked against each record's own result.modalities.
    return {"arguments": arguments,
            "input_sha256": sorted(found["sha256"] for found in input_identities.values()),
            "modalities": list(run.modality_names),
            "files": {path: found["sha256"] for path, found in input_identities.items()}}


def record_path(folder, configuration_name, fold):
    return Path(folder) / UNITS_FOLDER / f"{configuration_name}_fold{fold}.json"


def keep(folder, run_identity, result):
    """Writes one finished unit's result beside the figures (atomically)."""
    path = record_path(folder, result["configuration"], result["fold"])
    path.parent.mkdir(parents=True, exist_ok=True)
    recorded = {key: value for key, value in run_identity.items()
                if key not in ("modalities", "files")}
    atomic_write_text(path, json.dumps({**recorded, "machine": computed_on(), "result": result},
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
        scores = [(c["updates"], float(c["same"]), float(c["cross"]))
                  for c in result["checkpoints"]]
        recorded = (result["configuration"], result["fold"], list(result["modalities"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        what = f"no {error}" if isinstance(error, KeyError) else str(error)
        raise KeptScoresError(f"{path} cannot be read ({what}); remove it to train the unit "
                              "again") from None
    # A record is trusted for what it says it is, not for its file name.
    if recorded[:2] != (configuration_name, fold):
        raise KeptScoresError(f"{path} holds the scores of {recorded[0]}/fold{recorded[1]}, "
                              f"not of {configuration_name}/fold{fold} (a copied file?); remove "
                              "it to train the unit again")
    if "modalities" in run_identity and recorded[2] != run_identity["modalities"]:
        raise KeptScoresError(f"{path} was computed with the modalities in the order "
                              f"{', '.join(recorded[2])}, this call gives "
                              f"{', '.join(run_identity['modalities'])}: give the --modality "
                              "options in the kept units' order, or another --figures-dir")
    checkpoints = record.get("arguments", {}).get("checkpoints")
    if checkpoints is not None and [updates for updates, _, _ in scores] != checkpoints:
        raise KeptScoresError(f"{path} holds scores at {[u for u, _, _ in scores]} updates, not at "
                              f"the recorded checkpoints {checkpoints}; remove it to train the "
                              "unit again")
    before, after = record.get("arguments", {}), run_identity["arguments"]
    changed = sorted(key for key in set(before) | set(after) if before.get(key) != after.get(key))
    if changed:
        raise KeptScoresError(f"{path} was computed with other arguments (they differ in: "
                              f"{', '.join(changed)}); give another --figures-dir, or the same "
                              "arguments to resume")
    if record.get("input_sha256") != run_identity["input_sha256"]:
        before = set(record.get("input_sha256") or [])
        changed = sorted(path for path, sha256 in run_identity.get("files", {}).items()
                         if sha256 not in before)
        named = (f"{len(changed)} of this call's files are not among its inputs, e.g. "
                 f"{changed[0]}" if changed else "it had other or more files")
        raise KeptScoresError(f"{path} was computed on other input files ({named}); give "
                              "another --figures-dir, or remove the folder's units/ to start "
                              "afresh")
    return {**result, "machine": record.get("machine")}
