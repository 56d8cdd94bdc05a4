"""An h5py cache of prepared subjects, so that a second run skips the NIfTI decoding.

One file per subject and preparation recipe, named by the input files' identities
(path, size, modification time) and the recipe, so that one cache folder serves every
run on the same data. The volumes are stored contiguous and
uncompressed, so they are opened as a read-only memory map (only the patches that are
cut are read from disk); the class map is small and compressed.
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

CACHE_VERSION = 1


def cache_key(subject, spec):
    """Changes when the files (path, size, mtime) or the preparation recipe change."""
    files = [subject.label_file, subject.mask_file, *subject.modality_files.values()]
    recipe = {
        "version": CACHE_VERSION,
        "spec": {k: v for k, v in asdict(spec).items() if k not in ("name", "group_pattern")},
        "files": [[str(Path(f).resolve()), os.stat(f).st_size, os.stat(f).st_mtime_ns]
                  for f in files if f is not None],
        "channels": subject.channels or {},
    }
    return hashlib.sha1(json.dumps(recipe, sort_keys=True, default=str).encode()).hexdigest()[:16]


def load_prepared(path, name, group):
    with h5py.File(path, "r") as store:
        volumes_dataset = store["volumes"]
        offset, shape, dtype = volumes_dataset.id.get_offset(), volumes_dataset.shape, \
            volumes_dataset.dtype
        class_map = store["class_map"][()]
        modality_names = json.loads(store.attrs["modality_names"])
        class_names = json.loads(store.attrs["class_names"])
    volumes = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)
    return PreparedSubject(name, group, modality_names, class_names, volumes, class_map)


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
        prepared.append(load_prepared(path, subject.name, subject.group))
    return prepared
