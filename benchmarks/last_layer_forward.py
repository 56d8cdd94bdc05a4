#!/usr/bin/env python3
"""The decoders' last layer (11³×C → 15³×1), the biggest single cost of a training step
(37 % of the quick network's step at one thread under arithmetic version 3): its forward
pass under version 3 (a 2-D transposed convolution over height and width with depth
slices as a batch, then a sum over depth shifts) against version 4's
(``models.fast_layers.one_channel_transposed``), per call and in the whole train step, in
the same process.

    python benchmarks/last_layer_forward.py                       # filters 16,32,64 and 32,64,128
    python benchmarks/last_layer_forward.py --record FILE

Version 4 computes the same sums in three passes, each of which the CPU does well:
1. along width, a full 1-D convolution of every row (N·D·H rows of W voxels × C channels)
   to kd·kh output channels, one per depth and height offset of the kernel: oneDNN's 1-D
   kernel with 25 output channels instead of a 3-D one with one;
2. along height, each output row h' collects input row h through offset b = h' − h: one
   matrix product of the (h, b) pairs with a fixed 0/1 matrix (the "shift sum");
3. along depth, the same with the depth offsets.
The gradients are the same in both (a plain convolution of the upstream gradient, and
that convolution's filter gradient). The two differ in float32 round-off (the sums run in
another order), hence the new arithmetic version (``models/__init__.py``) and the
regenerated Table I runs.

Layers are timed with one thread (as the project's runs compute) unless
TF_NUM_INTRAOP_THREADS says otherwise.
"""
import argparse
import os
from pathlib import Path

import numpy as np

from runtime.metadata import write_record
from runtime.startup import import_tensorflow_quietly
from runtime.timing import median_milliseconds

BATCH_SIZE = 64


def version_3(tf):
    """The layer's function under arithmetic version 3: the forward pass as a 2-D
    transposed convolution over (height, width) with depth slices as the batch and the
    kernel's depth offsets as output channels, then each offset's planes added shifted
    along depth; the gradients as today (a plain convolution and its filter gradient)."""
    from models.fast_layers import one_channel_transposed_gradients

    @tf.custom_gradient
    def one_channel_transposed(inputs, kernel):
        depth_kernel, height_kernel, width_kernel = kernel.shape[:3]
        shape = tf.shape(inputs)
        batch, depth, height, width = shape[0], shape[1], shape[2], shape[3]
        output_height, output_width = height + height_kernel - 1, width + width_kernel - 1
        planes = tf.nn.conv2d_transpose(
            tf.reshape(inputs, [batch * depth, height, width, inputs.shape[-1]]),
            tf.transpose(kernel[:, :, :, 0, :], [1, 2, 0, 3]),
            tf.stack([batch * depth, output_height, output_width, depth_kernel]), strides=1,
            padding="VALID")
        planes = tf.reshape(planes, [batch, depth, output_height, output_width, depth_kernel])
        outputs = tf.add_n([tf.pad(planes[..., offset],
                                   [[0, 0], [offset, depth_kernel - 1 - offset], [0, 0], [0, 0]])
                            for offset in range(depth_kernel)])[..., None]
        return outputs, lambda upstream: one_channel_transposed_gradients(inputs, kernel,
                                                                          upstream)
    return one_channel_transposed


def timed_calls(tf, compute, inputs, kernel, upstream):
    """tf.functions of the forward pass, and of the forward pass with both gradients."""
    @tf.function
    def forward():
        return compute(inputs, kernel)

    @tf.function
    def forward_backward():
        with tf.GradientTape() as tape:
            tape.watch([inputs, kernel])
            outputs = compute(inputs, kernel)
        return [outputs, *tape.gradient(outputs, [inputs, kernel], output_gradients=upstream)]
    return forward, forward_backward


