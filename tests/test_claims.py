"""The paper's claims as comparisons with verdicts (reproduce/claims.py), on hand-made
unit results with known answers."""
import math

import pytest

from experiments.statistics import claims, intervals


def units(values_by_fold):
    """Unit results of one row: {fold, repeat, same, cross}, the same value for both."""
    return [{"fold": fold, "repeat": repeat, "same": value, "cross": value}
            for fold, values in enumerate(values_by_fold) for repeat, value in enumerate(values)]


def test_paper_values_come_from_the_published_table():
    comparison = claims.difference("dropout+norm", "dropout", "cross", 0.0)
    assert comparison.label == "dropout+norm-a0 − dropout-a0"
    assert claims.published_value("oai", comparison) == pytest.approx(77.0 - 43.4)
    assert claims.published_value("brats", comparison) == pytest.approx(65.8 - 51.7)
    assert claims.published_value("none", comparison) is None
    # The similarity term's gain without dropout and normalization, minus that with both.
    gain = claims.gain_difference("plain", 0.5)
    assert gain.label == "(plain-a0.5 − plain-a0) − (dropout+norm-a0.5 − dropout+norm-a0)"
    assert claims.published_value("oai", gain) == pytest.approx((57.0 - 33.5) - (78.2 - 77.0))
    baseline = claims.difference("dropout+norm", "baseline-all", "cross", 0.2)
    assert claims.published_value("brats", baseline) == pytest.approx(67.0 - 54.9)
    same = claims.difference("dropout+norm", "plain", "same", 0.1)
    assert claims.published_value("oai", same) == pytest.approx(81.5 - 79.1)


def test_verdicts_follow_the_interval_and_the_papers_side():
    assert claims.verdict(1.0, 5.0, 33.6) == claims.REPRODUCED
    assert claims.verdict(-5.0, -1.0, 33.6) == claims.CONTRADICTED
    assert claims.verdict(-1.0, 5.0, 33.6) == claims.UNDECIDED
    assert claims.verdict(-5.0, -1.0, -2.0) == claims.REPRODUCED  # the paper's side is < 0
    assert claims.verdict(1.0, 5.0, None) == claims.REPRODUCED  # the claimed direction
    assert claims.verdict(math.nan, math.nan, 3.0) == claims.UNDECIDED


def test_evaluate_pairs_rows_by_fold_and_repeat_and_counts_each_comparison_once():
    results = {"dropout+norm-a0": units([[70, 72], [60, 61], [66, 66]]),
               "dropout-a0": units([[60, 61], [58, 60], [60, 62]]),
               "plain-a0": units([[71, 75], [62, 64], [70, 71]])}
    found = claims.evaluate("brats", results)
    by_label = {(f["label"], f["measure"]): f for f in found}
    # dn − dropout serves two claims but is one comparison.
    dn_dropout = by_label[("dropout+norm-a0 − dropout-a0", "cross")]
    assert dn_dropout["claims"] == ["best", "normalization-adds-to-dropout"]
    differences = [[10, 11], [2, 1], [6, 4]]
    mean, half = intervals.repeat_interval(differences)
    assert dn_dropout["difference"] == pytest.approx(mean, abs=0.01)
    assert dn_dropout["high"] - dn_dropout["difference"] == pytest.approx(half, abs=0.01)
    assert dn_dropout["trainings"] == 6 and dn_dropout["folds"] == 3
    assert dn_dropout["paper"] == pytest.approx(14.1)
    assert dn_dropout["paper_inside"] == (dn_dropout["low"] <= 14.1 <= dn_dropout["high"])
    assert dn_dropout["verdict"] == claims.REPRODUCED  # 5.67 ± 3.4: above 0
    dn_plain = by_label[("dropout+norm-a0 − plain-a0", "cross")]
    assert dn_plain["verdict"] == claims.CONTRADICTED  # every difference is negative
    keeps = by_label[("dropout+norm-a0 − plain-a0", "same")]
    assert keeps["claims"] == ["keeps-same-modality"]
    assert len(found) == len({(f["label"], f["measure"]) for f in found}) == 4
    assert claims.summary(found) == "1 reproduced, 3 contradicted, 0 undecided"
    lines = "\n".join(claims.claim_lines(found))
    assert "## Claims" in lines and "1 reproduced, 3 contradicted, 0 undecided" in lines
    assert "- dropout+norm-a0 − dropout-a0: +5.7 [" in lines and "paper +14.1" in lines
