"""The width study (studies/central_gap_by_width.py): its trend per doubling against a
least-squares line computed by hand, its pairing by training, and end to end on a tiny
phantom, where each width's units are those of a Table I run with the same filters."""
import csv
import json
import math

import numpy as np
import pytest
from scipy import stats

from experiments.beyond_paper import width_numbers
from runtime.errors import ProjectError
from studies import central_gap_by_width
from tests.conftest import TINY_RUN

WIDTHS = {"16-32-64": (16, 32, 64), "16-32-128": (16, 32, 128), "16-32-256": (16, 32, 256),
          "32-64-128": (32, 64, 128)}


def test_the_series_holds_the_widths_that_change_only_the_representation():
    assert width_numbers.series(WIDTHS) == ["16-32-64", "16-32-128", "16-32-256"]
    reordered = {"16-32-256": (16, 32, 256), "16-32-64": (16, 32, 64)}
    assert width_numbers.series(reordered) == ["16-32-64", "16-32-256"]


def test_the_trend_is_the_mean_slope_per_doubling_with_the_repeat_interval():
    """Per training a line through its three widths; slopes pooled within two folds."""
    rng = np.random.default_rng(0)
    keys = [(fold, repeat) for fold in range(2) for repeat in range(3)]
    slopes_made = {key: 2.0 + rng.normal() for key in keys}
    values = {name: {key: 5.0 + slopes_made[key] * math.log2(WIDTHS[name][-1] / 64)
                     + (0.3 if name == "16-32-128" else 0.0) for key in keys}
              for name in ("16-32-64", "16-32-128", "16-32-256")}
    found = width_numbers.trend(values, WIDTHS, width_numbers.series(WIDTHS))
    # by hand: each training's least-squares slope over x = 6, 7, 8 with the middle
    # point raised by 0.3 is its own slope (a symmetric bump does not tilt the line)
    slopes = np.array([[slopes_made[(f, r)] for r in range(3)] for f in range(2)])
    pooled = ((slopes - slopes.mean(axis=1, keepdims=True)) ** 2).sum() / 4
    half = stats.t.ppf(0.975, 4) * math.sqrt(pooled * (1 / 3 + 1 / 3)) / 2
    assert found["per_doubling"] == pytest.approx(slopes.mean(), abs=1e-3)
    assert found["high"] - found["low"] == pytest.approx(2 * half, abs=2e-3)
    assert found["trainings"] == 6 and found["widths"] == "16-32-64 16-32-128 16-32-256"
    assert found["decided"] == (found["low"] > 0)


def test_a_training_measured_at_one_width_only_has_no_slope():
    values = {"16-32-64": {(0, 0): 1.0, (0, 1): 2.0}, "16-32-128": {(0, 0): 3.0}}
    found = width_numbers.trend(values, WIDTHS, ["16-32-64", "16-32-128"])
    assert found["trainings"] == 1 and found["per_doubling"] == pytest.approx(2.0)
    assert math.isnan(found["low"])  # one training: no interval, never decided
    assert width_numbers.trend({"16-32-64": {(0, 0): 1.0}}, WIDTHS, ["16-32-64"]) is None


def test_other_widths_are_paired_with_the_reference_by_training():
    values = {"16-32-64": {(0, 0): 1.0, (0, 1): 3.0, (1, 0): 2.0, (1, 1): 9.0},
              "32-64-128": {(0, 0): 2.0, (0, 1): 5.0, (1, 0): 2.5}}
    difference, low, high, trainings = width_numbers.paired_against(
        values, "32-64-128", "16-32-64")
    assert trainings == 3  # (1, 1) is missing at the wider width
    assert difference == pytest.approx(np.mean([np.mean([1.0, 2.0]), 0.5]))
    assert low < difference < high


@pytest.mark.parametrize("text, problem", [("16/32", "three filter counts"),
                                           ("16/32/64,16/32/x", "three filter counts"),
                                           ("16/32/64", "at least two"),
                                           ("16/32/64,16/32/64", "at least two")])
