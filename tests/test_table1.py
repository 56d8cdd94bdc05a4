"""reproduce/table1.py end to end on a tiny phantom: output, resume, shards."""
import json

import keras
import numpy as np
import pytest

import models
from experiments.statistics import intervals
from experiments.execution import unit
from reproduce import table1
from experiments.paper.published import TABLE_1
from runtime.metadata import computed_on
from tests.conftest import TINY_RUN

pytestmark = pytest.mark.slow  # end to end: the fast tier (-m "not slow") leaves it out

TINY = TINY_RUN


def test_tiny_run_writes_a_valid_table_and_a_rerun_trains_nothing(tmp_path, trained_units):
    out = tmp_path / "run"
    arguments = [*TINY, "--out", str(out), "--configs", "dropout+norm-a0.1,baseline-training"]
    assert table1.main(arguments) == 0
    document = json.loads((out / "table1.json").read_text())
    assert document["dataset"] == "synthetic" and document["preset"] == "quick"
    assert document["modalities"] == ["N", "FS"] and document["folds"] == 2
    assert document["seed"] == 0 and "table1.py" in document["command"]
    assert {"keras", "tensorflow", "numpy"} <= set(document["versions"])
    assert document["seconds"] > 0
    # Where the time went: sections of every unit, summed; they add up to the total.
    split = document["time_split"]
    assert set(split) == {"total", "training", "feature extraction", "forests",
                          "patch cutting", "other"}
    units = [json.loads(p.read_text()) for p in sorted((out / "units").glob("*/*/result.json"))]
    assert split["training"] == pytest.approx(sum(u["timing"]["training"] for u in units),
                                              abs=0.1)
    assert split["total"] == pytest.approx(split["training"] + split["feature extraction"]
                                           + split["forests"] + split["other"], abs=0.2)
    assert all("patch cutting" in u["timing"] for u in units)
    # What the arithmetic depended on: machine and thread count, per unit and in the table.
    assert document["computed_on"] == [computed_on()]
    assert document["arithmetic_version"] == 4  # TensorFlow's current (models/__init__.py)
    assert {u["computed_on"] for u in units} == {computed_on()}
    assert f"Computed on: {computed_on()}" in (out / "table1.md").read_text()
    assert 0 <= split["patch cutting"] < split["training"] + split["feature extraction"]
    assert split["other"] >= 0
    assert "compute" in (out / "table1.md").read_text() and "forests" in (
        out / "table1.md").read_text()
    axial, baseline = document["rows"]
    assert (axial["name"], axial["kind"], axial["dropout"], axial["normalization"],
            axial["alpha"], axial["baseline"]) == ("dropout+norm-a0.1", "axial", True, True, 0.1, None)
    assert (axial["published_same"], axial["published_cross"]) == TABLE_1["oai"]["axial"][(True, True)][0.1]
    assert (baseline["kind"], baseline["baseline"], baseline["dropout"]) == ("baseline", "training", None)
    assert baseline["published_cross"] == 69.0
    for row in document["rows"]:
        per_fold = row["per_fold"]
        # Each accuracy counts correct patches out of 60: a multiple of 100/60.
        counts = np.asarray([f["accuracy"] for f in per_fold]) * 60 / 100
        np.testing.assert_allclose(counts, np.round(counts), atol=1e-6)
        assert len(per_fold) == 2
        # Same = mean of the diagonal, cross = mean of the off-diagonal, then over folds.
        diagonal = [np.mean(np.diag(f["accuracy"])) for f in per_fold]
        off = [np.mean(np.asarray(f["accuracy"])[~np.eye(2, dtype=bool)]) for f in per_fold]
        assert row["same"] == pytest.approx(np.mean(diagonal), abs=0.01)
        assert row["cross"] == pytest.approx(np.mean(off), abs=0.01)
        # The 95 % t interval over 2 folds: mean ± 12.706 · sd / √2.
        half = 12.7062 * np.std(off, ddof=1) / np.sqrt(2)
        assert row["cross_high"] - row["cross"] == pytest.approx(half, abs=0.02)
        assert row["cross_low"] == pytest.approx(row["cross"] - half, abs=0.02)
        assert row["published_cross_inside"] == (
            row["cross_low"] <= row["published_cross"] <= row["cross_high"])
        # Forest test patches: 20 per class, 3 classes, one test subject per fold.
        assert [f["test_patches"] for f in per_fold] == [60, 60]
        # The binomial error of the cross-modality pairs, per fold, then over folds.
        errors = [np.mean([np.sqrt(p * (1 - p) / 60) for p in np.asarray(f["accuracy"])[
            ~np.eye(2, dtype=bool)] / 100]) for f in per_fold]
        assert row["cross_patch_se"] == pytest.approx(
            100 * np.sqrt(np.sum(np.square(errors))) / 2, abs=0.006)
    # The baseline trained on the training modality trains one network per modality.
    assert sorted(trained_units) == sorted([("dropout+norm-a0.1", 0, None), ("dropout+norm-a0.1", 1, None),
                                            ("baseline-training", 0, 0), ("baseline-training", 0, 1),
                                            ("baseline-training", 1, 0), ("baseline-training", 1, 1)])
    markdown = (out / "table1.md").read_text()
    assert "Modality dropout and per-feature normalization" in markdown
    assert "(78.7 ✓)" in markdown or "(78.7 ✗)" in markdown  # the published number, checked
    assert "± " in markdown and "updates per network" in markdown
    assert "- dropout+norm-a0.1 − baseline-training: " in markdown  # a paired comparison
    (comparison,) = [c for c in document["comparisons"] if c["measure"] == "cross"]
    differences = [a["cross"] - b["cross"] for a, b in zip(axial["per_fold"], baseline["per_fold"])]
    assert comparison["difference"] == pytest.approx(np.mean(differences), abs=0.02)
    pairs = (out / "table1_pairs.csv").read_text().splitlines()
    assert pairs[0] == "name,fold,training_modality,test_modality,accuracy" and len(pairs) == 1 + 2 * 2 * 4

    # features.npz holds what the saved networks compute (one schema for every unit).
    table = patch_table_of(out)
    for name, model_files in (("dropout+norm-a0.1", ["model.keras"]),
                              ("baseline-training", ["model_N.keras", "model_FS.keras"])):
        with np.load(out / "units" / name / "fold1" / "features.npz") as stored:
            features = {key: stored[key] for key in stored.files}
        assert features["train"].shape[:2] == (2, 3 * 20)  # modalities, one training knee's rows
        assert features["test"].shape[:3] == (len(model_files), 2, 3 * 20)
        networks = [keras.saving.load_model(out / "units" / name / "fold1" / f, safe_mode=True)
                    for f in model_files]
        patches = table.gather(features["training_rows"])
        for a in range(2):
            network = networks[features["network_of"][a]]
            np.testing.assert_allclose(
                features["train"][a],
                models.extract_features(network, patches[:, a], a if len(networks) == 1 else 0),
                rtol=1e-4, atol=1e-4)
    trained_units.clear()
    before = (out / "units" / "dropout+norm-a0.1" / "fold0" / "result.json").read_text()
    assert table1.main(arguments) == 0
    assert trained_units == []
    assert (out / "units" / "dropout+norm-a0.1" / "fold0" / "result.json").read_text() == before


