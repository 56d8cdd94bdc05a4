"""The mechanism measures (experiments/measurement/mechanism.py) on hand-made features and a tiny
network with known batch-normalization parameters, and the readings' central gap
(experiments/beyond_paper/reading_mechanism.py) on hand-made unit results."""
import math

import numpy as np
import pytest
from scipy import stats

from experiments.measurement import mechanism
from experiments.beyond_paper import reading_mechanism
from tests.networks import tiny_network


def test_feature_gaps_of_known_offsets_and_scales():
    rng = np.random.default_rng(0)
    first = rng.normal(size=(500, 4))
    # feature j of the second modality: scale s_j, shift d_j (in the first's units)
    scales, shifts = np.array([1.0, 2.0, 0.5, 1.0]), np.array([0.0, 3.0, -1.0, 0.5])
    second = first * scales + shifts
    found = mechanism.feature_gaps([first, second])
    expected_offsets, expected_logs = [], []
    for j in range(4):  # feature by feature, in the module docstring's words
        sd_a, sd_b = first[:, j].std(), second[:, j].std()
        expected_offsets.append(abs(first[:, j].mean() - second[:, j].mean())
                                / math.sqrt((sd_a ** 2 + sd_b ** 2) / 2))
        expected_logs.append(abs(math.log(sd_a / sd_b)))
    assert found["offset_in_pooled_sd"] == pytest.approx(np.mean(expected_offsets), abs=1e-4)
    assert found["scale_ratio"] == pytest.approx(math.exp(np.mean(expected_logs)), abs=1e-4)
    # the scales are exact: SD ratios 1, 2, 2 (0.5 read either way), 1 → exp(mean |ln|)
    assert found["scale_ratio"] == pytest.approx(2 ** 0.5, abs=1e-4)
    same = mechanism.feature_gaps([first, first.copy(), first.copy()])
    assert same == {"offset_in_pooled_sd": 0.0, "scale_ratio": 1.0,
                    "modality_specific_share": 0.0}
    constant = np.zeros((10, 2))
    assert mechanism.feature_gaps([constant, constant])["offset_in_pooled_sd"] == 0.0


def test_features_used_by_one_modality_only_are_counted_on_a_hand_made_network():
    """Two identical encoders but for 4 of B's 16 last-block features, switched off by a
    zero γ (B's feature is then β for every patch): exactly those 4 are specific to A."""
    network = tiny_network(("A", "B"))
    first, second = network.get_layer("encoder_A"), network.get_layer("encoder_B")
    second.set_weights(first.get_weights())
    gamma = second.get_layer("encoder_B_bn3").gamma
    switched_off = np.ones(16, "float32")
    switched_off[[1, 5, 9, 13]] = 0.0
    gamma.assign(gamma.numpy() * switched_off)
    patches = np.random.default_rng(3).normal(size=(200, 15, 15, 15, 1)).astype("float32")
    features = [np.asarray(encoder(patches, training=False)) for encoder in (first, second)]
    found = mechanism.feature_gaps(features)
    assert found["modality_specific_share"] == pytest.approx(4 / 16)
    assert mechanism.feature_gaps([features[0], features[0]])["modality_specific_share"] == 0.0
    # At a tenth, not below: a feature a tenth as spread is specific; a fifth is not.
    spread = np.random.default_rng(4).normal(size=(300, 2))
    assert mechanism.feature_gaps([spread, spread * [0.09, 0.2]])["modality_specific_share"] \
        == pytest.approx(0.5)


def test_last_normalization_reads_each_encoders_last_batch_normalization():
    network = tiny_network(("A", "B", "C"))
    gammas = {"A": np.full(16, 1.0), "B": np.full(16, 1.5), "C": np.linspace(0.5, 2.0, 16)}
    betas = {"A": np.zeros(16), "B": np.full(16, 0.4), "C": np.linspace(-1, 1, 16)}
    for name in "ABC":
        layer = network.get_layer(f"encoder_{name}").get_layer(f"encoder_{name}_bn3")
        layer.gamma.assign(gammas[name].astype("float32"))
        layer.beta.assign(betas[name].astype("float32"))
    found = mechanism.last_normalization(network)
    pairs = [("A", "B"), ("A", "C"), ("B", "C")]
    assert found["gamma_gap"] == pytest.approx(np.mean([np.abs(gammas[a] - gammas[b])
                                                        for a, b in pairs]), abs=1e-4)
    assert found["beta_gap"] == pytest.approx(np.mean([np.abs(betas[a] - betas[b])
                                                       for a, b in pairs]), abs=1e-4)
    implied = np.mean([np.abs(betas[a] - betas[b]) / np.sqrt((gammas[a] ** 2 + gammas[b] ** 2) / 2)
                       for a, b in pairs])
    assert found["implied_offset_in_pooled_sd"] == pytest.approx(implied, abs=1e-4)
    # without batch normalization in the last block there is nothing to read
    assert mechanism.last_normalization(tiny_network(last_block="linear")) is None
    assert mechanism.last_normalization(tiny_network(last_block="lrelu")) is None
    fresh = mechanism.last_normalization(tiny_network())
    assert (fresh["gamma_gap"], fresh["beta_gap"], fresh["gamma_mean"]) == (0.0, 0.0, 1.0)


