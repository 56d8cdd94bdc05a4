"""The mechanism behind per-feature normalization (paper §II-D), measured on one network.

§II-D: each modality's features may keep offsets and scales of their own, so that the
mean over the available modalities depends on which modalities are there; per-feature
normalization (zero mean, unit SD per feature and modality) removes them. Measured on a
fold's test patches, per feature and then averaged over features and modality pairs:

- ``offset_in_pooled_sd``: |mean_a − mean_b| / sqrt((SD_a² + SD_b²) / 2);
- ``scale_ratio``: exp(mean |ln(SD_a / SD_b)|), 1 when every feature has the same SD in
  every modality (2: one modality's features typically twice as spread);
- ``modality_specific_share``: the share of features "used for one modality but not for
  another" (§II-D's words for what dropout alone may learn): a feature whose SD in one
  modality is below a tenth of its SD in the other (``SPECIFIC_SD_RATIO``);

each *before* the network's normalization (the encoders' outputs f^m(x^m)) and *after*
it (the features that are averaged and that the forests see: after the §II-C step
and/or ``FixedNormalization`` where the network has them; the same as before where it
has neither).

With a batch-normalized last block (the default reading), each encoder's last batch
normalization gives its modality's features, during training, mean β and SD |γ| per
feature before the leaky ReLU: modalities whose γ and β drift apart get per-modality
offsets and scales back. ``last_normalization`` reports that drift: mean |γ_a − γ_b|,
mean |β_a − β_b|, and the offset it implies, |β_a − β_b| / sqrt((γ_a² + γ_b²) / 2).
"""
import itertools

import numpy as np

import models
from experiments.measurement.features import features_of_rows
from experiments.statistics import intervals


SPECIFIC_SD_RATIO = 0.1  # a feature this much less spread in one modality serves the other


def feature_gaps(features_by_modality):
    """{offset_in_pooled_sd, scale_ratio, modality_specific_share} of a list of (N, F)
    arrays (module docstring), each averaged over features and modality pairs. A feature
    constant in both modalities counts as offset 0 and as shared; one constant in only one
    modality is left out of the scale ratio (its ratio is infinite) and counts as specific."""
    offsets, log_ratios, specific = [], [], []
    for a, b in itertools.combinations(range(len(features_by_modality)), 2):
        first = np.asarray(features_by_modality[a], np.float64)
        second = np.asarray(features_by_modality[b], np.float64)
        spread_a, spread_b = first.std(0), second.std(0)
        pooled = np.sqrt((spread_a ** 2 + spread_b ** 2) / 2)
        with np.errstate(invalid="ignore", divide="ignore"):
            offsets.append(np.where(pooled > 0,
                                    np.abs(first.mean(0) - second.mean(0)) / pooled, 0.0))
        both = (spread_a > 0) & (spread_b > 0)
        log_ratios.append(np.abs(np.log(spread_a[both] / spread_b[both])))
        specific.append(np.minimum(spread_a, spread_b)
                        < SPECIFIC_SD_RATIO * np.maximum(spread_a, spread_b))
    ratios = np.concatenate(log_ratios)
    return {"offset_in_pooled_sd": round(float(np.mean(np.concatenate(offsets))), 6),
            "scale_ratio": round(float(np.exp(ratios.mean())) if ratios.size else 1.0, 6),
            "modality_specific_share": round(float(np.mean(np.concatenate(specific))), 6)}


def last_normalization(network):
    """{gamma_gap, beta_gap, implied_offset_in_pooled_sd, gamma_mean, beta_mean} of the
    encoders' last batch normalization (means over features and modality pairs; γ and β
    means over features and modalities), or None when the last block has none."""
    import keras  # here: the experiments modules load before TensorFlow starts
    names = [models.layer_name(n) for n in network.modality_names]
    present = {layer.name: layer for layer in network.layers}
    encoders = [present.get(f"encoder_{name}") for name in names]
    if len(names) < 2 or any(e is None for e in encoders):
        return None
    last = []
    for encoder in encoders:
        batch_norms = [layer for layer in encoder.layers  # Keras's, or its fast TF path
                       if isinstance(layer, keras.layers.BatchNormalization)]
        last_convolution = [layer for layer in encoder.layers
                            if isinstance(layer, keras.layers.Conv3D)][-1]
        # The last block has a batch normalization only if one follows the last convolution.
        if not batch_norms or encoder.layers.index(batch_norms[-1]) < encoder.layers.index(
                last_convolution):
            return None
        last.append(batch_norms[-1])
    gammas = [np.asarray(layer.gamma, np.float64) for layer in last]
    betas = [np.asarray(layer.beta, np.float64) for layer in last]
    gamma_gaps, beta_gaps, implied = [], [], []
    for a, b in itertools.combinations(range(len(last)), 2):
        gamma_gaps.append(np.abs(gammas[a] - gammas[b]))
        beta_gaps.append(np.abs(betas[a] - betas[b]))
        pooled = np.sqrt((gammas[a] ** 2 + gammas[b] ** 2) / 2)
        implied.append(np.where(pooled > 0, beta_gaps[-1] / np.maximum(pooled, 1e-12), 0.0))
    return {"gamma_gap": round(float(np.mean(gamma_gaps)), 6),
            "beta_gap": round(float(np.mean(beta_gaps)), 6),
            "implied_offset_in_pooled_sd": round(float(np.mean(implied)), 6),
            "gamma_mean": round(float(np.mean(gammas)), 6),
            "beta_mean": round(float(np.mean(betas)), 6)}


def encoder_of(network, modality):
    return network.get_layer(f"encoder_{models.layer_name(network.modality_names[modality])}")


def measure(network, patch_data, fold):
    """{"before": feature_gaps, "after": feature_gaps, "last_normalization": … or None}
    of an axial network (two or more modalities) on the fold's test patches."""
    table = patch_data.evaluation
    rows = patch_data.rows(table, fold, "test")
    count = len(network.modality_names)
    before = features_of_rows(table, rows, [encoder_of(network, m) for m in range(count)])
    after = features_of_rows(table, rows, [models.feature_extractor(network, m)
                                           for m in range(count)])
    return {"before": feature_gaps(list(before)), "after": feature_gaps(list(after)),
            "last_normalization": last_normalization(network)}


# The per-unit measures of the mechanism, as flat columns (``reading_mechanism.flat_row``).
MEASURES = ("before_offset_in_pooled_sd", "after_offset_in_pooled_sd", "before_scale_ratio",
            "after_scale_ratio", "last_bn_gamma_gap", "last_bn_beta_gap",
            "last_bn_implied_offset_in_pooled_sd")


def summarized(unit_rows):
    """Per reading and configuration: each measure's mean and 95 % interval over the
    trainings (conditioned on the folds, as the accuracies are)."""
    rows = []
    for reading, configuration in dict.fromkeys((r["reading"], r["configuration"])
                                                for r in unit_rows):
        mine = [r for r in unit_rows if (r["reading"], r["configuration"]) == (reading,
                                                                                 configuration)]
        row = {"reading": reading, "configuration": configuration, "trainings": len(mine)}
        for measure in MEASURES:
            by_fold = intervals.grouped_by_fold(mine, measure)
            if any(by_fold):
                mean, half, _ = intervals.interval([values for values in by_fold if values])
                row[measure] = round(mean, 3)
                row[f"{measure}_half_width"] = None if np.isnan(half) else round(half, 3)
        rows.append(row)
    return rows
