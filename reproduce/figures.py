"""What the figure scripts share: their options, the run folder of table1.py with the
units they need, and writing a figure together with the numbers behind it."""
import csv
import dataclasses
from pathlib import Path

from reproduce import command_line, grid, unit
from runtime.console import say
from reproduce.settings import CONFIGURATIONS

REPOSITORY = Path(__file__).resolve().parents[1]


def figure_parser(doc, alpha=0.1):
    """The common options plus --alpha and --figures-dir."""
    parser = command_line.script_parser(doc)
    group = parser.add_argument_group("figure")
    group.add_argument("--alpha", type=float, default=alpha,
                       help=f"weight of the similarity term of the models shown (default {alpha})")
    group.add_argument("--figures-dir", type=Path, help="where the PNG and CSV go (default "
                       "paper_figures/<run folder name>)")
    return parser


def four_settings(alpha):
    """The four axial settings of Figs. 6–8 at one alpha: none, norm, dropout, both."""
    chosen = [c for c in CONFIGURATIONS if c.kind == "axial" and c.alpha == alpha]
    if not chosen:
        raise SystemExit(f"error: --alpha {alpha} is not in the grid; choose from "
                         f"{sorted({c.alpha for c in CONFIGURATIONS if c.alpha is not None})}")
    return chosen


def prepare_figure_run(args, argv, script, configurations):
    """The run folder of table1.py with the same arguments; trains only missing (or
    damaged) units. Returns (run, patch_data, figures_dir)."""
    run = command_line.resolve_run(args, argv, script=script)
    run = dataclasses.replace(run, configurations=list(configurations))
    patch_data = grid.prepare(run, args)
    missing = grid.unfinished(run, [(c, f) for c in run.configurations
                                    for f in range(len(patch_data.folds))])
    for index, (configuration, fold) in enumerate(missing):
        say(f"[{index + 1}/{len(missing)}] training the missing unit {configuration.name} "
            f"fold {fold + 1}")
        unit.run_unit(run, configuration, patch_data, fold)
    return run, patch_data, figures_dir_of(args, run)


def figures_dir_of(args, run):
    figures_dir = args.figures_dir or REPOSITORY / "paper_figures" / run.out.name
    figures_dir.mkdir(parents=True, exist_ok=True)
    return figures_dir


def chosen_fold(fold_number, fold_count):
    """The 0-based index of a 1-based --fold, checked against the run's folds."""
    if not 1 <= fold_number <= fold_count:
        raise SystemExit(f"error: --fold must lie in 1..{fold_count}")
    return fold_number - 1


def modality_features(features, part):
    """[(N, F) per modality] of a unit's "train" or "test" features (the first network's:
    an axial network serves every modality)."""
    return list(features["train"] if part == "train" else features["test"][0])


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend (no display needed)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(figure, rows, figures_dir, name):
    """NAME.png and the numbers behind it, NAME.csv (one dict per row). The layout keeps
    the title (suptitle) clear of the axes' titles and labels."""
    # Half an inch at the top for the title, whatever the figure's height.
    top = 1 - 0.5 / figure.get_figheight() if figure._suptitle is not None else 1
    figure.tight_layout(rect=(0, 0, 1, top))
    figure.savefig(Path(figures_dir) / f"{name}.png", dpi=110)
    with open(Path(figures_dir) / f"{name}.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    say(f"wrote {Path(figures_dir) / name}.png and {name}.csv")