def units(values):
    """Unit results of one row: {(fold, repeat): cross}."""
    return [{"fold": fold, "repeat": repeat, "cross": cross, "same": 90.0}
            for (fold, repeat), cross in values.items()]


def test_the_central_gap_per_reading_and_against_the_reference():
    keys = [(fold, repeat) for fold in range(2) for repeat in range(3)]
    rng = np.random.default_rng(1)
    dropout = {key: 60 + rng.normal() for key in keys}
    default_gap = {key: rng.normal() for key in keys}
    linear_gap = {key: default_gap[key] + 5 + rng.normal(scale=0.5) for key in keys}
    results = {
        "default": {"dropout-a0": units(dropout),
                    "dropout+norm-a0": units({k: dropout[k] + default_gap[k] for k in keys})},
        "last-block-linear": {"dropout-a0": units(dropout),
                              "dropout+norm-a0": units({k: dropout[k] + linear_gap[k]
                                                        for k in keys})},
    }
    rows = {row["reading"]: row for row in reading_mechanism.gap_rows(results, "default")}
    assert "versus" not in rows["default"]
    assert rows["default"]["gap"] == pytest.approx(np.mean(list(default_gap.values())), abs=0.01)
    linear = rows["last-block-linear"]
    differences = np.array([[linear_gap[(f, r)] - default_gap[(f, r)] for r in range(3)]
                            for f in range(2)])
    # the repeat interval by hand: pooled within-fold variance, 2 x (3 - 1) degrees
    pooled = sum(((d - d.mean()) ** 2).sum() for d in differences) / 4
    half = stats.t.ppf(0.975, 4) * math.sqrt(pooled * (1 / 3 + 1 / 3)) / 2
    assert linear["difference"] == pytest.approx(differences.mean(), abs=0.01)
    assert linear["high"] - linear["low"] == pytest.approx(2 * half, abs=0.02)
    assert linear["decided"] and linear["paired_trainings"] == 6
    # the same reading as its own reference: a difference of exactly 0, undecided
    results["copy"] = results["default"]
    copy = {row["reading"]: row for row in reading_mechanism.gap_rows(results, "default")}["copy"]
    assert copy["difference"] == 0.0 and not copy["decided"]


def test_trends_of_known_lines_and_the_gap_series():
    from experiments.beyond_paper import length_mechanism
    checkpoints = [100, 1000, 10000]
    # fold k: value = k + (0.1 + 0.01 k) · log10(updates)
    by_fold = {k: [(u, k + (0.1 + 0.01 * k) * math.log10(u)) for u in checkpoints]
               for k in range(3)}
    found = length_mechanism.trend(by_fold, target=1_000_000)
    assert found["slope"] == pytest.approx(0.11)
    assert found["slope_half"] == pytest.approx(stats.t.ppf(0.975, 2) * 0.01 / math.sqrt(3))
    assert found["at_target"] == pytest.approx(np.mean([k + (0.1 + 0.01 * k) * 6 for k in range(3)]))
    assert length_mechanism.trend({0: [(100, 1.0)]}) is None  # one checkpoint: no line

    def unit(fold, crosses, offsets):
        return {"fold": fold, "checkpoints": [
            {"updates": u, "cross": c, "mechanism": {"before": {"offset_in_pooled_sd": o}}}
            for u, c, o in zip(checkpoints, crosses, offsets)]}
    results = {"dropout-a0": [unit(0, [60, 62, 64], [0.2, 0.3, 0.4]),
                              unit(1, [50, 51, 52], [0.1, 0.2, 0.3])],
               "dropout+norm-a0": [unit(0, [61, 64, 67], [0.2, 0.2, 0.2]),
                                   unit(1, [50, 52, 54], [0.1, 0.1, 0.1])]}
    assert length_mechanism.gap_series(results) == {0: [(100, 1), (1000, 2), (10000, 3)],
                                                    1: [(100, 0), (1000, 1), (10000, 2)]}
    table, trends = length_mechanism.rows(results, checkpoints)
    offsets = {(r["configuration"], r["updates"]): r["mean"] for r in table
               if r["measure"].startswith("offset between modalities before")}
    assert offsets[("dropout-a0", 10000)] == pytest.approx(0.35)
    gap = next(t for t in trends if t["measure"] == "cross-modality gap (points)")
    assert gap["slope"] == pytest.approx(1.0) and gap["slope_half"] == pytest.approx(0.0)
    text = "\n".join(length_mechanism.lines(table, trends))
    assert "| dropout-a0 | offset between modalities before normalization (pooled SDs) | " \
           "+0.100 ± 0 | grows |" in text
