"""The five pieces of the axial network that Keras does not ship (or ships slowly).

- ``FeatureVectorNormalization`` (paper §II-C): every sample's feature vector f^m(x^m)
  scaled to zero mean and unit standard deviation across its features, so that the
  similarity term cannot be minimized by shrinking the features.
- ``FixedNormalization`` (paper §II-D): per-feature batch normalization with moving
  statistics and *no* learnable scale or shift, so that every feature of every modality
  is pushed to zero mean and unit standard deviation before the modalities are averaged.
- ``FastBatchNormalization``: ``keras.layers.BatchNormalization`` with TensorFlow's fused
  kernel while training (speed only; the same weights, statistics and gradients).
- ``FastConv3DTranspose``: ``keras.layers.Conv3DTranspose``; to a single channel (the
  decoders' last layer) computed as a 2-D transposed convolution and a sum over depth
  shifts (speed only; the same weights and sums).
- ``masked_mean`` (paper §II-A, Fig. 1): the mean representation
  f(x) = Σ_m a_m f^m(x^m) / Σ_m a_m over the modalities that are available for a sample.
  It is a registered module-level function so that a ``Lambda`` around it loads with
  ``safe_mode=True``.
"""
import re

import keras
import tensorflow as tf
from keras import ops

PACKAGE = "cross_modality"


def layer_name(modality_name):
    """A layer-name-safe spelling of a modality name ('T1+c' → 'T1_c')."""
    return re.sub(r"[^0-9A-Za-z_]", "_", str(modality_name))


