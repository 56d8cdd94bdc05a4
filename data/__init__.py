"""Multi-modal volumes from disk to balanced 15³ patches (paper §III).

The data layer knows no network: it returns NumPy arrays.

    subjects.py   finding subjects: file patterns, {subject} placeholders, dataset.json
    volumes.py    reading and checking NIfTI files, classes, normalization, padding
    scans.py      single scans to segment, and maps written on their own grid
    cache.py      prepared subjects cached in h5py (memory-mapped)
    patches.py    balanced patch centres, and patches cut from every modality at once
    folds.py      subject-wise cross-validation folds
    layouts.py    dataset layouts (file patterns, classes, normalization)
    fetch.py      the public datasets by name (download.py: one file; archives.py: safe
                  extraction)
    synthetic.py  knee and brain phantoms
"""
from .cache import PreparedCache, prepare_subjects
from .errors import DataError
from .folds import subject_folds
from .patches import PATCH_SIZE, PatchTable, gather_patches, sample_centers
from .layouts import DATASET_LAYOUTS, NONZERO, DatasetSpec, dataset_spec
from .scans import Scan, ScanFiles, find_scans, read_scan, write_map
from .subjects import SubjectFiles, find_subjects, require_data_folder
from .volumes import (PATCH_RADIUS, PreparedSubject, class_map_from_labels, normalize,
                      prepare_subject, read_volume)

__all__ = ["require_data_folder", "PreparedCache", "prepare_subjects", "subject_folds", "PATCH_SIZE", "PatchTable", "gather_patches",
           "NONZERO", "DATASET_LAYOUTS", "DatasetSpec", "dataset_spec", "PATCH_RADIUS",
           "DataError", "PreparedSubject", "SubjectFiles", "find_subjects", "normalize",
           "prepare_subject", "read_volume", "sample_centers", "Scan", "ScanFiles",
           "find_scans", "read_scan", "write_map", "class_map_from_labels"]
