"""The findings page's part on the representation's width and the README's answer line
from hand-made files: the numbers shown are the files', trend words follow the
intervals, and a damaged or missing file is an error naming it."""
import pytest

from tests.data_files import write_csv_rows as write
from experiments.findings import results_files, width_page
from experiments.findings.findings_answer import answer_lines


def row(filters, comparison, difference, low, high):
    return {"width": filters.replace("/", "-"), "filters": filters,
            "representation": filters.split("/")[-1], "comparison": comparison,
            "difference": difference, "low": low, "high": high, "paper": 14.1,
            "verdict": "undecided" if low <= 0 <= high else "reproduced", "folds": 3,
            "trainings": 24}


def trend(quantity, configuration, slope, low, high):
    return {"quantity": quantity, "configuration": configuration, "per_doubling": slope,
            "low": low, "high": high, "decided": low > 0 or high < 0,
            "widths": "16-32-64 16-32-128", "trainings": 24}


def make_study(folder):
    central = "dropout+norm-a0 − dropout-a0"
    write(folder / "central_gap_by_width.csv", [
        row("16/32/64", central, 2.4, -0.3, 5.1), row("16/32/128", central, 5.0, 2.0, 8.0),
        row("32/64/128", central, 1.0, -1.5, 3.5),
        row("16/32/64", "dropout-a0 − plain-a0", 13.7, 11.6, 15.8)])
    write(folder / "central_gap_by_width_trend.csv", [
        trend(central, "", 2.6, 0.4, 4.8),
        trend("before_modality_specific_share", "dropout-a0", -0.01, -0.03, 0.01),
        trend("before_offset_in_pooled_sd", "dropout-a0", 0.05, 0.01, 0.09)])


def test_the_part_shows_the_files_numbers_and_trend_words(tmp_path):
    assert "No study has measured it yet" in "\n".join(width_page.lines(tmp_path))
    make_study(tmp_path / "width")
    text = "\n".join(width_page.lines(tmp_path))
    assert "| comparison | 16/32/64 | 16/32/128 | 32/64/128 | per doubling |" in text
    assert ("| dropout+norm-a0 − dropout-a0 | +2.4 [-0.3, +5.1] | +5.0 [+2.0, +8.0] | "
            "+1.0 [-1.5, +3.5] | +2.6 [+0.4, +4.8] grows |") in text
    assert "| dropout-a0 − plain-a0 | +13.7 [+11.6, +15.8] | – | – | – |" in text
    assert ("Answer: as the representation widens, the central gain: grows (+2.6 [+0.4, +4.8] "
            "points per doubling); the dropout-only networks' features used for one modality "
            "only: undecided (-0.010 [-0.030, +0.010] per doubling); the dropout-only "
            "features' offset between modalities: grows (+0.050 [+0.010, +0.090] per "
            "doubling).") in text


def test_the_answer_names_the_widths_and_drops_the_features_it_measured(tmp_path):
    make_study(tmp_path / "width")
    studies = width_page.width_studies(tmp_path)
    assert studies[0]["features"] == [64, 128]
    scale = {"updates": 256, "training_subjects": [2], "features": [64],
             "updates_by_paper_column": {"BRATS": 256}, "paper_updates_ratio": {"BRATS": 10.0},
             "paper": {"brats": {"training_subjects": 176, "features": 128}}}
    found = {"runs": {}, "last_blocks": [], "other_readings": [], "scale": scale,
             "widths": [{key: studies[0][key] for key in ("study", "gaps", "trend",
                                                          "features")}]}
    text = "\n".join(answer_lines(found))
    assert ("a representation of 64–128 features (+1.0 to +5.0; +2.6 [+0.4, +4.8] per "
            "doubling, grows)") in text
    assert "features instead of" not in text  # the paper's 128 was measured
    assert " on width" not in text  # one study: no need to say which
    make_study(tmp_path / "knee-width")
    found["widths"] = [{key: study[key] for key in ("study", "gaps", "trend", "features")}
                       for study in width_page.width_studies(tmp_path)]
    text = "\n".join(answer_lines(found))
    assert "64–128 features on knee-width (+1.0 to +5.0;" in text
    assert "64–128 features on width (+1.0 to +5.0;" in text
    found["widths"] = []
    assert "128 features instead of 64" in "\n".join(answer_lines(found))


def test_a_damaged_or_missing_file_is_named(tmp_path):
    make_study(tmp_path / "width")
    path = tmp_path / "width" / "central_gap_by_width_trend.csv"
    path.write_text(path.read_text().replace("2.6", "lots"))
    with pytest.raises(results_files.ResultsError, match="central_gap_by_width_trend.csv"):
        width_page.lines(tmp_path)
    path.unlink()
    with pytest.raises(results_files.ResultsError, match="no central_gap_by_width_trend.csv"):
        width_page.lines(tmp_path)


def test_a_measure_that_never_moves_is_named_with_its_value(tmp_path):
    """Under the default last block no feature is switched off in either modality: the
    share is 0 at every width, and the answer says so instead of 'undecided'."""
    make_study(tmp_path / "width")
    folder = tmp_path / "width"
    write(folder / "central_gap_by_width_trend.csv", [
        trend("dropout+norm-a0 − dropout-a0", "", 2.6, 0.4, 4.8),
        trend("before_modality_specific_share", "dropout-a0", 0.0, 0.0, 0.0)])
    write(folder / "central_gap_by_width_mechanism.csv", [
        {"width": w, "filters": w.replace("-", "/"), "configuration": "dropout-a0",
         "trainings": 24, "before_modality_specific_share": 0.0,
         "before_modality_specific_share_half_width": 0.0} for w in ("16-32-64", "16-32-128")])
    text = "\n".join(width_page.lines(tmp_path))
    assert ("the dropout-only networks' features used for one modality only: the same at "
            "every width (0.000)") in text
