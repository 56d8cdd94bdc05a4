#!/usr/bin/env python3
"""Fig. 8: same- and cross-modality accuracy of random forests trained on the top-k
features by cross-modality NCC, one panel per setting at one alpha, common y-scale.
NCC is ranked on one half of each fold's test subjects and the forest evaluated on the
other half, and vice versa (folds x 2 subsets); k = all features equals Table I's protocol.

    python reproduce/fig8.py                  # alpha 0.1, k = 1, 8, 16, ... all
    python reproduce/fig8.py --k-step 1       # every k, as in the paper (slow)

Writes fig8.png and fig8.csv (configuration, k, same, cross).
"""

from runtime.console import run_script, script_main

import numpy as np

from experiments.measurement import analysis, forests
from experiments.reports import figures
from experiments.execution import unit
from runtime.seeds import derived_seed


@script_main
def main(argv=None):
    parser = figures.figure_parser(__doc__)
    parser.add_argument("--k-step", type=int, default=8,
                        help="evaluate k = 1 and every k-step-th count up to all features "
                        "(default 8; 1 for every k)")
    parser.add_argument("--halves", choices=["subjects", "within-subjects"], default="subjects",
                        help="how a fold's test set is halved: by subject (the paper; needs "
                        ">= 2 test subjects per fold) or within each subject, stratified by "
                        "label (for folds with one test subject)")
    args = parser.parse_args(argv)
    if args.k_step < 1:
        raise SystemExit("error: --k-step must be at least 1")
    configurations = figures.four_settings(args.alpha)
    run, patch_data, figures_dir = figures.prepare_figure_run(
        args, argv, "fig8.py", configurations)
    plt = figures.pyplot()

    rows, curves = [], {}
    for index, configuration in enumerate(configurations):
        per_fold = []
        for fold in range(len(patch_data.folds)):
            print(f"[{index * len(patch_data.folds) + fold + 1}/{len(configurations) * len(patch_data.folds)}] "
                  f"{configuration.name}/fold{fold}", flush=True)
            features = unit.load_unit_features(run, configuration, fold)
            training = figures.modality_features(features, "train")
            k_values = analysis.k_grid(training[0].shape[1], args.k_step)
            try:
                accuracy = analysis.top_k_accuracy(
                    training, features["training_labels"],
                    figures.modality_features(features, "test"),
                    features["test_labels"], features["test_subjects"], k_values,
                    trees=run.trees,
                    seed=derived_seed(run.seed, "fig8", configuration.name, fold),
                    within_subjects=args.halves == "within-subjects")
            except ValueError as error:
                raise SystemExit(f"error: {configuration.name}/fold{fold}: {error}") from None
            per_fold.append([forests.same_and_cross(accuracy[:, :, i])
                             for i in range(len(k_values))])
        mean = np.mean(per_fold, axis=0)  # (k, 2)
        curves[configuration.name] = (k_values, mean)
        rows += [{"configuration": configuration.name, "k": k, "same": round(s, 2),
                  "cross": round(c, 2)} for k, (s, c) in zip(k_values, mean)]
    figure, axes = plt.subplots(1, len(configurations), figsize=(4 * len(configurations), 3.6),
                                sharey=True)
    for axis, configuration in zip(axes, configurations):
        k_values, mean = curves[configuration.name]
        axis.plot(k_values, mean[:, 0], "o-", ms=3, label="same modality")
        axis.plot(k_values, mean[:, 1], "s-", ms=3, label="cross modality")
        axis.set_title(configuration.row_label, fontsize=8)
        axis.set_xlabel("top-k features by NCC")
        axis.grid(alpha=0.3)
    axes[0].set_ylabel(f"accuracy (%), {len(patch_data.folds)} folds x 2 halves")
    axes[0].legend(fontsize=7)
    figure.suptitle(f"alpha = {args.alpha:g} ({run.out.name}; test halves by {args.halves})",
                    fontsize=10)
    figures.save_figure(figure, rows, figures_dir, "fig8")
    return 0


if __name__ == "__main__":
    run_script(main)
