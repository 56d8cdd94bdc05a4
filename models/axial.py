"""The axial convolutional network of van Tulder & de Bruijne (TMI 2018), paper §II.

Fig. 1 is ``build_axial_network``: for every modality m an encoder f^m maps the patch
x^m to a representation f^m(x^m); each is normalized — per sample across its features
(``FeatureVectorNormalization``, §II-C: else the similarity term is minimized by
shrinking the features) or per feature across the data (``FixedNormalization``,
§II-D); the mean over the *available* modalities gives f(x); every decoder g^m
reconstructs x^m from f(x). The objective (1)–(3) and the train step with modality
dropout are in ``axial_network.py`` (``AxialNetwork``); the readings the paper leaves open in ``readings.py``.

The layer sizes (the paper's Fig. 2 is lost: a reconstruction, see docs/design.md) are parameters:

    encoder  Conv3D 32 k5 → BN → LReLU,  Conv3D 64 k3 s2 → BN → LReLU,  Conv3D 128 k5 → BN → LReLU
             15³×1 → 11³×32 → 5³×64 → 1³×128
    decoder  the mirror with Conv3DTranspose; the last layer is linear.

BN, Conv3D and Conv3DTranspose are Keras's layers (under TensorFlow computed faster on
CPUs with the same weights and mathematics: ``fast_layers.py``).
"""
import keras
from keras import layers

from .fast_layers import batch_normalization, convolution, transposed_convolution
from .layers import FeatureVectorNormalization, FixedNormalization, layer_name, masked_mean
from .readings import LAST_BLOCKS, dropout_subset_weights, uses_vector_normalization
from .axial_network import AxialNetwork

PATCH_SIZE = 15  # the default input; reproduce/ passes the data layer's patch size
FILTERS = (32, 64, 128)
KERNEL_SIZES = (5, 3, 5)
STRIDES = (1, 2, 1)
LEAKY_RELU_SLOPE = 0.3  # the Keras default when the paper was written
BATCH_NORM_MOMENTUM = 0.99  # the Keras default for the moving statistics
MODALITY_MASK = "modality_mask"
BASELINE_MODALITY = "shared"  # the one input of a single-transformation baseline


def build_encoder(name, filters=FILTERS, kernel_sizes=KERNEL_SIZES, strides=STRIDES,
                  patch_size=PATCH_SIZE, momentum=BATCH_NORM_MOMENTUM, last_block="bn-lrelu"):
    """f^m: valid (strided) convolutions, BN and leaky ReLU; returns a flat representation.
    ``last_block`` (``LAST_BLOCKS``) says what follows the last convolution."""
    if last_block not in LAST_BLOCKS:
        raise ValueError(f"unknown last block {last_block!r}; choose from {', '.join(LAST_BLOCKS)}")
    patch = keras.Input((patch_size, patch_size, patch_size, 1), name=f"{name}_patch")
    hidden = patch  # (N, 15, 15, 15, 1) → 11³×32 → 5³×64 → 1³×128 with the defaults
    for block, (filter_count, kernel, stride) in enumerate(zip(filters, kernel_sizes, strides)):
        last = block == len(filters) - 1
        hidden = convolution(filter_count, kernel, strides=stride, padding="valid",
                             name=f"{name}_conv{block + 1}")(hidden)
        if not last or last_block == "bn-lrelu":
            hidden = batch_normalization(momentum=momentum, name=f"{name}_bn{block + 1}")(hidden)
        if not last or last_block != "linear":
            hidden = layers.LeakyReLU(LEAKY_RELU_SLOPE, name=f"{name}_lrelu{block + 1}")(hidden)
    representation = layers.Flatten(name=f"{name}_representation")(hidden)  # (N, 1·1·1·128)
    return keras.Model(patch, representation, name=name)


def build_decoder(name, filters=FILTERS, kernel_sizes=KERNEL_SIZES, strides=STRIDES,
                  patch_size=PATCH_SIZE, momentum=BATCH_NORM_MOMENTUM):
    """g^m: the mirror of the encoder with transposed convolutions; linear last layer."""
    spatial = patch_size
    for kernel, stride in zip(kernel_sizes, strides):
        spatial = (spatial - kernel) // stride + 1
    if spatial < 1:
        raise ValueError(f"kernel sizes {kernel_sizes} with strides {strides} do not fit a "
                         f"{patch_size}^3 patch")
    representation = keras.Input((spatial ** 3 * filters[-1],), name=f"{name}_representation")
    # (N, F) → (N, 1, 1, 1, 128) with the defaults; then 5³×64 → 11³×32 → 15³×1
    hidden = layers.Reshape((spatial, spatial, spatial, filters[-1]))(representation)
    output_filters = list(filters[-2::-1]) + [1]
    for block, (filter_count, kernel, stride) in enumerate(
            zip(output_filters, kernel_sizes[::-1], strides[::-1])):
        hidden = transposed_convolution(filter_count, kernel, strides=stride, padding="valid",
                                        name=f"{name}_deconv{block + 1}")(hidden)
        if block < len(output_filters) - 1:
            hidden = batch_normalization(momentum=momentum, name=f"{name}_bn{block + 1}")(hidden)
            hidden = layers.LeakyReLU(LEAKY_RELU_SLOPE, name=f"{name}_lrelu{block + 1}")(hidden)
    if hidden.shape[1] != patch_size:
        raise ValueError(f"the decoder gives {hidden.shape[1]}^3 patches, not {patch_size}^3: "
                         "choose kernel sizes and strides that invert exactly")
    return keras.Model(representation, hidden, name=name)


