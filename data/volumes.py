"""Reading and preparing a subject's volumes (paper §III): every file read with nibabel
and checked (3-D, finite, one grid for all), labels merged into classes, each modality
normalized and zero-padded.

A prepared subject holds every modality normalized and zero-padded by the patch radius
(so any 15³ patch centred inside the volume is a plain slice), plus a class map: 0 for
voxels that are never sampled, c + 1 for voxels of class c (``spec.class_names``).
"""
from dataclasses import dataclass

import nibabel as nib
import numpy as np
from scipy import ndimage

from .errors import DataError
from .layouts import NONZERO

PATCH_RADIUS = 7  # 15³ patches
MASK_THRESHOLD = 0.5  # masks and labels in the wild are floats such as 0.99999997


@dataclass
class PreparedSubject:
    name: str
    group: str
    modality_names: list
    class_names: list
    volumes: np.ndarray  # (M, X + 2r, Y + 2r, Z + 2r) float32, normalized, zero-padded
    class_map: np.ndarray  # (X, Y, Z) uint8: 0 never sampled, c + 1 class c

    @property
    def shape(self):
        return self.class_map.shape

    def class_voxel_counts(self):
        counts = np.bincount(self.class_map.ravel(), minlength=len(self.class_names) + 1)
        return dict(zip(self.class_names, counts[1:].tolist()))


# Larger than any MRI along one axis (0.1 mm over 40 cm): a header beyond it is damaged.
MAX_AXIS_VOXELS = 4096


# -- loading and validation -----------------------------------------------------------------
def read_image(path):
    """A NIfTI image's voxels as float32 (any number of dimensions) and its affine."""
    try:
        image = nib.load(str(path))
        if any(size > MAX_AXIS_VOXELS for size in image.shape[:3]):
            raise DataError(f"{path}: its header declares "
                            f"{' × '.join(map(str, image.shape[:3]))} voxels, more than "
                            f"{MAX_AXIS_VOXELS:,} along an axis: not a scan this project can "
                            "prepare (a damaged header, or not an image?)")
        data = np.asarray(image.dataobj, dtype=np.float32)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except DataError:
        raise
    except Exception as error:  # nibabel raises many kinds for broken files
        reason = str(error) or type(error).__name__
        raise DataError(f"{path}: cannot be read as NIfTI ({reason})") from error
    return data, image.affine


def read_volume(path, channel=None, image=None):
    """A 3-D NIfTI volume as float32 plus its affine; clear errors for bad files.

    ``channel``: take channel N of a 4-D file (X, Y, Z, C). ``image``: the already read
    (voxels, affine) of ``path``, so that a 4-D file holding several modalities is read once.
    """
    data, affine = image if image is not None else read_image(path)
    if channel is not None:
        if data.ndim != 4:
            raise DataError(f"{path}: channel {channel} asked for, but the image is "
                            f"{data.ndim}-D with shape {data.shape}")
        if not 0 <= channel < data.shape[3]:
            raise DataError(f"{path}: channel {channel} asked for, but the image has "
                            f"{data.shape[3]} channels (0 to {data.shape[3] - 1})")
        data = data[..., channel]
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise DataError(f"{path}: expected a 3-D volume, got shape {data.shape} (give the "
                        "channel of a 4-D file as NAME=GLOB#CHANNEL, or split it into one "
                        "file per modality)")
    if not np.all(np.isfinite(data)):
        bad = int(np.size(data) - np.count_nonzero(np.isfinite(data)))
        raise DataError(f"{path}: {bad} voxels are NaN or infinite")
    return data, affine


def _check_same_grid(reference_path, reference, path, volume, reference_affine, affine):
    if volume.shape != reference.shape:
        raise DataError(f"{path} has shape {volume.shape} but {reference_path} has "
                        f"{reference.shape}: the volumes of a subject must share one grid")
    if not np.allclose(affine, reference_affine, atol=1e-3):
        raise DataError(f"{path} and {reference_path} have different affines: the volumes of "
                        "a subject must be co-registered on one grid")


MAX_LABEL_VALUES = 256  # distinct values a label map may hold (an image holds thousands)
LABEL_TOLERANCE = 0.01  # how far from a whole number a stored label may be (float rounding)


