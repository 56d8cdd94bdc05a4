"""Finding subjects on disk and preparing their volumes (paper §III, SPEC §3).

A prepared subject holds every modality normalized and zero-padded by the patch radius
(so any 15³ patch centred inside the volume is a plain slice), plus a class map: 0 for
voxels that are never sampled, c + 1 for voxels of class c (``spec.class_names``).
"""
import json
import os
import re
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

from .presets import NONZERO

PATCH_RADIUS = 7  # 15³ patches
MASK_THRESHOLD = 0.5  # masks and labels in the wild are floats such as 0.99999997


class DataError(ValueError):
    """Bad input data; the message names the file(s) and the problem."""


@dataclass
class SubjectFiles:
    name: str
    group: str
    modality_files: dict
    label_file: Path
    mask_file: Path = None
    channels: dict = None  # modality → channel of a 4-D file (None: 3-D files)

    def channel(self, modality):
        return (self.channels or {}).get(modality)


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


# -- discovery ----------------------------------------------------------------------------
def _pattern_regex(pattern):
    """A glob (with an optional {subject} placeholder) as a regex on relative paths."""
    if "{subject}" in pattern:
        before, after = pattern.split("{subject}", 1)
        return re.compile(_glob_regex(before) + r"(?P<subject>[^/]+?)" + _glob_regex(after) + r"\Z")
    # A plain file pattern: the folder that holds the file is the subject.
    return re.compile(r"(?:(?P<subject>.+)/)?" + _glob_regex(pattern) + r"\Z")


def _glob_regex(glob):
    parts = []
    for piece in re.split(r"(\*\*/|\*|\?)", glob):
        parts.append({"**/": r"(?:.*/)?", "*": r"[^/]*", "?": r"[^/]"}.get(piece, re.escape(piece)))
    return "".join(parts)


def _match_files(relative_paths, alternatives):
    """subject name → list of matching paths, over every glob alternative."""
    matches = {}
    for pattern in alternatives:
        regex = _pattern_regex(pattern)
        for path in relative_paths:
            found = regex.match(path)
            if found:
                matches.setdefault(found.group("subject") or ".", set()).add(path)
    return matches


def find_subjects(data_dir, spec):
    """Every subject under ``data_dir`` (searched recursively) that the spec describes.

    Raises DataError naming the folder when a subject lacks a modality, label or a
    required mask, or when a pattern matches several files of one subject.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"data directory {data_dir} does not exist or is not a folder")
    if spec.layout == "msd":
        return find_msd_subjects(data_dir, spec)
    relative_paths = sorted(
        os.path.relpath(os.path.join(root, name), data_dir).replace(os.sep, "/")
        for root, _, names in os.walk(data_dir, followlinks=True) for name in names)
    by_modality = {name: _match_files(relative_paths, alternatives)
                   for name, alternatives in spec.modalities.items()}
    labels = _match_files(relative_paths, spec.label)
    masks = _match_files(relative_paths, spec.mask) if spec.mask else {}
    names = sorted(set().union(*by_modality.values()))
    if not names:
        described = "; ".join(f"{n}: {' | '.join(p)}" for n, p in spec.modalities.items())
        raise DataError(f"no subject found under {data_dir}: no file matches the modality "
                        f"patterns ({described})")
    group_regex = re.compile(spec.group_pattern)
    subjects = []
    for name in names:
        where = data_dir / name if name != "." else data_dir
        files = {}
        for modality, matches in by_modality.items():
            files[modality] = _single(matches.get(name), f"modality {modality} "
                                      f"({' | '.join(spec.modalities[modality])})", where, data_dir)
        label = _single(labels.get(name), f"label map ({' | '.join(spec.label)})", where, data_dir)
        mask = None
        if masks.get(name) or spec.mask_required:
            mask = _single(masks.get(name), f"mask ({' | '.join(spec.mask)})", where, data_dir)
        found = group_regex.search(name)
        group = (found.group(1) if found and found.groups() else found.group(0)) if found else name
        subjects.append(SubjectFiles(name, group, files, label, mask,
                                     {m: spec.channels[m] for m in files if m in spec.channels}))
    uses = Counter((path, subject.channel(modality)) for subject in subjects
                   for modality, path in subject.modality_files.items())
    duplicated = sorted(str(path) + ("" if channel is None else f"#{channel}")
                        for (path, channel), count in uses.items() if count > 1)
    if duplicated:
        raise DataError(f"files match more than one modality pattern: {duplicated}")
    return subjects


def find_msd_subjects(data_dir, spec):
    """The labelled subjects of a Medical Segmentation Decathlon task, as ``dataset.json``
    lists them (never by scanning: the archives carry macOS ``._*`` files). Each subject
    is one 4-D image whose channels ``dataset.json`` names ("modality"); ``spec.msd_names``
    maps those names to the spec's modality names."""
    index = data_dir / "dataset.json"
    if not index.exists():
        raise DataError(f"{data_dir} has no dataset.json: not a Decathlon task folder (give the "
                        "folder that holds dataset.json, imagesTr/ and labelsTr/)")
    try:
        description = json.loads(index.read_text())
        names = {int(channel): name for channel, name in description["modality"].items()}
        cases = description["training"]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise DataError(f"{index}: not a Decathlon dataset.json ({error!r})") from None
    channel_of = {spec.msd_names.get(name, name): channel for channel, name in names.items()}
    missing = [m for m in spec.modalities if m not in channel_of]
    if missing:
        raise DataError(f"{index} has no channel for {missing}; its channels are "
                        f"{', '.join(f'{c}: {n}' for c, n in sorted(names.items()))}")
    subjects = []
    for case in cases:
        try:
            image, label = data_dir / case["image"], data_dir / case["label"]
        except (KeyError, TypeError):
            raise DataError(f"{index}: a training entry lacks image or label: {case!r}") from None
        for path in (image, label):
            if not path.exists():
                raise DataError(f"missing file: {path} (listed in {index})")
        name = image.name.split(".")[0]
        subjects.append(SubjectFiles(name, name, {m: image for m in spec.modalities}, label,
                                     None, {m: channel_of[m] for m in spec.modalities}))
    if not subjects:
        raise DataError(f"{index} lists no training subject")
    return subjects


def _single(matches, what, where, data_dir):
    if not matches:
        raise DataError(f"missing file: subject {where} has no {what}")
    if len(matches) > 1:
        raise DataError(f"ambiguous: subject {where} has several files for {what}: "
                        f"{sorted(matches)}")
    return data_dir / next(iter(matches))


# -- loading and validation -----------------------------------------------------------------
def read_image(path):
    """A NIfTI image's voxels as float32 (any number of dimensions) and its affine."""
    try:
        image = nib.load(str(path))
        data = np.asarray(image.dataobj, dtype=np.float32)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except Exception as error:  # nibabel raises many kinds for broken files
        raise DataError(f"{path}: cannot be read as NIfTI ({error})") from error
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

