"""Multi-modal volumes from disk to balanced 15³ patches (paper §III, SPEC §3).

The data layer knows no network: it returns NumPy arrays.
"""
from .cache import prepare_subjects
from .folds import subject_folds
from .patches import PATCH_SIZE, PatchTable, gather_patches
from .presets import NONZERO, PRESETS, DatasetSpec, dataset_spec
from .volumes import (PATCH_RADIUS, DataError, PreparedSubject, SubjectFiles, find_subjects,
                      normalize, prepare_subject, read_volume, sample_centers)

__all__ = ["prepare_subjects", "subject_folds", "PATCH_SIZE", "PatchTable", "gather_patches",
           "NONZERO", "PRESETS", "DatasetSpec", "dataset_spec", "PATCH_RADIUS", "DataError",
           "PreparedSubject", "SubjectFiles", "find_subjects", "normalize", "prepare_subject",
           "read_volume", "sample_centers"]
