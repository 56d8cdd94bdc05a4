"""The interval method on simulated data with a known answer."""
import math

import numpy as np
import pytest

from experiments.statistics import intervals


def coverage(simulate, truth, repeats=4000, seed=0):
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(repeats):
        mean, half = intervals.t_interval(simulate(rng))
        hits += mean - half <= truth <= mean + half
    return hits / repeats


def test_t_interval_matches_the_textbook_formula():
    values = [61.0, 66.5, 70.0]
    mean, half = intervals.t_interval(values)
    assert mean == pytest.approx(65.8333333)
    assert half == pytest.approx(4.302653 * np.std(values, ddof=1) / math.sqrt(3), rel=1e-6)
    assert math.isnan(intervals.t_interval([50.0])[1])


@pytest.mark.parametrize("folds", [3, 5])
def test_the_interval_covers_a_known_mean_at_its_nominal_rate(folds):
    # Each fold: a fold effect (training, subjects) plus binomial test-patch noise.
    truth, spread, patches = 65.0, 4.0, 1000

    def simulate(rng):
        per_fold_p = (truth + spread * rng.normal(size=folds)) / 100
        return 100 * rng.binomial(patches, per_fold_p) / patches

    rate = coverage(simulate, truth)
    assert 0.935 <= rate <= 0.965  # 4000 repeats: binomial SE of the rate ~0.0035


def test_paired_differences_cover_the_true_difference_and_cancel_shared_fold_effects():
    truth = 3.0
    rng = np.random.default_rng(1)
    hits, widths_paired, widths_unpaired = 0, [], []
    for _ in range(3000):
        shared = 8.0 * rng.normal(size=3)  # both rows see the same hard or easy folds
        first = 60 + truth + shared + rng.normal(size=3)
        second = 60 + shared + rng.normal(size=3)
        mean, half = intervals.paired_difference(first, second)
        hits += mean - half <= truth <= mean + half
        widths_paired.append(half)
        widths_unpaired.append(intervals.t_interval(first)[1] + intervals.t_interval(second)[1])
    assert 0.935 <= hits / 3000 <= 0.965
    assert np.median(widths_paired) < 0.3 * np.median(widths_unpaired)


def test_patch_standard_error_equals_the_spread_of_simulated_fold_means():
    rng = np.random.default_rng(2)
    accuracy, patches, folds = np.array([70.0, 55.0, 80.0]), np.array([600, 1000, 300]), 3
    simulated = [np.mean(100 * rng.binomial(patches, accuracy / 100) / patches)
                 for _ in range(20000)]
    assert intervals.patch_standard_error(accuracy, patches) == pytest.approx(
        np.std(simulated), rel=0.03)
    # Several pairs on the same patches: bounded by the mean of their errors (not the
    # error of their mean accuracy, nor an error that shrinks with the number of pairs).
    both = intervals.patch_standard_error([[60.0, 90.0]] * folds, [500] * folds)
    mean_error = (math.sqrt(0.6 * 0.4 / 500) + math.sqrt(0.9 * 0.1 / 500)) / 2
    assert both == pytest.approx(100 * math.sqrt(folds * mean_error ** 2) / folds)
    of_the_mean = intervals.patch_standard_error([[75.0]] * folds, [500] * folds)
    assert both < of_the_mean  # the 75 % of the mean has the larger binomial error


def test_contains():
    assert intervals.contains(65.0, 2.0, 66.5) is True
    assert intervals.contains(65.0, 2.0, 67.5) is False
    assert intervals.contains(65.0, math.nan, 65.0) is None
    assert intervals.contains(65.0, 2.0, None) is None


def test_repeat_interval_matches_the_pooled_formula():
    by_fold = [[60.0, 62.0, 64.0], [50.0, 51.0], [70.0, 73.0, 70.0]]
    mean, half = intervals.repeat_interval(by_fold)
    fold_means = [np.mean(v) for v in by_fold]
    assert mean == pytest.approx(np.mean(fold_means))
    degrees = 2 + 1 + 2
    pooled = sum(((np.array(v) - np.mean(v)) ** 2).sum() for v in by_fold) / degrees
    error = math.sqrt(pooled * (1 / 3 + 1 / 2 + 1 / 3)) / 3
    assert half == pytest.approx(stats_t(degrees) * error, rel=1e-6)
    assert math.isnan(intervals.repeat_interval([[60.0], [50.0]])[1])
    # One training per fold: the fold-level interval; several: the repeat interval.
    assert intervals.interval([[60.0], [50.0], [55.0]])[2] == intervals.FOLD_METHOD
    assert intervals.interval(by_fold)[2] == intervals.REPEAT_METHOD


def stats_t(degrees):
    from scipy import stats
    return stats.t.ppf(0.975, degrees)


@pytest.mark.parametrize("repeats", [2, 5])
def test_the_repeat_interval_covers_the_mean_over_trainings_of_these_folds(repeats):
    # Three fixed folds (these subjects) with their own expected accuracies; each
    # training adds its own variation. The target is the mean of the folds' expectations.
    fold_expectations = np.array([58.0, 71.0, 64.0])
    truth = fold_expectations.mean()
    rng = np.random.default_rng(3)
    hits, widths = 0, []
    for _ in range(3000):
        by_fold = [expectation + 6.0 * rng.normal(size=repeats)
                   for expectation in fold_expectations]
        mean, half = intervals.repeat_interval(by_fold)
        hits += mean - half <= truth <= mean + half
        widths.append(half)
    assert 0.935 <= hits / 3000 <= 0.965
    # It narrows like 1/sqrt(3 R): with 5 repeats about 2.1 * 6 / sqrt(15) = 3.3.
    if repeats == 5:
        assert np.median(widths) == pytest.approx(2.13 * 6 / math.sqrt(15), rel=0.1)


def test_paired_interval_pairs_by_fold_and_repeat():
    first = [[60.0, 62.0], [70.0, 71.0]]
    second = [[55.0, 58.0], [66.0, 65.0]]
    mean, half, method = intervals.paired_interval(first, second)
    expected = intervals.repeat_interval([[5.0, 4.0], [4.0, 6.0]])
    assert (mean, half) == pytest.approx(expected) and method == intervals.REPEAT_METHOD
