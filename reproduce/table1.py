#!/usr/bin/env python3
"""Table I of van Tulder & de Bruijne (TMI 2018): same- and cross-modality accuracy of
random forests on features of 16 axial-network configurations and two baselines, in
subject-wise cross-validation, with the published numbers beside ours.

    python reproduce/table1.py                      # quick preset, synthetic knee phantom
    python reproduce/table1.py --preset paper --dataset brats --data-dir /data/BraTS2021
    python reproduce/table1.py --dataset open-ms      # downloads the MS patients once
    python reproduce/table1.py --dataset folder --data-dir /data/my_study \\
        --modality FLAIR='*_flair.nii.gz' --modality T2='*_t2.nii.gz' \\
        --label '*_lesions.nii.gz' --class lesion=nonzero --published brats

Writes table1.md, table1.csv, table1_pairs.csv, table1_pairs.png, table1_claims.csv,
table1_feature_scale.csv and table1.json into the run folder: every cell with its 95 %
interval and whether the published number lies inside, a verdict on each of the paper's
claims (reproduced, contradicted, undecided), the controls (raw intensities, an
untrained network: what the forests get without a trained network) against every
network, and every comparison per ordered modality pair. Every
(configuration, fold) unit is saved as it finishes: rerun the same command to resume;
--shard I/N splits the grid over several processes. The terminal ends on Table I, this
run's answer beside the paper's column and the committed table to compare with.
"""
import json
import shutil
from pathlib import Path


from experiments.runs import command_line, run_lock
from experiments.findings import findings_answer
from experiments.execution import grid, workers
from experiments.reports import pair_report, table_files, table_report
from experiments.runs.run_folder import check_writable
from runtime.console import run_script, say, script_main


TABLE_FILES = ("table1.md", "table1.csv", "table1_pairs.csv", "table1_claims.csv",
               "table1_feature_scale.csv", "table1.json", "table1_pairs.png")


@script_main
@run_lock.releasing
def main(argv=None):
    parser = command_line.script_parser(__doc__)
    parser.add_argument("--publish", type=Path, metavar="DIR", help="also copy the finished "
                        "tables into DIR (e.g. paper_figures/<name>: the committed results are "
                        "published this way, never by default)")
    args = parser.parse_args(argv)
    if args.publish:  # checked now, not after the whole run
        check_writable(args.publish, "--publish", "the published tables")
    run = command_line.resolve_run(args, argv)
    shard = command_line.parse_shard(args.shard)
    plan = workers.plan(args, argv, __file__)
    patch_data = grid.prepare(run, command_line.call_options(args), computes=not plan.delegates)
    grid.run_grid(run, patch_data, shard, workers=plan)
    fold_count = len(patch_data.folds)
    results, missing = grid.collect(run, fold_count)
    if missing:
        say(f"{len(missing)} units are still missing (other shards?): {', '.join(missing[:6])}"
            f"{' …' if len(missing) > 6 else ''}. Run without --shard to finish and aggregate.")
        return 0
    if shard[1] > 1:  # the tables are the final call's: their header records its command
        say("every unit is finished: run the same command without --shard to write the tables")
        return 0
    rows = table_report.table_rows(run, results)
    compared = table_report.comparisons(run, results)
    pairs = pair_report.pair_comparisons(run, results)
    split = table_report.time_split(results)
    # Updates per network: given, or epochs × batches of fold0's training patches.
    batches = -(-len(patch_data.rows(patch_data.training, 0, "training")) // run.batch_size)
    updates = run.updates or run.epochs * batches
    machines = table_report.machines_of(results)
    text = table_files.write_outputs(run, rows, compared, split, fold_count, pairs, updates,
                                     machines)
    say()
    say(table_report.table_section(text))  # the full report is in table1.md
    say(f"compute: {table_report.time_split_text(split)}")
    if len(machines) > 1:
        say(f"note: the units were computed on {len(machines)} machines or thread counts "
            f"({' | '.join(machines)}); their float32 round-off differs, so this table mixes "
            "arithmetics (docs/design.md)")
    say(f"wrote {run.out / 'table1.md'}, table1.csv, table1_pairs.csv (.png), "
        "table1_claims.csv, table1_feature_scale.csv and table1.json")
    if args.publish:
        args.publish.mkdir(parents=True, exist_ok=True)
        for name in TABLE_FILES:
            shutil.copyfile(run.out / name, args.publish / name)
        say(f"published them in {args.publish}")
    document = json.loads((run.out / "table1.json").read_text())
    for line in findings_answer.closing_lines(document, run.published_table,
                                              run.out / "table1.md"):
        say(line)
    return 0


if __name__ == "__main__":
    run_script(main)
