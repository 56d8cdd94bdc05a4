"""Dataset layouts (paper §III; docs/design.md, Decisions), defined once: what a subject's files are called,
which label values form which class, where background voxels come from, and over which
voxels each scan is normalized.

File patterns are shell globs. A pattern without ``{subject}`` names a file inside a
subject's folder (the folder, found anywhere under the data directory, is the subject);
a pattern with ``{subject}`` is matched against the path relative to the data
directory, so flat layouts work too: ``images/{subject}_T1.nii.gz``. Each entry is a
tuple of alternatives (e.g. the BraTS 2017–2021 and 2023 names).
"""
from dataclasses import dataclass, field, replace

NONZERO = "nonzero"  # a class made of every label value > 0.5 (e.g. all tumor labels)


@dataclass(frozen=True)
class DatasetSpec:
    """How to read one kind of multi-modal dataset.

    modalities:   modality name → tuple of glob alternatives.
    label:        glob alternatives for the label map.
    mask:         glob alternatives for an optional mask (brain mask); None: nonzero voxels.
    classes:      foreground class name → tuple of label values, or NONZERO.
    background:   "mask": mask minus foreground; "dilation": foreground dilated by
                  ``dilation_voxels`` minus foreground (OAI).
    normalization: "mask": zero mean / unit SD inside the mask; "sampling": inside the
                  foreground + background voxels (OAI).
    group_pattern: regular expression on the subject name whose first group (or whole
                  match) is the subject id that keeps visits in one fold.
    channels:     modality name → channel index, for modalities stored as one channel of
                  a 4-D file (several modalities may share a file; it is read once).
    layout:       "glob" (the patterns find the files) or "msd" (a Decathlon task folder:
                  ``dataset.json`` lists the subjects and names the channels, which
                  ``msd_names`` maps to the modality names; the patterns are unused).
    """
    name: str
    modalities: dict
    label: tuple
    mask: tuple = None
    classes: dict = field(default_factory=lambda: {"foreground": NONZERO})
    background_name: str = "background"
    background: str = "mask"
    dilation_voxels: int = 10
    normalization: str = "mask"
    group_pattern: str = r".+"
    mask_required: bool = False
    channels: dict = field(default_factory=dict)
    layout: str = "glob"  # "glob": files found by the patterns; "msd": listed in dataset.json
    msd_names: dict = field(default_factory=dict)  # dataset.json channel name → modality

    @property
    def modality_names(self):
        return list(self.modalities)

    @property
    def class_names(self):
        """Class index → name; the background class comes first (index 0)."""
        return [self.background_name, *self.classes]

    def with_modalities(self, names):
        """The same layout restricted to a subset (≥ 2) of its modalities, in that order."""
        unknown = [name for name in names if name not in self.modalities]
        if unknown:
            raise ValueError(f"dataset layout {self.name!r} has no modality {unknown}; it has "
                             f"{self.modality_names}")
        if len(names) < 2:
            raise ValueError(f"cross-modality learning needs at least two modalities, got {names}")
        return replace(self, modalities={name: self.modalities[name] for name in names},
                       channels={n: c for n, c in self.channels.items() if n in names})

    def with_overrides(self, modalities=None, label=None, mask=None, classes=None,
                       group_pattern=None, channels=None):
        """The layout with user-given patterns (None keeps the layout's)."""
        spec = self
        if channels:
            unknown = sorted(set(channels) - set(modalities or spec.modalities))
            if unknown:
                raise ValueError(f"channels given for unknown modalities {unknown}")
            spec = replace(spec, channels={**spec.channels, **channels})
        if modalities:
            if set(modalities) <= set(spec.modalities):  # new patterns for known modalities
                merged = {**{n: spec.modalities[n] for n in modalities}, **modalities}
            else:
                merged = dict(modalities)
            if len(merged) < 2:
                raise ValueError("cross-modality learning needs at least two modalities, got "
                                 f"{list(merged)}")
            spec = replace(spec, modalities={n: _alternatives(p) for n, p in merged.items()})
        if label:
            spec = replace(spec, label=_alternatives(label))
        if mask:
            spec = replace(spec, mask=_alternatives(mask), mask_required=True)
        if classes:
            spec = replace(spec, classes=dict(classes))
        if group_pattern:
            spec = replace(spec, group_pattern=group_pattern)
        return spec