def patch_table_of(out):
    """The forest patch table of a tiny run folder, rebuilt as the run built it."""
    from experiments.runs import command_line
    from experiments.execution.patch_data import load_patch_data
    args = command_line.script_parser("x").parse_args([*TINY, "--out", str(out)])
    run = command_line.resolve_run(args, [])
    return load_patch_data(run, log=lambda *a: None).evaluation


def test_an_interrupted_run_resumes_where_it_stopped(tmp_path, monkeypatch, trained_units):
    out = tmp_path / "run"
    arguments = [*TINY, "--out", str(out), "--configs", "plain-a0,norm-a0.5"]
    original = unit.run_unit

    def interrupted(run, configuration, patch_data, fold):
        if len(trained_units) == 2:
            # Stopped as the third unit starts: its folder is made, nothing is in it yet.
            from experiments.runs.run_folder import unit_dir
            unit_dir(run.out, "units", configuration.name, fold).mkdir(parents=True)
            raise KeyboardInterrupt
        return original(run, configuration, patch_data, fold)

    monkeypatch.setattr(unit, "run_unit", interrupted)
    with pytest.raises(SystemExit) as stopped:  # Ctrl-C: one message, status 130
        table1.main(arguments)
    assert stopped.value.code == 130
    assert not (out / "table1.json").exists()
    finished = sorted(p.parent.name for p in (out / "units").rglob("result.json"))
    assert len(finished) == 2
    folds = [p for p in (out / "units").glob("*/fold*") if p.is_dir()]
    assert all(any(p.iterdir()) for p in folds)  # no empty unit folder left behind
    monkeypatch.setattr(unit, "run_unit", original)
    trained_units.clear()
    assert table1.main(arguments) == 0
    assert len(trained_units) == 2  # only the two missing units
    assert len(json.loads((out / "table1.json").read_text())["rows"]) == 2


