"""The controls (raw intensities, an untrained network) and the per-pair evidence of
Table I, checked against numbers computed another way: patch voxels by slicing, the
untrained network's weights from a fresh build with the same seed, per-pair differences
from table1_pairs.csv by hand."""
import csv
import json

import numpy as np
import pytest

from experiments.statistics import claims
from experiments.execution import unit
from experiments.measurement.features import RawVoxels
from experiments.paper.configurations import CONFIGURATIONS_BY_NAME
from reproduce import table1
from tests.conftest import TINY_RUN

pytestmark = pytest.mark.slow  # end to end: the fast tier (-m "not slow") leaves it out

CONFIGS = "plain-a0,dropout-a0,dropout+norm-a0,baseline-all,raw-patch,raw-centre,untrained"


@pytest.fixture(scope="module")
def control_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("controls") / "run"
    assert table1.main([*TINY_RUN[:1], "3", *TINY_RUN[2:], "--out", str(out),
                        "--configs", CONFIGS]) == 0
    return out


def test_raw_voxels_are_the_patch_or_its_central_block():
    patches = np.arange(2 * 15 ** 3, dtype=np.float32).reshape(2, 15, 15, 15)
    np.testing.assert_array_equal(RawVoxels(15)(patches), patches.reshape(2, -1))
    np.testing.assert_array_equal(RawVoxels(5)(patches),
                                  patches[:, 5:10, 5:10, 5:10].reshape(2, -1))


def test_controls_have_rows_comparisons_and_no_training(control_run):
    document = json.loads((control_run / "table1.json").read_text())
    rows = {row["name"]: row for row in document["rows"]}
    assert {"raw-patch", "raw-centre", "untrained"} <= set(rows)
    assert rows["raw-patch"]["published_cross"] is None
    results = {name: [json.loads((control_run / "units" / name / f"fold{k}" /
                                  "result.json").read_text()) for k in range(3)]
               for name in rows}
    for k in range(3):  # no features.npz for the raw controls: they are the patches
        assert not (control_run / "units" / "raw-patch" / f"fold{k}" / "features.npz").exists()
    beyond = [c for c in document["comparisons"] if c["beyond_paper"]]
    assert len(beyond) == 4 * 3  # four networks against three controls
    item = next(c for c in beyond if c["label"] == "plain-a0 − raw-patch")
    by_fold = [r["cross"] for r in results["plain-a0"]], [r["cross"] for r in
                                                          results["raw-patch"]]
    assert item["difference"] == pytest.approx(np.mean(np.subtract(*by_fold)), abs=0.01)
    assert "beyond" not in document["claims_summary"]
    paper = [c for c in document["comparisons"] if not c["beyond_paper"]]
    assert document["claims_summary"] == claims.summary(paper)
    text = (control_run / "table1.md").read_text()
    assert "Control, no trained network (beyond the paper)" in text
    assert "| plain-a0 | " in text.split("## Controls")[1]


def test_the_untrained_control_keeps_its_seeded_initial_weights(control_run):
    import models
    from experiments.runs import command_line
    args = command_line.script_parser("x").parse_args(
        [*TINY_RUN[:1], "3", *TINY_RUN[2:], "--out", str(control_run), "--configs", CONFIGS])
    run = command_line.resolve_run(args, [])
    saved = models.load_network(control_run / "units" / "untrained" / "fold1" / "model.keras")
    from runtime.seeds import seed_everything
    seed = unit.network_seed(run, CONFIGURATIONS_BY_NAME["untrained"], 1)
    seed_everything(seed)  # as every network is built
    fresh = unit.build_network(run, unit.UNTRAINED_ARCHITECTURE, seed)
    trained = {w.path: w for w in saved.trainable_weights}
    assert trained
    for weight in fresh.trainable_weights:
        np.testing.assert_array_equal(np.asarray(trained[weight.path]), np.asarray(weight))
    moving = [w for w in saved.non_trainable_weights if "moving_variance" in w.path]
    assert moving and not all(np.allclose(np.asarray(w), 1.0) for w in moving)  # recalibrated


