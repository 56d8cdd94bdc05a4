"""Subject-wise k-fold splits (paper §IV): every scan of a subject stays in one fold."""
import numpy as np
from sklearn.model_selection import KFold


def subject_folds(groups, folds, seed):
    """[(training_indices, test_indices)] over items whose subject id is ``groups[i]``.

    Subject ids are shuffled with ``seed`` and dealt into ``folds`` folds with
    scikit-learn's KFold, so the scans of one subject never straddle two folds.
    """
    groups = np.asarray(groups)
    unique_groups = np.unique(groups)
    if folds < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, got {folds}")
    if len(unique_groups) < folds:
        raise ValueError(f"{folds} folds need at least {folds} subjects, but the data has "
                         f"{len(unique_groups)} ({', '.join(map(str, unique_groups))}); "
                         "use fewer folds")
    splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    result = []
    for training_groups, test_groups in splitter.split(unique_groups):
        result.append((np.flatnonzero(np.isin(groups, unique_groups[training_groups])),
                       np.flatnonzero(np.isin(groups, unique_groups[test_groups]))))
    return result