def test_shard_halves_cover_the_grid_exactly_once(tmp_path, trained_units):
    out = tmp_path / "run"
    arguments = [*TINY, "--out", str(out), "--configs", "plain-a0.1,dropout-a0.2,baseline-all"]
    table1.main([*arguments, "--shard", "0/2"])
    first = set(trained_units)
    assert not (out / "table1.json").exists()
    trained_units.clear()
    table1.main([*arguments, "--shard", "1/2"])
    second = set(trained_units)
    # The last shard to finish leaves the tables to the final call (whose command they
    # record), even though every unit is done.
    assert not (out / "table1.json").exists()
    assert not first & second
    assert {(name, fold) for name, fold, _ in first | second} == {
        (name, fold) for name in ("plain-a0.1", "dropout-a0.2", "baseline-all") for fold in (0, 1)}
    trained_units.clear()
    table1.main(arguments)  # aggregates only
    assert trained_units == [] and (out / "table1.json").exists()


def test_a_run_folder_with_other_arguments_is_refused(tmp_path):
    out = tmp_path / "run"
    table1.main([*TINY, "--out", str(out), "--configs", "plain-a0"])
    with pytest.raises(SystemExit, match="other arguments .*updates"):
        table1.main([*TINY[:-4], "--updates", "3", "--verbose", "0", "--out", str(out),
                     "--configs", "plain-a0"])
    assert (out / "units" / "plain-a0" / "fold0" / "result.json").exists()


def test_command_line_errors_are_clear(tmp_path, capsys):
    with pytest.raises(SystemExit):
        table1.main(["--help"])
    assert "--shard" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="match no configuration"):
        table1.main([*TINY, "--out", str(tmp_path), "--configs", "nonsense"])
    with pytest.raises(SystemExit, match="needs --data-dir"):
        table1.main(["--dataset", "brats"])
    with pytest.raises(SystemExit, match="no subject found"):
        table1.main(["--dataset", "brats", "--data-dir", str(tmp_path), "--out", str(tmp_path / "o")])