def check_label_map(labels, path="label map"):
    """A label map holds whole numbers (to within ``LABEL_TOLERANCE``) and few distinct
    values (at most ``MAX_LABEL_VALUES``): an image given as --label by mistake is refused
    instead of being read as thousands of classes or thresholded into one."""
    off = np.abs(labels - np.rint(labels)) > LABEL_TOLERANCE
    if off.any():
        example = float(labels[off].flat[0])
        raise DataError(f"{path}: {int(off.sum())} voxels hold values that are not whole "
                        f"numbers (e.g. {example:g}); a label map holds whole-number labels. "
                        "Is it an image rather than a label map? (check --label)")
    distinct = np.unique(np.rint(labels).astype(np.int64))
    if len(distinct) > MAX_LABEL_VALUES:
        raise DataError(f"{path}: holds {len(distinct)} distinct values (from {distinct[0]} to "
                        f"{distinct[-1]}); a label map holds at most {MAX_LABEL_VALUES}. Is it "
                        "an image rather than a label map? (check --label)")


def class_map_from_labels(labels, region_mask, spec, label_path="label map"):
    """uint8 map: c + 1 where a voxel belongs to class c (background = class 0), else 0."""
    foreground = np.zeros(labels.shape, dtype=np.uint8)
    rounded = np.rint(labels).astype(np.int64)
    for index, (class_name, values) in enumerate(spec.classes.items(), start=2):
        if values == NONZERO:
            members = labels > MASK_THRESHOLD
        else:
            members = np.isin(rounded, np.asarray(values, dtype=np.int64))
        if not members.any():
            present = np.unique(rounded)[:20].tolist()
            raise DataError(f"{label_path}: no voxel of class {class_name!r} (label values "
                            f"{values}); the label map holds values {present}")
        foreground[members & (foreground == 0)] = index
    is_foreground = foreground > 0
    if spec.background == "dilation":
        structure = ndimage.generate_binary_structure(3, 1)
        band = ndimage.binary_dilation(is_foreground, structure, iterations=spec.dilation_voxels)
        background = band & ~is_foreground
        if region_mask is not None:
            background &= region_mask
    else:
        background = region_mask & ~is_foreground
    if not background.any():
        raise DataError(f"{label_path}: no background voxel is left outside the foreground")
    class_map = foreground
    class_map[background] = 1
    return class_map


def prepare_subject(subject, spec):
    """Reads, validates, normalizes and pads one subject's volumes."""
    reference_path = None
    volumes, images = [], {}
    for modality, path in subject.modality_files.items():
        channel = subject.channel(modality)
        if channel is not None and path not in images:
            images[path] = read_image(path)  # a 4-D file is read once for all its channels
        volume, affine = read_volume(path, channel, images.get(path))
        if reference_path is None:
            reference_path, reference, reference_affine = path, volume, affine
        else:
            _check_same_grid(reference_path, reference, path, volume, reference_affine, affine)
        volumes.append(volume)
    labels, affine = read_volume(subject.label_file)
    _check_same_grid(reference_path, reference, subject.label_file, labels, reference_affine, affine)
    check_label_map(labels, subject.label_file)
    if subject.mask_file is not None:
        mask, affine = read_volume(subject.mask_file)
        _check_same_grid(reference_path, reference, subject.mask_file, mask, reference_affine,
                         affine)
        region_mask = mask > MASK_THRESHOLD
        if not region_mask.any():
            raise DataError(f"{subject.mask_file}: the mask is empty")
    elif spec.background == "mask" or spec.normalization == "mask":
        # Nonzero in any modality, and in any channel of a 4-D file (also those not used).
        region_mask = np.any([volume != 0 for volume in volumes]
                             + [np.any(voxels != 0, axis=3) for voxels, _ in images.values()],
                             axis=0)
        if not region_mask.any():
            raise DataError(f"subject {subject.name}: every voxel is zero in every modality")
    else:
        region_mask = None
    class_map = class_map_from_labels(labels, region_mask, spec, subject.label_file)
    normalization_region = region_mask if spec.normalization == "mask" else class_map > 0
    padded = np.zeros((len(volumes), *[size + 2 * PATCH_RADIUS for size in reference.shape]),
                      dtype=np.float32)
    inner = (slice(PATCH_RADIUS, -PATCH_RADIUS),) * 3
    for index, (path, volume) in enumerate(zip(subject.modality_files.values(), volumes)):
        channel = subject.channel(list(subject.modality_files)[index])
        padded[index][inner] = normalize(volume, normalization_region,
                                         path if channel is None else f"{path}#{channel}")
    return PreparedSubject(subject.name, subject.group, list(subject.modality_files),
                           spec.class_names, padded, class_map)


def normalize(volume, region, path="volume"):
    """Zero mean and unit standard deviation over the voxels of ``region``."""
    values = volume[region]
    standard_deviation = values.std(dtype=np.float64)
    if not standard_deviation > 0:
        raise DataError(f"{path}: constant intensity inside the normalization region; "
                        "cannot normalize to unit standard deviation")
    return ((volume - values.mean(dtype=np.float64)) / standard_deviation).astype(np.float32)
