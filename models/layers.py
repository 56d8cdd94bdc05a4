"""The three pieces of the axial network that Keras does not ship (the TensorFlow speed
paths of two Keras layers are in ``fast_layers.py``).

- ``FeatureVectorNormalization`` (paper §II-C): every sample's feature vector f^m(x^m)
  scaled to zero mean and unit standard deviation across its features, so that the
  similarity term cannot be minimized by shrinking the features.
- ``FixedNormalization`` (paper §II-D): per-feature batch normalization with moving
  statistics and *no* learnable scale or shift, so that every feature of every modality
  is pushed to zero mean and unit standard deviation before the modalities are averaged.
- ``masked_mean`` (paper §II-A, Fig. 1): the mean representation
  f(x) = Σ_m a_m f^m(x^m) / Σ_m a_m over the modalities that are available for a sample.
  It is a registered module-level function so that a ``Lambda`` around it loads with
  ``safe_mode=True``.
"""
import re

import keras
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
    round-off. Batch renormalization is refused (it would rescale the features). In
    inference the layer also takes feature maps of any rank (the dense features).
    """

    def __init__(self, momentum=0.99, epsilon=1e-3, center=False, scale=False, **kwargs):
        if center or scale:
            raise ValueError("FixedNormalization has no learnable shift or scale (center and "
                             "scale are fixed off); use keras.layers.BatchNormalization")
        if kwargs.get("renorm"):
            raise ValueError("FixedNormalization does not take renorm")
        super().__init__(momentum=float(momentum), epsilon=float(epsilon), center=False,
                         scale=False, **kwargs)

    def build(self, input_shape):
        super().build(input_shape)
        # Inference also at every voxel of a feature map (models/dense.py): any rank with
        # the same features in the normalized axis.
        self.input_spec = keras.layers.InputSpec(min_ndim=2,
                                                 axes={self.axis: input_shape[self.axis]})

    def call(self, inputs, training=None, mask=None):
        if training and self.trainable and len(inputs.shape) != len(self._reduction_axes) + 1:
            raise ValueError(f"{self.name} was built for rank {len(self._reduction_axes) + 1} "
                             f"inputs and trains only on those, not on {inputs.shape}")
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
