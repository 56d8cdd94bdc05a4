"""Tiny networks and random patches for the model tests."""
import numpy as np

from models import build_axial_network

TINY = dict(filters=(4, 8, 16))


def tiny_network(modality_names=("A", "B"), **settings):
    return build_axial_network(list(modality_names), **TINY, **settings)


def random_patches(count, modalities, seed=0):
    return np.random.default_rng(seed).normal(size=(count, modalities, 15, 15, 15)).astype("float32")
