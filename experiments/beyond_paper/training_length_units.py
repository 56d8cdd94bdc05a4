"""Units that evaluate one network at several training lengths (the training-length study),
and their scores kept beside the figures (``kept_scores``) so that the study resumes in
a later session.

Each network is trained once, to the last checkpoint; at every checkpoint (a number of
optimizer updates) a callback extracts the features of the forests' patches and scores
the forests, exactly as a Table I unit does at its end. Each checkpoint also records the
mechanism behind per-feature normalization (``mechanism.measure``: the modalities'
feature offsets and scales before and after the network's normalization, the last batch
normalization's γ and β gaps), so that its course over training is kept with the scores.
Saved like a Table I unit, in OUT/checkpoints/<configuration>/fold<k>/ (model.keras and
result.json, no features).
"""
import time

import models
from experiments.measurement import features, mechanism
from experiments.execution import grid, unit
from experiments.beyond_paper import kept_scores
from experiments.runs.run_folder import clear_unit, unit_dir, unit_label, write_unit_result
from runtime.console import say
from runtime.seeds import derived_seed

CHECKPOINT_UNITS = "checkpoints"


def run_checkpoint_unit(run, configuration, patch_data, fold):
    """Trains one network to ``run.extra["checkpoints"][-1]`` updates, scoring it at each
    (a control: scored once, ``run_control_unit``)."""
    if configuration.kind == "baseline" and configuration.baseline == "training":
        raise ValueError("the training-length study takes axial configurations and "
                         "baseline-all (one network per unit)")
    directory = unit_dir(run.out, CHECKPOINT_UNITS, configuration.name, fold)
    clear_unit(directory)
    if configuration.kind == "control":
        return run_control_unit(run, configuration, patch_data, fold, directory)
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
        if len(network.modality_names) >= 2:  # an axial network: its modalities' gaps
            scores["mechanism"] = mechanism.measure(network, patch_data, fold)
        checkpoints.append({"updates": updates, **scores,
                            "training_seconds": round(begun - started - sum(
                                c["evaluation_seconds"] for c in checkpoints), 2),
                            "evaluation_seconds": round(time.perf_counter() - begun, 2)})
        if run.verbose:
            say(f"    {updates} updates: same {same:.1f} %, cross {cross:.1f} %")

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


def run_control_unit(run, configuration, patch_data, fold, directory):
    """A control (raw intensities, the untrained network) trains nothing: scored once on
    the fold's forest patches, the same value stands at every checkpoint (a flat line)."""
    started = time.perf_counter()
    networks = unit.control_networks(run, configuration, patch_data, fold)
    found = features.unit_features(networks, patch_data, fold, len(run.modality_names))
    scores = unit.scored_features(found, run.trees, unit.forest_seed(run, configuration, fold),
                                  unit_label(configuration.name, fold))
    seconds = time.perf_counter() - started
    result = {"configuration": configuration.name, "fold": fold, "modalities": run.modality_names,
              "control": True, "checkpoints": [
                  {"updates": updates, **scores, "training_seconds": 0.0,
                   "evaluation_seconds": round(seconds, 2)}
                  for updates in run.extra["checkpoints"]],
              "same": scores["same"], "cross": scores["cross"], "seconds": seconds}
    directory.mkdir(parents=True, exist_ok=True)
    write_unit_result(directory, result)
    return result


def kept_tasks(run, patch_data, figures_dir, run_identity):
    """The grid's tasks, all configurations of fold0 first; a unit kept beside the
    figures by an earlier session counts as finished, and every unit that finishes here
    is kept there too."""
    tasks = []
    for configuration, fold, _ in grid.all_units(run, len(patch_data.folds), fold_major=True):
        task = grid.unit_task(run, configuration, patch_data, fold,
                              run_one=run_checkpoint_unit, units_folder=CHECKPOINT_UNITS)

        def finished(task=task, name=configuration.name, fold=fold):
            return task.finished() or kept_scores.kept_result(
                figures_dir, run_identity, name, fold) is not None

        def run_and_keep(task=task):
            result = task.run()
            kept_scores.keep(figures_dir, run_identity, result)
            return result
        tasks.append(grid.Task(task.label, finished, run_and_keep, task.directory))
    return tasks


def collect_with_kept(run, fold_count, figures_dir, run_identity):
    """``grid.collect`` of the run folder, completed by the units kept beside the
    figures (a unit in both: the run folder's, which is then kept too)."""
    results, _ = grid.collect(run, fold_count, CHECKPOINT_UNITS)
    combined, missing = {}, []
    for configuration in run.configurations:
        found = {r["fold"]: r for r in results[configuration.name]}
        for fold in range(fold_count):
            kept = kept_scores.kept_result(figures_dir, run_identity, configuration.name, fold)
            if fold in found and kept is None:
                kept_scores.keep(figures_dir, run_identity, found[fold])
                kept = kept_scores.kept_result(figures_dir, run_identity, configuration.name,
                                               fold)
            if kept is None:
                missing.append(unit_label(configuration.name, fold))
                continue
            # The run folder's result when there is one; the record says on which machine.
            combined.setdefault(configuration.name, []).append(
                {"repeat": 0, **found.get(fold, kept), "machine": kept["machine"]})
    return combined, missing
