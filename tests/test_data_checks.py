"""Inputs checked where they are read, and a cache keyed by content: a group pattern that
misses a subject, an image given as a label map, a file rewritten with its old size and
modification time, a start that fails, and a cache over its size limit."""
import os

import numpy as np
import pytest

from data import DataError, PreparedCache, find_subjects, prepare_subject, prepare_subjects
from data.cache import HASH_MEMO
from runtime.files import FileHashes
from tests.data_files import folder_spec, save, write_subject


def test_a_group_pattern_must_match_every_subject_name(tmp_path):
    for name in ("s1v1", "s1v2", "s2v1"):
        write_subject(tmp_path / name)
    grouped = find_subjects(tmp_path, folder_spec(group_pattern=r"^(s\d)v"))
    assert [s.group for s in grouped] == ["s1", "s1", "s2"]
    # A typo (capital S) would have made every visit its own subject: one subject's
    # scans on both sides of a fold.
    with pytest.raises(DataError, match=r"--group-pattern '\^\(S\\\\d\)v' does not match the "
                                        r"subject name 's1v1'"):
        find_subjects(tmp_path, folder_spec(group_pattern=r"^(S\d)v"))


def test_an_image_given_as_label_map_is_refused(tmp_path):
    write_subject(tmp_path / "s1")
    spec = folder_spec(classes={"lesion": "nonzero"})
    (subject,) = find_subjects(tmp_path, spec)
    continuous = np.random.default_rng(0).uniform(0, 3, size=(12, 10, 8))
    save(subject.label_file, continuous)
    with pytest.raises(DataError, match=r"seg.nii.gz: \d+ voxels hold values that are not whole "
                                        r"numbers .*Is it an image rather than a label map"):
        prepare_subject(subject, spec)
    # Whole numbers, but an image's thousands of grey values.
    save(subject.label_file, np.arange(12 * 10 * 8).reshape(12, 10, 8) % 700)
    with pytest.raises(DataError, match=r"holds 700 distinct values .* at most 256"):
        prepare_subject(subject, spec)
    # Labels stored as floats a hair off a whole number are labels.
    labels = np.zeros((12, 10, 8))
    labels[4:7, 4:7, 3:5] = 0.99999997
    save(subject.label_file, labels)
    assert prepare_subject(subject, spec).class_voxel_counts()["lesion"] == 18


def rewrite_keeping_size_and_mtime(path, array):
    """The content changes; size and modification time stay (cp -p, rsync, tar)."""
    status = os.stat(path)
    save(path, array)
    assert os.stat(path).st_size == status.st_size
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))


def test_the_cache_serves_the_content_not_the_files_size_and_time(tmp_path):
    spec = folder_spec(modalities={"A": "A.nii", "B": "B.nii"}, label="seg.nii")
    folder = tmp_path / "data" / "s1"
    rng = np.random.default_rng(0)
    labels = np.zeros((12, 10, 8))
    labels[4:7, 4:7, 3:5] = 1
    for name, array in (("A.nii", rng.uniform(1, 2, (12, 10, 8))),
                        ("B.nii", rng.uniform(1, 3, (12, 10, 8))), ("seg.nii", labels)):
        save(folder / name, array)
    subjects = find_subjects(tmp_path / "data", spec)
    first = np.asarray(prepare_subjects(subjects, spec, cache_dir=tmp_path / "cache")[0].volumes)
    rewrite_keeping_size_and_mtime(folder / "A.nii", rng.uniform(5, 9, (12, 10, 8)))
    second = np.asarray(prepare_subjects(subjects, spec, cache_dir=tmp_path / "cache")[0].volumes)
    expected = np.asarray(prepare_subject(subjects[0], spec).volumes)
    assert not np.array_equal(first[0], second[0])
    np.testing.assert_array_equal(second, expected)
    assert len(list((tmp_path / "cache").glob("*.h5"))) == 2  # one per content
    # The memo of hashes notices it too (the change time moves with every write).
    hashes = FileHashes(tmp_path / "cache" / HASH_MEMO)
    before = hashes.sha256(folder / "A.nii")
    rewrite_keeping_size_and_mtime(folder / "A.nii", rng.uniform(5, 9, (12, 10, 8)))
    assert FileHashes(tmp_path / "cache" / HASH_MEMO).sha256(folder / "A.nii") != before