def test_bad_widths_are_named(text, problem):
    with pytest.raises(ProjectError, match=problem):
        central_gap_by_width.chosen_widths(text)


def test_the_study_sets_the_filters_itself():
    with pytest.raises(SystemExit, match="sets the encoders' filters itself.*--widths"):
        central_gap_by_width.main([*TINY_RUN])  # TINY_RUN gives --filters


@pytest.mark.slow
def test_the_study_trains_every_width_as_table1_would_and_reports_the_trend(tmp_path):
    from reproduce import table1
    base = list(TINY_RUN)
    at = base.index("--filters")
    del base[at:at + 2]
    out = tmp_path / "study"
    arguments = [*base, "--out", str(out), "--configs", "dropout-a0,dropout+norm-a0",
                 "--widths", "4/8/16,4/8/32,8/16/32"]
    assert central_gap_by_width.main(arguments) == 0
    assert sorted(p.name for p in (out / "widths").iterdir()) == ["4-8-16", "4-8-32", "8-16-32"]
    stored = json.loads((out / "widths" / "4-8-32" / "run.json").read_text())
    assert stored["arguments"]["filters"] == [4, 8, 32]
    # the reference width's units are a Table I run's with the same filters
    reference = tmp_path / "table1"
    assert table1.main([*base, "--filters", "4,8,16", "--out", str(reference), "--configs",
                        "dropout-a0,dropout+norm-a0"]) == 0
    for configuration in ("dropout-a0", "dropout+norm-a0"):
        for fold in (0, 1):
            mine = json.loads((out / "widths" / "4-8-16" / "units" / configuration /
                               f"fold{fold}" / "result.json").read_text())
            theirs = json.loads((reference / "units" / configuration / f"fold{fold}" /
                                 "result.json").read_text())
            assert mine["cross"] == theirs["cross"] and mine["same"] == theirs["same"]
    with open(out / "central_gap_by_width.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["width"], r["comparison"]) for r in rows} == {
        (w, "dropout+norm-a0 − dropout-a0") for w in ("4-8-16", "4-8-32", "8-16-32")}
    with open(out / "central_gap_by_width_trend.csv") as handle:
        trends = {(r["quantity"], r["configuration"]): r for r in csv.DictReader(handle)}
    gap = {r["width"]: float(r["difference"]) for r in rows}
    # two folds, one training each, two widths a doubling apart: the slope is the change
    assert float(trends[("dropout+norm-a0 − dropout-a0", "")]["per_doubling"]) == \
        pytest.approx(gap["4-8-32"] - gap["4-8-16"], abs=0.02)
    assert ("before_modality_specific_share", "dropout-a0") in trends
    text = (out / "central_gap_by_width.md").read_text()
    assert "8/16/32 − reference" in text and "| dropout+norm-a0 − dropout-a0 | +33.6 |" in text
    with open(out / "central_gap_by_width_mechanism_by_unit.csv") as handle:
        assert len(list(csv.DictReader(handle))) == 2 * 2 * 3
    assert (out / "central_gap_by_width.png").stat().st_size > 10000
    with open(out / "central_gap_by_width_units.csv") as handle:
        units = list(csv.DictReader(handle))
    assert len(units) == 3 * 2 * 2  # widths x rows x folds
    kept = {(u["width"], u["configuration"], u["fold"]): float(u["cross"]) for u in units}
    # the table's gap is the mean over the folds of the units' own differences
    for width in ("4-8-16", "4-8-32", "8-16-32"):
        assert gap[width] == pytest.approx(sum(
            kept[(width, "dropout+norm-a0", fold)] - kept[(width, "dropout-a0", fold)]
            for fold in "01") / 2, abs=0.006)


def test_report_only_on_a_mistyped_out_writes_nothing(tmp_path):
    base = list(TINY_RUN)
    at = base.index("--filters")
    del base[at:at + 2]
    out = tmp_path / "no_such_run"
    with pytest.raises(SystemExit, match=f"{out} holds no run"):
        central_gap_by_width.main([*base, "--out", str(out), "--report-only"])
    assert list(tmp_path.iterdir()) == []
