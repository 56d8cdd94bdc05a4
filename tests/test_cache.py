"""The prepared-volume cache (data/cache.py)."""

import numpy as np
import pytest

from data import (PreparedCache, dataset_spec, find_subjects, prepare_subject,
                  prepare_subjects)
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


def test_a_hand_edited_prepared_volume_is_prepared_again(tmp_path):
    """The probe: a prepared volume edited in place (same size) was used while run.json
    recorded the original files. Its checksum, recorded when it was written, no longer
    matches: the subject is prepared again, with a line saying so."""
    write_knee_phantoms(tmp_path / "data", subjects=1)
    spec = dataset_spec("oai")
    subjects = find_subjects(tmp_path / "data", spec)
    first = np.array(prepare_subjects(subjects, spec, cache_dir=tmp_path / "cache")[0].volumes)
    (path,) = (tmp_path / "cache").glob("*.h5")
    assert (tmp_path / "cache" / (path.name + ".sha256")).is_file()
    lines = []
    again = prepare_subjects(subjects, spec, cache=PreparedCache(tmp_path / "cache"),
                             log=lines.append)
    assert lines == []  # unchanged: used as it is
    del again
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0xFF  # one voxel's byte in the volumes: the size stays
    path.write_bytes(bytes(content))
    second = prepare_subjects(subjects, spec, cache=PreparedCache(tmp_path / "cache"),
                              log=lines.append)
    assert len(lines) == 1 and "do not match the checksum" in lines[0] and str(path) in lines[0]
    np.testing.assert_array_equal(np.asarray(second[0].volumes), first)


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


def test_temporaries_of_killed_processes_are_removed_and_live_ones_kept(tmp_path):
    import os
    import subprocess
    import sys
    write_knee_phantoms(tmp_path / "data", subjects=1)
    spec = dataset_spec("oai")
    subjects = find_subjects(tmp_path / "data", spec)
    cache = tmp_path / "cache"
    cache.mkdir()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = cache / f"knee01-0123456789abcdef.h5.tmp{gone}"  # a killed run's half file
    stale.write_bytes(b"\0" * 1000)
    live = cache / f"knee01-fedcba9876543210.h5.tmp{os.getpid()}"  # a running writer's
    live.write_bytes(b"\0" * 1000)
    prepare_subjects(subjects, spec, cache_dir=cache)
    assert not stale.exists() and live.exists()
    assert len(list(cache.glob("*.h5"))) == 1


@pytest.mark.slow
def test_runs_on_the_same_data_share_one_cache(tmp_path, monkeypatch):
    """Two run folders on one data folder: the second prepares nothing, and no run
    folder holds a cache of its own (it lives under the data root)."""
    from reproduce import table1
    from tests.conftest import TINY_RUN
    write_knee_phantoms(tmp_path / "knees", subjects=2)
    options = ["--dataset", "oai", "--data-dir", str(tmp_path / "knees"), *TINY_RUN[2:],
               "--configs", "plain-a0", "--data-root", str(tmp_path / "root")]
    assert table1.main([*options, "--out", str(tmp_path / "first")]) == 0
    cached = sorted((tmp_path / "root" / "prepared").glob("*.h5"))
    assert len(cached) == 2
    import data.cache
    monkeypatch.setattr(data.cache, "prepare_subject",
                        lambda *a: pytest.fail("the shared cache was not used"))
    assert table1.main([*options, "--out", str(tmp_path / "second"), "--seed", "3"]) == 0
    assert sorted((tmp_path / "root" / "prepared").glob("*.h5")) == cached
    assert not (tmp_path / "first" / "cache").exists()
    assert not (tmp_path / "second" / "cache").exists()


def test_another_modality_order_reuses_the_file_and_gets_its_own_order(tmp_path, monkeypatch):
    from data import gather_patches
    write_knee_phantoms(tmp_path / "data", subjects=1)
    spec = dataset_spec("oai")
    reordered = dataset_spec("oai", select=["FS", "N"])
    assert spec.modality_names == ["N", "FS"] and reordered.modality_names == ["FS", "N"]
    first = prepare_subjects(find_subjects(tmp_path / "data", spec), spec,
                             cache_dir=tmp_path / "cache")
    import data.cache
    monkeypatch.setattr(data.cache, "prepare_subject",
                        lambda *a: pytest.fail("the cache was not used"))
    subjects = find_subjects(tmp_path / "data", reordered)
    (second,) = prepare_subjects(subjects, reordered, cache_dir=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("*.h5"))) == 1
    monkeypatch.undo()
    fresh = prepare_subject(subjects[0], reordered)  # prepared in the new order
    assert second.modality_names == ["FS", "N"]
    np.testing.assert_array_equal(np.asarray(second.volumes), fresh.volumes)
    np.testing.assert_array_equal(second.volumes[0], first[0].volumes[1])
    centers = np.argwhere(second.class_map > 0)[:50]
    np.testing.assert_array_equal(gather_patches(second.volumes, centers),
                                  gather_patches(fresh.volumes, centers))
