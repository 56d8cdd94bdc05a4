#!/usr/bin/env python3
"""Label one modality, segment another: a random forest trained on a network's features
of labelled scans of one modality maps every voxel of scans of another modality, through
the shared representation (the paper's promise; beyond its experiments).

    python studies/segment.py --unit runs/open_ms-quick/units/dropout+norm-a0/fold0 \\
        --data-dir /data/open_ms --labelled FLAIR='FLAIR_*.nii.gz' \\
        --label 'GOLD_STANDARD_*.nii.gz' --class lesion=nonzero \\
        --target T2='T2_*.nii.gz' --target T1='T1_*.nii.gz' --out runs/segment

--unit is a finished unit of a table1.py run folder (repeat it, or give a glob, for
several). For each unit the forest trains on the labelled modality's features of the
subjects its network was trained on (those under --data-dir that are not among the
unit's test subjects; or --labelled-subjects), at balanced sampled voxels as in Table I,
and predicts every mask voxel of each target scan: the unit's test subjects (or
--target-subjects) under --target-dir (default --data-dir). A target needs only its
own modality's image; its mask is --mask where given, else its nonzero voxels. The
features of a whole scan come from one dense pass of the encoder (models/dense.py),
equal to the patch-wise features.

Writes, per unit and target scan, OUT/<run folder>-<run id>/<configuration>/<fold>/<subject>/
<modality>_probability.nii.gz (the probability of each foreground class; 4-D with
several) and <modality>_labels.nii.gz (0 background or outside the mask, c for class c),
on the target's grid with its affine and header, and <modality>_maps.json: what made
them (the unit's network, the labelled scans, every option that changes a map, the
target's files). Where a target has a label map (--target-label, default --label), Dice,
sensitivity, precision and AUC per class go to OUT/segmentation.csv with the target's
role (held-out, unseen, network-training or labelled: the forest's own scans), and the
means over held-out targets to OUT/segmentation.md; with --overlays a PNG per unit and
subject. Maps are written atomically; a rerun keeps those made under the same options
and refuses, before any work, to mix in maps made under others (naming the difference).
The run id keys the map folders by what the run is (its arguments and input files), and
segmentation.csv keeps the rows of earlier calls into the same --out.
"""
import time
from pathlib import Path

import argparse

from experiments.runs.options import class_values, key_value, seed_value
from experiments.segmentation import segmentation_plan
from runtime.console import (console, format_seconds, on_terminal, run_script, say,
                             script_main)
from runtime.startup import import_tensorflow_quietly

COLUMNS = ["run", "configuration", "fold", "subject", "role", "labelled_modality",
           "target_modality", "class", "prior", "dice", "sensitivity", "precision", "auc",
           "true_voxels", "predicted_voxels", "run_id"]


def parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False,
                                     epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--unit", action="append", required=True, metavar="FOLDER",
                        help="a finished unit, e.g. OUT/units/dropout+norm-a0/fold0 (repeat, "
                        "or a glob such as 'OUT/units/*-a0/fold*')")
    parser.add_argument("--data-dir", type=Path, required=True,
                        help="the labelled subjects (searched recursively)")
    parser.add_argument("--labelled", type=key_value, required=True, metavar="NAME=GLOB",
                        help="the labelled modality (the network's name for it) and its files")
    parser.add_argument("--label", required=True, metavar="GLOB", help="label map pattern")
    parser.add_argument("--class", dest="classes", action="append", type=class_values,
                        required=True, metavar="NAME=VALUES",
                        help="a foreground class and its label values (repeat per class)")
    parser.add_argument("--mask", metavar="GLOB", help="mask pattern (default: nonzero voxels)")
    parser.add_argument("--labelled-subjects", help="comma-separated names (default: the "
                        "subjects the unit's network was trained on)")
    parser.add_argument("--target", type=key_value, action="append", required=True,
                        metavar="NAME=GLOB", help="a modality to segment and its files (repeat)")
    parser.add_argument("--target-dir", type=Path, help="where the target scans are "
                        "(default --data-dir)")
    parser.add_argument("--target-subjects", help="comma-separated names (default: the "
                        "unit's test subjects; with --target-dir: every subject there)")
    parser.add_argument("--target-label", metavar="GLOB", help="label maps of the targets, for "
                        "Dice (default --label; a target without one is segmented all the same)")
    parser.add_argument("--patches-per-class", type=int, default=500,
                        help="sampled voxels per class per labelled scan (default 500)")
    parser.add_argument("--trees", type=int, default=30, help="forest size (default 30)")
    parser.add_argument("--prior", choices=["labelled", "balanced"], default="labelled",
                        help="the class frequencies the written maps assume: labelled "
                        "(default: those of the labelled scans' masks, where most voxels are "
                        "background) or balanced (as the forest learnt them); the CSV scores "
                        "both")
    parser.add_argument("--seed", type=seed_value, default=0, help="sampling and forest seed")
    parser.add_argument("--overlays", action="store_true", help="also a PNG per unit and "
                        "subject: one slice of each target with its labels and the prediction")
    parser.add_argument("--out", type=Path, required=True, help="where the maps go")
    parser.add_argument("--publish", type=Path, metavar="DIR", help="also copy the CSV, the "
                        "summary and the overlays (not the maps) into DIR")
    return parser