@keras.saving.register_keras_serializable(package=PACKAGE)
class FeatureVectorNormalization(keras.layers.Layer):
    """Per sample, the feature vector minus its mean, divided by its standard deviation.

    §II-C: L_sim "can be trivially minimized by reducing the absolute feature values
    ... To prevent this trivial optimization, we normalize all feature vectors to zero
    mean and unit standard deviation." Statistics are taken across the F features of
    one sample (not across the batch), so the layer behaves the same in training and
    inference and has no weights. ``epsilon`` keeps a constant vector finite.
    """

    def __init__(self, epsilon=1e-3, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)
        self.supports_masking = True

    def call(self, inputs):
        values = ops.cast(inputs, "float32")  # statistics in float32 under mixed precision
        mean, variance = ops.moments(values, axes=[-1], keepdims=True)  # (N, 1) each
        return ops.cast((values - mean) * ops.rsqrt(variance + self.epsilon), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(epsilon=self.epsilon)
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class FixedNormalization(keras.layers.BatchNormalization):
    """Batch normalization per feature with scale fixed to 1 and shift fixed to 0.

    The paper writes "β = 1 and γ = 0"; read literally that would zero every feature.
    We implement what the text means: no learnable scale or shift (see docs/design.md,
    Decisions). It is Keras's ``BatchNormalization`` with ``center`` and ``scale`` off
    by construction, so it inherits ``trainable`` (a frozen layer normalizes with its
    moving statistics and leaves them alone), ``synchronized`` statistics, masks, ``axis``
    and input checks, mixed precision (statistics in float32) and serialization.

    Training: normalizes with the statistics of the batch and updates moving averages.
    Inference (or ``trainable=False``): normalizes with the moving averages.

    One override, ``call``: Keras writes the normalization as x·r + (−μ·r) with
    r = 1/√(σ² + ε); this layer computes (x − μ)·r, the same mathematics in the order of
    the project's earlier layer, so that results made with it keep their float32
    round-off. Batch renormalization is refused (it would rescale the features).
    """

    def __init__(self, momentum=0.99, epsilon=1e-3, center=False, scale=False, **kwargs):
        if center or scale:
            raise ValueError("FixedNormalization has no learnable shift or scale (center and "
                             "scale are fixed off); use keras.layers.BatchNormalization")
        if kwargs.get("renorm"):
            raise ValueError("FixedNormalization does not take renorm")
        super().__init__(momentum=float(momentum), epsilon=float(epsilon), center=False,
                         scale=False, **kwargs)

    def call(self, inputs, training=None, mask=None):
        if mask is not None and len(mask.shape) != len(inputs.shape) - 1:
            raise ValueError("The mask provided should be one dimension less than the "
                             f"inputs. Received: mask.shape={mask.shape}, "
                             f"inputs.shape={inputs.shape}")
        values = ops.cast(inputs, "float32")  # statistics in float32 under mixed precision
        if training and self.trainable:
            mean, variance = self._moments(values, mask)
            self.moving_mean.assign(self.moving_mean * self.momentum
                                    + mean * (1.0 - self.momentum))
            self.moving_variance.assign(self.moving_variance * self.momentum
                                        + variance * (1.0 - self.momentum))
        else:
            mean, variance = self.moving_mean, self.moving_variance
        return ops.cast((values - mean) * ops.rsqrt(variance + self.epsilon), self.compute_dtype)


@keras.saving.register_keras_serializable(package=PACKAGE)
class FastBatchNormalization(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` computed by TensorFlow's fused kernel in training.

    Keras writes a training-mode batch normalization as a dozen element-wise operations
    (moments, normalization and, by autodiff, their gradients); on the 11³×32 feature
    maps of this network these take a large share of a CPU training step. The fused
    kernel (``FusedBatchNormV3``) does the same in a few passes. Its 4-D kernel is the
    fast one on CPUs, so a 5-D map (N, D, H, W, C) is viewed as (N, D·H, W, C): the
    statistics are per channel either way.

    The mathematics are Keras's: normalization with the biased batch variance, moving
    averages ``moving = momentum · moving + (1 − momentum) · batch`` with the *biased*
    variance (the kernel reports the unbiased one; Bessel's correction is undone).
    Inference, masks, renormalization, synchronized statistics, channels-first axes and
    other ranks go to Keras's own code.
    """

    def _fused_applies(self, inputs, training, mask):
        rank = len(inputs.shape)
        return (training and self.trainable and mask is None and not self.renorm
                and not self.synchronized and rank in (4, 5) and self.axis in (-1, rank - 1)
                and self.epsilon >= 1.001e-5 and keras.backend.backend() == "tensorflow")

    def call(self, inputs, training=None, mask=None):
        if not self._fused_applies(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        values = tf.cast(inputs, "float32")
        shape = tf.shape(values)
        if len(inputs.shape) == 5:  # (N, D, H, W, C) → (N, D·H, W, C)
            values = tf.reshape(values, [shape[0], shape[1] * shape[2], shape[3], shape[4]])
        channel_count = self.moving_mean.shape[0]
        scale = tf.cast(self.gamma, "float32") if self.scale else tf.ones([channel_count])
        offset = tf.cast(self.beta, "float32") if self.center else tf.zeros([channel_count])
        normalized, mean, unbiased_variance, _, _, _ = tf.raw_ops.FusedBatchNormV3(
            x=values, scale=scale, offset=offset, mean=tf.constant([], "float32"),
            variance=tf.constant([], "float32"), epsilon=self.epsilon,
            exponential_avg_factor=1.0, data_format="NHWC", is_training=True)
        count = tf.cast(tf.size(values) // channel_count, "float32")
        variance = unbiased_variance * (count - 1.0) / count
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(
            self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return tf.cast(tf.reshape(normalized, shape), self.compute_dtype)  # back to 5-D


@keras.saving.register_keras_serializable(package=PACKAGE)
class FastConv3DTranspose(keras.layers.Conv3DTranspose):
    """``keras.layers.Conv3DTranspose``; with one output channel, computed in 2-D.

    TensorFlow's CPU kernel (oneDNN) runs a 3-D transposed convolution *to a single
    channel* — the decoders' last layer, 11³×32 → 15³×1 — at a tenth of its usual speed:
    37 ms forward and backward for a batch of 64, a quarter of a training step. The same
    sums, y[z + a] = Σ x[z] · W[a] over kernel offsets, are a 2-D transposed convolution
    over (height, width) with depth slices as the batch and the kernel's depth offsets a
    as output channels, followed by adding each offset's planes shifted by a along depth:
    18–19 ms. Same weights, same mathematics. Strides, padding, dilation or more output
    channels go to Keras (there the rewrite is slower).
    """

    def _fast_path_applies(self):
        return (self.filters == 1 and self.padding == "valid"
                and self.data_format == "channels_last" and self.output_padding is None
                and all(stride == 1 for stride in self.strides)
                and all(rate == 1 for rate in self.dilation_rate)
                and keras.backend.backend() == "tensorflow")

    def call(self, inputs):
        if not self._fast_path_applies():
            return super().call(inputs)
        depth_kernel, height_kernel, width_kernel = self.kernel_size
        shape = tf.shape(inputs)
        batch, depth, height, width = shape[0], shape[1], shape[2], shape[3]
        output_height, output_width = height + height_kernel - 1, width + width_kernel - 1
        kernel = tf.cast(self.kernel, inputs.dtype)  # (kd, kh, kw, 1, channels)
        planar_kernel = tf.transpose(kernel[:, :, :, 0, :], [1, 2, 0, 3])  # kh, kw, kd, channels
        # (N, D, H, W, C) → (N·D, H, W, C): depth slices as a batch of 2-D images
        planes = tf.nn.conv2d_transpose(
            tf.reshape(inputs, [batch * depth, height, width, inputs.shape[-1]]), planar_kernel,
            tf.stack([batch * depth, output_height, output_width, depth_kernel]), strides=1,
            padding="VALID")  # (N·D, H + kh − 1, W + kw − 1, kd)
        planes = tf.reshape(planes, [batch, depth, output_height, output_width, depth_kernel])
        # Output depth z collects input depth d through the kernel's depth offset a = z − d.
        outputs = tf.add_n([  # each (N, D + kd − 1, H', W'), then (N, D', H', W', 1)
            tf.pad(planes[..., offset],
                   [[0, 0], [offset, depth_kernel - 1 - offset], [0, 0], [0, 0]])
            for offset in range(depth_kernel)])[..., None]
        if self.use_bias:
            outputs = outputs + tf.cast(self.bias, outputs.dtype)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs


@keras.saving.register_keras_serializable(package=PACKAGE)
def masked_mean(inputs):
    """Mean of the representations of the available modalities.

    ``inputs`` is ``[modality_mask, features_1, ..., features_M]`` with
    ``modality_mask`` of shape (batch, M) holding 1 for available and 0 for dropped
    modalities and each ``features_m`` of shape (batch, F). Returns (batch, F).
    """
    modality_mask, *features_by_modality = inputs
    stacked = ops.stack(features_by_modality, axis=1)  # batch, M, F
    weights = ops.expand_dims(ops.cast(modality_mask, stacked.dtype), -1)  # batch, M, 1
    # A sample with no available modality would divide by zero; clamp so it yields 0.
    available = ops.maximum(ops.sum(weights, axis=1), 1.0)
    return ops.sum(stacked * weights, axis=1) / available
