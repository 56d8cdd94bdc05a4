"""The interval method on simulated data with a known answer."""
import math

import numpy as np
import pytest

from reproduce import intervals


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
    # Several pairs on the same patches: bounded by the mean of their errors.
    single = intervals.patch_standard_error([[60.0]] * folds, [500] * folds)
    both = intervals.patch_standard_error([[60.0, 60.0]] * folds, [500] * folds)
    assert both == pytest.approx(single)


def test_contains():
    assert intervals.contains(65.0, 2.0, 66.5) is True
    assert intervals.contains(65.0, 2.0, 67.5) is False
    assert intervals.contains(65.0, math.nan, 65.0) is None
    assert intervals.contains(65.0, 2.0, None) is None
