"""Reading and preparing volumes (data/volumes.py) against hand-made volumes and the open_ms patients."""

import numpy as np
import pytest
from scipy import ndimage

from data import (DataError, dataset_spec, find_subjects, gather_patches,
                  prepare_subject, prepare_subjects, sample_centers)

from tests.data_files import OPEN_MS, folder_spec, save, write_subject


def test_dilation_background_excludes_the_foreground_and_stays_within_the_band(tmp_path):
    shape = (40, 40, 30)
    labels = np.zeros(shape)
    labels[18:22, 10:30, 12:18] = 1  # cartilage
    labels[10:12, 18:20, 14:16] = 5  # meniscus
    folder = tmp_path / "k1"
    save(folder / "N.nii.gz", np.random.default_rng(0).normal(size=shape))
    save(folder / "FS.nii.gz", np.random.default_rng(1).normal(size=shape))
    save(folder / "labels.nii.gz", labels)
    spec = dataset_spec("oai")
    subject = prepare_subject(find_subjects(tmp_path, spec)[0], spec)
    assert subject.class_names == ["background", "cartilage", "meniscus"]
    foreground = labels > 0
    background = subject.class_map == 1
    assert not (background & foreground).any()
    distance = ndimage.distance_transform_cdt(~foreground, metric="taxicab")
    np.testing.assert_array_equal(background, (distance >= 1) & (distance <= 10))
    # Normalized over foreground + background voxels.
    region = subject.class_map > 0
    normalized = subject.volumes[0][7:-7, 7:-7, 7:-7][region]
    assert abs(normalized.mean()) < 1e-5 and abs(normalized.std() - 1) < 1e-4


def test_normalization_gives_zero_mean_unit_sd_inside_the_mask(tmp_path):
    shape = (16, 16, 12)
    rng = np.random.default_rng(3)
    brain = np.zeros(shape, bool)
    brain[2:14, 3:13, 2:10] = True
    for name, scale in (("t1", 5.0), ("t2", 0.1)):
        save(tmp_path / "s1" / f"s1_{name}.nii.gz", np.where(brain, rng.normal(3, scale, shape), 0))
    labels = np.zeros(shape)
    labels[6:9, 6:9, 4:7] = 0.99999997  # float labels: thresholded, never compared with ==
    save(tmp_path / "s1" / "s1_seg.nii.gz", labels)
    spec = dataset_spec("brats", select=["T1", "T2"])
    subject = prepare_subject(find_subjects(tmp_path, spec)[0], spec)
    for volume in subject.volumes:
        inside = volume[7:-7, 7:-7, 7:-7][brain]
        assert abs(inside.mean()) < 1e-5 and abs(inside.std() - 1) < 1e-4
        assert np.all(volume[:7] == 0)  # zero padding
    assert subject.class_voxel_counts() == {"non-tumor": brain.sum() - 27, "tumor": 27}


@pytest.mark.parametrize("problem, message", [
    ("shape", r"B.nii.gz has shape \(12, 10, 9\) but .*A.nii.gz has \(12, 10, 8\)"),
    ("affine", "different affines"),
    ("nan", r"B.nii.gz: 1 voxels are NaN or infinite"),
    ("four_d", r"B.nii.gz: expected a 3-D volume, got shape \(12, 10, 8, 2\)"),
    ("no_class", r"seg.nii.gz: no voxel of class 'lesion'"),
    ("broken", r"B.nii.gz: cannot be read as NIfTI"),
])
def test_bad_volumes_give_errors_that_name_the_file(tmp_path, problem, message):
    folder = tmp_path / "s1"
    write_subject(folder)
    rng = np.random.default_rng(0)
    if problem == "shape":
        save(folder / "B.nii.gz", rng.normal(size=(12, 10, 9)))
    elif problem == "affine":
        save(folder / "B.nii.gz", rng.normal(size=(12, 10, 8)), np.diag([2, 1, 1, 1]))
    elif problem == "nan":
        volume = rng.normal(size=(12, 10, 8))
        volume[1, 1, 1] = np.nan
        save(folder / "B.nii.gz", volume)
    elif problem == "four_d":
        save(folder / "B.nii.gz", rng.normal(size=(12, 10, 8, 2)))
    elif problem == "no_class":
        save(folder / "seg.nii.gz", np.zeros((12, 10, 8)))
    elif problem == "broken":
        (folder / "B.nii.gz").write_bytes(b"not a nifti file")
    spec = folder_spec(classes={"lesion": "nonzero"})
    with pytest.raises(DataError, match=message):
        prepare_subject(find_subjects(tmp_path, spec)[0], spec)


