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
from runtime.lazy_exports import lazy_exports

# Which submodule defines each name. The package imports a submodule (and with it
# scikit-learn, SciPy, h5py or nibabel) on first use of one of its names, so that a
# script parses its options, and answers --help or a bad option, in a fraction of a
# second (as ``models`` does for Keras).
_SOURCES = {
    "cache": ["PreparedCache", "prepare_subjects"],
    "errors": ["DataError"],
    "folds": ["subject_folds"],
    "patches": ["PATCH_SIZE", "PatchTable", "gather_patches", "sample_centers"],
    "layouts": ["DATASET_LAYOUTS", "NONZERO", "DatasetSpec", "dataset_spec"],
    "scans": ["Scan", "ScanFiles", "find_scans", "read_scan", "write_map"],
    "subjects": ["SubjectFiles", "find_subjects", "require_data_folder"],
    "volumes": ["PATCH_RADIUS", "PreparedSubject", "class_map_from_labels", "normalize",
                "prepare_subject", "read_volume"],
}
__getattr__, __dir__, __all__ = lazy_exports(__name__, _SOURCES)