def _alternatives(patterns):
    return (patterns,) if isinstance(patterns, str) else tuple(patterns)


def _nifti(*stems):
    return tuple(f"{stem}{extension}" for stem in stems for extension in (".nii.gz", ".nii"))


DATASET_LAYOUTS = {
    # OAI iMorphics: label values 1–4 cartilage plates, 5–6 menisci (configurable).
    "oai": DatasetSpec(
        name="oai",
        modalities={"N": _nifti("N", "*_N"), "FS": _nifti("FS", "*_FS")},
        label=_nifti("labels", "*_labels", "*_seg"),
        classes={"cartilage": (1, 2, 3, 4), "meniscus": (5, 6)},
        background="dilation", dilation_voxels=10, normalization="sampling",
        group_pattern=r"^([^/_\-]+)",
    ),
    # BraTS 2017–2021 (*_t1, *_t1ce, *_t2, *_flair, *_seg) and 2023 (t1n, t1c, t2w, t2f, seg).
    "brats": DatasetSpec(
        name="brats",
        modalities={"T1": _nifti("*_t1", "*-t1n"), "T1c": _nifti("*_t1ce", "*-t1c"),
                    "T2": _nifti("*_t2", "*-t2w"), "FLAIR": _nifti("*_flair", "*-t2f")},
        label=_nifti("*_seg", "*-seg"),
        mask=_nifti("*_brainmask", "*-brainmask", "*_mask"),
        classes={"tumor": NONZERO}, background_name="non-tumor",
        background="mask", normalization="mask",
    ),
    # Medical Segmentation Decathlon Task01_BrainTumour (BraTS 2016/17): 4-D images whose
    # channels dataset.json names; every tumour label (1 edema, 2 non-enhancing, 3
    # enhancing) is "tumor"; brain mask = nonzero in any channel.
    "msd-brats": DatasetSpec(
        name="msd-brats", layout="msd",
        modalities={"FLAIR": (), "T1": (), "T1c": (), "T2": ()}, label=("dataset.json",),
        msd_names={"FLAIR": "FLAIR", "T1w": "T1", "t1gd": "T1c", "T2w": "T2"},
        classes={"tumor": NONZERO}, background_name="non-tumor",
        background="mask", normalization="mask",
    ),
    # open_ms_data (Lesjak et al.): patientNN folders, MNI space, consensus lesion masks.
    "open-ms": DatasetSpec(
        name="open-ms",
        modalities={"FLAIR": ("FLAIR_*.nii.gz",), "T1": ("T1_*.nii.gz",),
                    "T1POST": ("T1POST_*.nii.gz",), "T2": ("T2_*.nii.gz",)},
        label=("GOLD_STANDARD_*.nii.gz",), classes={"lesion": NONZERO},
        background_name="non-lesion", background="mask", normalization="mask",
    ),
    # Any names: give --modality NAME=GLOB (at least two) and --label GLOB.
    "folder": DatasetSpec(name="folder", modalities={}, label=(), mask=None,
                          background="mask", normalization="mask"),
}


def dataset_spec(layout, modalities=None, label=None, mask=None, classes=None,
                 group_pattern=None, select=None, channels=None):
    """A dataset layout with overrides; ``select`` keeps a subset of its modalities;
    ``channels`` maps modality names to channels of 4-D files."""
    if layout not in DATASET_LAYOUTS:
        raise ValueError(f"unknown dataset layout {layout!r}; choose from {sorted(DATASET_LAYOUTS)}")
    spec = DATASET_LAYOUTS[layout].with_overrides(modalities, label, mask, classes, group_pattern,
                                          channels)
    if select:
        spec = spec.with_modalities(list(select))
    if len(spec.modalities) < 2:
        raise ValueError(f"dataset layout {layout!r} needs at least two modalities: give them as "
                         "NAME=GLOB (e.g. --modality FLAIR='FLAIR_*.nii.gz')")
    if not spec.label:
        raise ValueError(f"dataset layout {layout!r} needs a label file pattern (e.g. --label "
                         "'GOLD_STANDARD_*.nii.gz')")
    return spec