@script_main
def main(argv=None):
    args = parser().parse_args(argv)
    if args.patches_per_class < 1 or args.trees < 1:
        raise SystemExit("error: --patches-per-class and --trees must be at least 1")
    folders = segmentation_plan.unit_folders(args.unit)  # before TensorFlow: a typo fails fast
    import_tensorflow_quietly()  # after the options: --help and their errors are quick
    import data
    from experiments.segmentation import segmentation, segmentation_report
    from experiments.segmentation.segmentation_records import HELD_OUT_ROLES, ROLES
    from experiments.runs.run_folder import check_writable
    from runtime.files import remove_stale_temporaries

    units = [segmentation.load_unit(folder) for folder in folders]
    class_spec = data.DatasetSpec(name="segmentation", modalities={}, label=(),
                                  classes=dict(args.classes))
    labelled_name, labelled_glob = args.labelled
    for unit in units:  # every modality known to every network, before any work
        for modality in [labelled_name, *(m for m, _ in args.target)]:
            unit.input_name(modality)
    labelled_files = data.find_scans(args.data_dir, labelled_glob, args.label, args.mask)
    steps = segmentation_plan.plan(args, units, labelled_files)
    check_writable(args.out)
    # The scores of earlier calls into this --out stay: this call's replace only its own.
    earlier = segmentation_report.read_table(args.out, COLUMNS)
    remove_stale_temporaries(args.out, recursive=True)  # half maps of killed runs
    roles = [(role, files.subject) for _, _, _, work in steps for files, _, _, role, _ in work
             if role not in HELD_OUT_ROLES]
    if roles:
        say(f"{len(roles)} target scans are not held out ("
            + ", ".join(f"{role}: {ROLES[role]}" for role in dict.fromkeys(r for r, _ in roles))
            + "): scored in segmentation.csv with their role, left out of the summary's means")
    rows, started, labelled = [], time.perf_counter(), {}
    for index, (unit, scans, _, work) in enumerate(steps):
        say(f"[{index + 1}/{len(units)}] {unit.name} (elapsed "
            f"{format_seconds(time.perf_counter() - started)})")
        for files in scans:  # each scan read once, whichever units use it
            if files.subject not in labelled:
                labelled[files.subject] = data.read_scan(files)
        classifier = segmentation.train_classifier(
            unit, [labelled[f.subject] for f in scans], labelled_name, class_spec,
            args.patches_per_class, args.trees, args.seed)
        say(f"    forest on {labelled_name} of {', '.join(f.subject for f in scans)}; their "
            "class frequencies " + ", ".join(f"{n} {p:.4f}" for n, p in zip(
                class_spec.class_names, classifier.labelled_frequencies)))
        for files, modality, record, role, keep in work:
            rows += segment_one(unit, classifier, files, modality, class_spec, args,
                                record, role, keep)
            segmentation_report.write_table(segmentation_report.merged(earlier, rows),
                                            args.out, COLUMNS)
        # The summary after every unit too: a stopped call leaves both files whole.
        segmentation_report.write_summary(segmentation_report.merged(earlier, rows),
                                          args.out)
        if args.overlays:
            segmentation_report.overlays(
                unit, segmentation_plan.maps_folder(args.out, unit), args, class_spec)
    say(segmentation_report.write_summary(segmentation_report.merged(earlier, rows), args.out))
    if args.publish:
        segmentation_report.publish(args.out, args.publish)
        say(f"published the CSV, the summary and the overlays in {args.publish}")
    return 0