def test_a_start_that_fails_leaves_the_cache_as_it_found_it(tmp_path):
    write_subject(tmp_path / "data" / "s1")
    write_subject(tmp_path / "data" / "s2", shape=(12, 10, 9))
    save(tmp_path / "data" / "s2" / "B.nii.gz", np.ones((11, 10, 9)))  # another grid
    spec = folder_spec()
    with pytest.raises(DataError, match="must share one grid"):
        prepare_subjects(find_subjects(tmp_path / "data", spec), spec,
                         cache_dir=tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []  # s1's volume was removed again


def test_the_cache_prunes_what_was_used_least_recently_but_never_this_runs(tmp_path):
    spec = folder_spec()
    for index in range(3):
        write_subject(tmp_path / "data" / f"s{index}", seed=index)
    subjects = find_subjects(tmp_path / "data", spec)
    prepare_subjects(subjects[:2], spec, cache_dir=tmp_path / "cache")
    older = sorted((tmp_path / "cache").glob("*.h5"))
    os.utime(older[0], ns=(1, 1))  # s0: used longest ago
    size = older[0].stat().st_size
    cache, lines = PreparedCache(tmp_path / "cache", limit_gb=2.5 * size / 1e9), []
    prepare_subjects(subjects[2:], spec, cache=cache)
    assert cache.commit(log=lines.append) == [older[0]]
    assert sorted(p.name[:2] for p in (tmp_path / "cache").glob("*.h5")) == ["s1", "s2"]
    assert "removed 1 prepared volumes used least recently" in lines[0]
    # A limit below this run's own volumes removes every other one and keeps its own.
    cache, lines = PreparedCache(tmp_path / "cache", limit_gb=1e-9), []
    prepare_subjects(subjects[2:], spec, cache=cache)
    cache.commit(log=lines.append)
    assert [p.name[:2] for p in (tmp_path / "cache").glob("*.h5")] == ["s2"]
    assert "this run's prepared volumes alone take" in lines[-1]


def test_a_header_of_impossible_size_is_named_not_blamed_on_the_disk(tmp_path):
    """The probe: a header declaring 20000³ voxels was reported as a full disk."""
    import gzip

    import nibabel
    from data.cache import check_space
    write_subject(tmp_path / "data" / "s1", seed=1)
    spec = folder_spec()
    (subject,) = find_subjects(tmp_path / "data", spec)
    first = next(iter(subject.modality_files.values()))
    header = nibabel.load(str(first)).header.copy()
    header.set_data_shape((20000, 20000, 20000))
    with gzip.open(first, "wb") as handle:  # the header alone: the voxels are never read
        handle.write(header.binaryblock)
    with pytest.raises(DataError, match=r"header declares 20000 × 20000 × 20000 voxels") as error:
        check_space(PreparedCache(tmp_path / "cache"), [subject], spec)
    assert str(first) in str(error.value) and "free" not in str(error.value)


def test_a_file_that_is_not_nifti_is_named_before_any_space_is_counted(tmp_path):
    """The probe: a non-NIfTI file as the first modality ended in nibabel's traceback."""
    from data.cache import check_space
    write_subject(tmp_path / "data" / "s1", seed=1)
    spec = folder_spec()
    (subject,) = find_subjects(tmp_path / "data", spec)
    first = next(iter(subject.modality_files.values()))
    first.write_text("not an image")
    with pytest.raises(DataError, match="cannot be read as NIfTI") as error:
        check_space(PreparedCache(tmp_path / "cache"), [subject], spec)
    assert str(error.value).startswith(f"{first}: ")
