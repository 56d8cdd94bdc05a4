#!/usr/bin/env python3
"""Fig. 5: center slices of 15 test patches — every input modality, the reconstruction
from all modalities, and the reconstruction from each modality alone — for the model
with modality dropout, per-feature normalization and alpha = 0.1 (fold0).

    python reproduce/fig5.py                   # the default table1.py run folder
    python reproduce/fig5.py --alpha 0.5 --fold 1

Takes the same data and run options as table1.py and reuses its trained model (a
missing unit is named, and trained only with --train-missing). Writes fig5.png and
fig5.csv (per-row mean absolute reconstruction error) into OUT/figures/ (or
--figures-dir).
"""

from runtime.console import run_script, script_main

import numpy as np

from experiments.reports import figures
from experiments.execution import unit
from experiments.paper.configurations import CONFIGURATIONS_BY_NAME, axial_name

PATCHES = 15


def shown_rows(table, test_rows, seed):
    """The PATCHES test rows shown: an equal share of every class, so each tissue shows."""
    rng = np.random.default_rng(seed)
    per_class = [rng.permutation(test_rows[table.labels[test_rows] == c])
                 for c in range(len(table.class_names))]
    chosen = np.concatenate([rows[:int(np.ceil(PATCHES / len(per_class)))] for rows in per_class])
    return chosen[:PATCHES]


@script_main
def main(argv=None):
    parser = figures.figure_parser(__doc__, fold_option="model")
    args = parser.parse_args(argv)
    configuration = CONFIGURATIONS_BY_NAME.get(axial_name(True, True, args.alpha))
    if configuration is None:
        figures.four_settings(args.alpha)  # raises the error that names the grid
    run, patch_data, figures_dir = figures.prepare_figure_run(
        args, argv, "fig5.py", [configuration])
    fold = figures.chosen_fold(args.fold, len(patch_data.folds))
    plt = figures.pyplot()
    import models

    network = unit.load_unit_network(run, configuration, fold)
    table = patch_data.evaluation
    chosen = shown_rows(table, patch_data.rows(table, fold, "test"), run.seed)
    patches = table.gather(chosen)
    names = run.modality_names
    given = {name: patches[:, m] for m, name in enumerate(names)}
    panels = [(f"input {name}", name, given[name]) for name in names]
    sources = [("all", names)] + [(name, [name]) for name in names]
    errors = []
    for source, available in sources:
        reconstructed = models.reconstruct(network, given, available)
        for name in names:
            panels.append((f"{name} from {source}", name, reconstructed[name]))
            errors.append({"reconstruction": name, "from": source,
                           "mean_absolute_error": float(np.mean(np.abs(reconstructed[name] - given[name])))})
    center = patches.shape[-1] // 2
    figure, axes = plt.subplots(len(panels), PATCHES, figsize=(PATCHES * 0.8, len(panels) * 0.85))
    # One grey scale per modality, from its input patches.
    limits = {name: np.percentile(np.abs(given[name]), 99) for name in names}
    for row, (title, name, volume) in enumerate(panels):
        limit = limits[name]
        for column in range(PATCHES):
            axis = axes[row, column]
            axis.imshow(volume[column, :, :, center].T, cmap="gray", vmin=-limit, vmax=limit)
            axis.set_xticks([])
            axis.set_yticks([])
        axes[row, 0].set_ylabel(title, rotation=0, ha="right", va="center", fontsize=8)
    for column, row_index in enumerate(chosen):
        axes[0, column].set_title(table.class_names[table.labels[row_index]], fontsize=6)
    figure.suptitle(f"{configuration.name}, fold{fold}: inputs and reconstructions "
                    "(center slices)", fontsize=10)
    figures.save_figure(figure, errors, figures_dir, "fig5")
    return 0


if __name__ == "__main__":
    run_script(main)