def test_channels_of_a_4d_file_are_modalities_read_once(tmp_path, monkeypatch):
    import data.volumes as volumes
    rng = np.random.default_rng(5)
    for index in range(2):
        image = rng.uniform(1, 3, size=(12, 10, 8, 3))
        save(tmp_path / f"s{index}_image.nii.gz", image)
        labels = np.zeros((12, 10, 8))
        labels[4:7, 4:7, 3:5] = 1
        save(tmp_path / f"s{index}_labels.nii.gz", labels)
    spec = dataset_spec("folder", modalities={"T2": "{subject}_image.nii.gz",
                                              "T1": "{subject}_image.nii.gz"},
                        channels={"T2": 2, "T1": 0}, label="{subject}_labels.nii.gz")
    subjects = find_subjects(tmp_path, spec)
    assert [s.name for s in subjects] == ["s0", "s1"] and subjects[0].channels == {"T2": 2, "T1": 0}
    reads = []
    original = volumes.read_image
    monkeypatch.setattr(volumes, "read_image", lambda path: reads.append(path) or original(path))
    prepared = prepare_subject(subjects[1], spec)
    assert reads.count(subjects[1].modality_files["T1"]) == 1  # one read for both channels
    for m, channel in enumerate((2, 0)):
        expected = (image[..., channel] - image[..., channel].mean()) / image[..., channel].std()
        np.testing.assert_allclose(prepared.volumes[m, 7:-7, 7:-7, 7:-7], expected, rtol=1e-4,
                                   atol=1e-5)  # normalized over the nonzero voxels: all
    wrong = dataset_spec("folder", modalities={"A": "{subject}_image.nii.gz",
                                               "B": "{subject}_image.nii.gz"},
                         channels={"A": 0, "B": 3}, label="{subject}_labels.nii.gz")
    with pytest.raises(DataError, match=r"s0_image.nii.gz: channel 3 asked for, but the image "
                                        r"has 3 channels"):
        prepare_subject(find_subjects(tmp_path, wrong)[0], wrong)
    with pytest.raises(DataError, match="give the channel of a 4-D file as NAME=GLOB#CHANNEL"):
        no_channel = dataset_spec("folder", modalities={"A": "{subject}_image.nii.gz",
                                                        "B": "{subject}_labels.nii.gz"},
                                  label="{subject}_labels.nii.gz")
        prepare_subject(find_subjects(tmp_path, no_channel)[0], no_channel)


@pytest.mark.skipif(not OPEN_MS.is_dir(), reason=f"{OPEN_MS} is absent (../shared not beside "
                    "the checkout)")
def test_open_ms_patients_load_through_the_folder_preset(tmp_path):
    spec = dataset_spec("folder", modalities={m: f"{m}_*.nii.gz" for m in
                                              ("FLAIR", "T1", "T1POST", "T2")},
                        label="GOLD_STANDARD_*.nii.gz", classes={"lesion": "nonzero"})
    subjects = find_subjects(OPEN_MS, spec)
    assert [s.name for s in subjects] == ["patient07", "patient19", "patient26"]
    prepared = prepare_subjects(subjects[:1], spec, cache_dir=tmp_path)
    (patient,) = prepared
    assert patient.class_voxel_counts()["lesion"] == 1300
    centers, labels = sample_centers(patient.class_map, 200, np.random.default_rng(0),
                                     patient.class_names, patient.name)
    assert np.bincount(labels).tolist() == [200, 200]
    patches = gather_patches(patient.volumes, centers)
    assert patches.shape == (400, 4, 15, 15, 15)
    # Lesions are bright on FLAIR: the centre voxel separates the two classes on average.
    centre = patches[:, 0, 7, 7, 7]
    assert centre[labels == 1].mean() > centre[labels == 0].mean() + 1.0
