"""The axial convolutional network of van Tulder & de Bruijne (TMI 2018), paper §II.

Fig. 1 is ``build_axial_network``: for every modality m an encoder f^m maps the patch
x^m to a representation f^m(x^m) (optionally normalized per feature, §II-D); the mean
over the *available* modalities gives f(x); every decoder g^m reconstructs x^m from f(x).

The objective, written out by name in ``AxialNetwork.compute_losses``:

    (1)  L_recon    = Σ_m mean | g^m(f(x)) − x^m |             over all M modalities
    (2)  L_sim      = Σ_m a_m · mean | f^m(x^m) − f(x) |       over the available modalities
    (3)  L_combined = (1 − α) L_recon + α L_sim

where a ∈ {0,1}^M is the modality mask of a sample. With modality dropout (§II-B) the
custom ``train_step`` draws a fresh non-empty mask for every sample at every step;
without it the mask is all ones. The encoders always see every modality's real patch:
the mask only removes dropped modalities from the mean and from L_sim.

Before the mean, each f^m(x^m) is normalized: per sample across its features
(``FeatureVectorNormalization``, §II-C: else L_sim is minimized by shrinking the
features) or per feature across the data (``FixedNormalization``, §II-D). Which networks
get the §II-C step is a reading the paper leaves open (``VECTOR_NORMALIZATION_SCOPES``);
so are the encoder's last block (``LAST_BLOCKS``) and the dropout distribution
(``DROPOUT_DISTRIBUTIONS``). The defaults are the README's reading.

The layer sizes (the paper's Fig. 2 is lost: a reconstruction, see README) are parameters:

    encoder  Conv3D 32 k5 → BN → LReLU,  Conv3D 64 k3 s2 → BN → LReLU,  Conv3D 128 k5 → BN → LReLU
             15³×1 → 11³×32 → 5³×64 → 1³×128
    decoder  the mirror with Conv3DTranspose; the last layer is linear.

BN is Keras's batch normalization and Conv3DTranspose Keras's transposed convolution,
computed faster on CPUs (``FastBatchNormalization``, ``FastConv3DTranspose``: the same
weights and mathematics).
"""
import re

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from .layers import (PACKAGE, FastBatchNormalization, FastConv3DTranspose,
                     FeatureVectorNormalization, FixedNormalization, masked_mean)

PATCH_SIZE = 15
FILTERS = (32, 64, 128)
KERNEL_SIZES = (5, 3, 5)
STRIDES = (1, 2, 1)
LEAKY_RELU_SLOPE = 0.3  # the Keras default when the paper was written
BATCH_NORM_MOMENTUM = 0.99  # the Keras default for the moving statistics
MODALITY_MASK = "modality_mask"
BASELINE_MODALITY = "shared"  # the one input of a single-transformation baseline

# Which networks normalize every feature vector (§II-C) before the mean:
VECTOR_NORMALIZATION_SCOPES = {
    "never": "no network (the model before §II-C was implemented)",
    "unless-per-feature": "every network without per-feature normalization, at every alpha, "
                          "baselines included (default: §II-D presents per-feature "
                          "normalization as the step that replaces it)",
    "with-similarity": "networks without per-feature normalization and with alpha > 0 (the "
                       "paper's stated motive is the similarity term)",
    "always": "every network, before per-feature normalization where that is on",
}
# The encoder's last block, which yields the representation (the lost Fig. 2 would say):
LAST_BLOCKS = {"bn-lrelu": "convolution, batch normalization, leaky ReLU (default: as every "
                           "other block)",
               "lrelu": "convolution, leaky ReLU", "linear": "convolution only"}
# Modality dropout's draw of "a random subset of 1 to M input modalities" (§II-B):
DROPOUT_DISTRIBUTIONS = {
    "uniform-subsets": "uniform over the 2^M - 1 non-empty subsets (default)",
    "uniform-count": "a uniform number of modalities 1..M, then a uniform subset of that size"}


