"""An h5py cache of prepared subjects, so that a second run skips the NIfTI decoding.

One file per subject and preparation recipe, named by the input files' identities
(path, size, modification time) and the recipe, so that one cache folder serves every
run on the same data. The key holds each modality by name and file, not by the run's
order: a run that lists the same modalities in another order reuses the file, and gets
its volumes in its own order (``ModalityStack``). A different subset of modalities is
prepared again: without a mask file the normalization region is the union of the
modalities' nonzero voxels. The volumes are stored contiguous and uncompressed, so they
are opened as a read-only memory map (only the patches that are cut are read from disk);
the class map is small and compressed.
"""
import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

import h5py
import numpy as np

from runtime.files import atomic_path, remove_stale_temporaries

from .volumes import PreparedSubject, prepare_subject

CACHE_VERSION = 2  # 2: modalities keyed by name, whatever the run's order


def _identity(path):
    return [str(Path(path).resolve()), os.stat(path).st_size, os.stat(path).st_mtime_ns]


def cache_key(subject, spec):
    """Changes when the files (path, size, mtime) or the preparation recipe change; not
    with the order in which the run lists its modalities."""
    recipe = {
        "version": CACHE_VERSION,
        "spec": {k: v for k, v in asdict(spec).items()
                 if k not in ("name", "group_pattern", "modalities", "channels")},
        "modalities": sorted([name, _identity(path), subject.channel(name)]
                             for name, path in subject.modality_files.items()),
        "files": [_identity(f) for f in (subject.label_file, subject.mask_file) if f is not None],
    }
    return hashlib.sha1(json.dumps(recipe, sort_keys=True, default=str).encode()).hexdigest()[:16]


class ModalityStack:
    """(M, X, Y, Z) volumes as separate arrays (memory maps) in a chosen order: what
    ``gather_patches`` and ``volumes[m]`` need, without copying a cached file whose
    modalities are stored in another order."""

    def __init__(self, arrays):
        self.arrays = list(arrays)
        self.shape = (len(self.arrays), *self.arrays[0].shape)
        self.dtype = self.arrays[0].dtype
        self.ndim = len(self.shape)

    def __len__(self):
        return len(self.arrays)

    def __getitem__(self, key):
        first, rest = (key[0], key[1:]) if isinstance(key, tuple) else (key, ())
        if isinstance(first, (int, np.integer)):
            return self.arrays[first][rest]
        return np.stack([array[rest] for array in self.arrays[first]])

    def __array__(self, dtype=None, copy=None):
        stacked = np.stack(self.arrays)
        return stacked if dtype is None else stacked.astype(dtype)


def load_prepared(path, name, group, modality_names=None):
    """The PreparedSubject in ``path``, its volumes in ``modality_names``' order (default:
    as stored)."""
    with h5py.File(path, "r") as store:
        volumes_dataset = store["volumes"]
        offset, shape, dtype = volumes_dataset.id.get_offset(), volumes_dataset.shape, \
            volumes_dataset.dtype
        class_map = store["class_map"][()]
        stored_names = json.loads(store.attrs["modality_names"])
        class_names = json.loads(store.attrs["class_names"])
    volumes = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)
    if modality_names is None or list(modality_names) == stored_names:
        return PreparedSubject(name, group, stored_names, class_names, volumes, class_map)
    volumes = ModalityStack(volumes[stored_names.index(m)] for m in modality_names)
    return PreparedSubject(name, group, list(modality_names), class_names, volumes, class_map)


def save_prepared(path, subject):
    with atomic_path(path) as temporary:  # a killed run never leaves half a cache file
        with h5py.File(temporary, "w") as store:
            store.create_dataset("volumes", data=np.asarray(subject.volumes))  # contiguous
            store.create_dataset("class_map", data=subject.class_map, compression="gzip")
            store.attrs["modality_names"] = json.dumps(subject.modality_names)
            store.attrs["class_names"] = json.dumps(subject.class_names)


def prepare_subjects(subjects, spec, cache_dir=None, progress=None):
    """PreparedSubject for every SubjectFiles, read from / written to ``cache_dir``.

    Without ``cache_dir`` the volumes are prepared in memory. ``progress(i, n, name)`` is
    called before each subject.
    """
    prepared = []
    if cache_dir is not None:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(cache_dir)  # half-written files of killed runs
    for index, subject in enumerate(subjects):
        if progress:
            progress(index, len(subjects), subject.name)
        if cache_dir is None:
            prepared.append(prepare_subject(subject, spec))
            continue
        safe_name = subject.name.replace("/", "__")
        path = Path(cache_dir) / f"{safe_name}-{cache_key(subject, spec)}.h5"
        if not path.exists():
            save_prepared(path, prepare_subject(subject, spec))
        prepared.append(load_prepared(path, subject.name, subject.group,
                                      list(subject.modality_files)))
    return prepared
