"""Units whose saved networks have their moving statistics recomputed from the training
patches under the final weights (``--recalibrate-statistics`` after the fact), scored
again exactly as the unit was: the recalibration study and the readings study use them.
Saved like a unit, in OUT/recalibrated/<configuration>/fold<k>/.
"""
from experiments.measurement import features
from experiments.execution import unit
from experiments.runs.run_folder import clear_unit, unit_dir, unit_label, write_unit_result

RECALIBRATED_UNITS = "recalibrated"


def recalibrated_unit(run, configuration, patch_data, fold, repeat=0):
    """A finished unit's networks recalibrated and scored again (saved like a unit)."""
    directory = unit_dir(run.out, RECALIBRATED_UNITS, configuration.name, fold, repeat)
    clear_unit(directory)
    networks = unit.load_unit_networks(run, configuration, fold, repeat)
    patches = 0
    for index, network in enumerate(networks):
        modality = index if len(networks) > 1 else None
        patches = unit.recalibrate(run, configuration, patch_data, fold, network, modality,
                                   repeat)
    found = features.unit_features(networks, patch_data, fold, len(run.modality_names))
    scores = unit.scored_features(found, run.trees,
                                  unit.forest_seed(run, configuration, fold, repeat),
                                  unit_label(configuration.name, fold, repeat))
    result = {"configuration": configuration.name, "fold": fold, "repeat": repeat, **scores,
              "recalibration_patches": patches, "seconds": 0.0}
    write_unit_result(directory, result)
    return result