def test_every_comparison_per_pair_from_the_pair_table(control_run):
    with open(control_run / "table1_pairs.csv") as handle:
        pairs = list(csv.DictReader(handle))
    with open(control_run / "table1_claims.csv") as handle:
        compared = list(csv.DictReader(handle))

    def accuracy(name, training, test):
        return [float(r["accuracy"]) for r in sorted(pairs, key=lambda r: int(r["fold"]))
                if r["name"] == name and r["training_modality"] == training
                and r["test_modality"] == test]

    for training, test in (("N", "FS"), ("FS", "N")):
        (row,) = [r for r in compared if r["comparison"] == "dropout-a0 − plain-a0"
                  and r["pair"] == f"{training}→{test}"]
        by_hand = np.subtract(accuracy("dropout-a0", training, test),
                              accuracy("plain-a0", training, test))
        # Both accuracies and the difference are rounded to 2 decimals: up to 0.015 apart.
        assert float(row["difference"]) == pytest.approx(by_hand.mean(), abs=0.02)
        from experiments.statistics import intervals
        mean, half, _ = intervals.interval([[v] for v in by_hand])
        # The pair accuracies are stored to 2 decimals; the interval's t(0.975, 2) / √3
        # ≈ 2.5 multiplies their rounding in the half width.
        assert float(row["high"]) == pytest.approx(mean + half, abs=0.03)
    assert {r["pair"] for r in compared if r["measure"] == "same"} == {"mean", "N→N", "FS→FS"}
    assert {r["pair"] for r in compared if r["measure"] == "cross"} == {"mean", "N→FS", "FS→N"}
    text = (control_run / "table1.md").read_text()
    assert "## Accuracy per ordered pair" in text and "| raw-patch | " in text
    assert (control_run / "table1_pairs.png").stat().st_size > 1000


def test_normalization_at_evaluation_scores_the_saved_features_as_the_unit_did(control_run):
    from studies import normalization_at_evaluation as study
    reference = np.array([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]])
    np.testing.assert_allclose(study.z_scored(np.array([[3.0, 6.0]]), reference),
                               [[0.0, 1.0]])  # SD of (1, 3, 5) is sqrt(8/3); constant: SD 1
    np.testing.assert_allclose(study.z_scored(np.array([[5.0, 5.0]]), reference),
                               [[2 / np.sqrt(8 / 3), 0.0]])
    assert study.main([*TINY_RUN[:1], "3", *TINY_RUN[2:], "--out", str(control_run),
                       "--configs", CONFIGS]) == 0
    document = json.loads((control_run / "normalization_at_evaluation.json").read_text())
    rows = {row["name"]: row for row in document["rows"]}
    assert "raw-patch" not in rows and "untrained" in rows  # no saved features: left out
    table = {row["name"]: row for row in json.loads(
        (control_run / "table1.json").read_text())["rows"]}
    for name, row in rows.items():
        assert row["cross_saved"] == pytest.approx(table[name]["cross"], abs=0.01)
        assert row["same_saved"] == pytest.approx(table[name]["same"], abs=0.01)
    features = unit.load_unit_features(*_run_and_configuration(control_run, "plain-a0"), 0)
    batch = study.variant_features(features, "test_statistics")
    np.testing.assert_allclose(batch["test"][0, 1].mean(axis=0), 0, atol=1e-5)
    trained = study.variant_features(features, "training_statistics")
    np.testing.assert_allclose(trained["train"][1].mean(axis=0), 0, atol=1e-5)


def _run_and_configuration(out, name):
    from experiments.runs import command_line
    args = command_line.script_parser("x").parse_args(
        [*TINY_RUN[:1], "3", *TINY_RUN[2:], "--out", str(out), "--configs", CONFIGS])
    return command_line.resolve_run(args, []), CONFIGURATIONS_BY_NAME[name]
