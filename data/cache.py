"""An h5py cache of prepared subjects, so that a second run skips the NIfTI decoding.

One file per subject and preparation recipe, named by the SHA-256 of the input files'
contents and the recipe (never by path, size and modification time alone: a file
rewritten with its old size and mtime is another file), so that one cache folder serves
every run on the same data, a copy of the data included. The hashes are remembered in
``file_hashes.json`` (``runtime.files.FileHashes``): each file is hashed once. The key
holds each modality by name and content, not by the run's order: a run that lists the
same modalities in another order reuses the file, and gets its volumes in its own order
(``ModalityStack``). A different subset of modalities is prepared again: without a mask
file the normalization region is the union of the modalities' nonzero voxels. The
volumes are stored contiguous and uncompressed, so they are opened as a read-only memory
map (only the patches that are cut are read from disk); the class map is small and
compressed.

The cache has a size limit: after a successful start the files used least recently
(other than this run's) are removed until the cache fits, with a line saying so. A
start that fails removes what it added (``PreparedCache.discard_new``).
"""
import hashlib
import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path

import h5py
import numpy as np

from runtime.files import FileHashes, atomic_path, remove_stale_temporaries

from .errors import DataError
from .volumes import MAX_AXIS_VOXELS, PATCH_RADIUS, PreparedSubject, prepare_subject

# 2: modalities keyed by name, whatever the run's order; 3: files keyed by content.
CACHE_VERSION = 3
HASH_MEMO = "file_hashes.json"
DEFAULT_LIMIT_GB = 20.0


