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
#                                        M = 2 and 4, float32 and mixed precision (TensorFlow;
#                                        the other Keras backends do not run this model yet)
#   gpu-paper-unit.txt                   one paper-preset unit (dropout + normalization,
#                                        alpha = 0) on the three open_ms patients for 3,000
#                                        updates, timed with GNU time
# Divide the paper's 88,000,000 samples per network by the samples/s to get GPU-hours.
set -euo pipefail
cd "$(dirname "$0")/.."
results=benchmarks/results
python -c "import tensorflow as tf, sys; sys.exit(0 if tf.config.list_physical_devices('GPU') else 'error: TensorFlow sees no GPU here')"
python benchmarks/speed.py --modalities 2,4 --only train --record "$results/speed-gpu.txt"
python benchmarks/speed.py --modalities 2,4 --only train --mixed-precision \
    --record "$results/speed-gpu-mixed.txt"
data=${DATA:-../shared/data/open_ms}
{
    echo "# command: /usr/bin/time -v python reproduce/table1.py --preset paper ... --updates 3000"
    echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | sed 's/^/# gpu: /' || true
    /usr/bin/time -v python reproduce/table1.py --preset paper --dataset folder --data-dir "$data" \
        --modality FLAIR='FLAIR_*.nii.gz' --modality T1='T1_*.nii.gz' \
        --modality T1POST='T1POST_*.nii.gz' --modality T2='T2_*.nii.gz' \
        --label 'GOLD_STANDARD_*.nii.gz' --class lesion=nonzero --published brats \
        --configs dropout+norm-a0 --updates 3000 --folds 3 --workers 1 --verbose 2 \
        --out runs/gpu-paper-unit 2>&1 | grep -E "Elapsed|Maximum resident|same .* cross|units"
} > "$results/gpu-paper-unit.txt"
echo "wrote $results/speed-gpu.txt, speed-gpu-mixed.txt and gpu-paper-unit.txt"
