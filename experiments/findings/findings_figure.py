"""The findings' one picture: for each of the paper's headline comparisons (a row), our
difference with its 95 % interval in each current Table I run, beside the paper's value
for that run's column (a forest plot); and the numbers behind it as CSV.
``studies/findings.py`` writes both into paper_figures/ (``findings_forest.png``,
``findings_forest.csv``)."""
import csv
import io
from pathlib import Path

from experiments.findings.findings_answer import FORM_COLUMNS

NAME = "findings_forest"
# Intervals of the 3-fold phantom runs reach ±50 points: the axis shows this range and
# marks an interval that goes beyond it with an arrow head.
LIMITS = (-30.0, 50.0)
COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown")


def csv_text(rows):
    """The figure's numbers as CSV text (rounded as the tables show them, to 2 places)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, FORM_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: (f"{row[key]:.2f}" if isinstance(row[key], float) else
                               "" if row[key] is None else row[key]) for key in FORM_COLUMNS})
    return buffer.getvalue()


def draw(rows, path):
    """The forest plot of ``rows`` (``findings_answer.headline_rows``) as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    comparisons = list(dict.fromkeys((row["comparison"], row["words"]) for row in rows))
    runs = list(dict.fromkeys((row["run"], row["data"], row["paper_column"]) for row in rows))
    colour = {run: COLOURS[index % len(COLOURS)] for index, (run, _, _) in enumerate(runs)}
    step = 1.0 / (len(runs) + 1)
    figure, axis = plt.subplots(figsize=(9.5, 0.42 * len(rows) + 2.4))
    ticks, labels = [], []
    for group, (label, words) in enumerate(comparisons):
        top = -group * 1.2
        ticks.append(top - step * (len(runs) - 1) / 2)
        labels.append(f"{words}\n{label}")
        for index, (run, _, _) in enumerate(runs):
            row = next((r for r in rows if r["comparison"] == label and r["run"] == run), None)
            if row is None:
                continue
            y = top - index * step
            low, high = max(row["low"], LIMITS[0]), min(row["high"], LIMITS[1])
            axis.plot([low, high], [y, y], color=colour[run], lw=2)
            axis.plot([row["difference"]], [y], "o", color=colour[run], ms=5)
            for end, edge, marker in ((row["low"], LIMITS[0], "<"), (row["high"], LIMITS[1], ">")):
                if (end < edge) if marker == "<" else (end > edge):
                    axis.plot([edge], [y], marker, color=colour[run], ms=6)
            if row["paper"] is not None:
                axis.plot([float(row["paper"])], [y], "D", mfc="white", mec=colour[run],
                          mew=1.5, ms=7)
        if group:
            axis.axhline(top + 0.6, color="0.85", lw=0.6)
    axis.axvline(0, color="0.5", lw=0.8)
    axis.set_yticks(ticks)
    axis.set_yticklabels(labels, fontsize=8)
    axis.set_xlim(*LIMITS)
    axis.set_xlabel("our difference in cross-modality accuracy (percentage points), "
                    "95 % interval over folds")
    handles = [plt.Line2D([], [], color=colour[run], marker="o", lw=2,
                          label=f"{run}: {data} — paper: {column}")
               for run, data, column in runs]
    handles.append(plt.Line2D([], [], color="0.3", marker="D", mfc="white", lw=0,
                              label="the paper's value for that run's column"))
    axis.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.09 * 9 /
                (0.42 * len(rows) + 2.4)), fontsize=7.5, frameon=False, ncol=1)
    axis.set_title("What reproduces: each of the paper's comparisons, ours against the "
                   "paper's", fontsize=10)
    figure.tight_layout()
    figure.savefig(Path(path), dpi=100, metadata={"Software": None})
    plt.close(figure)
