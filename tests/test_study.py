"""studies/accuracy_vs_updates.py: one training per network, scored at checkpoints."""
import csv
import json

import numpy as np
import pytest

from experiments.runs import command_line
from experiments.execution import unit
from studies import accuracy_vs_updates
from experiments.measurement.features import unit_features
from experiments.execution.patch_data import load_patch_data

pytestmark = pytest.mark.slow  # end to end: the fast tier (-m "not slow") leaves it out

STUDY = ["--subjects", "3", "--filters", "4,8,16", "--patches-per-class", "12",
         "--evaluation-patches-per-class", "20", "--verbose", "0", "--checkpoints", "2,5",
         "--configs", "dropout+norm-a0,baseline-all"]


def test_each_network_trains_once_and_a_checkpoint_equals_training_that_long(
        tmp_path, trained_units, monkeypatch):
    out, figures = tmp_path / "run", tmp_path / "figures"
    seen = {}
    original = unit.score_forests

    def recording(features, trees, seed):
        seen.setdefault(len(seen), features["train"].copy())
        return original(features, trees, seed)

    monkeypatch.setattr(unit, "score_forests", recording)
    assert accuracy_vs_updates.main([*STUDY, "--out", str(out), "--figures-dir", str(figures)]) == 0
    assert sorted(trained_units) == [(name, fold, None) for name in ("baseline-all", "dropout+norm-a0")
                                     for fold in range(3)]  # once per unit, not per checkpoint
    result = json.loads((out / "checkpoints" / "dropout+norm-a0" / "fold0" / "result.json").read_text())
    assert [c["updates"] for c in result["checkpoints"]] == [2, 5]
    with open(figures / "accuracy_vs_updates.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["configuration"], r["updates"], r["folds"]) for r in rows} == {
        (name, u, "3") for name in ("dropout+norm-a0", "baseline-all") for u in ("2", "5")}
    for row in rows:
        values = [float(v) for v in row["cross_by_fold"].split()]
        assert float(row["cross"]) == pytest.approx(np.mean(values), abs=0.06)  # shown to 0.1
        assert float(row["cross_low"]) < float(row["cross"]) < float(row["cross_high"])
    text = (figures / "accuracy_vs_updates.md").read_text()
    assert "dropout+norm-a0 − baseline-all (3 folds): 2: " in text

    # The first unit's first checkpoint (2 updates) has the features of a network trained
    # for exactly 2 updates with the same seed.
    common = [a for a in STUDY if a not in ("--checkpoints", "2,5")]
    run = command_line.resolve_run(command_line.script_parser("x").parse_args(
        [*common, "--out", str(out)]), [])
    patch_data = load_patch_data(run, log=lambda *a: None)
    configuration = next(c for c in run.configurations if c.name == "dropout+norm-a0")
    network = unit.train_network(run, configuration, patch_data, 0, updates=2)
    features = unit_features([network], patch_data, 0, 2)
    np.testing.assert_allclose(features["train"], seen[0], rtol=1e-4, atol=1e-4)

    trained_units.clear()
    assert accuracy_vs_updates.main([*STUDY, "--out", str(out), "--figures-dir", str(figures),
                                     "--report-only"]) == 0
    assert trained_units == []


def test_study_options_are_checked():
    with pytest.raises(SystemExit, match="--checkpoints sets the training length"):
        accuracy_vs_updates.main(["--updates", "3"])
    with pytest.raises(SystemExit, match="checkpoints takes numbers"):
        accuracy_vs_updates.main(["--checkpoints", "ten"])
    with pytest.raises(SystemExit, match="baseline-training trains one network per modality"):
        accuracy_vs_updates.main(["--configs", "baseline-training"])


