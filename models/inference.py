"""Using a trained axial network: features f^m of one modality (what the forests see)
and reconstructions of every modality from any subset (Fig. 5)."""
import keras
import numpy as np
import tensorflow as tf

from . import axial, axial_network, fast_layers, layers  # noqa: F401  (registers the saved classes)
from .axial import layer_name
from .batches import as_modality_tuple, without_autotuning


def load_network(path):
    """A saved network (``.keras``), loaded with ``safe_mode=True``. Importing this module
    has registered every custom layer and the AxialNetwork class the file names."""
    return keras.saving.load_model(path, safe_mode=True)


def predict_in_batches(model, arrays, batch_size=1024):
    """``model.predict`` over in-memory arrays (one per model input), in order, through
    ``tf.data`` with autotuning off (the same reason as for training)."""
    arrays = tuple(arrays) if isinstance(arrays, (list, tuple)) else (arrays,)
    if len(arrays[0]) == 0:
        raise ValueError("nothing to predict: the patches are empty")
    # One element, x: a tuple of inputs would otherwise be read as (x, y).
    dataset = tf.data.Dataset.from_tensor_slices((arrays if len(arrays) > 1 else arrays[0],))
    dataset = dataset.batch(batch_size).prefetch(1).with_options(without_autotuning())
    return model.predict(dataset, verbose=0)


def feature_extractor(network, modality):
    """A model that maps one modality's patches to f^m(x^m) after the normalization the
    network applies before the mean (feature-vector, per-feature), in inference mode. ``modality`` is a name or an index."""
    if not isinstance(modality, str):
        modality = network.modality_names[int(modality)]
    if modality not in network.modality_names:
        raise ValueError(f"unknown modality {modality!r}; the network has "
                         f"{network.modality_names}")
    safe = layer_name(modality)
    present = {layer.name for layer in network.layers}
    # The encoder, then the normalization the network applies before the mean, in order.
    steps = [network.get_layer(name) for name in (
        f"encoder_{safe}", f"vector_normalization_{safe}", f"normalization_{safe}")
        if name in present]
    return keras.Sequential(steps, name=f"features_{safe}")


def extract_features(network, patches, modality, batch_size=1024):
    """The representation of one modality's patches, (N, F) float32, in batches.

    For the single-transformation baseline, pass ``modality="shared"`` (or 0) and the
    patches of whichever modality you want features for.
    """
    (patch_array,) = as_modality_tuple([patches])
    extractor = feature_extractor(network, modality)
    return np.asarray(predict_in_batches(extractor, patch_array, batch_size), dtype=np.float32)


def reconstruct(network, patches_by_modality, available, batch_size=1024):
    """Reconstructs every modality from the mean representation of the ``available`` ones.

    ``patches_by_modality``: a dict name → (N, p, p, p) array; only the available
    modalities need to be present (the others are ignored). Returns name → (N, p, p, p).
    Use this to fill in missing modalities (Fig. 5).
    """
    available = [network.modality_names[a] if not isinstance(a, str) else a for a in available]
    unknown = sorted(set(available) - set(network.modality_names))
    if unknown or not available:
        raise ValueError(f"available modalities must be a non-empty subset of "
                         f"{network.modality_names}, got {available}")
    missing = [name for name in available if name not in patches_by_modality]
    if missing:
        raise ValueError(f"no patches given for available modalities {missing}")
    reference = as_modality_tuple([patches_by_modality[available[0]]])[0]
    inputs = []
    for name in network.modality_names:
        if name in available:
            inputs.append(as_modality_tuple([patches_by_modality[name]])[0])
        else:  # excluded from the mean by the mask; any values would do
            inputs.append(np.zeros_like(reference))
    modality_mask = np.tile(np.array([[name in available for name in network.modality_names]],
                                     dtype="float32"), (len(reference), 1))
    outputs = predict_in_batches(network, [*inputs, modality_mask], batch_size)
    return {name: np.asarray(outputs[f"reconstruction_{layer_name(name)}"])[..., 0]
            for name in network.modality_names}



__all__ = ["load_network", "predict_in_batches", "feature_extractor", "extract_features", "reconstruct"]
