#!/usr/bin/env python3
"""Fig. 7: the per-feature cross-modality NCC (test patches) sorted from high to low and
averaged over folds, one curve per setting (none; normalization; dropout; dropout +
normalization), one panel per alpha.

    python reproduce/fig7.py                  # every alpha of the grid
    python reproduce/fig7.py --alphas 0.1

Writes fig7.png and fig7.csv (configuration, rank, ncc averaged over folds).
"""

from runtime.console import run_script, script_main

import numpy as np

from experiments.measurement import analysis
from experiments.reports import figures
from experiments.execution import unit
from experiments.paper.published import ALPHAS


@script_main
def main(argv=None):
    parser = figures.figure_parser(__doc__, alpha_option=False)
    parser.add_argument("--alphas", default=",".join(f"{a:g}" for a in ALPHAS),
                        help="comma-separated alphas, one panel each (default all)")
    args = parser.parse_args(argv)
    alphas = [float(a) for a in args.alphas.split(",")]
    configurations = [c for alpha in alphas for c in figures.four_settings(alpha, "--alphas")]
    run, patch_data, figures_dir = figures.prepare_figure_run(
        args, argv, "fig7.py", configurations)
    plt = figures.pyplot()
    from matplotlib.ticker import MaxNLocator

    rows = []
    figure, axes = plt.subplots(1, len(alphas), figsize=(4.5 * len(alphas), 3.8), sharey=True,
                                squeeze=False)
    for panel, alpha in enumerate(alphas):
        for configuration in figures.four_settings(alpha):
            curves = []
            for fold in range(len(patch_data.folds)):
                features = unit.load_unit_features(run, configuration, fold)
                ncc = analysis.cross_modality_ncc(
                    figures.modality_features(features, "test"))
                curves.append(np.sort(ncc)[::-1])
            mean_curve = np.mean(curves, axis=0)
            axes[0, panel].plot(np.arange(1, len(mean_curve) + 1), mean_curve,
                                label=configuration.row_label, lw=1.3)
            rows += [{"configuration": configuration.name, "rank": rank + 1,
                      "ncc": round(float(value), 5)} for rank, value in enumerate(mean_curve)]
        axes[0, panel].set_title(f"alpha = {alpha:g}", fontsize=9)
        axes[0, panel].set_xlabel("feature rank")
        axes[0, panel].xaxis.set_major_locator(MaxNLocator(integer=True))  # ranks are whole
        axes[0, panel].axhline(0, color="0.7", lw=0.5)
    axes[0, 0].set_ylabel(f"cross-modality NCC (mean of {len(patch_data.folds)} folds)")
    axes[0, 0].legend(fontsize=6, loc="lower left")
    figures.save_figure(figure, rows, figures_dir, "fig7")
    return 0


if __name__ == "__main__":
    run_script(main)
