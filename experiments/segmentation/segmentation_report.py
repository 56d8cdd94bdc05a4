"""What ``segment.py`` writes besides the maps: the per-scan overlap table, its summary
(mean Dice per network and modality) and overlay pictures."""
import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from runtime.files import atomic_write_csv, atomic_write_text
from runtime.errors import ProjectError


def write_table(rows, out, columns):
    """OUT/segmentation.csv, rewritten after every scan (nothing computed is lost)."""
    if not rows:
        return
    atomic_write_csv(Path(out) / "segmentation.csv", columns, rows)


# A score row is one (unit of one run, target scan, labelled and target modality, class,
# prior): a later call's row replaces an earlier one with the same key, the rest stay.
ROW_KEY = ("run_id", "run", "configuration", "fold", "subject", "labelled_modality",
           "target_modality", "class", "prior")
NUMBERS = {"dice": float, "sensitivity": float, "precision": float, "auc": float,
           "true_voxels": int, "predicted_voxels": int}


def read_table(out, columns):
    """The rows of an existing OUT/segmentation.csv (numbers as numbers), [] when there is
    none; an error naming the file when it is not a table of these columns."""
    import csv
    path = Path(out) / "segmentation.csv"
    if not path.exists():
        return []
    try:
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            rows = list(reader)
        missing = [c for c in columns if c not in header and c != "run_id"]
        if missing:
            raise ValueError(f"it lacks the columns {', '.join(missing)}")
        for row in rows:
            for column, kind in NUMBERS.items():
                row[column] = kind(row[column]) if row[column] not in ("", "nan") else math.nan
            row.setdefault("run_id", "")
    except (OSError, ValueError, csv.Error, KeyError) as error:
        raise ProjectError(f"{path} cannot be read as the scores of earlier calls "
                         f"({error}); move it away, or give another --out") from None
    return rows


def merged(earlier, rows):
    """The earlier calls' rows that this call did not score again, then this call's."""
    def key(row):
        return tuple(str(row.get(column, "")) for column in ROW_KEY)
    new = {key(row) for row in rows}
    return [row for row in earlier if key(row) not in new] + list(rows)


def write_summary(all_rows, out):
    """OUT/segmentation.md: mean Dice (± SD over held-out scans) per configuration and
    labelled → target modality (and class), one table per prior; returns a one-line
    summary. Scans the network or the forest learnt from are in the CSV only."""
    from experiments.segmentation.segmentation_records import HELD_OUT_ROLES
    if not all_rows:
        return f"wrote the maps into {out} (no target had a label map: no Dice)"
    rows = [row for row in all_rows if row.get("role", "held-out") in HELD_OUT_ROLES]
    left_out = sorted({(row["subject"], row["role"]) for row in all_rows} -
                      {(row["subject"], row["role"]) for row in rows})
    lines = ["# Cross-modality segmentation", "",
             "Mean Dice ± SD over the held-out target scans (n), by network (rows) and "
             "labelled → target modality (columns); sensitivity and precision per scan in "
             "segmentation.csv. The forest learns balanced classes (as in Table I); each "
             "table decides every voxel under one class prior."]
    if left_out:
        lines += ["", "Left out of every mean (scores in segmentation.csv): "
                  + ", ".join(f"{subject} ({role})" for subject, role in left_out) + "."]
    if not rows:
        atomic_write_text(Path(out) / "segmentation.md", "\n".join(lines) + "\n")
        return (f"wrote the maps and segmentation.csv into {out}; no target is held out, so "
                "segmentation.md has no means")
    best = []
    for prior in dict.fromkeys(row["prior"] for row in rows):
        chosen = [r for r in rows if r["prior"] == prior]
        lines += ["", f"## Dice, prior: {prior}", "", *summary_table(chosen, "dice")]
        groups = defaultdict(list)
        for row in chosen:
            groups[(row["configuration"], row["labelled_modality"], row["target_modality"],
                    row["class"])].append(row["dice"])
        means = {key: np.nanmean(values) for key, values in groups.items()}
        top = max(means, key=means.get)
        best.append(f"{prior} prior {means[top]:.3f} ({top[0]}, {top[1]} → {top[2]})")
    first = next(iter(dict.fromkeys(row["prior"] for row in rows)))
    lines += ["", "## Ranking: ROC AUC of the class probability over the mask voxels "
              "(the same under every prior)", ""]
    lines += summary_table([r for r in rows if r["prior"] == first], "auc")
    atomic_write_text(Path(out) / "segmentation.md", "\n".join(lines) + "\n")
    return (f"wrote {Path(out) / 'segmentation.md'} and segmentation.csv ({len(all_rows)} scores); "
            f"highest mean Dice: {'; '.join(best)}")


