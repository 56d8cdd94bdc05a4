"""The published Table I (van Tulder & de Bruijne, TMI 2018), mean accuracy in percent.

Keys: (modality dropout, per-feature normalization) → {alpha: (same, cross)} for the
axial network; "baseline-all" / "baseline-training" → (same, cross).
"""
ALPHAS = (0.0, 0.1, 0.2, 0.5)


def _rows(same_by_setting, cross_by_setting):
    return {setting: {alpha: (same, cross) for alpha, same, cross in
                      zip(ALPHAS, same_by_setting[setting], cross_by_setting[setting])}
            for setting in same_by_setting}


TABLE_1 = {
    "oai": {
        "axial": _rows(
            {(False, False): (80.0, 79.1, 79.2, 78.9), (False, True): (80.4, 79.7, 79.3, 78.6),
             (True, False): (81.8, 81.1, 80.7, 80.3), (True, True): (81.6, 81.5, 81.1, 80.7)},
            {(False, False): (33.5, 52.5, 53.7, 57.0), (False, True): (43.6, 65.2, 63.1, 62.2),
             (True, False): (43.4, 63.2, 67.1, 70.7), (True, True): (77.0, 78.7, 78.7, 78.2)}),
        "baseline-all": (79.6, 70.0),
        "baseline-training": (79.4, 69.0),
    },
    "brats": {
        "axial": _rows(
            {(False, False): (73.0, 71.9, 71.5, 69.8), (False, True): (72.6, 73.4, 73.9, 72.9),
             (True, False): (77.5, 76.9, 76.8, 76.5), (True, True): (77.5, 77.5, 77.2, 76.8)},
            {(False, False): (50.2, 51.8, 51.7, 51.4), (False, True): (52.2, 55.9, 57.5, 60.0),
             (True, False): (51.7, 55.3, 55.9, 57.4), (True, True): (65.8, 66.8, 67.0, 67.9)}),
        "baseline-all": (69.4, 54.9),
        "baseline-training": (70.0, 55.1),
    },
}


def published(table, configuration):
    """(same, cross) published for a configuration, or (None, None)."""
    if table not in TABLE_1 or configuration.kind == "control":
        return None, None
    if configuration.kind == "baseline":
        return TABLE_1[table][f"baseline-{configuration.baseline}"]
    return TABLE_1[table]["axial"][(configuration.dropout, configuration.normalization)][
        configuration.alpha]


# The paper's scale (§III–IV), beside which the findings page shows every run's: 5 folds,
# 5,000 patches per class per subject, batch 64, 128 features; BRATS 220 subjects (two
# classes) for 50 epochs, OAI 172 scan pairs (three classes) for 100 epochs.
PAPER_SCALE = {
    "brats": {"training_subjects": 176, "features": 128, "patches_per_class": 5000,
              "updates": 50 * (176 * 2 * 5000) // 64},  # 1,375,000
    "oai": {"training_subjects": 138, "features": 128, "patches_per_class": 5000,
            "updates": 100 * (138 * 3 * 5000) // 64},  # 3,234,375
}
