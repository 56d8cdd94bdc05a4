#!/usr/bin/env python3
"""Fig. 6: per feature, the mutual information with the label (per modality), the
standard deviation (per modality) and the cross-modality normalized correlation, for the
four settings (none; normalization; dropout; dropout + normalization) at one alpha, on
the test patches of one fold. Features are sorted by MI in the first modality.

    python reproduce/fig6.py                  # alpha 0.1, fold0, default run folder
    python reproduce/fig6.py --alpha 0 --fold 1

Writes fig6.png and fig6.csv (configuration, feature, rank, mi_<m>, sd_<m>, ncc).
"""

from runtime.console import run_script, script_main

import numpy as np

from experiments.measurement import analysis
from experiments.reports import figures
from experiments.execution import unit


@script_main
def main(argv=None):
    parser = figures.figure_parser(__doc__, fold_option="features")
    args = parser.parse_args(argv)
    configurations = figures.four_settings(args.alpha)
    run, patch_data, figures_dir = figures.prepare_figure_run(
        args, argv, "fig6.py", configurations)
    fold = figures.chosen_fold(args.fold, len(patch_data.folds))
    plt = figures.pyplot()

    names = run.modality_names
    rows, statistics = [], {}
    for configuration in configurations:
        features = unit.load_unit_features(run, configuration, fold)
        stats = analysis.feature_statistics(
            figures.modality_features(features, "test"), features["test_labels"],
            seed=run.seed)
        order = np.argsort(-stats["mi"][0], kind="stable")
        statistics[configuration.name] = (stats, order)
        for rank, feature in enumerate(order):
            row = {"configuration": configuration.name, "feature": int(feature), "rank": rank,
                   "ncc": round(float(stats["ncc"][feature]), 5)}
            for m, name in enumerate(names):
                row[f"mi_{name}"] = round(float(stats["mi"][m, feature]), 5)
                row[f"sd_{name}"] = round(float(stats["sd"][m, feature]), 5)
            rows.append(row)
    figure, axes = plt.subplots(3, len(configurations), figsize=(4 * len(configurations), 8),
                                sharex=True, sharey="row")
    for column, configuration in enumerate(configurations):
        stats, order = statistics[configuration.name]
        positions = np.arange(len(order))
        for m, name in enumerate(names):
            axes[0, column].plot(positions, stats["mi"][m, order], label=name, lw=1)
            axes[1, column].plot(positions, stats["sd"][m, order], label=name, lw=1)
        axes[2, column].bar(positions, stats["ncc"][order], width=1.0, color="0.3")
        axes[0, column].set_title(configuration.row_label, fontsize=8)
        axes[2, column].set_xlabel(f"feature (sorted by MI in {names[0]})")
    axes[0, 0].set_ylabel("mutual information")
    axes[1, 0].set_ylabel("standard deviation")
    axes[2, 0].set_ylabel("cross-modality NCC")
    axes[0, 0].legend(fontsize=7)
    figure.suptitle(f"Per-feature statistics, alpha = {args.alpha:g}, fold{fold} "
                    f"({run.out.name})", fontsize=10)
    figures.save_figure(figure, rows, figures_dir, "fig6")
    return 0


if __name__ == "__main__":
    run_script(main)
