"""The training objective of the axial network, equations (1)–(3), and its train step
with modality dropout (§II-B), written like keras-io's custom-train-step guide.

    (1)  L_recon    = Σ_m mean | g^m(f(x)) − x^m |             over all M modalities
    (2)  L_sim      = Σ_m a_m · mean | f^m(x^m) − f(x) |       over the available modalities
    (3)  L_combined = (1 − α) L_recon + α L_sim

a ∈ {0,1}^M is the modality mask of a sample. With modality dropout ``train_step`` draws
a fresh non-empty mask for every sample at every step; without it the mask is all ones.
The encoders always see every modality's real patch: the mask only removes dropped
modalities from the mean and from L_sim.

One model on every Keras 3 backend: the mask, the forward pass and the losses are
written once in ``keras.ops`` (``forward_and_losses``); the gradient step is a thin
shell per backend, as keras-io's three custom-train-step guides write it — TensorFlow's
``GradientTape``, JAX's ``value_and_grad`` over a stateless call (the mask's seed state
threaded through with the other non-trainable state), PyTorch's ``backward``.
"""
import keras
import numpy as np
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
        self._subsets = np.asarray(subsets, dtype="float32")
        with np.errstate(divide="ignore"):
            self._subset_logits = np.log(subset_weights / subset_weights.sum())[None].astype(
                "float32")
        # Seeds are 32-bit; PyTorch's seed state is a signed int32, so it takes them mod 2^31
        # (TensorFlow's and JAX's states hold them whole).
        self.dropout_seed_generator = keras.random.SeedGenerator(
            seed if seed is None or keras.backend.backend() != "torch" else seed % 2 ** 31)
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
        """One non-empty subset per sample, by default uniform over the 2^M − 1 subsets,
        drawn from the network's seed generator (its state is saved with the model)."""
        logits = ops.repeat(ops.convert_to_tensor(self._subset_logits), batch_size, axis=0)
        if keras.backend.backend() == "tensorflow":
            # TensorFlow keeps its own draw: the seed state cast to int32 as it always was,
            # so that the committed runs' masks (and numbers) stay bit-identical.
            import tensorflow as tf
            seed = tf.cast(self.dropout_seed_generator.next(), "int32")
            subset_index = tf.random.stateless_categorical(logits, 1, seed=seed)[:, 0]
        else:
            subset_index = keras.random.categorical(logits, 1,
                                                    seed=self.dropout_seed_generator)[:, 0]
        return ops.take(ops.convert_to_tensor(self._subsets), subset_index, axis=0)

    def full_modality_mask(self, batch_size):
        return ops.ones((batch_size, self.modality_count), dtype="float32")

    def modality_mask_for(self, patches, training=True):
        """The mask of a batch: drawn (dropout, in training) or all ones."""
        batch_size = ops.shape(patches[0])[0]
        if training and self.modality_dropout:
            return self.draw_modality_mask(batch_size)
        return self.full_modality_mask(batch_size)

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
        # PyTorch's train_on_batch passes arrays through: one kind of tensor for the call.
        patches = tuple(ops.convert_to_tensor(patch) for patch in patches)
        if len(patches) != self.modality_count:
            raise ValueError(f"expected {self.modality_count} patch arrays "
                             f"({self.modality_names}), got {len(patches)}")
        return patches

    def forward_and_losses(self, patches, training=True):
        """The backend-agnostic core of a step: mask, forward pass, equations (1)–(3)."""
        modality_mask = self.modality_mask_for(patches, training)
        outputs = self([*patches, modality_mask], training=training)
        return self.compute_losses(patches, outputs, modality_mask)

    # -- the gradient step: one shell per backend (keras-io's custom train_step guides) --
    def train_step(self, *arguments):
        """``train_step(data)`` (TensorFlow, PyTorch) or ``train_step(state, data)`` (JAX,
        which returns the new state with the logs)."""
        return getattr(self, f"_train_step_{keras.backend.backend()}")(*arguments)

    def test_step(self, *arguments):
        """Every modality available; no weight or statistics update."""
        if keras.backend.backend() == "jax":
            return self._test_step_jax(*arguments)
        (data,) = arguments
        return self._track(*self.forward_and_losses(self._split(data), training=False))

    def _train_step_tensorflow(self, data):
        import tensorflow as tf
        patches = self._split(data)
        with tf.GradientTape() as tape:
            losses = self.forward_and_losses(patches)
            # A no-op unless the optimizer scales losses (mixed precision).
            scaled_loss = self.optimizer.scale_loss(losses[0])
        gradients = tape.gradient(scaled_loss, self.trainable_weights)
        self.optimizer.apply(gradients, self.trainable_weights)
        return self._track(*losses)

    def _train_step_torch(self, data):
        import torch
        patches = self._split(data)
        self.zero_grad()
        losses = self.forward_and_losses(patches)
        self.optimizer.scale_loss(losses[0]).backward()
        gradients = [variable.value.grad for variable in self.trainable_weights]
        with torch.no_grad():
            self.optimizer.apply(gradients, self.trainable_weights)
        return self._track(*losses)

    def _stateless_losses(self, trainable, non_trainable, patches, training):
        """``forward_and_losses`` with the given variable values, without side effects:
        (scaled loss, (losses, the non-trainable values it leaves: moving statistics and
        the mask's seed state))."""
        mapping = [*zip(self.trainable_variables, trainable),
                   *zip(self.non_trainable_variables, non_trainable)]
        with keras.StatelessScope(state_mapping=mapping) as scope:
            losses = self.forward_and_losses(patches, training)
            scaled_loss = self.optimizer.scale_loss(losses[0]) if training else losses[0]
        updated = [scope.get_current_value(variable) for variable in self.non_trainable_variables]
        return scaled_loss, (losses, updated)

    def _train_step_jax(self, state, data):
        import jax
        trainable, non_trainable, optimizer_variables, metric_variables = state
        patches = self._split(data)
        gradient_of = jax.value_and_grad(self._stateless_losses, has_aux=True)
        (_, (losses, non_trainable)), gradients = gradient_of(trainable, non_trainable, patches,
                                                              True)
        trainable, optimizer_variables = self.optimizer.stateless_apply(
            optimizer_variables, gradients, trainable)
        logs, metric_variables = self._stateless_track(metric_variables, losses)
        return logs, (trainable, non_trainable, optimizer_variables, metric_variables)

    def _test_step_jax(self, state, data):
        trainable, non_trainable, metric_variables = state
        _, (losses, non_trainable) = self._stateless_losses(trainable, non_trainable,
                                                            self._split(data), False)
        logs, metric_variables = self._stateless_track(metric_variables, losses)
        return logs, (trainable, non_trainable, metric_variables)

    def _stateless_track(self, metric_variables, losses):
        logs, updated = {}, []
        for metric, value in zip(self.metrics, losses):
            mine = metric_variables[len(updated):len(updated) + len(metric.variables)]
            mine = metric.stateless_update_state(mine, value)
            logs[metric.name] = metric.stateless_result(mine)
            updated += mine
        return logs, updated

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