def uses_vector_normalization(scope, per_feature_normalization, alpha):
    """Whether a network with these settings normalizes its feature vectors (§II-C)."""
    if isinstance(scope, bool):
        return scope
    if scope not in VECTOR_NORMALIZATION_SCOPES:
        raise ValueError(f"unknown feature-vector normalization scope {scope!r}; choose from "
                         f"{', '.join(VECTOR_NORMALIZATION_SCOPES)}")
    return {"never": False, "always": True,
            "unless-per-feature": not per_feature_normalization,
            "with-similarity": not per_feature_normalization and alpha > 0}[scope]


def dropout_subset_weights(distribution, modality_count):
    """Weights of the 2^M − 1 non-empty subsets (ordered as ``all_nonempty_subsets``)."""
    sizes = all_nonempty_subsets(modality_count).sum(axis=1).astype(int)
    if distribution == "uniform-subsets":
        return np.ones(len(sizes))
    if distribution == "uniform-count":  # P(size k) = 1/M, shared by the C(M, k) subsets
        subsets_of_size = np.bincount(sizes, minlength=modality_count + 1)
        return 1.0 / (modality_count * subsets_of_size[sizes])
    raise ValueError(f"unknown dropout distribution {distribution!r}; choose from "
                     f"{', '.join(DROPOUT_DISTRIBUTIONS)}")


def layer_name(modality_name):
    """A layer-name-safe spelling of a modality name ('T1+c' → 'T1_c')."""
    return re.sub(r"[^0-9A-Za-z_]", "_", str(modality_name))


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
        hidden = layers.Conv3D(filter_count, kernel, strides=stride, padding="valid",
                               name=f"{name}_conv{block + 1}")(hidden)
        if not last or last_block == "bn-lrelu":
            hidden = FastBatchNormalization(momentum=momentum,
                                            name=f"{name}_bn{block + 1}")(hidden)
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
        hidden = FastConv3DTranspose(filter_count, kernel, strides=stride, padding="valid",
                                     name=f"{name}_deconv{block + 1}")(hidden)
        if block < len(output_filters) - 1:
            hidden = FastBatchNormalization(momentum=momentum,
                                            name=f"{name}_bn{block + 1}")(hidden)
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


def all_nonempty_subsets(modality_count):
    """The 2^M − 1 non-empty modality masks, row k = binary digits of k + 1."""
    codes = np.arange(1, 2 ** modality_count)
    return ((codes[:, None] >> np.arange(modality_count)) & 1).astype("float32")


