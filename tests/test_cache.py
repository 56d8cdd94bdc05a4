"""The prepared-volume cache (data/cache.py)."""

import numpy as np
import pytest

from data import dataset_spec, find_subjects, prepare_subject, prepare_subjects
from tests.data_files import folder_spec, write_subject
from data.synthetic import write_knee_phantoms



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


def test_the_cache_is_rebuilt_when_an_input_file_changes(tmp_path):
    write_subject(tmp_path / "data" / "s1", seed=1)
    spec = folder_spec()
    subjects = find_subjects(tmp_path / "data", spec)
    first = prepare_subjects(subjects, spec, cache_dir=tmp_path / "cache")
    write_subject(tmp_path / "data" / "s1", seed=2)  # other intensities under the same names
    second = prepare_subjects(subjects, spec, cache_dir=tmp_path / "cache")
    fresh = prepare_subject(subjects[0], spec)
    assert not np.allclose(first[0].volumes, second[0].volumes)
    np.testing.assert_array_equal(np.asarray(second[0].volumes), fresh.volumes)