def summary_table(rows, measure):
    """Markdown rows: mean ± SD (n) of ``measure`` per configuration (rows) and labelled →
    target modality and class (columns)."""
    groups = defaultdict(list)
    # Networks of several runs (calls into one --out) are told apart by their run.
    several = len({(row["run"], row.get("run_id", "")) for row in rows}) > 1
    for row in rows:
        network = (f"{row['run']}-{row.get('run_id', '')} {row['configuration']}" if several
                   else row["configuration"])
        groups[(network, row["labelled_modality"], row["target_modality"],
                row["class"])].append(row[measure])
    configurations = list(dict.fromkeys(key[0] for key in groups))
    targets = list(dict.fromkeys(key[1:] for key in groups))
    lines = ["| network | " + " | ".join(f"{a} → {b} ({c})" for a, b, c in targets) + " |",
             "|---|" + "---|" * len(targets)]
    for configuration in configurations:
        cells = []
        for target in targets:
            values = [v for v in groups.get((configuration, *target), []) if not math.isnan(v)]
            cells.append(f"{np.mean(values):.3f} ± {np.std(values):.3f} (n={len(values)})"
                         if values else "—")
        lines.append(f"| {configuration} | " + " | ".join(cells) + " |")
    return lines


def overlays(unit, folder, args, class_spec):
    """OUT/overlays/<run>-<configuration>-<fold>-<subject>.png: per target modality the
    slice with the most labelled voxels, its labels (green outline) and the prediction
    (red); ``folder``: the unit's map folder."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import nibabel

    import data
    for subject_folder in sorted(p for p in folder.iterdir() if p.is_dir()):
        modalities = [m for m, _ in args.target
                      if (subject_folder / f"{m}_labels.nii.gz").exists()]
        if not modalities:
            continue
        figure, axes = plt.subplots(1, len(modalities), figsize=(2.4 * len(modalities), 2.8),
                                    squeeze=False)
        for column, modality in enumerate(modalities):
            glob = dict(args.target)[modality]
            (files,) = data.find_scans(args.target_dir or args.data_dir, glob,
                                       args.target_label or args.label, args.mask,
                                       subjects=[subject_folder.name])
            image, _ = data.read_volume(files.image)
            predicted = nibabel.load(str(subject_folder / f"{modality}_labels.nii.gz")
                                     ).get_fdata() > 0
            truth = None
            if files.label is not None:
                labels, _ = data.read_volume(files.label)
                from experiments.segmentation.segmentation import class_truth
                truth = np.any([class_truth(labels, v) for v in class_spec.classes.values()],
                               axis=0)
            shown = truth if truth is not None and truth.any() else predicted
            z = int(np.argmax(shown.sum(axis=(0, 1))))
            axis = axes[0, column]
            axis.imshow(np.rot90(image[:, :, z]), cmap="gray")
            axis.contourf(np.rot90(predicted[:, :, z]), levels=[0.5, 1], colors=["red"],
                          alpha=0.45)
            if truth is not None:
                axis.contour(np.rot90(truth[:, :, z]), levels=[0.5], colors=["lime"],
                             linewidths=0.7)
            axis.set_title(f"{modality}, slice {z}", fontsize=8)
            axis.axis("off")
        figure.suptitle(f"{unit.name}: {subject_folder.name} (green: labels, red: predicted)",
                        fontsize=8)
        figure.tight_layout()
        target = Path(args.out) / "overlays" / (f"{folder.parents[1].name}-{unit.configuration}-"
                                                f"{unit.directory.name}-{subject_folder.name}.png")
        target.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(target, dpi=80)
        plt.close(figure)


def publish(out, destination):
    """The small outputs (CSV, summary, overlay PNGs) copied to ``destination``."""
    import shutil
    destination = Path(destination)
    (destination / "overlays").mkdir(parents=True, exist_ok=True)
    for name in ("segmentation.csv", "segmentation.md"):
        if (Path(out) / name).exists():
            shutil.copyfile(Path(out) / name, destination / name)
    for picture in sorted((Path(out) / "overlays").glob("*.png")):
        shutil.copyfile(picture, destination / "overlays" / picture.name)
