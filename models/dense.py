"""Dense features: f^m of the patch centred at every voxel of a volume, by running the
encoder over the whole volume (tile by tile) instead of cutting one patch per voxel.

The encoder is fully convolutional, so its output for neighbouring patches shares most
of its work. One thing needs care: the stride-2 convolution. For the patch that starts
at voxel v it sees its inputs at v, v + 2, v + 4, …; run at stride 1 it computes them
for every start at once, and the next convolution must then take every second input — a
convolution dilated by 2. In general, after a layer of stride s every later
convolution's dilation is multiplied by s. Batch normalization (inference), leaky ReLU
and both normalizations (§II-C, §II-D) act on each voxel's channels alone, so they run
unchanged on the dense maps. The result equals ``extract_features`` on the patches
(float32 rounding aside) at a fraction of the arithmetic: the patch-wise path computes
every layer anew for each of the 15³-voxel patches.
"""
import numpy as np
from keras import layers, ops

from .inference import feature_extractor

TILE = 32  # output voxels per side of a tile: bounds memory, keeps the overlap small


def _dense_steps(network, modality):
    """The encoder's layers then the normalizations before the mean, in order, and the
    patch size."""
    extractor = feature_extractor(network, modality)
    encoder, *normalizations = extractor.layers
    patch_size = encoder.inputs[0].shape[1]
    steps = [layer for layer in encoder.layers
             if not isinstance(layer, (layers.InputLayer, layers.Flatten))]
    return steps + normalizations, patch_size


def _run_dense(steps, block):
    """(X, Y, Z) block → (X − p + 1, Y − p + 1, Z − p + 1, F) features."""
    hidden = ops.convert_to_tensor(block[None, ..., None], dtype="float32")
    dilation = 1
    for layer in steps:
        if isinstance(layer, layers.Conv3D):
            if layer.padding != "valid" or tuple(layer.dilation_rate) != (1, 1, 1) \
                    or len(set(layer.strides)) != 1:
                raise ValueError(f"{layer.name}: dense features need valid, undilated "
                                 "convolutions with one stride for every axis")
            kernel = ops.cast(layer.kernel, hidden.dtype)
            hidden = ops.conv(hidden, kernel, strides=1, padding="valid",
                              data_format="channels_last", dilation_rate=dilation)
            if layer.use_bias:
                hidden = hidden + ops.cast(layer.bias, hidden.dtype)
            dilation *= layer.strides[0]
        else:
            hidden = layer(hidden, training=False)
        hidden = ops.cast(hidden, "float32")
    return ops.convert_to_numpy(hidden[0])


def dense_features(network, padded_volume, modality, voxels=None, tile=TILE, progress=None):
    """f^m (after the network's normalizations, as ``extract_features``) of the patch
    centred at each voxel.

    ``padded_volume``: (X + p − 1, Y + p − 1, Z + p − 1) for patch size p: the volume
    zero-padded by the patch radius, so that the patch centred at voxel (x, y, z) is
    ``padded_volume[x:x + p, y:y + p, z:z + p]`` (the data layer pads this way).
    ``voxels``: (N, 3) voxel coordinates of the unpadded grid (default: every voxel, in
    C order). Only tiles that hold a requested voxel are computed.
    ``progress(done, total)`` is called after each tile.
    Returns (N, F) float32 in the order of ``voxels``.
    """
    steps, patch_size = _dense_steps(network, modality)
    grid = np.array(padded_volume.shape) - (patch_size - 1)
    if padded_volume.ndim != 3 or np.any(grid < 1):
        raise ValueError(f"expected a 3-D volume padded by {patch_size // 2} voxels on every "
                         f"side, got shape {padded_volume.shape}")
    if voxels is None:
        voxels = np.stack(np.unravel_index(np.arange(int(np.prod(grid))), grid), axis=1)
    voxels = np.asarray(voxels, dtype=np.int64).reshape(-1, 3)
    if len(voxels) and (voxels.min() < 0 or np.any(voxels.max(axis=0) >= grid)):
        raise ValueError(f"voxels outside the volume's grid {tuple(grid)}")
    tile_of = voxels // tile
    tiles, which = np.unique(tile_of, axis=0, return_inverse=True)
    which = which.reshape(-1)
    features = None
    for index, corner in enumerate(tiles * tile):
        end = np.minimum(corner + tile, grid)
        block = padded_volume[corner[0]:end[0] + patch_size - 1,
                              corner[1]:end[1] + patch_size - 1,
                              corner[2]:end[2] + patch_size - 1]
        dense = _run_dense(steps, block)
        members = np.flatnonzero(which == index)
        local = voxels[members] - corner
        if features is None:
            features = np.empty((len(voxels), dense.shape[-1]), dtype=np.float32)
        features[members] = dense[local[:, 0], local[:, 1], local[:, 2]]
        if progress:
            progress(index + 1, len(tiles))
    if features is None:
        raise ValueError("no voxels given")
    return features


__all__ = ["dense_features", "TILE"]
