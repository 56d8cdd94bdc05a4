"""The training objective of the axial network, equations (1)–(3), and its train step
with modality dropout (§II-B), written like keras-io's custom-train-step guide.

    (1)  L_recon    = Σ_m mean | g^m(f(x)) − x^m |             over all M modalities
    (2)  L_sim      = Σ_m a_m · mean | f^m(x^m) − f(x) |       over the available modalities
    (3)  L_combined = (1 − α) L_recon + α L_sim

a ∈ {0,1}^M is the modality mask of a sample. With modality dropout ``train_step`` draws
a fresh non-empty mask for every sample at every step; without it the mask is all ones.
The encoders always see every modality's real patch: the mask only removes dropped
modalities from the mean and from L_sim.
"""
import keras
import numpy as np
import tensorflow as tf
from keras import ops

from .layers import PACKAGE, layer_name
from .readings import all_nonempty_subsets


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
