"""The axial network (paper §II), its baselines, training and feature extraction.

The network sees arrays only: it knows nothing about files or datasets (see ``data``).

    axial.py          Fig. 1: encoders, normalization, mean, decoders (``build_axial_network``)
    axial_network.py  AxialNetwork: equations (1)–(3) and the train step with modality dropout
    readings.py       the choices the paper leaves open, by name
    layers.py         the normalizations (§II-C, §II-D), the masked mean
    fast_layers.py    TensorFlow's speed paths for batch normalization, Conv3D, Conv3DTranspose
    batches.py        the one seeded loader (``PatchBatches``) and the tf.data feed
    training.py       the optimizer, precision, distribution and ``train``
    checkpoints.py    a training's state saved as it goes, and resumed exactly
    recalibration.py  moving statistics recomputed after training
    inference.py      features of one modality, reconstructions from any subset
    dense.py          features of every voxel of a volume (the encoder run over it)
"""
from runtime.lazy_exports import lazy_exports

# The arithmetic of training, as a number per Keras backend: raise it with any change
# that moves float32 round-off (another kernel for a layer, another order of a sum). A
# few ulps early in training move a scaled run's accuracies by points, so results kept
# from older arithmetic (the training-length study's kept units) are not mixed with
# newer ones. TensorFlow: 1, its default thread pools; 2, one thread per process (the
# default since the worker processes; results record their thread count, ``computed_on``);
# 3, the encoders' last and the decoders' first layer as matrix products and the
# decoders' last layer's gradients as plain convolutions (``fast_layers.py``); 4, that last
# layer's forward pass by rows (a 1-D convolution and two shift sums; version 3: a 2-D
# transposed convolution and a sum over depth shifts).
# ``arithmetic_version()`` is the current backend's: a bare number under TensorFlow (so
# that records made before the other backends keep matching), "jax 1" or "torch 1" otherwise.
ARITHMETIC_VERSIONS = {"tensorflow": 4, "jax": 1, "torch": 1}


def arithmetic_version(backend=None):
    if backend is None:
        import keras
        backend = keras.backend.backend()
    version = ARITHMETIC_VERSIONS[backend]
    return version if backend == "tensorflow" else f"{backend} {version}"


# Which submodule defines each name. The package imports a submodule (and with it
# Keras and TensorFlow) on first use of one of its names, so that a script parses its
# options, and answers --help, before TensorFlow starts.
_SOURCES = {
    "axial": ["BASELINE_MODALITY", "PATCH_SIZE", "build_axial_network", "build_baseline"],
    "dense": ["dense_features"],
    "checkpoints": ["TrainingCheckpoint", "TrainingStopped"],
    "batches": ["ArrayPatches", "PatchBatches", "as_modality_tuple", "steady_dataset"],
    "inference": ["extract_features", "feature_extractor", "load_network", "predict_in_batches",
                  "reconstruct"],
    "fast_layers": ["FastBatchNormalization", "FastConv3D", "FastConv3DTranspose"],
    "layers": ["FeatureVectorNormalization", "FixedNormalization", "layer_name", "masked_mean"],
    "readings": ["DROPOUT_DISTRIBUTIONS", "LAST_BLOCKS", "VECTOR_NORMALIZATION_SCOPES",
                 "all_nonempty_subsets", "dropout_subset_weights", "uses_vector_normalization"],
    "recalibration": ["normalization_layers", "recalibrate_statistics"],
    "axial_network": ["AxialNetwork"],
    "training": ["AtUpdates", "distribution_scope", "make_optimizer", "train",
                 "use_mixed_precision"],
}
_package_getattr, __dir__, __all__ = lazy_exports(__name__, _SOURCES)


def __getattr__(name):
    if name == "ARITHMETIC_VERSION":  # the current backend's (resolved on first use)
        globals()[name] = arithmetic_version()
        return globals()[name]
    return _package_getattr(name)
