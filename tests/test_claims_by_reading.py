"""The readings study (studies/claims_by_reading.py) on a tiny phantom, and the
mechanism measures (analysis.modality_separation) against scikit-learn."""
import csv
import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from experiments.measurement import analysis
from studies import claims_by_reading
from tests.conftest import TINY_RUN

pytestmark = pytest.mark.slow  # end to end: the fast tier (-m "not slow") leaves it out


def test_modality_separation_against_scikit_learn_and_known_offsets():
    rng = np.random.default_rng(0)
    first = rng.normal(size=(400, 3))
    second = rng.normal(size=(300, 3)) + np.array([0.0, 2.0, -1.0])  # offsets in SDs
    offset, area = analysis.modality_separation([first, second])
    pooled = np.sqrt((first.var(0) + second.var(0)) / 2)
    assert offset == pytest.approx(np.mean(np.abs(first.mean(0) - second.mean(0)) / pooled))
    assert offset == pytest.approx(1.0, abs=0.15)  # (0 + 2 + 1) / 3 and sampling noise
    labels = np.r_[np.ones(400), np.zeros(300)]
    expected = [max(a, 1 - a) for a in (roc_auc_score(labels, np.r_[first[:, j], second[:, j]])
                                        for j in range(3))]
    assert area == pytest.approx(np.mean(expected))
    same = analysis.modality_separation([first, first.copy()])
    assert same == pytest.approx((0.0, 0.5))


def test_the_study_trains_each_reading_once_and_writes_the_grid(tmp_path, trained_units):
    out = tmp_path / "study"
    arguments = [*TINY_RUN, "--out", str(out), "--configs", "dropout+norm-a0,dropout-a0",
                 "--readings", "default-recalibrated,last-block-linear", "--repeats", "2"]
    assert claims_by_reading.main(arguments) == 0
    # default (needed by its recalibration) and last-block-linear: 2 x 2 rows x 2 folds x 2.
    assert len(trained_units) == 16
    reading_folders = sorted(p.name for p in (out / "readings").iterdir())
    assert reading_folders == ["default", "last-block-linear"]
    stored = json.loads((out / "readings" / "last-block-linear" / "run.json").read_text())
    assert stored["arguments"]["reading"]["last_block"] == "linear"
    assert (out / "readings" / "default" / "recalibrated" / "dropout-a0" /
            "fold1-repeat1" / "result.json").exists()
    with open(out / "claims_by_reading.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["reading"] for r in rows} == {"default", "default-recalibrated",
                                            "last-block-linear"}
    assert {r["comparison"] for r in rows} == {"dropout+norm-a0 − dropout-a0"}
    assert all(r["trainings"] == "4" and r["verdict"] in ("reproduced", "contradicted",
                                                          "undecided") for r in rows)
    with open(out / "claims_by_reading_mechanism.csv") as handle:
        mechanism = list(csv.DictReader(handle))
    assert len(mechanism) == 3 * 2 and all(0.5 <= float(m["single_feature_auc"]) <= 1
                                           for m in mechanism)
    assert "| dropout+norm-a0 − dropout-a0 | +33.6 |" in (out / "claims_by_reading.md").read_text()
    assert (out / "claims_by_reading.png").stat().st_size > 10000
    # the central gap per reading is the grid's comparison; the reference is the default
    with open(out / "claims_by_reading_gap.csv") as handle:
        gaps = {row["reading"]: row for row in csv.DictReader(handle)}
    assert set(gaps) == {"default", "default-recalibrated", "last-block-linear"}
    for row in rows:
        assert float(gaps[row["reading"]]["gap"]) == pytest.approx(float(row["difference"]))
    assert gaps["default"]["versus"] == "" and gaps["last-block-linear"]["versus"] == "default"
    assert float(gaps["last-block-linear"]["difference"]) == pytest.approx(
        float(gaps["last-block-linear"]["gap"]) - float(gaps["default"]["gap"]), abs=0.02)
    # every saved network measured once (a recalibrated reading keeps none of its own)
    with open(out / "claims_by_reading_mechanism_by_unit.csv") as handle:
        measured = list(csv.DictReader(handle))
    assert len(measured) == 16
    assert all(m["last_bn_gamma_gap"] != "" for m in measured if m["reading"] == "default")
    assert all(m["last_bn_gamma_gap"] == "" for m in measured
               if m["reading"] == "last-block-linear")
    assert all(float(m["after_scale_ratio"]) >= 1 for m in measured)
    kept = json.loads((out / "mechanism_by_unit.json").read_text())
    assert len(kept) == 16
    trained_units.clear()
    assert claims_by_reading.main(arguments) == 0  # resumes: nothing left to train
    assert trained_units == []
    assert json.loads((out / "mechanism_by_unit.json").read_text()) == kept


def test_the_study_refuses_reading_options_and_unknown_readings(capsys):
    with pytest.raises(SystemExit, match="sets the model readings itself"):
        claims_by_reading.main([*TINY_RUN, "--last-block", "linear"])
    with pytest.raises(SystemExit, match="--readings"):
        claims_by_reading.main([*TINY_RUN, "--readings", "sometimes"])


def test_ctrl_c_in_the_study_ends_in_one_line_with_the_resume_command(tmp_path, monkeypatch,
                                                                     capsys):
    """The study runs its units through the one grid loop, Ctrl-C handling included."""
    from experiments.execution import unit
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(args[1].name)
        raise KeyboardInterrupt
    monkeypatch.setattr(unit, "run_unit", interrupted)
    out = tmp_path / "study"
    with pytest.raises(SystemExit) as stopped:
        claims_by_reading.main([*TINY_RUN, "--out", str(out), "--configs", "dropout-a0",
                                "--readings", "last-block-linear"])
    assert stopped.value.code == 130 and calls == ["dropout-a0"]
    error = capsys.readouterr().err
    assert "interrupted (Ctrl-C) in last-block-linear: dropout-a0/fold0: 0 units" in error
    assert f"saved in {out}" in error
    assert "Resume with the same command:\n  python studies/claims_by_reading.py" in error
