"""Single scans for segmentation: one modality's image of a subject, with its label map
and mask where they exist, prepared as Table I prepares a modality (normalized to zero
mean and unit SD inside the mask, zero-padded by the patch radius); and maps written on
the scan's own grid (its affine and header).

A target scan needs nothing but its image: the point of cross-modality segmentation is
that its modality has no labels. Its mask is the mask file where one is given, else the
image's nonzero voxels (skull-stripped scans), as for the ``mask`` normalization.
"""
import os
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from runtime.files import atomic_path

from .errors import DataError
from .subjects import _match_files, require_data_folder
from .volumes import (MASK_THRESHOLD, PATCH_RADIUS, _check_same_grid, check_label_map,
                      normalize, read_volume)


@dataclass
class ScanFiles:
    subject: str
    image: Path
    label: Path = None
    mask: Path = None


@dataclass
class Scan:
    subject: str
    image: Path
    volume: np.ndarray  # (X + 2r, Y + 2r, Z + 2r) float32: normalized in the mask, padded
    region: np.ndarray  # (X, Y, Z) bool: the mask (where maps are computed)
    labels: np.ndarray  # (X, Y, Z) float32 label values, or None
    label_file: Path
    affine: np.ndarray
    header: object  # the image's nibabel header

    @property
    def shape(self):
        return self.region.shape


def find_scans(data_dir, image, label=None, mask=None, subjects=None):
    """ScanFiles for every subject under ``data_dir`` with a file matching ``image`` (a
    glob, or a {subject} pattern as for --modality); ``label`` / ``mask`` where a file
    of that subject matches (optional: a scan without a label map is still segmented).
    ``subjects``: keep only these names (each must be found)."""
    data_dir = require_data_folder(data_dir)
    relative = sorted(os.path.relpath(os.path.join(root, name), data_dir).replace(os.sep, "/")
                      for root, _, names in os.walk(data_dir, followlinks=True) for name in names)
    found = {kind: _match_files(relative, [pattern]) if pattern else {}
             for kind, pattern in (("image", image), ("label", label), ("mask", mask))}
    names = sorted(found["image"])
    if subjects is not None:
        unknown = [name for name in subjects if name not in found["image"]]
        if unknown:
            raise DataError(f"no {image!r} file for subject(s) {', '.join(unknown)} under "
                            f"{data_dir}; found {', '.join(names[:8]) or 'none'}")
        names = [name for name in names if name in set(subjects)]
    if not names:
        raise DataError(f"no file under {data_dir} matches {image!r}")
    scans = []
    for name in names:
        chosen = {}
        for kind in ("image", "label", "mask"):
            paths = sorted(found[kind].get(name, ()))
            if len(paths) > 1:
                raise DataError(f"{data_dir / name}: {len(paths)} files match the {kind} "
                                f"pattern: {', '.join(paths)}; make the pattern specific")
            chosen[kind] = data_dir / paths[0] if paths else None
        scans.append(ScanFiles(name, chosen["image"], chosen["label"], chosen["mask"]))
    return scans


def read_scan(files):
    """The Scan of ScanFiles: image, mask (file or nonzero voxels), labels if any."""
    volume, affine = read_volume(files.image)
    header = nib.load(str(files.image)).header
    if files.mask is not None:
        mask, mask_affine = read_volume(files.mask)
        _check_same_grid(files.image, volume, files.mask, mask, affine, mask_affine)
        region = mask > MASK_THRESHOLD
        where = files.mask
    else:
        region = volume != 0
        where = f"{files.image} (its nonzero voxels; give a mask pattern otherwise)"
    if not region.any():
        raise DataError(f"{where}: the mask has no voxels")
    labels = None
    if files.label is not None:
        labels, label_affine = read_volume(files.label)
        _check_same_grid(files.image, volume, files.label, labels, affine, label_affine)
        check_label_map(labels, files.label)
    # The whole volume normalized with the mask's statistics, as Table I prepares it.
    padded = np.pad(normalize(volume, region, files.image), PATCH_RADIUS)
    return Scan(files.subject, files.image, padded.astype(np.float32), region, labels,
                files.label, affine, header)


def write_map(path, values, scan):
    """A NIfTI map on the scan's grid with the scan's affine and header (its data type
    set to that of ``values``); written atomically, so a killed run leaves no half map."""
    values = np.asarray(values)
    if values.shape[:3] != scan.shape:
        raise ValueError(f"a map of shape {values.shape} does not fit the scan's grid "
                         f"{scan.shape}")
    header = scan.header.copy()
    header.set_data_dtype(values.dtype)
    header.set_data_shape(values.shape)
    image = nib.Nifti1Image(values, scan.affine, header)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:  # keeps the suffix: nibabel picks the format by it
        nib.save(image, str(temporary))
    return path
