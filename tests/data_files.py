"""Hand-made NIfTI subjects for the data tests, and hand-made result files (CSV) for the
findings tests."""
import csv
from pathlib import Path

import nibabel as nib
import numpy as np

from data import (dataset_spec)

OPEN_MS = Path(__file__).resolve().parents[2] / "shared" / "data" / "open_ms"


def save(path, array, affine=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.asarray(array, dtype=np.float32),
                             np.eye(4) if affine is None else affine), str(path))
    return path


def folder_spec(**overrides):
    arguments = dict(modalities={"A": "A.nii.gz", "B": "B.nii.gz"}, label="seg.nii.gz")
    arguments.update(overrides)
    return dataset_spec("folder", **arguments)


def write_subject(folder, shape=(12, 10, 8), seed=0, labels=None):
    rng = np.random.default_rng(seed)
    save(folder / "A.nii.gz", rng.uniform(1, 2, size=shape))
    save(folder / "B.nii.gz", rng.uniform(1, 3, size=shape))
    if labels is None:
        labels = np.zeros(shape)
        labels[4:7, 4:7, 3:5] = 1
    save(folder / "seg.nii.gz", labels)


def write_csv_rows(path, rows):
    """A CSV file of dict rows (the first row's keys as its header), its folder made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
