#!/usr/bin/env bash
# The GPU check: what a person with a GPU runs to fill the GPU-hours column of the cost
# table in benchmarks/README.md (never part of CI; no GPU was lent to this project's
# sessions yet). From the repository root, in the environment of requirements.txt:
#
#     bash benchmarks/gpu_check.sh
#
# It records, in benchmarks/results/ (each file with its command, date, machine and
# versions):
#   speed-gpu.txt, speed-gpu-mixed.txt   training samples/s of the paper-size network for
#                                        M = 2 and 4, float32 and mixed precision (TensorFlow)
#   speed-gpu-jax.txt, speed-gpu-torch.txt  the same under Keras's JAX and PyTorch backends,
#                                        where they are installed with GPU support
#                                        (requirements-backends.txt installs CPU builds)
#   gpu-paper-unit.txt                   one paper-preset configuration (dropout +
#                                        normalization, alpha = 0) on the three open_ms
#                                        patients for 3,000 updates per fold, timed with GNU
#                                        time; then the same run stopped by SIGTERM in its
#                                        first unit and resumed from its saved state, with
#                                        its exit statuses and whether its table1.csv is the
#                                        uninterrupted run's, byte for byte
# Divide the paper's 88,000,000 samples per network by the samples/s to get GPU-hours.
set -euo pipefail
cd "$(dirname "$0")/.."
results=benchmarks/results
python -c "import tensorflow as tf, sys; sys.exit(0 if tf.config.list_physical_devices('GPU') else 'error: TensorFlow sees no GPU here')"
python benchmarks/speed.py --modalities 2,4 --only train --record "$results/speed-gpu.txt"
python benchmarks/speed.py --modalities 2,4 --only train --mixed-precision \
    --record "$results/speed-gpu-mixed.txt"
for backend in jax torch; do
    if python benchmarks/speed.py --backend "$backend" --modalities 2,4 --only train \
            --record "$results/speed-gpu-$backend.txt"; then :
    else echo "note: the $backend backend did not run here (not installed with GPU support?)"
    fi
done
data=${DATA:-../shared/data/open_ms}
unit=(python reproduce/table1.py --preset paper --dataset folder --data-dir "$data"
      --modality FLAIR='FLAIR_*.nii.gz' --modality T1='T1_*.nii.gz'
      --modality T1POST='T1POST_*.nii.gz' --modality T2='T2_*.nii.gz'
      --label 'GOLD_STANDARD_*.nii.gz' --class lesion=nonzero --published brats
      --configs dropout+norm-a0 --updates 3000 --folds 3 --workers 1 --verbose 2
      --checkpoint-every 500updates)
rm -rf runs/gpu-paper-unit runs/gpu-paper-unit-resumed
{
    echo "# command: /usr/bin/time -v ${unit[*]} --out runs/gpu-paper-unit"
    echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | sed 's/^/# gpu: /' || true
    /usr/bin/time -v "${unit[@]}" --out runs/gpu-paper-unit 2>&1 \
        | grep -E "Elapsed|Maximum resident|same .* cross|units"
    # The same run, stopped by SIGTERM once its first training has saved a state, resumed.
    "${unit[@]}" --out runs/gpu-paper-unit-resumed > /dev/null 2>&1 &
    pid=$!
    until compgen -G "runs/gpu-paper-unit-resumed/training-states/*/fold0/network.npz" > /dev/null \
            || ! kill -0 "$pid" 2> /dev/null; do sleep 1; done
    kill -TERM "$pid" 2> /dev/null || true
    status=0; wait "$pid" || status=$?
    echo "stopped_by_sigterm_exit_status=$status (75: its state saved, to be resumed)"
    status=0; "${unit[@]}" --out runs/gpu-paper-unit-resumed > /dev/null 2>&1 || status=$?
    echo "resumed_exit_status=$status"
    if cmp -s runs/gpu-paper-unit/table1.csv runs/gpu-paper-unit-resumed/table1.csv; then
        echo "resumed_table1_csv=identical to the uninterrupted run's"
    else
        echo "resumed_table1_csv=DIFFERENT from the uninterrupted run's"
    fi
} > "$results/gpu-paper-unit.txt"
echo "wrote $results/speed-gpu*.txt and gpu-paper-unit.txt"
