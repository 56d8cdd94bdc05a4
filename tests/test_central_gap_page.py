"""The findings page's section "What decides the central gain" from hand-made files:
the numbers shown are the files', verdict words follow the intervals, and a damaged
file is an error naming it."""
import pytest

from tests.data_files import write_csv_rows as write
from experiments.findings import central_gap_page, results_files


def gap_row(reading, gap, low, high, versus="", difference="", lower="", upper="", decided=""):
    return {"reading": reading, "comparison": "dropout+norm-a0 − dropout-a0", "alpha": 0.0,
            "gap": gap, "gap_low": low, "gap_high": high, "trainings": 24, "versus": versus,
            "difference": difference, "low": lower, "high": upper, "paired_trainings": 24,
            "decided": decided}


def test_the_section_shows_the_files_numbers_and_words(tmp_path):
    assert "No study has measured it yet" in "\n".join(central_gap_page.section(tmp_path))
    study = tmp_path / "study"
    write(study / "claims_by_reading_gap.csv", [
        gap_row("default", 0.7, -1.7, 3.2),
        gap_row("last-block-linear", 4.1, 1.5, 6.7, "default", 3.4, 0.2, 6.6, True),
        gap_row("last-block-lrelu", 1.0, -2.0, 4.0, "default", 0.3, -3.0, 3.6, False)])
    units = []
    for fold in range(3):
        for repeat in range(2):
            units.append({"reading": "default", "configuration": "dropout-a0", "fold": fold,
                          "repeat": repeat, "before_offset_in_pooled_sd": 0.2 + 0.1 * fold,
                          "after_offset_in_pooled_sd": 0.3, "last_bn_gamma_gap": 0.01,
                          "last_bn_beta_gap": 0.02})
            units.append({"reading": "last-block-linear", "configuration": "dropout-a0",
                          "fold": fold, "repeat": repeat, "before_offset_in_pooled_sd": 0.8,
                          "after_offset_in_pooled_sd": 0.8, "last_bn_gamma_gap": "",
                          "last_bn_beta_gap": ""})
    write(study / "claims_by_reading_mechanism_by_unit.csv", units)
    write(tmp_path / "length" / "accuracy_vs_updates_mechanism_trend.csv", [
        {"configuration": "dropout-a0", "measure": "last batch normalization: mean |β_a − β_b|",
         "slope": 0.0123, "slope_half": 0.004, "at_target": 0.07, "at_target_half": 0.03,
         "folds": 3},
        {"configuration": "dropout+norm-a0 − dropout-a0", "measure": "cross-modality gap (points)",
         "slope": -0.5, "slope_half": 2.5, "at_target": -2.0, "at_target_half": 12.0,
         "folds": 3}])
    text = "\n".join(central_gap_page.section(tmp_path))
    assert "| default | 0 | +0.7 [-1.7, +3.2] | 24 |  |  |" in text
    assert "| last-block-linear | 0 | +4.1 [+1.5, +6.7] | 24 | +3.4 [+0.2, +6.6] | **decided** |" in text
    assert "| last-block-lrelu | 0 | +1.0 [-2.0, +4.0] | 24 | +0.3 [-3.0, +3.6] | undecided |" in text
    assert ("Answer: the last block moves the central gain here: under last-block-linear "
            "(α = 0) it is larger than under the default by 3.4 [0.2, 6.6] points.") in text
    # before: folds 0.2, 0.3, 0.4 (two trainings each, no spread within a fold): 0.30 ± 0.00
    assert "| default | dropout-a0 | 6 | 0.30 ± 0.00 → 0.30 ± 0.00 | 0.010 / 0.020 |" in text
    assert "| last-block-linear | dropout-a0 | 6 | 0.80 ± 0.00 → 0.80 ± 0.00 | – |" in text
    assert "| +0.0123 ± 0.0040 | **grows** | +0.0700 ± 0.030 |" in text
    assert "| cross-modality gap (points) | -0.500 ± 2.5 | undecided | -2.00 ± 12 |" in text
    assert "| dropout+norm-a0 − dropout-a0 (3 folds) | cross-modality gap" in text
    assert "**extrapolation**, not a measurement" in text
    assert ("Answer: with training, their last batch normalization's β gap: grows (+0.0123 ± "
            "0.0040 per decade); the central gain: undecided (-0.500 ± 2.5 per decade).") in text


def test_a_damaged_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "study" / "claims_by_reading_gap.csv"
    write(path, [gap_row("default", "n/a", -1.7, 3.2)])
    with pytest.raises(results_files.ResultsError, match=r"claims_by_reading_gap.csv: row 1 "
                       r"\(default\) gap is 'n/a', not a number"):
        central_gap_page.section(tmp_path)
    write(path, [gap_row("linear", 1.0, 0.0, 2.0, "default", 1, 0, 2, "maybe")])
    with pytest.raises(results_files.ResultsError, match="decided is 'maybe'"):
        central_gap_page.section(tmp_path)


def test_a_decided_difference_is_said_by_its_size_and_an_edge_is_named():
    """"smaller than under the default by -3.0" was a double negative: the size follows
    'smaller', and an interval that ends at 0.0 says that it is at the edge."""
    text = central_gap_page.decided_text("last-block-linear", 0.0, (-3.0, -6.0, -0.04))
    assert text.startswith("under last-block-linear (α = 0) it is smaller than under the "
                           "default by 3.0 [0.0, 6.0] points, an interval that ends at 0.0")
    assert central_gap_page.decided_text("b", 0.1, (2.0, 1.0, 3.0)) == (
        "under b (α = 0.1) it is larger than under the default by 2.0 [1.0, 3.0] points")


def test_the_answer_reads_each_blocks_gain_from_the_gain_columns(tmp_path):
    """The README once called a difference between blocks "the default block's gain": the
    answer's numbers for the last blocks are the gap columns, the default's its own row."""
    from experiments.findings import findings_answer
    study = tmp_path / "study"
    write(study / "claims_by_reading_gap.csv", [
        gap_row("default", 0.7, -1.7, 3.2),
        gap_row("last-block-lrelu", -1.6, -3.7, 0.5, "default", -2.3, -5.7, 1.0, False)])
    found = findings_answer.facts({}, {}, tmp_path)
    assert found["last_block_defaults"] == [{"study": "study", "reading": "default", "gap": 0.7,
                                             "low": -1.7, "high": 3.2}]
    assert [row["gap"] for row in found["last_blocks"]] == [-1.6]
    (tried,) = [line for line in findings_answer.answer_lines(found) if "Tried" in line]
    assert "the encoders' other last blocks (-1.6)" in tried and "-2.3" not in tried
