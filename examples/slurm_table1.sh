#!/bin/bash
# Table I on a Slurm cluster: one job array of N shards, then one dependent job that
# aggregates (and trains whatever a failed shard left). Submit from the repository root:
#
#     bash examples/slurm_table1.sh            # N=8 shards, the paper preset on BRATS
#     SHARDS=16 DATA=/data/BraTS bash examples/slurm_table1.sh
#
# Every shard and the final call get the same options, so they share one run folder;
# a shard that dies is simply rerun (finished units are kept). Edit the options of the two
# `sbatch` calls below for your cluster (partition, GPU, time).
set -euo pipefail

SHARDS=${SHARDS:-8}
DATA=${DATA:-/data/BraTS}
OUT=${OUT:-runs/brats-paper}
PYTHON=${PYTHON:-.venv/bin/python}
OPTIONS=(--preset paper --dataset brats --data-dir "$DATA" --out "$OUT" --verbose 2)

mkdir -p "$OUT/slurm"
# The options, quoted once, for the job scripts below.
printf -v QUOTED '%q ' "${OPTIONS[@]}"

array_job=$(sbatch --parsable --array=0-$((SHARDS - 1)) --job-name=table1-shard \
    --gres=gpu:1 --cpus-per-task=8 --time=24:00:00 \
    --output="$OUT/slurm/shard-%a.log" \
    --wrap="$PYTHON reproduce/table1.py $QUOTED --shard \${SLURM_ARRAY_TASK_ID}/$SHARDS")
echo "submitted $SHARDS shards as job $array_job"

# afterany: aggregate even when a shard failed; the final call trains what is missing.
final_job=$(sbatch --parsable --dependency=afterany:"$array_job" --job-name=table1-final \
    --gres=gpu:1 --cpus-per-task=8 --time=24:00:00 \
    --output="$OUT/slurm/final.log" \
    --wrap="$PYTHON reproduce/table1.py $QUOTED")
echo "submitted the aggregating call as job $final_job (after job $array_job): $OUT/table1.md"
