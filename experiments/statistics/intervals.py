"""Uncertainty of cross-validated accuracies: fold-level t intervals.

Each fold is one replicate of the whole procedure — other training subjects, a freshly
trained network, a forest, other test subjects and test patches — so the spread of the
per-fold accuracies holds every source of variation at once. The 95 % interval of a
cell is mean ± t(0.975, k − 1) · sd / √k over its k folds; a comparison of two rows is
the same interval on their per-fold differences (paired: both rows see the same folds
and the same test patches, so the fold-to-fold variation they share cancels).

Folds share training subjects, so they are not fully independent; such intervals are
known to be somewhat optimistic (Bengio & Grandvalet, JMLR 2004). With few folds the t
quantile is large (4.30 for 3 folds): wide intervals are the honest answer there.

With repeated training (``--repeats R``: R networks per configuration and fold, from
derived seeds) ``interval`` conditions on these folds instead: the estimate is the mean
over folds of each fold's mean over repeats, and its uncertainty is the training-to-
training (and forest) variation within folds, pooled over folds: mean ± t(0.975,
Σ(R_k − 1)) · sqrt(s² Σ 1/R_k) / K, with s² the pooled within-fold variance. It answers
"what would these subjects give, averaged over trainings?" — not what other subjects
would give — and it narrows as R grows, where the fold-level interval is bounded by the
few folds.

``patch_standard_error`` is the part of the uncertainty that comes from sampling test
patches alone (binomial), used to check that the forests' test sets are large enough.
"""
import math

import numpy as np

CONFIDENCE = 0.95


def t_interval(values, confidence=CONFIDENCE):
    """(mean, half width) of the t interval over per-fold values; half width is NaN for
    a single value."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, math.nan
    from scipy import stats  # here: a script answers --help before SciPy loads
    quantile = stats.t.ppf(0.5 + confidence / 2, len(values) - 1)
    return mean, float(quantile * values.std(ddof=1) / math.sqrt(len(values)))


def paired_difference(first, second, confidence=CONFIDENCE):
    """(mean difference first − second, half width) over paired per-fold values."""
    return t_interval(np.asarray(first, float) - np.asarray(second, float), confidence)


def repeat_interval(values_by_fold, confidence=CONFIDENCE):
    """(mean, half width) conditioned on the folds: ``values_by_fold`` holds each fold's
    values of repeated trainings. Half width NaN without any fold of two or more."""
    groups = [np.asarray(values, float) for values in values_by_fold if len(values)]
    mean = float(np.mean([group.mean() for group in groups]))
    degrees = sum(len(group) - 1 for group in groups)
    if degrees < 1:
        return mean, math.nan
    pooled = sum(((group - group.mean()) ** 2).sum() for group in groups) / degrees
    standard_error = math.sqrt(pooled * sum(1 / len(group) for group in groups)) / len(groups)
    from scipy import stats
    return mean, float(stats.t.ppf(0.5 + confidence / 2, degrees) * standard_error)


def interval(values_by_fold, confidence=CONFIDENCE):
    """(mean, half width, method): the fold-level t interval when every fold holds one
    training, else the repeat interval conditioned on the folds (module docstring)."""
    if all(len(values) <= 1 for values in values_by_fold):
        mean, half = t_interval([v for values in values_by_fold for v in values], confidence)
        return mean, half, FOLD_METHOD
    return (*repeat_interval(values_by_fold, confidence), REPEAT_METHOD)


def paired_interval(first_by_fold, second_by_fold, confidence=CONFIDENCE):
    """``interval`` of first − second, paired by fold and by repeat index (both rows see
    the same fold's data and test patches)."""
    differences = [[a - b for a, b in zip(first, second)]
                   for first, second in zip(first_by_fold, second_by_fold)]
    return interval([d for d in differences if d], confidence)


FOLD_METHOD = "fold-level t interval"
REPEAT_METHOD = "t interval over repeated trainings within folds (conditioned on the folds)"


def grouped_by_fold(items, value=None):
    """[[value of each item of the fold] per fold], folds in order: the shape every
    interval here takes (repeated trainings within a fold average before the folds
    vary). ``items``: unit results (dicts with a "fold"), ``value`` a key of them (an
    item without it is left out) or a function of one; or a dict {(fold, repeat): value},
    grouped in repeat order."""
    if isinstance(items, dict):
        items = [{"fold": key[0], "value": items[key]} for key in sorted(items)]
        value = "value"
    if not callable(value):
        key = value
        items = [item for item in items if key in item]
        value = lambda item: item[key]  # noqa: E731
    folds = sorted({item["fold"] for item in items})
    return [[value(item) for item in items if item["fold"] == fold] for fold in folds]


def format_interval(mean, half_width, signed=False):
    """'65.3 ± 2.1' ('+3.1 ± 2.0' when ``signed``); the mean alone without a width."""
    text = f"{mean:+.1f}" if signed else f"{mean:.1f}"
    return text if math.isnan(half_width) else f"{text} ± {half_width:.1f}"


def bracketed(difference, low, high, places=1):
    """'+3.1 [+1.0, +5.2]': a signed difference with its interval, the one format every
    report uses for one."""
    return f"{difference:+.{places}f} [{low:+.{places}f}, {high:+.{places}f}]"


def contains(mean, half_width, value):
    """Whether ``value`` lies in mean ± half width (None when undecidable)."""
    if value is None or math.isnan(half_width):
        return None
    return bool(mean - half_width <= value <= mean + half_width)


def patch_standard_error(accuracies_by_fold, test_patches_by_fold):
    """Standard error (percentage points) of a fold-mean accuracy from test-patch sampling
    alone: sqrt(Σ_k p_k (1 − p_k) / n_k) / K, with accuracies in percent. For a cell that
    averages several modality pairs on the same patches, pass the pairs' mean standard
    errors per fold: ``accuracies_by_fold`` may hold one value or a list per fold, and a
    list is bounded by the mean of its pairs' errors (pairs on one set of patches are
    positively correlated, so this bounds the error of their mean from above)."""
    variances = []
    for accuracies, count in zip(accuracies_by_fold, test_patches_by_fold):
        p = np.atleast_1d(np.asarray(accuracies, float)) / 100.0
        variances.append(np.mean(np.sqrt(p * (1 - p) / count)) ** 2)
    return float(100.0 * math.sqrt(sum(variances)) / len(variances))


def significant(value, digits, signed=False):
    """``value`` with ``digits`` significant digits in fixed notation (γ and β gaps are
    thousandths, accuracy gaps tens: 0.000312, 3.12, 312)."""
    decimals = 0 if value == 0 else max(0, digits - 1 - math.floor(math.log10(abs(value))))
    return f"{value:{'+' if signed else ''}.{decimals}f}"


def interval_text(mean, half):
    """Mean to three significant digits, its half width to two."""
    return significant(mean, 3, signed=True) + ("" if half is None else
                                                 f" ± {significant(half, 2)}")
