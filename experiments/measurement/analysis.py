"""Feature analysis of paper §V-B/C (Figs. 6–8): how shared are the learned features?

Per feature: mutual information with the label (per modality), standard deviation (per
modality), and the normalized cross-correlation between modalities over the same
samples. The top-k procedure of Fig. 8 ranks features by NCC on one half of the test
subjects, trains forests on the top-k training features and evaluates them on the other
half, then swaps the halves.
"""
import itertools

import numpy as np

from experiments.measurement.forests import forest_correct


def normalized_cross_correlation(features_a, features_b):
    """Per feature j: the Pearson correlation of features_a[:, j] and features_b[:, j].

    A constant feature (no variation in either modality) has NCC 0.
    """
    a = features_a - features_a.mean(0)
    b = features_b - features_b.mean(0)
    denominator = np.sqrt((a * a).sum(0) * (b * b).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        ncc = (a * b).sum(0) / denominator
    return np.where(denominator > 0, ncc, 0.0)


def cross_modality_ncc(features_by_modality):
    """Per-feature NCC averaged over every pair of modalities."""
    pairs = list(itertools.combinations(range(len(features_by_modality)), 2))
    return np.mean([normalized_cross_correlation(features_by_modality[a], features_by_modality[b])
                    for a, b in pairs], axis=0)


def mutual_information(features, labels, seed=0):
    """Per-feature mutual information with the class label (scikit-learn, in nats)."""
    from sklearn.feature_selection import mutual_info_classif  # here: a script starts quickly
    return mutual_info_classif(features, labels, random_state=seed)


def feature_statistics(features_by_modality, labels, seed=0):
    """{"mi": (M, F), "sd": (M, F), "ncc": (F,)} for a list of (N, F) feature arrays."""
    return {
        "mi": np.stack([mutual_information(f, labels, seed) for f in features_by_modality]),
        "sd": np.stack([f.std(0) for f in features_by_modality]),
        "ncc": cross_modality_ncc(features_by_modality),
    }


def split_test_halves(test_subjects, test_labels=None, within_subjects=False, seed=0):
    """Two halves of the test rows, as [(ranking rows, evaluation rows)] both ways.

    By default (the paper) every subject's rows lie in one half. ``within_subjects``
    splits each subject's rows in two (stratified by label) instead, for folds with a
    single test subject: ranking and evaluation then share subjects, never samples.
    """
    subjects = np.asarray(test_subjects)
    if within_subjects:
        strata = np.char.add(subjects.astype(str), np.char.add("|", np.asarray(test_labels).astype(str)))
        from sklearn.model_selection import StratifiedKFold
        splitter = StratifiedKFold(n_splits=2, shuffle=True, random_state=seed)
        first, second = next(splitter.split(subjects, strata))
    else:
        if len(np.unique(subjects)) < 2:
            raise ValueError("the top-k procedure needs at least two test subjects per fold "
                             "to split them into halves; use fewer folds, more subjects, or "
                             "split within subjects (fig8.py --halves within-subjects)")
        from sklearn.model_selection import GroupKFold
        first, second = next(GroupKFold(n_splits=2).split(subjects, groups=subjects))
    return [(first, second), (second, first)]


def top_k_accuracy(training_features, training_labels, test_features, test_labels,
                   test_subjects, k_values, trees=30, seed=0, within_subjects=False):
    """Fig. 8 for one fold: accuracy[a, b, i] for training modality a, test modality b and
    the top k_values[i] features by NCC, averaged over the two test halves.

    ``training_features[a]``: (N_train, F) of modality a; ``test_features[b]``: (N_test, F).
    The ranking half never serves for evaluation.
    """
    modality_count = len(training_features)
    accuracy = np.zeros((modality_count, modality_count, len(k_values)))
    for ranking_rows, evaluation_rows in split_test_halves(test_subjects, test_labels,
                                                     within_subjects, seed):
        ranking = np.argsort(-cross_modality_ncc([f[ranking_rows] for f in test_features]),
                             kind="stable")
        for i, k in enumerate(k_values):
            chosen = ranking[:k]
            test = [feature[evaluation_rows][:, chosen] for feature in test_features]
            correct = forest_correct([feature[:, chosen] for feature in training_features],
                                     training_labels, [test] * modality_count,
                                     test_labels[evaluation_rows], trees, seed)
            accuracy[:, :, i] += 50.0 * correct.mean(axis=2)  # half of the two halves' mean
    return accuracy


def k_grid(feature_count, step):
    """1, then every ``step``-th count, always ending with all features."""
    values = sorted({1, *range(step, feature_count + 1, step), feature_count})
    return [k for k in values if 1 <= k <= feature_count]


def modality_separation(features_by_modality):
    """How far apart the modalities' features are, per feature, averaged over features
    and modality pairs: (offset, auc). ``offset``: |mean_a − mean_b| in pooled SDs, the
    per-modality difference that per-feature normalization is meant to remove (§II-D).
    ``auc``: how well one feature alone tells modality a from b (area under the ROC
    curve, 0.5 = not at all, 1 = perfectly; taken as max(AUC, 1 − AUC))."""
    offsets, areas = [], []
    for a, b in itertools.combinations(range(len(features_by_modality)), 2):
        first = np.asarray(features_by_modality[a], np.float64)
        second = np.asarray(features_by_modality[b], np.float64)
        pooled = np.sqrt((first.var(0) + second.var(0)) / 2)
        with np.errstate(invalid="ignore", divide="ignore"):
            offset = np.abs(first.mean(0) - second.mean(0)) / pooled
        offsets.append(np.where(pooled > 0, offset, 0.0))
        from scipy import stats
        ranks = stats.rankdata(np.concatenate([first, second]), axis=0)  # ties: mean rank
        count_a, count_b = len(first), len(second)
        area = (ranks[:count_a].sum(0) - count_a * (count_a + 1) / 2) / (count_a * count_b)
        areas.append(np.maximum(area, 1 - area))
    return float(np.mean(offsets)), float(np.mean(areas))
