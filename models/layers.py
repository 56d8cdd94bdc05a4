"""The two pieces of the axial network that Keras does not ship.

- ``FixedNormalization`` (paper §II-D): per-feature batch normalization with moving
  statistics and *no* learnable scale or shift, so that every feature of every modality
  is pushed to zero mean and unit standard deviation before the modalities are averaged.
- ``masked_mean`` (paper §II-A, Fig. 1): the mean representation
  f(x) = Σ_m a_m f^m(x^m) / Σ_m a_m over the modalities that are available for a sample.
  It is a registered module-level function so that a ``Lambda`` around it loads with
  ``safe_mode=True``.
"""
import keras
from keras import ops

PACKAGE = "cross_modality"


@keras.saving.register_keras_serializable(package=PACKAGE)
class FixedNormalization(keras.layers.Layer):
    """Batch normalization per feature with scale fixed to 1 and shift fixed to 0.

    The paper writes "β = 1 and γ = 0"; read literally that would zero every feature.
    We implement what the text means: no learnable scale or shift (see README, errata).

    Training: normalizes with the statistics of the batch and updates moving averages.
    Inference: normalizes with the moving averages. The layer has no trainable weights.
    """

    def __init__(self, momentum=0.99, epsilon=1e-3, **kwargs):
        super().__init__(**kwargs)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.supports_masking = True

    def build(self, input_shape):
        feature_count = input_shape[-1]
        self.moving_mean = self.add_weight(
            shape=(feature_count,), initializer="zeros", trainable=False, name="moving_mean",
            autocast=False)
        self.moving_variance = self.add_weight(
            shape=(feature_count,), initializer="ones", trainable=False, name="moving_variance",
            autocast=False)

    def call(self, inputs, training=False):
        reduction_axes = tuple(range(len(inputs.shape) - 1))
        inputs = ops.cast(inputs, "float32")  # statistics in float32 under mixed precision
        if training:
            mean, variance = ops.moments(inputs, axes=reduction_axes)
            self.moving_mean.assign(
                self.momentum * self.moving_mean + (1.0 - self.momentum) * mean
            )
            self.moving_variance.assign(
                self.momentum * self.moving_variance + (1.0 - self.momentum) * variance
            )
        else:
            mean, variance = self.moving_mean, self.moving_variance
        return ops.cast((inputs - mean) * ops.rsqrt(variance + self.epsilon), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(momentum=self.momentum, epsilon=self.epsilon)
        return config


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
