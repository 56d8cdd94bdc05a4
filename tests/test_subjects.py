"""Finding subjects (data/subjects.py) and dataset layouts (data/layouts.py) in hand-made folders."""

import numpy as np
import pytest

from data import (DataError, dataset_spec, find_subjects)
from data.synthetic import write_brain_phantoms

from tests.data_files import folder_spec, save, write_subject


def test_brats_2017_and_2023_names_and_modality_subsets(tmp_path):
    write_brain_phantoms(tmp_path / "old", subjects=1)
    spec = dataset_spec("brats", select=["FLAIR", "T1c"])
    (subject,) = find_subjects(tmp_path / "old", spec)
    assert [p.name for p in subject.modality_files.values()] == \
        ["Synthetic_001_flair.nii.gz", "Synthetic_001_t1ce.nii.gz"]
    new = tmp_path / "new" / "BraTS-GLI-00000-000"
    for suffix in ("t1n", "t1c", "t2w", "t2f", "seg"):
        save(new / f"BraTS-GLI-00000-000-{suffix}.nii.gz", np.ones((4, 4, 4)))
    (subject,) = find_subjects(tmp_path / "new", dataset_spec("brats"))
    assert subject.modality_files["T2"].name.endswith("-t2w.nii.gz")
    assert subject.label_file.name.endswith("-seg.nii.gz")


def test_flat_layout_with_subject_placeholder_and_groups(tmp_path):
    for name in ("p1_v1", "p1_v2", "p2_v1"):
        for modality in ("a", "b", "lab"):
            save(tmp_path / "images" / f"{name}_{modality}.nii", np.ones((3, 3, 3)))
    spec = dataset_spec("folder", modalities={"A": "images/{subject}_a.nii",
                                              "B": "images/{subject}_b.nii"},
                        label="images/{subject}_lab.nii", group_pattern=r"^(p\d+)")
    subjects = find_subjects(tmp_path, spec)
    assert [(s.name, s.group) for s in subjects] == [("p1_v1", "p1"), ("p1_v2", "p1"), ("p2_v1", "p2")]


def test_missing_modality_file_names_the_subject(tmp_path):
    write_subject(tmp_path / "s1")
    (tmp_path / "s1" / "B.nii.gz").unlink()
    with pytest.raises(DataError, match=r"missing file: subject .*s1 has no modality B"):
        find_subjects(tmp_path, folder_spec())


def test_ambiguous_pattern_and_no_subjects_are_errors(tmp_path):
    write_subject(tmp_path / "s1")
    with pytest.raises(DataError, match="no subject found"):
        find_subjects(tmp_path, folder_spec(modalities={"A": "x*.nii", "B": "y*.nii"}))
    with pytest.raises(DataError, match="several files"):
        find_subjects(tmp_path, folder_spec(modalities={"A": "A.nii.gz", "B": "*.nii.gz"},
                                            label="seg.nii.gz"))
    with pytest.raises(DataError, match="match more than one modality pattern"):
        find_subjects(tmp_path, folder_spec(modalities={"A": "A.nii.gz", "B": "A.nii*"}))
    with pytest.raises(DataError, match="does not exist"):
        find_subjects(tmp_path / "nowhere", folder_spec())


def test_dataset_layout_errors_are_clear():
    with pytest.raises(ValueError, match="unknown dataset layout"):
        dataset_spec("mri")
    with pytest.raises(ValueError, match="at least two modalities"):
        dataset_spec("folder", label="seg.nii.gz")
    with pytest.raises(ValueError, match="no modality"):
        dataset_spec("brats", select=["T1", "PD"])
