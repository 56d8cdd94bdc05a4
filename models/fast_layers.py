"""TensorFlow's speed paths for three Keras layers (the same weights and mathematics,
computed faster on CPUs), used only under the TensorFlow backend (``batch_normalization``,
``convolution`` and ``transposed_convolution`` give Keras's own layers elsewhere):

- ``FastBatchNormalization``: ``keras.layers.BatchNormalization`` with TensorFlow's fused
  kernel while training (the same weights, statistics and gradients).
- ``FastConv3D``: ``keras.layers.Conv3D``; a kernel that covers its whole input (the
  encoders' last layer, 5³ → 1³) is one matrix product.
- ``FastConv3DTranspose``: ``keras.layers.Conv3DTranspose``; from a single voxel (the
  decoders' first layer, 1³ → 5³) one matrix product; to a single channel (the decoders'
  last layer) a 1-D convolution along width and two shift sums as matrix products, with
  its gradients as the plain convolution they are (``one_channel_transposed``).

Arithmetic version 4 (``models/__init__.py``) is these three; version 3 computed the
decoders' last layer forward as a 2-D transposed convolution with a sum over depth shifts
(``benchmarks/last_layer_forward.py`` compares the two: 7 % of a training step); version 2
had only the fused normalization and that 2-D forward with TensorFlow's own gradients.

The third speed path, batches through ``tf.data`` with autotuning off, is
``batches.steady_dataset``. Each is tested against Keras's own result (tests/test_layers.py).
"""
import keras
import numpy as np
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


def _shift_sum_matrix(length, taps):
    """(length·taps, length + taps − 1) of 0/1: row (i, j) has its one at column i + j, so
    a product with it adds each (position, offset) pair into the position it lands on."""
    matrix = np.zeros((length, taps, length + taps - 1), np.float32)
    for position in range(length):
        matrix[position, np.arange(taps), position + np.arange(taps)] = 1.0
    return matrix.reshape(length * taps, length + taps - 1)


@tf.custom_gradient
def one_channel_transposed(inputs, kernel):
    """y[z + a, y + b, x + c] = Σ_ch x[z, y, x, ch] · W[a, b, c, 0, ch]: a valid 3-D
    transposed convolution to one channel (static D, H, W and channels).

    Forward, in three passes the CPU does well (oneDNN's 3-D kernel to one channel runs
    at a tenth of its usual speed): along width, a full 1-D convolution of every row
    (N·D·H rows) to kd·kh channels, one per depth and height offset of the kernel; along
    height, output row h' collects input row h through offset b = h' − h, one product of
    the (h, b) pairs with a fixed 0/1 matrix; along depth the same. Backward: the adjoints
    of a transposed convolution are a plain convolution of the upstream gradient (1 → C
    channels, which oneDNN does well) and that convolution's filter gradient; TensorFlow's
    own gradients of the forward's pieces cost more."""
    depth_kernel, height_kernel, width_kernel = kernel.shape[:3]
    depth, height, width, channels = inputs.shape[1:]
    output_depth, output_height = depth + depth_kernel - 1, height + height_kernel - 1
    output_width = width + width_kernel - 1
    batch = tf.shape(inputs)[0]
    # Width: rows padded by kw − 1 on both sides against the width-reversed kernel;
    # output channel (a, b) holds depth offset a and height offset b.
    rows = tf.pad(tf.reshape(inputs, [-1, width, channels]),
                  [[0, 0], [width_kernel - 1, width_kernel - 1], [0, 0]])
    row_kernel = tf.reshape(tf.transpose(tf.reverse(kernel[:, :, :, 0, :], [2]), [2, 3, 0, 1]),
                            [width_kernel, channels, depth_kernel * height_kernel])
    sums = tf.nn.conv1d(rows, row_kernel, 1, "VALID")  # (N·D·H, W', kd·kh)
    # Height: (h, b) → h + b.
    sums = tf.reshape(sums, [batch, depth, height, output_width, depth_kernel, height_kernel])
    sums = tf.transpose(sums, [0, 1, 3, 4, 2, 5])  # (N, D, W', kd, H, kh)
    sums = tf.matmul(tf.reshape(sums, [-1, height * height_kernel]),
                     tf.cast(_shift_sum_matrix(height, height_kernel), sums.dtype))  # (N·D·W'·kd, H')
    # Depth: (d, a) → d + a.
    sums = tf.reshape(sums, [batch, depth, output_width, depth_kernel, output_height])
    sums = tf.transpose(sums, [0, 4, 2, 1, 3])  # (N, H', W', D, kd)
    sums = tf.matmul(tf.reshape(sums, [-1, depth * depth_kernel]),
                     tf.cast(_shift_sum_matrix(depth, depth_kernel), sums.dtype))  # (N·H'·W', D')
    sums = tf.reshape(sums, [batch, output_height, output_width, output_depth])
    outputs = tf.transpose(sums, [0, 3, 1, 2])[..., None]  # (N, D', H', W', 1)
    return outputs, lambda upstream: one_channel_transposed_gradients(inputs, kernel, upstream)


def one_channel_transposed_gradients(inputs, kernel, upstream):
    """The gradients of ``one_channel_transposed`` with respect to its input and kernel:
    a valid convolution of the upstream gradient with the kernel, and that convolution's
    filter gradient."""
    input_gradient = tf.nn.conv3d(upstream, kernel, [1] * 5, "VALID")
    kernel_gradient = tf.raw_ops.Conv3DBackpropFilterV2(
        input=upstream, filter_sizes=tf.shape(kernel), out_backprop=inputs,
        strides=[1] * 5, padding="VALID")
    return input_gradient, kernel_gradient


@keras.saving.register_keras_serializable(package=PACKAGE)
class FastConv3DTranspose(keras.layers.Conv3DTranspose):
    """``keras.layers.Conv3DTranspose``; from one voxel, or to one channel, rewritten.

    From a single voxel (the decoders' first layer, 1³×C → k³×F) the output is the input
    times the flattened kernel: one matrix product, 3× faster than oneDNN here. To a
    single channel (the decoders' last layer, 11³×32 → 15³×1) oneDNN's kernel runs at a
    tenth of its usual speed; ``one_channel_transposed`` computes the same sums by rows,
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
        to_one_channel = self._fast_path_applies() and None not in inputs.shape[1:]
        if not (from_one_voxel or to_one_channel):
            return super().call(inputs)
        kernel = tf.cast(self.kernel, inputs.dtype)  # (kd, kh, kw, filters, C_in)
        if from_one_voxel:
            # output[n, d, h, w, f] = Σ_c x[n, c] · W[d, h, w, f, c]
            product = tf.matmul(tf.reshape(inputs, [-1, inputs.shape[-1]]),
                                tf.reshape(kernel, [-1, inputs.shape[-1]]), transpose_b=True)
            return _finish(self, tf.reshape(product, [-1, *self.kernel_size, self.filters]))
        return _finish(self, one_channel_transposed(inputs, kernel))
