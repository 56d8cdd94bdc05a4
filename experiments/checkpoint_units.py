"""Units that evaluate one network at several training lengths (the training-length study).

Each network is trained once, to the last checkpoint; at every checkpoint (a number of
optimizer updates) a callback extracts the features of the forests' patches and scores
the forests, exactly as a Table I unit does at its end. Saved like a Table I unit, in
OUT/checkpoints/<configuration>/fold<k>/ (model.keras and result.json, no features).
"""
import time

import models
from experiments import features, unit
from experiments.run_folder import clear_unit, unit_dir, unit_label, write_unit_result
from runtime.seeds import derived_seed

CHECKPOINT_UNITS = "checkpoints"


def run_checkpoint_unit(run, configuration, patch_data, fold):
    """Trains one network to ``run.extra["checkpoints"][-1]`` updates, scoring it at each."""
    if configuration.kind == "baseline" and configuration.baseline == "training":
        raise ValueError("the training-length study takes axial configurations and "
                         "baseline-all (one network per unit)")
    directory = unit_dir(run.out, CHECKPOINT_UNITS, configuration.name, fold)
    clear_unit(directory)
    started = time.perf_counter()
    checkpoints = []
    modality_count = len(run.modality_names)

    def evaluate(network, updates):
        begun = time.perf_counter()
        found = features.unit_features([network], patch_data, fold, modality_count)
        scores = unit.scored_features(
            found, run.trees, derived_seed(run.seed, configuration.name, fold, updates),
            f"{unit_label(configuration.name, fold)} at {updates} updates")
        same, cross = scores["same"], scores["cross"]
        checkpoints.append({"updates": updates, **scores,
                            "training_seconds": round(begun - started - sum(
                                c["evaluation_seconds"] for c in checkpoints), 2),
                            "evaluation_seconds": round(time.perf_counter() - begun, 2)})
        if run.verbose:
            print(f"    {updates} updates: same {same:.1f} %, cross {cross:.1f} %", flush=True)

    updates = run.extra["checkpoints"]
    network = unit.train_network(run, configuration, patch_data, fold,
                                 callbacks=[models.AtUpdates(updates, evaluate)],
                                 updates=updates[-1])
    network.save(directory / "model.keras")
    last = checkpoints[-1]
    result = {"configuration": configuration.name, "fold": fold, "modalities": run.modality_names,
              "checkpoints": checkpoints, "same": last["same"], "cross": last["cross"],
              "seconds": time.perf_counter() - started}
    write_unit_result(directory, result)
    return result
