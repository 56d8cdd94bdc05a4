"""Subject-wise folds (data/folds.py) and the synthetic phantoms (data/synthetic.py)."""

import numpy as np
import pytest

from data import (subject_folds)
from data.synthetic import knee_phantom



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
