"""Balanced patch centres, and 15³ patches cut at the same position from every
modality (paper §III).

Volumes are stored zero-padded by the patch radius, so the patch centred on voxel
(x, y, z) of the original volume is the slice [x : x + 15, y : y + 15, z : z + 15] of the
padded one: the border is zero-padded for free. At paper scale patches are never all
materialized: a ``PatchTable`` keeps (subject, centre, label) rows and cuts patches in
batches from the (memory-mapped) volumes.
"""
import warnings

import numpy as np

from .errors import DataError
from .volumes import PATCH_RADIUS

PATCH_SIZE = 2 * PATCH_RADIUS + 1


def gather_patches(padded_volumes, centers, out=None):
    """(N, M, 15, 15, 15) float32 patches around ``centers`` (N, 3) of the unpadded volume.

    ``padded_volumes``: (M, X + 14, Y + 14, Z + 14), e.g. ``PreparedSubject.volumes`` or a
    memory map of it. One slice copy per patch covers every modality at once; sorted
    centres are faster (memory locality), but any order works.
    """
    centers = np.asarray(centers)
    if centers.ndim != 2 or centers.shape[1] != 3:
        raise ValueError(f"centers must have shape (N, 3), got {centers.shape}")
    inner_shape = np.array(padded_volumes.shape[1:]) - 2 * PATCH_RADIUS
    if len(centers) and (centers.min() < 0 or np.any(centers.max(0) >= inner_shape)):
        raise ValueError(f"patch centres outside the volume of shape {tuple(inner_shape)}")
    if out is None:
        out = np.empty((len(centers), padded_volumes.shape[0], PATCH_SIZE, PATCH_SIZE, PATCH_SIZE),
                       dtype=np.float32)
    for row, (x, y, z) in enumerate(centers.tolist()):
        out[row] = padded_volumes[:, x:x + PATCH_SIZE, y:y + PATCH_SIZE, z:z + PATCH_SIZE]
    return out


class PatchTable:
    """Rows of (subject, centre, label) over several prepared subjects.

    ``gather(rows)`` cuts the patches of the given rows, (len(rows), M, 15, 15, 15);
    ``materialize()`` cuts them all (only for what fits in memory).
    """

    def __init__(self, subjects, centers_by_subject, labels_by_subject):
        if not subjects:
            raise ValueError("a patch table needs at least one subject")
        self.subjects = list(subjects)
        self.modality_names = self.subjects[0].modality_names
        self.class_names = self.subjects[0].class_names
        self.subject_index = np.concatenate(
            [np.full(len(c), i, dtype=np.int32) for i, c in enumerate(centers_by_subject)])
        self.centers = np.concatenate(centers_by_subject).astype(np.int32)
        self.labels = np.concatenate(labels_by_subject).astype(np.int32)

    def __len__(self):
        return len(self.labels)

    @property
    def groups(self):
        """The fold group (subject id) of every row."""
        return np.array([self.subjects[i].group for i in self.subject_index])

    def subset(self, subject_names):
        """The rows that belong to the named subjects, as a new table."""
        keep = [i for i, s in enumerate(self.subjects) if s.name in set(subject_names)]
        rows = [np.flatnonzero(self.subject_index == i) for i in keep]
        return PatchTable([self.subjects[i] for i in keep], [self.centers[r] for r in rows],
                          [self.labels[r] for r in rows])

    def gather(self, rows):
        rows = np.asarray(rows)
        out = np.empty((len(rows), len(self.modality_names), PATCH_SIZE, PATCH_SIZE, PATCH_SIZE),
                       dtype=np.float32)
        subject_of_row = self.subject_index[rows]
        for subject in np.unique(subject_of_row):
            selected = np.flatnonzero(subject_of_row == subject)
            out[selected] = gather_patches(self.subjects[subject].volumes,
                                           self.centers[rows[selected]])
        return out

    def materialize(self, batch_size=65536):
        out = np.empty((len(self), len(self.modality_names), PATCH_SIZE, PATCH_SIZE, PATCH_SIZE),
                       dtype=np.float32)
        for start in range(0, len(self), batch_size):
            rows = np.arange(start, min(start + batch_size, len(self)))
            out[rows] = self.gather(rows)
        return out

    def nbytes(self):
        return len(self) * len(self.modality_names) * PATCH_SIZE ** 3 * 4


def sample_centers(class_map, patches_per_class, rng, class_names=None, subject="subject"):
    """Balanced patch centres: ``patches_per_class`` voxels of every class.

    Returns (centers (N, 3) int32 in volume coordinates, labels (N,) int32), class-major.
    A class with fewer voxels is sampled with replacement (with a warning); a class with
    none is an error.
    """
    class_count = int(class_map.max()) if class_names is None else len(class_names)
    class_names = class_names or [str(c) for c in range(class_count)]
    flat = class_map.ravel()
    centers, labels = [], []
    for index in range(class_count):
        candidates = np.flatnonzero(flat == index + 1)
        if len(candidates) == 0:
            raise DataError(f"{subject}: class {class_names[index]!r} has no voxels to sample")
        replace = len(candidates) < patches_per_class
        if replace:
            warnings.warn(f"{subject}: class {class_names[index]!r} has only {len(candidates)} "
                          f"voxels for {patches_per_class} patches; sampling with replacement",
                          stacklevel=2)
        chosen = np.sort(rng.choice(candidates, patches_per_class, replace=replace))
        centers.append(np.stack(np.unravel_index(chosen, class_map.shape), axis=1))
        labels.append(np.full(patches_per_class, index))
    return np.concatenate(centers).astype(np.int32), np.concatenate(labels).astype(np.int32)
