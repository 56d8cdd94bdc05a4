"""What made each map of ``segment.py``, and what each target scan was to the network and
the forest, so that no rerun reports maps made under other options and no summary mixes
held-out scans with the forest's own training scans.

Every pair of maps (``<modality>_probability`` / ``_labels``) has a record beside it,
``<modality>_maps.json``, written last: the unit (its folder and its network's SHA-256),
the labelled scans (their files' SHA-256), the classes, the sampling, the forest and its
seed, the prior, and the target scan's files. A rerun keeps maps only when the record is
the one this call would write; a different record stops the call before any work, naming
what differs.
"""
import json
from pathlib import Path

from runtime.files import atomic_write_text, checksum_of_file

RECORD_VERSION = 1

# What a target scan was to the unit (CSV column "role"); only the first two are held out.
ROLES = {
    "held-out": "one of the unit's test subjects: seen by neither the network nor the forest",
    "unseen": "not a subject of the unit's run: seen by neither the network nor the forest",
    "network-training": "a subject the unit's network was trained on (not the forest)",
    "labelled": "a scan the forest was trained on",
}
HELD_OUT_ROLES = ("held-out", "unseen")


class Checksums:
    """SHA-256 of files, each read once per call."""

    def __init__(self):
        self.known = {}

    def __call__(self, path):
        if path is None:
            return None
        key = str(Path(path).resolve())
        if key not in self.known:
            self.known[key] = checksum_of_file(key, "sha256")
        return self.known[key]


def scan_identity(files, checksums):
    """{image, label, mask}: the SHA-256 of a ScanFiles' files (None where absent)."""
    return {"image": checksums(files.image), "label": checksums(files.label),
            "mask": checksums(files.mask)}


def maps_record(unit, labelled, target, modality, options):
    """The record of one target's maps. ``labelled``: {subject: scan_identity} of the
    forest's scans; ``target``: the target's scan_identity; ``options``: every option
    that changes a map (labelled modality, classes, patches, trees, seed, prior)."""
    record = {"version": RECORD_VERSION,
              "unit": {"folder": str(unit.directory.resolve()),
                       "network_sha256": unit.network_sha256},
              **options, "labelled_scans": labelled,
              "target": {"modality": modality, "image": target["image"],
                         "mask": target["mask"] or "nonzero voxels of the image"}}
    return json.loads(json.dumps(record))  # as it reads back: tuples become lists


def record_path(folder, modality):
    return Path(folder) / f"{modality}_maps.json"


def kept_record(folder, modality):
    """The record beside existing maps, or None (no maps, or no record of them)."""
    path = record_path(folder, modality)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_record(folder, modality, record):
    atomic_write_text(record_path(folder, modality), json.dumps(record, indent=2))


def differences(kept, wanted, prefix=""):
    """'key: kept → wanted' for every leaf that differs (hashes shortened)."""
    lines = []
    for key in sorted(set(kept) | set(wanted), key=str):
        old, new = kept.get(key), wanted.get(key)
        name = f"{prefix}{key}"
        if isinstance(old, dict) and isinstance(new, dict):
            lines += differences(old, new, f"{name}.")
        elif old != new:
            lines.append(f"{name}: {_short(old)} → {_short(new)}")
    return lines


def _short(value):
    text = json.dumps(value) if not isinstance(value, str) else value
    if isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value):
        return value[:12] + "…"  # a SHA-256
    return text if len(text) <= 60 else text[:57] + "…"


def target_role(unit, subject, target, labelled):
    """ROLES name of a target scan: labelled (its subject or its image among the forest's
    scans), held-out (one of the unit's test subjects), network-training (a subject the
    network was trained on, by name or because its image is one of the run's input files),
    else unseen."""
    labelled_images = {scan["image"] for scan in labelled.values()}
    if subject in labelled or target["image"] in labelled_images:
        return "labelled"
    if subject in unit.test_subjects:
        return "held-out"
    if subject in unit.training_subjects or target["image"] in unit.run_input_checksums:
        return "network-training"
    return "unseen"