@keras.saving.register_keras_serializable(package=PACKAGE)
class AxialNetwork(keras.Model):
    """The functional network of Fig. 1 with the training objective of equations (1)–(3).

    ``fit`` takes x = a tuple of M patch arrays (batch, p, p, p, 1) and no targets: the
    network reconstructs its inputs. ``train_step`` draws the modality masks;
    ``test_step`` evaluates with every modality available.
    """

    def __init__(self, *args, modality_names=None, alpha=0.0, modality_dropout=False,
                 subset_weights=None, seed=None, **kwargs):
        super().__init__(*args, **kwargs)
        modality_count = len(self.inputs) - 1
        self.modality_names = list(modality_names or [f"modality{m}" for m in range(modality_count)])
        if len(self.modality_names) != modality_count:
            raise ValueError(f"{modality_count} patch inputs but modality names "
                             f"{self.modality_names}")
        if not 0.0 <= float(alpha) <= 1.0:
            raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
        self.alpha = float(alpha)
        self.modality_dropout = bool(modality_dropout)
        self.seed = seed
        subsets = all_nonempty_subsets(modality_count)
        if subset_weights is None:
            subset_weights = np.ones(len(subsets))
        subset_weights = np.asarray(subset_weights, dtype="float64")
        if subset_weights.shape != (len(subsets),) or np.any(subset_weights < 0) \
                or subset_weights.sum() <= 0:
            raise ValueError(f"subset_weights needs {len(subsets)} non-negative weights (one "
                             f"per non-empty subset, ordered as all_nonempty_subsets), got "
                             f"{subset_weights.tolist()}")
        self.subset_weights = subset_weights.tolist()
        self._subsets = tf.constant(subsets)
        with np.errstate(divide="ignore"):
            self._subset_logits = tf.constant(np.log(subset_weights / subset_weights.sum())[None],
                                              dtype="float32")
        self.dropout_seed_generator = keras.random.SeedGenerator(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.similarity_tracker = keras.metrics.Mean(name="similarity_loss")

    @property
    def modality_count(self):
        return len(self.modality_names)

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.similarity_tracker]

    # -- modality dropout (§II-B) -------------------------------------------------------
    def draw_modality_mask(self, batch_size):
        """One non-empty subset per sample, by default uniform over the 2^M − 1 subsets."""
        subset_index = tf.random.stateless_categorical(
            tf.repeat(self._subset_logits, batch_size, axis=0), 1,
            seed=self._next_stateless_seed())[:, 0]
        return tf.gather(self._subsets, subset_index)

    def _next_stateless_seed(self):
        state = self.dropout_seed_generator.next()
        return tf.cast(state, "int32")

    def full_modality_mask(self, batch_size):
        return tf.ones((batch_size, self.modality_count), dtype="float32")

    # -- the objective, equations (1)–(3) -------------------------------------------------
    def compute_losses(self, patches, outputs, modality_mask):
        """Returns (L_combined, L_recon, L_sim) for a batch, as in equations (1)–(3)."""
        safe_names = [layer_name(name) for name in self.modality_names]
        # Losses in float32, also when the layers compute in float16 (mixed precision).
        outputs = {key: ops.cast(value, "float32") for key, value in outputs.items()}
        modality_mask = ops.cast(modality_mask, "float32")
        reconstruction_loss = 0.0
        for safe, patch in zip(safe_names, patches):
            reconstruction = outputs[f"reconstruction_{safe}"]
            reconstruction_loss += ops.mean(ops.abs(reconstruction - ops.cast(patch, "float32")))
        mean_representation = outputs["mean_representation"]
        similarity_loss = 0.0
        for m, safe in enumerate(safe_names):
            difference = ops.mean(ops.abs(outputs[f"features_{safe}"] - mean_representation), axis=-1)
            similarity_loss += ops.mean(modality_mask[:, m] * difference)
        combined_loss = (1.0 - self.alpha) * reconstruction_loss + self.alpha * similarity_loss
        return combined_loss, reconstruction_loss, similarity_loss

    def _split(self, data):
        patches, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        patches = tuple(patches) if isinstance(patches, (tuple, list)) else (patches,)
        if len(patches) != self.modality_count:
            raise ValueError(f"expected {self.modality_count} patch arrays "
                             f"({self.modality_names}), got {len(patches)}")
        return patches

    def train_step(self, data):
        patches = self._split(data)
        batch_size = tf.shape(patches[0])[0]
        if self.modality_dropout:
            modality_mask = self.draw_modality_mask(batch_size)
        else:
            modality_mask = self.full_modality_mask(batch_size)
        with tf.GradientTape() as tape:
            outputs = self([*patches, modality_mask], training=True)
            combined_loss, reconstruction_loss, similarity_loss = self.compute_losses(
                patches, outputs, modality_mask)
            # A no-op unless the optimizer scales losses (mixed precision).
            scaled_loss = self.optimizer.scale_loss(combined_loss)
        gradients = tape.gradient(scaled_loss, self.trainable_weights)
        self.optimizer.apply(gradients, self.trainable_weights)
        return self._track(combined_loss, reconstruction_loss, similarity_loss)

    def test_step(self, data):
        patches = self._split(data)
        modality_mask = self.full_modality_mask(tf.shape(patches[0])[0])
        outputs = self([*patches, modality_mask], training=False)
        return self._track(*self.compute_losses(patches, outputs, modality_mask))

    def _track(self, combined_loss, reconstruction_loss, similarity_loss):
        self.loss_tracker.update_state(combined_loss)
        self.reconstruction_tracker.update_state(reconstruction_loss)
        self.similarity_tracker.update_state(similarity_loss)
        return {metric.name: metric.result() for metric in self.metrics}

    # -- saving: Keras revives the functional graph and passes these back to __init__ --
    def get_config(self):
        config = super().get_config()
        config.update(modality_names=self.modality_names, alpha=self.alpha,
                      modality_dropout=self.modality_dropout,
                      subset_weights=self.subset_weights, seed=self.seed)
        return config