def segment_one(unit, classifier, files, modality, class_spec, args, record, role, keep):
    """Maps of one target scan under the --prior (kept when ``keep``: their record is this
    call's) and, per decision rule (each prior), the overlap of its labels with the scan's
    label map."""
    import data
    from experiments.segmentation import segmentation, segmentation_records
    folder = segmentation_plan.maps_folder(args.out, unit) / files.subject
    probability_path = folder / f"{modality}_probability.nii.gz"
    labels_path = folder / f"{modality}_labels.nii.gz"
    scan = data.read_scan(files)
    probability = None
    if keep:
        say(f"    {files.subject} {modality}: kept {labels_path} (made under these options)")
    else:
        begun = time.perf_counter()

        def progress(done, total):
            seconds = time.perf_counter() - begun
            say(f"    {files.subject} {modality}: tile {done}/{total}, ETA "
                f"{format_seconds(seconds / done * (total - done))}", end="\r")
        # Tile by tile on a terminal; a log file gets the line per scan only.
        probability = segmentation.segment_scan(unit, classifier, scan, modality,
                                                progress if on_terminal() else None)
        console.close_line()
        weighted, labels = segmentation.decide(probability, scan.region,
                                               classifier.weights(args.prior))
        foreground = weighted[..., 1:]
        segmentation_records.record_path(folder, modality).unlink(missing_ok=True)
        data.write_map(probability_path, foreground[..., 0] if foreground.shape[-1] == 1
                       else foreground, scan)
        data.write_map(labels_path, labels, scan)
        segmentation_records.write_record(folder, modality, record)  # last: the maps are whole
        say(f"    {files.subject} {modality} ({role}): {int((labels > 0).sum())} voxels "
            f"labelled foreground ({format_seconds(time.perf_counter() - begun)})")
    if scan.labels is None:
        return []
    if probability is None:  # kept maps: the balanced probabilities back from the map
        probability = kept_probability(probability_path, classifier.weights(args.prior), scan)
    rows = []
    truths = [segmentation.class_truth(scan.labels, values)
              for values in class_spec.classes.values()]
    auc = [segmentation.ranking_auc(probability[..., index + 1][scan.region], truth[scan.region])
           for index, truth in enumerate(truths)]
    for rule in segmentation.PRIORS:
        _, labels = segmentation.decide(probability, scan.region, classifier.weights(rule))
        for index, name in enumerate(class_spec.classes, start=1):
            scores = segmentation.overlap(labels == index, truths[index - 1])
            scores["auc"] = auc[index - 1]
            rows.append({"run": segmentation_plan.run_name(unit), "run_id": unit.run_id,
                         "configuration": unit.configuration, "fold": unit.directory.name,
                         "subject": files.subject, "role": role,
                         "labelled_modality": args.labelled[0],
                         "target_modality": modality, "class": name, "prior": rule,
                         **{k: round(v, 4) if isinstance(v, float) else v
                            for k, v in scores.items()}})
    return rows


def kept_probability(path, weights, scan):
    """The balanced probabilities (X, Y, Z, C) of a written probability map: the
    foreground channels, the background as the rest, the prior's weights undone."""
    import nibabel
    import numpy as np
    foreground = np.asarray(nibabel.load(str(path)).dataobj, dtype=np.float32)
    if foreground.ndim == 3:
        foreground = foreground[..., None]
    weighted = np.concatenate([1 - foreground.sum(axis=-1, keepdims=True), foreground], -1)
    balanced = weighted / np.asarray(weights, dtype=np.float32)
    balanced /= np.maximum(balanced.sum(axis=-1, keepdims=True), 1e-12)
    return np.where(scan.region[..., None], balanced, 0)


if __name__ == "__main__":
    run_script(main)
