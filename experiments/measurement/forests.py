"""The paper's measurement (§IV): random forests trained on one modality's features and
tested on every modality's. Same-modality accuracy is the mean of the diagonal of the
resulting matrix, cross-modality accuracy the mean over every ordered pair of different
modalities. Table I (``unit``), the training-length study and Fig. 8 all use
``forest_correct``; cross-modality segmentation fits the same ``fitted_forest``.
"""
import numpy as np

from runtime.seeds import derived_seed

TREES = 30  # the paper's forests; scikit-learn's defaults otherwise


def fitted_forest(features, labels, trees=TREES, seed=0):
    """The paper's random forest (``trees`` trees, all cores) fitted to (N, F) features."""
    from sklearn.ensemble import RandomForestClassifier  # here: a script starts quickly
    forest = RandomForestClassifier(n_estimators=trees, n_jobs=-1, random_state=seed)
    return forest.fit(features, labels)


def forest_correct(training, training_labels, test, test_labels, trees=TREES, seed=0):
    """correct[a, b, i]: whether a forest trained on ``training[a]`` (N, F), the features
    of training modality a, classifies test patch i right from ``test[a][b]`` (N_test, F),
    test modality b's features as the network that serves a computes them. The forest
    of modality a is seeded ``derived_seed(seed, "forest", a)``."""
    modality_count = len(training)
    correct = np.zeros((modality_count, modality_count, len(test_labels)), bool)
    for a in range(modality_count):
        forest = fitted_forest(training[a], training_labels, trees,
                               derived_seed(seed, "forest", a))
        for b in range(modality_count):
            correct[a, b] = forest.predict(test[a][b]) == test_labels
    return correct


def score_forests(features, trees, seed):
    """accuracy[a, b] (%) of a unit's features (``features.npz``: train, test,
    network_of, training_labels, test_labels); also returns ``forest_correct``'s matrix."""
    test = [features["test"][k] for k in features["network_of"]]  # network serving a
    correct = forest_correct(features["train"], features["training_labels"], test,
                             features["test_labels"], trees, seed)
    return 100.0 * correct.mean(axis=2), correct


def same_and_cross(accuracy):
    """Mean of the diagonal (same modality) and of the off-diagonal (every ordered pair)."""
    accuracy = np.asarray(accuracy)
    off_diagonal = ~np.eye(len(accuracy), dtype=bool)
    return float(np.mean(np.diag(accuracy))), float(np.mean(accuracy[off_diagonal]))


def subject_accuracy(correct, test_subjects):
    """{subject: accuracy[a][b]} per test subject (for subject-level analyses)."""
    return {str(s): (100.0 * correct[:, :, test_subjects == s].mean(axis=2)).round(3).tolist()
            for s in np.unique(test_subjects)}
