"""Finding subjects on disk (paper §III): the files of every modality, the label map and
the mask of each subject, by glob patterns (a folder per subject, or a {subject}
placeholder in flat layouts) or, for a Medical Segmentation Decathlon task, as its
``dataset.json`` lists them. Nothing is read here: ``volumes.py`` reads the files.
"""
import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .errors import DataError


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


def require_data_folder(data_dir):
    """``data_dir`` as a Path; a DataError naming it when it is no folder."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"data directory {data_dir} does not exist or is not a folder")
    return data_dir


def find_subjects(data_dir, spec):
    """Every subject under ``data_dir`` (searched recursively) that the spec describes.

    Raises DataError naming the folder when a subject lacks a modality, label or a
    required mask, or when a pattern matches several files of one subject.
    """
    data_dir = require_data_folder(data_dir)
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
        if found is None:
            # A pattern that misses a name would put that subject's visits in folds of
            # their own: one subject on both sides of a fold.
            raise DataError(f"--group-pattern {spec.group_pattern!r} does not match the subject "
                            f"name {name!r} (under {data_dir}); it must match every subject "
                            "name, its first group (or the whole match) being the subject id")
        group = found.group(1) if found.groups() and found.group(1) else found.group(0)
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
