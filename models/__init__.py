"""The axial network (paper §II), its baselines, training and feature extraction.

The network sees arrays only: it knows nothing about files or datasets (see ``data``).
"""
from .axial import (AxialNetwork, all_nonempty_subsets, build_axial_network, build_baseline,
                    layer_name)
from .layers import FastBatchNormalization, FastConv3DTranspose, FixedNormalization, masked_mean
from .training import (ArrayPatches, AtUpdates, PatchBatches, extract_features, make_optimizer,
                       reconstruct, steady_dataset, train)

__all__ = ["AxialNetwork", "FastBatchNormalization", "FastConv3DTranspose", "FixedNormalization",
           "masked_mean", "all_nonempty_subsets", "build_axial_network", "build_baseline",
           "layer_name", "extract_features", "make_optimizer", "reconstruct", "train",
           "ArrayPatches", "AtUpdates", "PatchBatches", "steady_dataset"]