def build_axial_network(modality_names, normalization=False, filters=FILTERS,
                        kernel_sizes=KERNEL_SIZES, strides=STRIDES, patch_size=PATCH_SIZE,
                        alpha=0.0, modality_dropout=False, subset_weights=None, seed=None,
                        momentum=BATCH_NORM_MOMENTUM, vector_normalization="unless-per-feature",
                        last_block="bn-lrelu", dropout_distribution="uniform-subsets",
                        name="axial_network"):
    """Fig. 1 for M = len(modality_names) modalities, as an ``AxialNetwork``.

    Inputs: one (patch, patch, patch, 1) patch per modality, in ``modality_names`` order,
    then the modality mask (batch, M). Outputs (a dict):
    ``reconstruction_<m>`` (g^m(f(x))), ``features_<m>`` (f^m(x^m) after the network's
    normalization) and ``mean_representation`` (f(x)).
    ``normalization``: per-feature normalization (§II-D). ``vector_normalization``: a
    scope of ``VECTOR_NORMALIZATION_SCOPES`` (or True / False) deciding whether this
    network normalizes each feature vector (§II-C). ``last_block``: ``LAST_BLOCKS``.
    ``dropout_distribution``: ``DROPOUT_DISTRIBUTIONS`` (``subset_weights`` overrides it).
    ``momentum`` is that of every moving average (batch normalization and
    FixedNormalization); the default 0.99 needs a few hundred updates to settle.
    """
    modality_names = [str(name) for name in modality_names]
    safe_names = [layer_name(name) for name in modality_names]
    if len(set(safe_names)) != len(safe_names):
        raise ValueError(f"modality names must be distinct: {modality_names}")
    sizes = dict(filters=tuple(filters), kernel_sizes=tuple(kernel_sizes),
                 strides=tuple(strides), patch_size=patch_size, momentum=momentum)
    normalize_vectors = uses_vector_normalization(vector_normalization, normalization, alpha)
    if subset_weights is None:
        subset_weights = dropout_subset_weights(dropout_distribution, len(modality_names))
    patches = [keras.Input((patch_size, patch_size, patch_size, 1), name=f"patch_{safe}")
               for safe in safe_names]
    modality_mask = keras.Input((len(modality_names),), name=MODALITY_MASK)

    features_by_modality = []
    for safe, patch in zip(safe_names, patches):
        features = build_encoder(f"encoder_{safe}", last_block=last_block, **sizes)(patch)
        if normalize_vectors:
            features = FeatureVectorNormalization(name=f"vector_normalization_{safe}")(features)
        if normalization:
            features = FixedNormalization(momentum=momentum, name=f"normalization_{safe}")(features)
        features_by_modality.append(features)
    mean_representation = layers.Lambda(masked_mean, name="mean_representation")(
        [modality_mask, *features_by_modality])

    outputs = {}
    for safe, features in zip(safe_names, features_by_modality):
        outputs[f"reconstruction_{safe}"] = build_decoder(f"decoder_{safe}", **sizes)(
            mean_representation)
        outputs[f"features_{safe}"] = features
    outputs["mean_representation"] = mean_representation
    return AxialNetwork(inputs=[*patches, modality_mask], outputs=outputs, name=name,
                        modality_names=modality_names, alpha=alpha,
                        modality_dropout=modality_dropout, subset_weights=subset_weights,
                        seed=seed)


def build_baseline(filters=FILTERS, kernel_sizes=KERNEL_SIZES, strides=STRIDES,
                   patch_size=PATCH_SIZE, seed=None, momentum=BATCH_NORM_MOMENTUM,
                   vector_normalization="unless-per-feature", last_block="bn-lrelu",
                   name="baseline"):
    """The single-transformation baseline (§IV): one encoder and one decoder for every
    modality, a plain autoencoder. It is the axial network with one input, so the same
    layers and training step serve both; L_sim is zero for a single modality. The
    §II-C step follows ``vector_normalization`` as for a network with alpha 0 and no
    per-feature normalization, so the baseline differs from the plain axial network at
    alpha 0 only in sharing one transformation."""
    return build_axial_network([BASELINE_MODALITY], normalization=False, filters=filters,
                               kernel_sizes=kernel_sizes, strides=strides,
                               patch_size=patch_size, alpha=0.0, modality_dropout=False,
                               seed=seed, momentum=momentum,
                               vector_normalization=vector_normalization,
                               last_block=last_block, name=name)
