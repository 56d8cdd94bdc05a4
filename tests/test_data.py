"""The data layer against hand-made volumes, known labels and the real open_ms patients."""
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

from data import (DataError, PatchTable, dataset_spec, find_subjects, gather_patches,
                  prepare_subject, prepare_subjects, sample_centers, subject_folds)
from data.synthetic import knee_phantom, write_brain_phantoms, write_knee_phantoms

OPEN_MS = Path(__file__).resolve().parents[2] / "shared" / "data" / "open_ms"


def save(path, array, affine=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.asarray(array, dtype=np.float32),
                             np.eye(4) if affine is None else affine), str(path))
    return path


def folder_spec(**overrides):
    arguments = dict(modalities={"A": "A.nii.gz", "B": "B.nii.gz"}, label="seg.nii.gz")
    arguments.update(overrides)
    return dataset_spec("folder", **arguments)


def write_subject(folder, shape=(12, 10, 8), seed=0, labels=None):
    rng = np.random.default_rng(seed)
    save(folder / "A.nii.gz", rng.uniform(1, 2, size=shape))
    save(folder / "B.nii.gz", rng.uniform(1, 3, size=shape))
    if labels is None:
        labels = np.zeros(shape)
        labels[4:7, 4:7, 3:5] = 1
    save(folder / "seg.nii.gz", labels)


# -- patches ------------------------------------------------------------------------------
def test_patches_equal_hand_cut_slices_with_zero_padding_at_the_border():
    volume = np.arange(2 * 20 * 18 * 16, dtype=np.float32).reshape(2, 20, 18, 16) + 1
    padded = np.pad(volume, ((0, 0), (7, 7), (7, 7), (7, 7)))
    centers = np.array([[10, 9, 8], [0, 0, 0], [19, 17, 15], [3, 16, 7]])
    patches = gather_patches(padded, centers)
    assert patches.shape == (4, 2, 15, 15, 15)
    np.testing.assert_array_equal(patches[0], volume[:, 3:18, 2:17, 1:16])
    corner = np.zeros((2, 15, 15, 15), np.float32)
    corner[:, 7:, 7:, 7:] = volume[:, :8, :8, :8]
    np.testing.assert_array_equal(patches[1], corner)
    far = np.zeros((2, 15, 15, 15), np.float32)
    far[:, :8, :8, :8] = volume[:, 12:, 10:, 8:]
    np.testing.assert_array_equal(patches[2], far)
    assert patches[3, 0, 7, 7, 7] == volume[0, 3, 16, 7]
    with pytest.raises(ValueError, match="outside the volume"):
        gather_patches(padded, [[20, 0, 0]])


def test_patch_table_gathers_rows_from_several_subjects(tmp_path):
    write_knee_phantoms(tmp_path, subjects=2)
    spec = dataset_spec("oai")
    subjects = prepare_subjects(find_subjects(tmp_path, spec), spec)
    rng = np.random.default_rng(0)
    samples = [sample_centers(s.class_map, 5, rng, s.class_names) for s in subjects]
    table = PatchTable(subjects, [c for c, _ in samples], [l for _, l in samples])
    assert len(table) == 30 and table.nbytes() == 30 * 2 * 15 ** 3 * 4
    rows = np.array([29, 0, 16, 3])
    patches = table.gather(rows)
    for out, row in zip(patches, rows):
        subject = subjects[table.subject_index[row]]
        np.testing.assert_array_equal(out, gather_patches(subject.volumes, table.centers[row][None])[0])
    np.testing.assert_array_equal(table.materialize(batch_size=7)[rows], patches)
    assert len(table.subset([subjects[1].name])) == 15


# -- sampling -----------------------------------------------------------------------------
def test_sampled_centers_have_the_requested_labels_and_counts():
    class_map = np.zeros((20, 20, 20), np.uint8)
    class_map[2:18, 2:18, 2:18] = 1
    class_map[5:9, 5:9, 5:9] = 2
    class_map[12:15, 12:15, 12:15] = 3
    centers, labels = sample_centers(class_map, 20, np.random.default_rng(1), ["bg", "a", "b"])
    assert np.bincount(labels).tolist() == [20, 20, 20]
    np.testing.assert_array_equal(class_map[tuple(centers.T)], labels + 1)
    assert len({tuple(c) for c in centers[labels == 0]}) == 20  # without replacement
    again, _ = sample_centers(class_map, 20, np.random.default_rng(1), ["bg", "a", "b"])
    np.testing.assert_array_equal(centers, again)


