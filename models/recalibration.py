"""Precise statistics: the moving averages of every normalization layer recomputed after
training from the final weights.

Batch normalization and ``FixedNormalization`` normalize with the batch's statistics in
training and with exponential moving averages of them in inference. After a short
training (a few hundred updates at learning rate 0.3) those averages still mix
statistics of earlier weights, so inference — the features the forests see — can be
off scale. ``recalibrate_statistics`` runs the training patches through the network in
training mode with the final weights (no weight update) and sets every layer's moving
mean and variance to the statistics of all those activations: per layer, the
size-weighted average of the batch means and the pooled variance (the mean of the
biased batch variances plus the variance of the batch means), exactly what one pass
over the concatenated activations would give. This is "precise BN" (Wu & Johnson,
"Rethinking 'batch' in batchnorm", 2021).
"""
import keras
import numpy as np
import tensorflow as tf

from .layers import FixedNormalization

RECALIBRATION_BATCHES = 200  # at most; 12,800 patches at batch 64


def normalization_layers(model):
    """Every layer with moving statistics, in nested models too, in graph order."""
    found = []
    for layer in model.layers:
        if isinstance(layer, (keras.layers.BatchNormalization, FixedNormalization)):
            found.append(layer)
        elif isinstance(layer, keras.Model):
            found.extend(normalization_layers(layer))
    return found


def recalibrate_statistics(network, batches, max_batches=RECALIBRATION_BATCHES):
    """Sets the moving statistics of ``network``'s normalization layers to those of the
    training-mode activations of ``batches`` (a ``PatchBatches`` or any sequence of
    ``(x,)`` batches, x one patch array per modality input). Returns the patch count.

    Modality masks are drawn as in ``train_step`` (the decoders see the mean of the
    available modalities); weights and the optimizer are untouched.
    """
    layers = normalization_layers(network)
    if not layers:
        return 0
    batch_count = min(len(batches), max_batches)
    if batch_count == 0:
        raise ValueError("no batches to recalibrate the statistics from")
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.momentum = 0.0  # a training-mode call then stores the batch statistics

    @tf.function(reduce_retracing=True)
    def forward(patches):
        size = tf.shape(patches[0])[0]
        mask = (network.draw_modality_mask(size) if network.modality_dropout
                else network.full_modality_mask(size))
        network([*patches, mask], training=True)

    sums = [[0.0, 0.0] for _ in layers]  # Σ n·mean, Σ n·(variance + mean²) per layer
    total = 0
    try:
        for index in range(batch_count):
            patches = batches[index][0]
            patches = tuple(patches) if isinstance(patches, (tuple, list)) else (patches,)
            forward(tuple(tf.convert_to_tensor(p, "float32") for p in patches))
            size = len(patches[0])
            for layer, accumulated in zip(layers, sums):
                mean = np.asarray(layer.moving_mean, dtype=np.float64)
                variance = np.asarray(layer.moving_variance, dtype=np.float64)
                accumulated[0] = accumulated[0] + size * mean
                accumulated[1] = accumulated[1] + size * (variance + mean ** 2)
            total += size
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
    for layer, (mean_sum, square_sum) in zip(layers, sums):
        mean = mean_sum / total
        layer.moving_mean.assign(mean.astype(np.float32))
        layer.moving_variance.assign(np.maximum(square_sum / total - mean ** 2, 0.0)
                                     .astype(np.float32))
    return total
