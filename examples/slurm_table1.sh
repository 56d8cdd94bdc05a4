#!/bin/bash
# Table I on a Slurm cluster: one job array of N shards, then one dependent job that
# aggregates (and trains whatever a failed shard left). Submit from the repository root:
#
#     bash examples/slurm_table1.sh            # N=8 shards, the paper preset on BRATS
#     SHARDS=16 DATA=/data/BraTS bash examples/slurm_table1.sh
#
# Every shard and the final call get the same options, so they share one run folder;
# finished units are kept, and a unit in training saves its state every 10 minutes
# (--checkpoint-every). When Slurm is about to stop a job (its time limit, or preemption),
# it sends SIGTERM 5 minutes ahead (--signal=B:TERM@300): the training saves its state
# and the script exits with status 75, on which the job requeues itself (--requeue) and
# resumes where it stopped, with the weights it would have had uninterrupted.
# Edit the options of the two `sbatch` calls below for your cluster (partition, GPU, time).
set -euo pipefail

SHARDS=${SHARDS:-8}
DATA=${DATA:-/data/BraTS}
OUT=${OUT:-runs/brats-paper}
PYTHON=${PYTHON:-.venv/bin/python}
OPTIONS=(--preset paper --dataset brats --data-dir "$DATA" --out "$OUT" --verbose 2)

mkdir -p "$OUT/slurm"
# The job body: table1.py in the background so that the batch shell can pass Slurm's
# SIGTERM on to it; status 75 (stopped with its state saved) requeues this job.
printf -v QUOTED '%q ' "${OPTIONS[@]}"
cat > "$OUT/slurm/job.sh" <<EOF
#!/bin/bash
$PYTHON reproduce/table1.py $QUOTED "\$@" &
child=\$!
trap 'kill -TERM \$child' TERM
wait \$child; status=\$?
if [ \$status -gt 128 ]; then wait \$child; status=\$?; fi  # wait again after the trap
if [ \$status -eq 75 ]; then
    scontrol requeue "\${SLURM_ARRAY_JOB_ID:-\$SLURM_JOB_ID}\${SLURM_ARRAY_TASK_ID:+_\$SLURM_ARRAY_TASK_ID}"
fi
exit \$status
EOF
chmod +x "$OUT/slurm/job.sh"

array_job=$(sbatch --parsable --array=0-$((SHARDS - 1)) --job-name=table1-shard \
    --gres=gpu:1 --cpus-per-task=8 --time=24:00:00 --requeue --signal=B:TERM@300 \
    --open-mode=append --output="$OUT/slurm/shard-%a.log" \
    --wrap="exec $OUT/slurm/job.sh --shard \${SLURM_ARRAY_TASK_ID}/$SHARDS")
echo "submitted $SHARDS shards as job $array_job"

# afterany: aggregate even when a shard failed; the final call trains what is missing.
final_job=$(sbatch --parsable --dependency=afterany:"$array_job" --job-name=table1-final \
    --gres=gpu:1 --cpus-per-task=8 --time=24:00:00 --requeue --signal=B:TERM@300 \
    --open-mode=append --output="$OUT/slurm/final.log" \
    --wrap="exec $OUT/slurm/job.sh")
echo "submitted the aggregating call as job $final_job (after job $array_job): $OUT/table1.md"
