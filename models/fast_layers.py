"""TensorFlow's speed paths for two Keras layers (the same weights and mathematics,
computed faster on CPUs), used only under the TensorFlow backend (``batch_normalization``
and ``transposed_convolution`` give Keras's own layers elsewhere):

- ``FastBatchNormalization``: ``keras.layers.BatchNormalization`` with TensorFlow's fused
  kernel while training (the same weights, statistics and gradients).
- ``FastConv3DTranspose``: ``keras.layers.Conv3DTranspose``; to a single channel (the
  decoders' last layer) computed as a 2-D transposed convolution and a sum over depth
  shifts (the same weights and sums).

The third speed path, batches through ``tf.data`` with autotuning off, is
``batches.steady_dataset``. Each is tested against Keras's own result (tests/test_layers.py).
"""
import keras
import tensorflow as tf

from .layers import PACKAGE


def on_tensorflow():
    return keras.backend.backend() == "tensorflow"


def batch_normalization(**options):
    """The encoders' and decoders' batch normalization: the fused one under TensorFlow."""
    return (FastBatchNormalization if on_tensorflow() else keras.layers.BatchNormalization)(
        **options)


def transposed_convolution(*arguments, **options):
    """The decoders' transposed convolution: the fast one under TensorFlow."""
    return (FastConv3DTranspose if on_tensorflow() else keras.layers.Conv3DTranspose)(
        *arguments, **options)


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