def layer_line(tf, channels, repeats):
    """Forward and forward + backward of one call, version 3 against version 4."""
    from models.fast_layers import one_channel_transposed  # version 4
    rng = np.random.default_rng(1)
    kernel = tf.Variable(rng.normal(size=(5, 5, 5, 1, channels)).astype("float32") * 0.05)
    inputs = tf.constant(rng.normal(size=(BATCH_SIZE, 11, 11, 11, channels)).astype("float32"))
    upstream = tf.Variable(rng.normal(size=(BATCH_SIZE, 15, 15, 15, 1)).astype("float32"))
    timings, results = [], []
    for compute in (version_3(tf), one_channel_transposed):
        forward, forward_backward = timed_calls(tf, compute, inputs, kernel, upstream)
        results.append(forward_backward())
        timings.append((median_milliseconds(forward, repeats),
                        median_milliseconds(forward_backward, repeats)))
    difference = max(float(tf.reduce_max(tf.abs(a - b))) for a, b in zip(*results))
    scale = max(float(tf.reduce_max(tf.abs(a))) for a in results[0])
    (old_forward, old_both), (new_forward, new_both) = timings
    return (f"decoder last layer 11^3x{channels} -> 15^3x1, version 3 vs version 4: forward "
            f"{old_forward:.2f} vs {new_forward:.2f} ms (x{old_forward / new_forward:.2f}), "
            f"forward + backward {old_both:.2f} vs {new_both:.2f} ms "
            f"(x{old_both / new_both:.2f}); largest difference {difference:.2e} "
            f"(relative {difference / scale:.1e})")


def step_milliseconds(tf, filters, repeats, replacement=None):
    """train_step (M = 2, dropout, normalization, α 0.1) on a constant batch, with the
    last layer's function replaced by ``replacement`` when given (today's otherwise)."""
    import models
    from models import fast_layers
    from runtime.seeds import seed_everything
    original = fast_layers.one_channel_transposed
    fast_layers.one_channel_transposed = replacement or original
    try:
        seed_everything(0)
        network = models.build_axial_network(["m0", "m1"], normalization=True, alpha=0.1,
                                             modality_dropout=True, seed=0, filters=filters)
        network.compile(optimizer=models.make_optimizer())
        rng = np.random.default_rng(0)
        batch = tuple(tf.constant(rng.normal(size=(BATCH_SIZE, 15, 15, 15, 1))
                                  .astype("float32")) for _ in range(2))
        step = tf.function(network.train_step)
        return median_milliseconds(lambda: step((batch,)), repeats)
    finally:
        fast_layers.one_channel_transposed = original


def step_line(tf, filters, repeats):
    old = step_milliseconds(tf, filters, repeats, version_3(tf))
    new = step_milliseconds(tf, filters, repeats)
    return (f"train_step M=2, filters {','.join(map(str, filters))}: version 3 {old:.1f} ms, "
            f"version 4 {new:.1f} ms (x{old / new:.3f}, {100 * (old - new) / old:.1f} % "
            "less)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--filters", action="append", metavar="F1,F2,F3",
                        help="a network's filter counts (repeatable; default 16,32,64 and "
                             "32,64,128)")
    parser.add_argument("--repeats", type=int, default=25, help="timed calls (median)")
    parser.add_argument("--record", type=Path, metavar="FILE")
    args = parser.parse_args()
    networks = [tuple(int(f) for f in text.split(",")) for text in
                (args.filters or ["16,32,64", "32,64,128"])]
    tf = import_tensorflow_quietly()
    lines = []
    for filters in networks:
        for line in (layer_line(tf, filters[0], args.repeats),
                     step_line(tf, filters, args.repeats)):
            lines.append(line)
            print(line, flush=True)
    if args.record:
        write_record(args.record, lines, [
            f"medians of {args.repeats} timed calls, batch {BATCH_SIZE}, "
            f"{os.environ['TF_NUM_INTRAOP_THREADS']} thread(s)"])
        print(f"wrote {args.record}")


if __name__ == "__main__":
    main()
