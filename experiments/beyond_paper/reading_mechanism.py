"""What the readings study adds to its claims: how each reading changes the central gap
(dropout + normalization − dropout) against a reference reading, and the mechanism
behind it measured on every saved network (``mechanism.measure``).

The gap of a reading is paired with the reference's by fold and repeat (the same data,
test patches and seeds; only the reading differs), so a difference of gaps has the same
kind of interval as a difference of rows (``intervals.paired_interval``).

Measuring a network means loading it, so the measurements are kept in
``OUT/mechanism_by_unit.json``, keyed by unit and by its model's SHA-256 (a retrained
unit is measured again).
"""
import json

import numpy as np

from experiments.statistics import claims, intervals
from experiments.measurement import mechanism
from experiments.paper.configurations import CONFIGURATIONS_BY_NAME
from experiments.runs.run_folder import read_unit_result, unit_dir, unit_label
from experiments.execution.unit import UNITS, load_unit_networks
from runtime.files import atomic_write_text

CACHE = "mechanism_by_unit.json"
CENTRAL_GAP = ("dropout+norm", "dropout")


def gap_rows(results_by_reading, reference):
    """Per reading and α: dropout + normalization − dropout (cross-modality) with its
    interval, and its difference from the ``reference`` reading's, paired by fold and
    repeat, with interval and whether it is decided (the interval excludes 0)."""
    rows = []
    for alpha in sorted({CONFIGURATIONS_BY_NAME[n].alpha for results in results_by_reading.values()
                         for n in results if CONFIGURATIONS_BY_NAME[n].alpha is not None}):
        comparison = claims.difference(*CENTRAL_GAP, "cross", alpha)
        gaps = {name: claims.values_by_fold(comparison, results)
                for name, results in results_by_reading.items()}
        gaps = {name: found for name, found in gaps.items() if found}
        if reference not in gaps:
            continue
        reference_units = claims.values_by_unit(comparison, results_by_reading[reference])
        for name, grouped in gaps.items():
            mean, half, _ = intervals.interval(grouped)
            row = {"reading": name, "comparison": comparison.label, "alpha": alpha,
                   "gap": round(mean, 2), "gap_low": round(mean - half, 2),
                   "gap_high": round(mean + half, 2), "trainings": sum(map(len, grouped))}
            if name != reference:
                mine = claims.values_by_unit(comparison, results_by_reading[name])
                common = set(mine) & set(reference_units)
                differences = intervals.grouped_by_fold(
                    {key: mine[key] - reference_units[key] for key in common})
                low = high = difference = float("nan")
                if differences:
                    difference, half, _ = intervals.interval(differences)
                    low, high = difference - half, difference + half
                row.update({"versus": reference, "difference": round(difference, 2),
                            "low": round(low, 2), "high": round(high, 2),
                            "paired_trainings": len(common),
                            "decided": bool(low > 0 or high < 0)})
            rows.append(row)
    return rows


def measured_units(runs, names, configurations, fold_count, repeats, patch_data, out, log):
    """[{reading, configuration, fold, repeat, before/after offsets and scales, last
    normalization's gaps}] of every finished axial unit with a saved network (two or more
    modalities), measured once and kept in OUT/``CACHE``."""
    path = out / CACHE
    kept = json.loads(path.read_text()) if path.exists() else {}
    rows, fresh = [], 0
    for name in names:
        if name not in runs:  # a recalibrated reading keeps no network of its own
            continue
        run = runs[name]
        for configuration in configurations:
            if configuration.kind != "axial":
                continue
            for fold in range(fold_count):
                for repeat in range(repeats):
                    directory = unit_dir(run.out, UNITS, configuration.name, fold, repeat)
                    result = read_unit_result(directory, verify=False)
                    model = (result or {}).get("files", {}).get("model.keras")
                    if model is None:
                        continue
                    key = f"{name}/{unit_label(configuration.name, fold, repeat)}"
                    if kept.get(key, {}).get("model_sha256") != model["sha256"]:
                        (network,) = load_unit_networks(run, configuration, fold, repeat)
                        kept[key] = {"model_sha256": model["sha256"],
                                     **mechanism.measure(network, patch_data, fold)}
                        fresh += 1
                        if fresh % 10 == 0:
                            log(f"  measured {fresh} networks (kept in {path})")
                            atomic_write_text(path, json.dumps(kept, indent=1) + "\n")
                    rows.append(flat_row(name, configuration.name, fold, repeat, kept[key]))
    if fresh:
        atomic_write_text(path, json.dumps(kept, indent=1) + "\n")
    return rows


def flat_row(reading, configuration, fold, repeat, measured):
    row = {"reading": reading, "configuration": configuration, "fold": fold, "repeat": repeat}
    for side in ("before", "after"):
        for key, value in measured[side].items():
            row[f"{side}_{key}"] = value
    for key, value in (measured.get("last_normalization") or {}).items():
        row[f"last_bn_{key}"] = value
    return row
