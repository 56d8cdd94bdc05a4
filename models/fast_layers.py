"""TensorFlow's speed paths for three Keras layers (the same weights and mathematics,
computed faster on CPUs), used only under the TensorFlow backend (``batch_normalization``,
``convolution`` and ``transposed_convolution`` give Keras's own layers elsewhere):

- ``FastBatchNormalization``: ``keras.layers.BatchNormalization`` with TensorFlow's fused
  kernel while training (the same weights, statistics and gradients).
- ``FastConv3D``: ``keras.layers.Conv3D``; a kernel that covers its whole input (the
  encoders' last layer, 5³ → 1³) is one matrix product.
- ``FastConv3DTranspose``: ``keras.layers.Conv3DTranspose``; from a single voxel (the
  decoders' first layer, 1³ → 5³) one matrix product; to a single channel (the decoders'
  last layer) a 2-D transposed convolution and a sum over depth shifts, with its
  gradients as the plain convolution they are (``one_channel_transposed``).

Arithmetic version 3 (``models/__init__.py``) is these three; version 2 had only the fused
normalization and the 2-D forward with TensorFlow's own gradients.

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


def convolution(*arguments, **options):
    """The encoders' convolution: the matrix-product one under TensorFlow."""
    return (FastConv3D if on_tensorflow() else keras.layers.Conv3D)(*arguments, **options)


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


def _plain(layer):
    """Valid, unit strides and dilations, channels last: the case the rewrites cover."""
    return (layer.padding == "valid" and layer.data_format == "channels_last"
            and all(stride == 1 for stride in layer.strides)
            and all(rate == 1 for rate in layer.dilation_rate)
            and keras.backend.backend() == "tensorflow")


def _finish(layer, outputs):
    if layer.use_bias:
        outputs = outputs + tf.cast(layer.bias, outputs.dtype)
    return outputs if layer.activation is None else layer.activation(outputs)


@keras.saving.register_keras_serializable(package=PACKAGE)
class FastConv3D(keras.layers.Conv3D):
    """``keras.layers.Conv3D``; a kernel as large as its input is one matrix product.

    A valid convolution whose kernel covers the whole map has one output voxel: the
    flattened map (N, k³·C_in) times the flattened kernel (k³·C_in, C_out). oneDNN's 3-D
    convolution computes the same sums 2.8× slower here (benchmarks/layer_alternatives.py).
    Any other input (a larger map, as ``models/dense.py`` runs the encoder over whole
    volumes) goes to Keras's own code.
    """

    def _fast_path_applies(self, inputs):
        return (_plain(self) and self.groups == 1
                and tuple(inputs.shape[1:4]) == tuple(self.kernel_size))

    def call(self, inputs):
        if not self._fast_path_applies(inputs):
            return super().call(inputs)
        kernel = tf.cast(self.kernel, inputs.dtype)  # (kd, kh, kw, C_in, C_out)
        flat = tf.reshape(inputs, [-1, inputs.shape[1] * inputs.shape[2] * inputs.shape[3]
                                   * inputs.shape[4]])
        product = tf.matmul(flat, tf.reshape(kernel, [-1, self.filters]))
        return _finish(self, tf.reshape(product, [-1, 1, 1, 1, self.filters]))


@tf.custom_gradient
def one_channel_transposed(inputs, kernel):
    """y[z + a] = Σ_c x[z, c] · W[a, 0, c]: a valid 3-D transposed convolution to one channel.

    Forward: a 2-D transposed convolution over (height, width) with depth slices as the
    batch and the kernel's depth offsets a as output channels, then each offset's planes
    added shifted by a along depth. Backward: the adjoints of a transposed convolution are
    a plain convolution of the upstream gradient (1 → C channels, which oneDNN does well)
    and that convolution's filter gradient; TensorFlow's own gradients of the forward's
    pieces cost twice as much."""
    depth_kernel, height_kernel, width_kernel = kernel.shape[:3]
    shape = tf.shape(inputs)
    batch, depth, height, width = shape[0], shape[1], shape[2], shape[3]
    output_height, output_width = height + height_kernel - 1, width + width_kernel - 1
    planar_kernel = tf.transpose(kernel[:, :, :, 0, :], [1, 2, 0, 3])  # kh, kw, kd, channels
    # (N, D, H, W, C) → (N·D, H, W, C): depth slices as a batch of 2-D images
    planes = tf.nn.conv2d_transpose(
        tf.reshape(inputs, [batch * depth, height, width, inputs.shape[-1]]), planar_kernel,
        tf.stack([batch * depth, output_height, output_width, depth_kernel]), strides=1,
        padding="VALID")  # (N·D, H + kh − 1, W + kw − 1, kd)
    planes = tf.reshape(planes, [batch, depth, output_height, output_width, depth_kernel])
    # Output depth z collects input depth d through the kernel's depth offset a = z − d.
    outputs = tf.add_n([  # each (N, D + kd − 1, H', W'), then (N, D', H', W', 1)
        tf.pad(planes[..., offset], [[0, 0], [offset, depth_kernel - 1 - offset], [0, 0], [0, 0]])
        for offset in range(depth_kernel)])[..., None]

    def gradient(upstream):
        input_gradient = tf.nn.conv3d(upstream, kernel, [1] * 5, "VALID")
        kernel_gradient = tf.raw_ops.Conv3DBackpropFilterV2(
            input=upstream, filter_sizes=tf.shape(kernel), out_backprop=inputs,
            strides=[1] * 5, padding="VALID")
        return input_gradient, kernel_gradient
    return outputs, gradient


@keras.saving.register_keras_serializable(package=PACKAGE)
class FastConv3DTranspose(keras.layers.Conv3DTranspose):
    """``keras.layers.Conv3DTranspose``; from one voxel, or to one channel, rewritten.

    From a single voxel (the decoders' first layer, 1³×C → k³×F) the output is the input
    times the flattened kernel: one matrix product, 3× faster than oneDNN here. To a
    single channel (the decoders' last layer, 11³×32 → 15³×1) oneDNN's kernel runs at a
    tenth of its usual speed; ``one_channel_transposed`` computes the same sums in 2-D
    with the gradients as plain convolutions. Same weights, same mathematics. Strides,
    padding, dilation, output padding or other shapes go to Keras.
    """

    def _from_one_voxel(self, inputs):
        return (_plain(self) and self.output_padding is None
                and tuple(inputs.shape[1:4]) == (1, 1, 1))

    def _fast_path_applies(self):
        return self.filters == 1 and _plain(self) and self.output_padding is None

    def call(self, inputs):
        from_one_voxel = self._from_one_voxel(inputs)
        if not (from_one_voxel or self._fast_path_applies()):
            return super().call(inputs)
        kernel = tf.cast(self.kernel, inputs.dtype)  # (kd, kh, kw, filters, C_in)
        if from_one_voxel:
            # output[n, d, h, w, f] = Σ_c x[n, c] · W[d, h, w, f, c]
            product = tf.matmul(tf.reshape(inputs, [-1, inputs.shape[-1]]),
                                tf.reshape(kernel, [-1, inputs.shape[-1]]), transpose_b=True)
            return _finish(self, tf.reshape(product, [-1, *self.kernel_size, self.filters]))
        return _finish(self, one_channel_transposed(inputs, kernel))
