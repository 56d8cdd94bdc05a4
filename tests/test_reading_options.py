"""The readings as options of every script: parsed, range-checked, recorded in run.json
and the table header; older run folders keep the model of their time; the
recalibration study equals a run with --recalibrate-statistics."""
import json

import numpy as np
import pytest

from experiments.runs import command_line
from studies import recalibration_effect
from reproduce import table1
from experiments.runs.run_folder import canonical
from tests.conftest import TINY_RUN

pytestmark = pytest.mark.slow  # end to end: the fast tier (-m "not slow") leaves it out


def run_of(*arguments):
    args = command_line.script_parser("x").parse_args([*TINY_RUN, *arguments])
    return command_line.resolve_run(args, [])


def test_numeric_options_mean_what_they_say_and_are_range_checked(capsys):
    assert run_of("--momentum", "0").momentum == 0.0  # 0 is a value, not "unset"
    assert run_of().momentum == 0.9  # the quick preset's
    for option, value, problem in (("--momentum", "5", "must lie in [0, 1)"),
                                   ("--momentum", "1", "must lie in [0, 1)"),
                                   ("--momentum", "abc", "expected a number"),
                                   ("--seed", "-1", "seeds are non-negative"),
                                   ("--seed", str(2 ** 32), "below 2^32")):
        with pytest.raises(SystemExit):
            run_of(option, value)
        assert problem in capsys.readouterr().err


def test_the_readings_are_options_with_the_papers_defaults():
    run = run_of()
    assert run.reading == {"vector_normalization": "unless-per-feature",
                           "last_block": "bn-lrelu", "dropout_distribution": "uniform-subsets",
                           "recalibrate_statistics": False}
    run = run_of("--vector-normalization", "with-similarity", "--last-block", "linear",
                 "--dropout-distribution", "uniform-count", "--recalibrate-statistics")
    assert run.fingerprint()["reading"] == {
        "vector_normalization": "with-similarity", "last_block": "linear",
        "dropout_distribution": "uniform-count", "recalibrate_statistics": True}
    assert "linear" in run.reading_text() and "recalibrated" in run.reading_text()
    assert run_of("--no-recalibrate-statistics").recalibrate_statistics is False


def test_an_older_run_folder_holds_the_model_without_the_feature_vector_step():
    older = {k: v for k, v in run_of("--vector-normalization", "never").fingerprint().items()
             if k != "reading"}  # run.json as written before the readings were recorded
    assert canonical(older) == canonical(run_of("--vector-normalization", "never").fingerprint())
    assert canonical(older) != canonical(run_of().fingerprint())


def test_readings_are_recorded_and_a_changed_reading_is_refused(tmp_path):
    out = tmp_path / "run"
    arguments = [*TINY_RUN, "--out", str(out), "--configs", "plain-a0.1",
                 "--vector-normalization", "always", "--last-block", "lrelu"]
    assert table1.main(arguments) == 0
    stored = json.loads((out / "run.json").read_text())["arguments"]["reading"]
    assert stored["vector_normalization"] == "always" and stored["last_block"] == "lrelu"
    document = json.loads((out / "table1.json").read_text())
    assert document["reading"] == stored
    markdown = (out / "table1.md").read_text()
    assert "Model reading: feature-vector normalization (§II-C): always; encoder's last " \
           "block: lrelu" in markdown
    assert "Scale of the features the forests see" in markdown
    (row,) = document["rows"]
    assert [scale["modality"] for scale in row["feature_scale"]] == ["N", "FS"]
    with pytest.raises(SystemExit, match="differ in: the model reading"):
        table1.main([*TINY_RUN, "--out", str(out), "--configs", "plain-a0.1"])


def test_the_recalibration_study_equals_a_run_with_recalibrated_statistics(tmp_path):
    configs = ["--configs", "dropout+norm-a0,baseline-training"]
    plain, recalibrated = tmp_path / "moving", tmp_path / "recalibrated"
    assert table1.main([*TINY_RUN, "--out", str(plain), *configs]) == 0
    assert recalibration_effect.main([*TINY_RUN, "--out", str(plain), *configs]) == 0
    assert table1.main([*TINY_RUN, "--out", str(recalibrated), *configs,
                        "--recalibrate-statistics"]) == 0
    for name in ("dropout+norm-a0", "baseline-training"):
        for fold in (0, 1):
            study = json.loads((plain / "recalibrated" / name / f"fold{fold}" /
                                "result.json").read_text())
            run = json.loads((recalibrated / "units" / name / f"fold{fold}" /
                              "result.json").read_text())
            moving = json.loads((plain / "units" / name / f"fold{fold}" /
                                 "result.json").read_text())
            np.testing.assert_allclose(study["accuracy"], run["accuracy"], atol=1e-9)
            assert flat(study["feature_scale"]) == pytest.approx(flat(run["feature_scale"]),
                                                                 abs=2e-3)
            if name == "dropout+norm-a0":  # recalibration changes the features' scale
                assert flat(study["feature_scale"]) != pytest.approx(
                    flat(moving["feature_scale"]), abs=1e-3)
    rows = json.loads((plain / "recalibration_effect.json").read_text())["rows"]
    assert [row["name"] for row in rows] == ["dropout+norm-a0", "baseline-training"]
    assert "moving averages → recalibrated" in (plain / "recalibration_effect.md").read_text()


def flat(scale):
    return [value for side in scale.values() for modality in side.values()
            for value in modality.values()]
