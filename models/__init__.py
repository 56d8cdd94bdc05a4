"""The axial network (paper §II), its baselines, training and feature extraction.

The network sees arrays only: it knows nothing about files or datasets (see ``data``).
"""
from .axial import (DROPOUT_DISTRIBUTIONS, LAST_BLOCKS, VECTOR_NORMALIZATION_SCOPES,
                    AxialNetwork, all_nonempty_subsets, build_axial_network, build_baseline,
                    dropout_subset_weights, layer_name, uses_vector_normalization)
from .layers import (FastBatchNormalization, FastConv3DTranspose, FeatureVectorNormalization,
                     FixedNormalization, masked_mean)
from .recalibration import normalization_layers, recalibrate_statistics
from .training import (ArrayPatches, AtUpdates, PatchBatches, extract_features, make_optimizer,
                       reconstruct, steady_dataset, train)

__all__ = ["AxialNetwork", "FastBatchNormalization", "FastConv3DTranspose",
           "FeatureVectorNormalization", "FixedNormalization", "masked_mean",
           "all_nonempty_subsets", "build_axial_network", "build_baseline",
           "dropout_subset_weights", "layer_name", "uses_vector_normalization",
           "VECTOR_NORMALIZATION_SCOPES", "LAST_BLOCKS", "DROPOUT_DISTRIBUTIONS",
           "normalization_layers", "recalibrate_statistics",
           "extract_features", "make_optimizer", "reconstruct", "train",
           "ArrayPatches", "AtUpdates", "PatchBatches", "steady_dataset"]
