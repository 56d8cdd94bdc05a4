"""From a run's data folder to patches and folds (reproduce/patch_data.py)."""

import pytest

from data import (DataError)



def test_a_subset_of_subjects_is_a_seeded_choice_or_named():
    from experiments.execution.patch_data import choose_subjects
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