def cache_key(subject, spec, hashes=None):
    """Changes when the files' contents (SHA-256) or the preparation recipe change; not
    with their paths, nor with the order in which the run lists its modalities."""
    hashes = hashes or FileHashes()
    recipe = {
        "version": CACHE_VERSION,
        "spec": {k: v for k, v in asdict(spec).items()
                 if k not in ("name", "group_pattern", "modalities", "channels")},
        "modalities": sorted([name, hashes.sha256(path), subject.channel(name)]
                             for name, path in subject.modality_files.items()),
        "files": [hashes.sha256(f) for f in (subject.label_file, subject.mask_file)
                  if f is not None],
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


class PreparedCache:
    """One start's use of a cache folder: the content hashes it shares with the run
    folder, the files it added (removed again if the start fails) and the ones it used
    (never pruned by it). ``folder`` None: volumes are prepared in memory."""

    def __init__(self, folder=None, limit_gb=DEFAULT_LIMIT_GB):
        self.folder = Path(folder) if folder is not None else None
        self.limit_bytes = None if limit_gb is None else int(limit_gb * 1e9)
        self.hashes = FileHashes(self.folder / HASH_MEMO if self.folder else None)
        self.added, self.used = [], []

    def discard_new(self):
        """Removes the files this start added: a start that fails leaves the cache as
        it found it."""
        for path in self.added:
            Path(path).unlink(missing_ok=True)
            checksum_path(path).unlink(missing_ok=True)
        self.added = []

    def commit(self, log=print):
        """After a successful start: remembers the hashes and prunes the files used least
        recently (never this start's) down to the size limit. Returns the paths removed."""
        if self.folder is None:
            return []
        self.hashes.save()
        if self.limit_bytes is None:
            return []
        files = [(path, path.stat()) for path in self.folder.glob("*.h5")]
        total = sum(status.st_size for _, status in files)
        in_use = {Path(path).resolve() for path in self.used}
        removed, freed = [], 0
        for path, status in sorted(files, key=lambda item: item[1].st_mtime_ns):
            if total - freed <= self.limit_bytes:
                break
            if path.resolve() in in_use:
                continue
            path.unlink(missing_ok=True)
            checksum_path(path).unlink(missing_ok=True)
            removed.append(path)
            freed += status.st_size
        if removed:
            log(f"cache {self.folder}: removed {len(removed)} prepared volumes used least "
                f"recently ({freed / 1e9:.1f} GB) to stay under its limit of "
                f"{self.limit_bytes / 1e9:g} GB (--cache-limit)")
        if total - freed > self.limit_bytes:
            log(f"cache {self.folder}: this run's prepared volumes alone take "
                f"{(total - freed) / 1e9:.1f} GB, over the limit of "
                f"{self.limit_bytes / 1e9:g} GB (--cache-limit); they are kept")
        return removed


def prepared_bytes(subject):
    """The size of a subject's prepared file: its volumes as float32, padded by the patch
    radius (read from the NIfTI headers, no voxels)."""
    import nibabel
    first = next(iter(subject.modality_files.values()))
    try:
        shape = nibabel.load(str(first)).header.get_data_shape()
    except Exception as error:  # nibabel raises many kinds for broken files
        raise DataError(f"{first}: cannot be read as NIfTI ({error})") from None
    if any(size > MAX_AXIS_VOXELS for size in shape[:3]):
        raise DataError(f"{first}: its header declares {' × '.join(map(str, shape[:3]))} "
                        f"voxels, more than {MAX_AXIS_VOXELS:,} along an axis: not a scan this "
                        "project can prepare (a damaged header, or not an image?)")
    voxels = int(np.prod([size + 2 * PATCH_RADIUS for size in shape[:3]]))
    return len(subject.modality_files) * voxels * 4 + int(np.prod(shape[:3]))


def check_space(cache, subjects, spec, log=None):
    """Says how much the volumes still to prepare will take, and stops (DataError) before
    any is prepared when the cache's disk lacks the room."""
    missing = [s for s in subjects
               if not (cache.folder / cache_file_name(s, spec, cache.hashes)).exists()]
    if not missing:
        return
    needed = sum(prepared_bytes(subject) for subject in missing)
    free = shutil.disk_usage(cache.folder).free
    if needed > free:
        raise DataError(f"the prepared volumes of {len(missing)} subjects need "
                        f"{needed / 1e9:.1f} GB in {cache.folder}, which has {free / 1e9:.1f} GB "
                        "free: free some space, or give --cache-dir on a larger disk")
    if log:
        log(f"cache: {len(missing)} subjects to prepare, about {needed / 1e9:.2f} GB in "
            f"{cache.folder} ({free / 1e9:.0f} GB free)")


def checksum_path(path):
    """The SHA-256 recorded beside a prepared file when it was written."""
    return Path(path).with_name(Path(path).name + ".sha256")


def verified_checksum(path, hashes):
    """The prepared file's SHA-256 when it equals the one recorded at writing (memoized
    by ``hashes``: an unchanged file is not read again), else None."""
    try:
        recorded = checksum_path(path).read_text().strip()
    except OSError:
        return None
    actual = hashes.sha256(path)
    return actual if actual == recorded else None


def _warn(message):
    import warnings
    warnings.warn(message, stacklevel=3)


def cache_file_name(subject, spec, hashes):
    return f"{subject.name.replace('/', '__')}-{cache_key(subject, spec, hashes)}.h5"


def prepare_subjects(subjects, spec, cache_dir=None, progress=None, cache=None, log=None):
    """PreparedSubject for every SubjectFiles, read from / written to the cache
    (``cache``, a PreparedCache, or one made for ``cache_dir``).

    Without either the volumes are prepared in memory. ``progress(i, n, name)`` is
    called before each subject. A cached file's modification time marks its last use
    (the pruning order).
    """
    if cache is None:  # this call's own cache: committed (or undone) here
        cache = PreparedCache(cache_dir)
        try:
            prepared = prepare_subjects(subjects, spec, progress=progress, cache=cache)
        except BaseException:
            cache.discard_new()
            raise
        cache.commit(log=lambda *_: None)
        return prepared
    prepared = []
    if cache.folder is not None:
        cache.folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(cache.folder)  # half-written files of killed runs
        check_space(cache, subjects, spec, log)
    for index, subject in enumerate(subjects):
        if progress:
            progress(index, len(subjects), subject.name)
        if cache.folder is None:
            prepared.append(prepare_subject(subject, spec))
            continue
        path = cache.folder / cache_file_name(subject, spec, cache.hashes)
        if path.exists():
            verified = verified_checksum(path, cache.hashes)
            if verified is None:
                (log or _warn)(f"cache: the prepared volumes of {subject.name} ({path}) do not "
                               "match the checksum recorded when they were written (changed "
                               "since, or made by an older version): preparing them again")
                path.unlink()
            else:
                os.utime(path)  # used now: the last to be pruned
                cache.hashes.restamp(path, verified)
        if not path.exists():
            save_prepared(path, prepare_subject(subject, spec))
            checksum_path(path).write_text(cache.hashes.sha256(path) + "\n")
            cache.added.append(path)
        cache.used.append(path)
        prepared.append(load_prepared(path, subject.name, subject.group,
                                      list(subject.modality_files)))
    return prepared