def test_a_later_session_resumes_from_the_scores_kept_beside_the_figures(
        tmp_path, trained_units, monkeypatch):
    """The run folder (networks) does not outlive a session: the units' scores kept in
    FIGURES/units/ let a new run folder resume, and refuse another run's figures."""
    import shutil
    figures = tmp_path / "figures"
    arguments = [*STUDY, "--figures-dir", str(figures)]
    assert accuracy_vs_updates.main([*arguments, "--out", str(tmp_path / "first")]) == 0
    kept = sorted(p.name for p in (figures / "units").iterdir())
    assert kept == [f"{name}_fold{fold}.json" for name in ("baseline-all", "dropout+norm-a0")
                    for fold in range(3)]
    before = (figures / "accuracy_vs_updates.csv").read_text()
    shutil.rmtree(tmp_path / "first")
    (figures / "units" / "dropout+norm-a0_fold2.json").unlink()

    trained_units.clear()
    assert accuracy_vs_updates.main([*arguments, "--out", str(tmp_path / "second")]) == 0
    assert trained_units == [("dropout+norm-a0", 2, None)]  # only the unit not kept
    # Same seed, same numbers: the retrained unit and the kept ones give the same table.
    assert (figures / "accuracy_vs_updates.csv").read_text() == before
    assert "Units computed on: " in (figures / "accuracy_vs_updates.md").read_text()

    trained_units.clear()
    with pytest.raises(SystemExit, match=r"other arguments \(they differ in: seed\)"):
        accuracy_vs_updates.main([*arguments, "--seed", "1", "--out", str(tmp_path / "third")])
    assert not (tmp_path / "third").exists()  # a refused call leaves no folder
    # The modalities in the other order: kept scores are not mixed with retrained ones.
    with pytest.raises(SystemExit, match=r"modalities in the order N, FS, this call gives FS, N"):
        accuracy_vs_updates.main([*arguments, "--modalities", "FS,N",
                                  "--out", str(tmp_path / "reversed")])
    # A record is trusted for what it says it is, not for its file name.
    record = figures / "units" / "baseline-all_fold1.json"
    original = record.read_text()
    shutil.copyfile(figures / "units" / "dropout+norm-a0_fold0.json", record)
    with pytest.raises(SystemExit, match=r"holds the scores of dropout\+norm-a0/fold0, not of "
                                         r"baseline-all/fold1"):
        accuracy_vs_updates.main([*arguments, "--out", str(tmp_path / "copied")])
    content = json.loads(original)
    del content["result"]["checkpoints"]
    record.write_text(json.dumps(content))
    with pytest.raises(SystemExit, match=r"baseline-all_fold1.json cannot be read \(no "
                                         r"'checkpoints'\)"):
        accuracy_vs_updates.main([*arguments, "--out", str(tmp_path / "copied")])
    record.write_text(original)
    assert trained_units == [] and not (tmp_path / "copied").exists()
    import models
    with monkeypatch.context() as patch, pytest.raises(
            SystemExit, match=r"they differ in: arithmetic_version"):
        patch.setattr(models, "ARITHMETIC_VERSION", models.ARITHMETIC_VERSION + 1)
        accuracy_vs_updates.main([*arguments, "--out", str(tmp_path / "second")])
    assert trained_units == []
    record = figures / "units" / "baseline-all_fold0.json"
    record.write_text(record.read_text()[:40])
    with pytest.raises(SystemExit, match="baseline-all_fold0.json cannot be read"):
        accuracy_vs_updates.main([*arguments, "--out", str(tmp_path / "fourth")])


def test_a_control_is_a_flat_line_equal_to_its_table1_unit(tmp_path, trained_units):
    """raw-patch trains nothing: scored once, the same at every checkpoint, and equal to
    table1.py's raw-patch unit on the same patches and forest seed."""
    from reproduce import table1
    options = [a for a in STUDY if a not in ("--checkpoints", "2,5", "--configs",
                                              "dropout+norm-a0,baseline-all")]
    figures = tmp_path / "figures"
    assert accuracy_vs_updates.main([*options, "--checkpoints", "2,5", "--configs", "raw-patch",
                                     "--out", str(tmp_path / "study"),
                                     "--figures-dir", str(figures)]) == 0
    assert trained_units == []
    with open(figures / "accuracy_vs_updates.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["configuration"], r["updates"]) for r in rows] == [("raw-patch", "2"),
                                                                   ("raw-patch", "5")]
    assert rows[0]["cross_by_fold"] == rows[1]["cross_by_fold"]
    assert table1.main([*options, "--configs", "raw-patch", "--updates", "5",
                        "--out", str(tmp_path / "table")]) == 0
    crosses = [json.loads((tmp_path / "table" / "units" / "raw-patch" / f"fold{fold}"
                           / "result.json").read_text())["cross"] for fold in range(3)]
    assert rows[0]["cross_by_fold"] == " ".join(f"{c:.1f}" for c in crosses)