def test_repeats_extend_a_run_folder_and_the_table_gives_claims_with_verdicts(
        tmp_path, trained_units, capsys):
    out = tmp_path / "run"
    arguments = [*TINY, "--out", str(out), "--configs", "dropout+norm-a0,dropout-a0"]
    assert table1.main(arguments) == 0
    assert len(trained_units) == 4
    # The terminal ends on Table I and this run's answer, not on the whole report.
    printed = capsys.readouterr().out
    assert "# Table I — synthetic (N, FS)" in printed and "## Claims" not in printed
    ending = printed[printed.index("What this run found"):].splitlines()
    assert ending[0].startswith("What this run found, against the paper's OAI column")
    assert ending[1].startswith("  normalization added to dropout (the central gain) "
                                "(dropout+norm-a0 − dropout-a0): ")
    assert "; paper (OAI) +33.6, " in ending[1]
    assert ending[2] == f"The full report (every claim, the controls, each ordered pair, the " \
                        f"feature scale): {out / 'table1.md'}"
    assert ending[3].startswith("No committed run has these settings")
    trained_units.clear()
    assert table1.main([*arguments, "--repeats", "3"]) == 0
    # Only the new trainings: 2 configurations x 2 folds x repeats 1 and 2.
    assert len(trained_units) == 8
    assert (out / "units" / "dropout-a0" / "fold1-repeat2" / "result.json").exists()
    document = json.loads((out / "table1.json").read_text())
    assert document["repeats"] == 3
    row = document["rows"][0]
    assert row["trainings"] == 6 and row["interval"].startswith("t interval over repeated")
    by_fold = [[f["cross"] for f in row["per_fold"] if f["fold"] == fold] for fold in (0, 1)]
    assert len(set(by_fold[0])) > 1  # the repeats are other trainings
    mean, half = intervals.repeat_interval(by_fold)
    assert row["cross"] == pytest.approx(mean, abs=0.01)
    assert row["cross_high"] - row["cross"] == pytest.approx(half, abs=0.02)
    (comparison,) = [c for c in document["comparisons"] if c["measure"] == "cross"]
    assert comparison["label"] == "dropout+norm-a0 − dropout-a0"
    assert comparison["claims"] == ["best", "normalization-adds-to-dropout"]
    assert comparison["verdict"] in ("reproduced", "contradicted", "undecided")
    assert comparison["paper"] == pytest.approx(77.0 - 43.4)
    assert document["claims_summary"].endswith("undecided")
    markdown = (out / "table1.md").read_text()
    assert "## Claims" in markdown and "3 trainings per configuration and fold" in markdown
    claims_csv = (out / "table1_claims.csv").read_text().splitlines()
    assert claims_csv[0].startswith("claims,comparison,pair,measure,alpha,difference")
    # one cross-modality comparison (no same-modality claim): over the mean, then per pair
    assert [line.split(",")[2] for line in claims_csv[1:]] == ["mean", "N→FS", "FS→N"]


def test_four_modalities_end_to_end_on_the_brain_phantom(tmp_path):
    out = tmp_path / "brain"
    assert table1.main([*TINY, "--phantom", "brain", "--out", str(out), "--configs",
                        "dropout+norm-a0", "--dropout-distribution", "uniform-count"]) == 0
    document = json.loads((out / "table1.json").read_text())
    assert document["modalities"] == ["T1", "T1c", "T2", "FLAIR"]
    (row,) = document["rows"]
    for fold in row["per_fold"]:
        accuracy = np.asarray(fold["accuracy"])
        assert accuracy.shape == (4, 4)
        assert fold["cross"] == pytest.approx(accuracy[~np.eye(4, dtype=bool)].mean(), abs=0.01)
        assert fold["same"] == pytest.approx(np.diag(accuracy).mean(), abs=0.01)
    assert (row["published_same"], row["published_cross"]) == (77.5, 65.8)  # BRATS
    with np.load(out / "units" / "dropout+norm-a0" / "fold0" / "features.npz") as stored:
        assert stored["train"].shape[0] == 4 and stored["test"].shape[:2] == (1, 4)


def test_publish_copies_the_finished_tables_and_nothing_else(tmp_path):
    out, published = tmp_path / "run", tmp_path / "paper_figures" / "mine"
    assert table1.main([*TINY, "--out", str(out), "--configs", "plain-a0",
                        "--publish", str(published)]) == 0
    assert sorted(p.name for p in published.iterdir()) == sorted(table1.TABLE_FILES)
    for name in table1.TABLE_FILES:
        assert (published / name).read_bytes() == (out / name).read_bytes()