def test_small_class_is_sampled_with_replacement_and_empty_class_is_an_error():
    class_map = np.ones((10, 10, 10), np.uint8)
    class_map[1, 2, 3] = 2
    with pytest.warns(UserWarning, match="with replacement"):
        centers, labels = sample_centers(class_map, 4, np.random.default_rng(0), ["bg", "rare"])
    assert (centers[labels == 1] == [1, 2, 3]).all()
    with pytest.raises(DataError, match="'missing' has no voxels"), pytest.warns(UserWarning):
        sample_centers(class_map, 4, np.random.default_rng(0), ["bg", "rare", "missing"])


# -- preparation --------------------------------------------------------------------------
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


# -- finding subjects ---------------------------------------------------------------------
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


# -- bad input ----------------------------------------------------------------------------
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


def test_preset_errors_are_clear():
    with pytest.raises(ValueError, match="unknown dataset preset"):
        dataset_spec("mri")
    with pytest.raises(ValueError, match="at least two modalities"):
        dataset_spec("folder", label="seg.nii.gz")
    with pytest.raises(ValueError, match="no modality"):
        dataset_spec("brats", select=["T1", "PD"])


# -- folds and cache ----------------------------------------------------------------------
def test_subject_folds_keep_subjects_together_and_are_seeded():
    groups = np.array(["a", "a", "b", "c", "c", "d", "e", "e", "f"])
    folds = subject_folds(groups, 3, seed=4)
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested.tolist()) == list(range(len(groups)))
    for training, test in folds:
        assert not set(groups[training]) & set(groups[test])
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, subject_folds(groups, 3, seed=4)))
    with pytest.raises(ValueError, match="5 folds need at least 5 subjects, but the data has 3"):
        subject_folds(["a", "b", "c"], 5, seed=0)


def test_cache_skips_decoding_on_the_second_run(tmp_path, monkeypatch):
    write_knee_phantoms(tmp_path / "data", subjects=1)
    spec = dataset_spec("oai")
    subjects = find_subjects(tmp_path / "data", spec)
    first = prepare_subjects(subjects, spec, cache_dir=tmp_path / "cache")
    import data.cache
    monkeypatch.setattr(data.cache, "prepare_subject",
                        lambda *a: pytest.fail("the cache was not used"))
    second = prepare_subjects(subjects, spec, cache_dir=tmp_path / "cache")
    assert isinstance(second[0].volumes, np.memmap)
    np.testing.assert_array_equal(first[0].volumes, second[0].volumes)
    np.testing.assert_array_equal(first[0].class_map, second[0].class_map)
    assert second[0].class_names == ["background", "cartilage", "meniscus"]


# -- synthetic phantoms -------------------------------------------------------------------
def test_knee_phantom_is_deterministic_and_inverts_tissue_contrast():
    images, labels = knee_phantom(7)
    again, _ = knee_phantom(7)
    np.testing.assert_array_equal(images["FS"], again["FS"])
    cartilage = labels == 1
    meniscus = labels == 5
    assert cartilage.sum() > 500 and meniscus.sum() > 100
    # Marrow/fat is bright in N but dark in FS: the intensity order of tissues differs.
    brightest_n = images["N"] > np.percentile(images["N"], 95)
    assert images["FS"][brightest_n].mean() < images["FS"][cartilage].mean()


# -- the real data ------------------------------------------------------------------------
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


def test_a_subset_of_subjects_is_a_seeded_choice_or_named():
    from reproduce.patch_data import choose_subjects
    subjects = [type("S", (), {"name": f"case{i}"})() for i in range(10)]
    chosen = [s.name for s in choose_subjects(subjects, 4, seed=0)]
    assert len(chosen) == 4 and chosen == sorted(chosen)  # in the data's order
    assert chosen == [s.name for s in choose_subjects(subjects, 4, seed=0)]
    assert chosen != [s.name for s in choose_subjects(subjects, 4, seed=1)]
    assert [s.name for s in choose_subjects(subjects, ["case7", "case2"], 0)] == ["case2", "case7"]
    with pytest.raises(DataError, match="not in the data"):
        choose_subjects(subjects, ["case2", "case99"], 0)
    with pytest.raises(DataError, match="holds 10 subjects"):
        choose_subjects(subjects, 11, 0)
