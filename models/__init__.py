"""The axial network (paper §II), its baselines, training and feature extraction.

The network sees arrays only: it knows nothing about files or datasets (see ``data``).

    axial.py          Fig. 1: encoders, normalization, mean, decoders (``build_axial_network``)
    train_step.py     equations (1)–(3) and the train step with modality dropout
    readings.py       the choices the paper leaves open, by name
    layers.py         the normalizations (§II-C, §II-D), the masked mean, two fast layers
    batches.py        the one seeded loader (``PatchBatches``) and the tf.data feed
    training.py       the optimizer, precision, distribution and ``train``
    recalibration.py  moving statistics recomputed after training
    inference.py      features of one modality, reconstructions from any subset
"""
from .axial import BASELINE_MODALITY, PATCH_SIZE, build_axial_network, build_baseline
from .batches import ArrayPatches, PatchBatches, as_modality_tuple, steady_dataset
from .inference import extract_features, feature_extractor, predict_in_batches, reconstruct
from .layers import (FastBatchNormalization, FastConv3DTranspose, FeatureVectorNormalization,
                     FixedNormalization, layer_name, masked_mean)
from .readings import (DROPOUT_DISTRIBUTIONS, LAST_BLOCKS, VECTOR_NORMALIZATION_SCOPES,
                       all_nonempty_subsets, dropout_subset_weights, uses_vector_normalization)
from .recalibration import normalization_layers, recalibrate_statistics
from .train_step import AxialNetwork
from .training import (AtUpdates, distribution_scope, make_optimizer, train,
                       use_mixed_precision)

__all__ = ["AxialNetwork", "FastBatchNormalization", "FastConv3DTranspose",
           "FeatureVectorNormalization", "FixedNormalization", "masked_mean",
           "all_nonempty_subsets", "build_axial_network", "build_baseline",
           "dropout_subset_weights", "layer_name", "uses_vector_normalization",
           "BASELINE_MODALITY", "PATCH_SIZE", "VECTOR_NORMALIZATION_SCOPES", "LAST_BLOCKS",
           "DROPOUT_DISTRIBUTIONS", "normalization_layers", "recalibrate_statistics",
           "extract_features", "feature_extractor", "predict_in_batches", "reconstruct",
           "make_optimizer", "train", "use_mixed_precision", "distribution_scope",
           "ArrayPatches", "AtUpdates", "PatchBatches", "as_modality_tuple",
           "steady_dataset"]
