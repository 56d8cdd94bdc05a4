"""Before a long run: the cost line from a probed pace, and a cache that would not fit
stopping the run before any volume is prepared."""
import shutil
from collections import namedtuple

import pytest

from data import DataError, find_subjects, prepare_subjects
from experiments.execution import cost
from tests.data_files import folder_spec, write_subject


def test_a_cache_that_would_not_fit_stops_before_any_volume_is_prepared(tmp_path, monkeypatch):
    for index in range(2):
        write_subject(tmp_path / "data" / f"s{index}", seed=index)
    spec = folder_spec()
    subjects = find_subjects(tmp_path / "data", spec)
    # Two modalities of 12 × 10 × 8 voxels padded by 7 on each side, as float32, and the
    # class map: what a prepared file holds.
    expected = 2 * (26 * 24 * 22) * 4 + 12 * 10 * 8
    Usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10**9, 0, 2 * expected - 1))
    with pytest.raises(DataError, match=r"the prepared volumes of 2 subjects need .* GB in .*"
                                        r"cache, which has .* GB free"):
        prepare_subjects(subjects, spec, cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("*.h5"))
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10**9, 0, 2 * expected))
    lines = []
    from data.cache import PreparedCache
    cache = PreparedCache(tmp_path / "cache")
    prepare_subjects(subjects, spec, cache=cache, log=lines.append)
    assert lines[0].startswith("cache: 2 subjects to prepare, about 0.00 GB")
    assert sum(p.stat().st_size for p in (tmp_path / "cache").glob("*.h5")) >= 2 * (
        2 * 26 * 24 * 22 * 4)


def test_the_cost_line_counts_networks_and_uses_the_probed_pace(monkeypatch):
    Configuration = namedtuple("Configuration", "name kind baseline")
    axial = Configuration("dropout+norm-a0", "axial", None)
    control = Configuration("raw-patch", "control", None)
    per_modality = Configuration("baseline-training", "baseline", "training")
    Run = namedtuple("Run", "modality_names batch_size updates epochs")
    run = Run(["A", "B"], 64, 10_000, None)
    units = [(axial, 0, 0), (axial, 1, 0), (control, 0, 0), (per_modality, 0, 0)]
    assert cost.networks_to_train(run, units) == 1 + 1 + 2
    monkeypatch.setattr(cost, "seconds_per_update", lambda *a: 0.5)
    lines = []
    seconds = cost.announce(run, None, units, workers=2, log=lines.append)
    assert seconds == pytest.approx(4 * 10_000 * 0.5 / 2)
    assert lines == ["cost: 4 networks × 10,000 updates to train; at 128 samples/s per "
                     "process (probed just now) with 2 worker processes, about 2h46m on "
                     "this machine"]
    short = Run(["A", "B"], 64, 120, None)
    assert cost.announce(short, None, units, log=lines.append) is None and len(lines) == 1
