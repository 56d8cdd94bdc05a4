"""What the figure scripts share: their options, the run folder of table1.py with the
units they need, and writing a figure together with the numbers behind it."""
import dataclasses
import shlex
from pathlib import Path

from experiments.runs import command_line
from experiments.execution import grid
from experiments.runs.run_folder import (RUN_FILE, check_writable, read_run_file,
                                         read_unit_result, require_run)
from experiments.execution.unit import UNITS
from experiments.paper.configurations import CONFIGURATIONS
from runtime.console import format_seconds, say
from runtime.files import atomic_write_csv
from runtime.errors import ProjectError

# A figure script draws fixed units of a run: it takes no option that chooses units to
# train (--configs, --shard, --repeats) and none that deletes units.
NOT_FOR_FIGURES = ("configs", "shard", "repeats", "discard_stale_units", "workers", "wait")


def figure_parser(doc, alpha=0.1, alpha_option=True, fold_option=None):
    """The common options plus --alpha, --figures-dir and --train-missing; --fold when
    ``fold_option`` says what of the fold is shown (e.g. "model")."""
    parser = command_line.add_run_folder(command_line.script_parser(doc, omit=NOT_FOR_FIGURES))
    group = parser.add_argument_group("figure")
    if fold_option:
        group.add_argument("--fold", type=int, default=0, help=f"which fold's {fold_option}, "
                           "counted from 0 as the run folder's fold<k> (default 0)")
    if alpha_option:
        group.add_argument("--alpha", type=float, default=alpha,
                           help=f"weight of the similarity term of the models shown (default "
                           f"{alpha})")
    group.add_argument("--figures-dir", type=Path, help="where the PNG and CSV go (default "
                       "OUT/figures; the committed figures are published with --figures-dir "
                       "paper_figures/<name>)")
    group.add_argument("--train-missing", action="store_true",
                       help="train the units the figure needs that the run folder lacks "
                       "(otherwise the script names them and the command that trains them)")
    return parser


def four_settings(alpha, option="--alpha"):
    """The four axial settings of Figs. 6–8 at one alpha: none, norm, dropout, both."""
    chosen = [c for c in CONFIGURATIONS if c.kind == "axial" and c.alpha == alpha]
    if not chosen:
        alphas = sorted({c.alpha for c in CONFIGURATIONS if c.alpha is not None})
        raise ProjectError(f"{option} {alpha:g} is not in the grid; choose from "
                         f"{', '.join(f'{a:g}' for a in alphas)}")
    return chosen


def prepare_figure_run(args, argv, script, configurations):
    """The run folder of table1.py with the same arguments and the units the figure needs.
    Missing (or damaged) units are trained only with --train-missing; otherwise the
    script stops, naming them and the table1.py command that trains them.
    Returns (run, patch_data, figures_dir)."""
    run = command_line.opened_run(args, argv, f"reproduce/{script}")
    run = dataclasses.replace(run, configurations=list(configurations))
    # The command that made the run (recorded in its folder), else this one's options.
    made_by = (read_run_file(run.out / RUN_FILE)["run"]["command"]
               if getattr(args, "run_folder", None) is not None else run.command)
    if not args.train_missing:  # nothing is written where no run is
        require_run(run.out, script, f"the units of {', '.join(c.name for c in configurations)} "
                    f"on every fold: `{table1_command(made_by, configurations)}`, or rerun this "
                    "command with --train-missing")
    figures_dir = args.figures_dir or run.out / "figures"
    check_writable(figures_dir, "--figures-dir", "the figures")  # before any work
    # Without --train-missing the script only reads the run: nothing in it is changed.
    patch_data = grid.prepare(run, command_line.call_options(args), read_only=not args.train_missing)
    needed = [(c, f, 0) for c in run.configurations for f in range(len(patch_data.folds))]
    missing = grid.unfinished(run, needed)
    if missing and not args.train_missing:
        names = [f"{c.name}/fold{f}" for c, f, _ in missing]
        raise ProjectError(
            f"{run.out} lacks {len(missing)} of the {len(needed)} units this figure "
            f"needs ({', '.join(names[:6])}{' …' if len(names) > 6 else ''}). Train them with "
            f"`{table1_command(made_by, configurations)}`, or rerun this command with "
            "--train-missing.")
    if missing:
        # The pace of the run's finished units (the figure's own, else any of the run's).
        finished = [read_unit_result(path.parent, verify=False)
                    for path in (run.out / UNITS).glob("*/fold*/result.json")]
        seconds = [result["seconds"] for result in finished if result and "seconds" in result]
        estimate = (f", about {format_seconds(len(missing) * sum(seconds) / len(seconds))} at "
                    "this run's pace" if seconds else "")
        say(f"training the {len(missing)} missing units (--train-missing){estimate}")
        grid.run_grid(run, patch_data, units=missing)
    return run, patch_data, figures_dir_of(args, run)


def table1_command(command, configurations):
    """The table1.py command with the options of ``command`` (the run's table1.py call, or a
    figure script's options) that trains these configurations."""
    words = shlex.split(command)
    words[1] = "reproduce/table1.py"
    kept, skip = [], False
    figure_only = {"--alpha", "--alphas", "--fold", "--figures-dir", "--k-step", "--halves",
                   "--train-missing", "--shard", "--workers"}  # nor a worker's own options
    for word in words:
        if skip:
            skip = False
            continue
        option = word.split("=", 1)[0]
        if option in figure_only:
            skip = "=" not in word and option != "--train-missing"
            continue
        kept.append(word)
    return shlex.join(kept + ["--configs", ",".join(c.name for c in configurations)])


def figures_dir_of(args, run):
    """--figures-dir, else OUT/figures (never the committed paper_figures/ unasked)."""
    figures_dir = args.figures_dir or run.out / "figures"
    check_writable(figures_dir, "--figures-dir", "the figures")
    figures_dir.mkdir(parents=True, exist_ok=True)
    return figures_dir


def chosen_fold(fold, fold_count):
    """--fold (counted from 0, as the run folder's fold<k>), checked against the run."""
    if not 0 <= fold < fold_count:
        raise ProjectError(f"--fold {fold}: the run has folds 0..{fold_count - 1} "
                         "(the run folder's fold0, fold1, …)")
    return fold


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
    atomic_write_csv(Path(figures_dir) / f"{name}.csv", list(rows[0]), rows)
    say(f"wrote {Path(figures_dir) / name}.png and {name}.csv")
