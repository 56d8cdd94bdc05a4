#!/usr/bin/env python3
"""Speed ideas for the training step, each measured against what the network does now,
in the same process: forward + backward milliseconds, the ratio, and how far the
results differ (a change that moves float32 round-off moves the committed tables, so it
pays only with every table regenerated).

    python benchmarks/layer_alternatives.py                 # paper filters, batch 64
    python benchmarks/layer_alternatives.py --filters 16,32,64 --record FILE

Ideas measured:
- the encoder's last convolution (a 5³ kernel over a 5³ map: one output voxel) as one
  matrix product of the flattened map, and the decoder's first transposed convolution
  (1³ → 5³) likewise: the same sums as a GEMM instead of oneDNN's 3-D convolution
  (adopted with arithmetic version 3: ``models.fast_layers``);
- the decoder's last layer (11³×C → 15³×1): Keras's own transposed convolution and the
  2-D forward pass with TensorFlow's own gradients (arithmetic version 2) against today's
  ``fast_layers.one_channel_transposed`` (version 4: the forward pass by rows, the
  gradients as plain convolutions; version 3 against 4: ``last_layer_forward.py``);
- TensorFlow's inter-op thread pool: the whole train_step with 1 thread between ops
  (independent ops then run one after the other, each on both cores) against the
  default (as many as cores), each in a fresh process;
- one thread per process (intra- and inter-op), alone and as two processes side by side
  (what two ``--shard`` processes of one run would do), against one process using every
  core: samples per second together, and whether the trained weights after the same
  steps are identical (the thread count decides how oneDNN splits its sums).

Layers are timed in this process, with one thread unless TF_NUM_INTRAOP_THREADS says
otherwise (as the project's runs compute).
"""
import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from runtime.metadata import write_record
from runtime.startup import import_tensorflow_quietly
from runtime.timing import median_milliseconds

BATCH_SIZE = 64


def forward_backward(tf, compute, inputs, kernel):
    """A tf.function: the output and the gradients of a fixed random upstream gradient with
    respect to the input and the kernel (what the training step needs of a middle layer).
    The upstream gradient is a variable, as in training: a constant one (all ones) lets
    TensorFlow fold part of the backward pass away and times something else."""
    shape = compute(inputs, kernel).shape
    upstream = tf.Variable(np.random.default_rng(2).normal(size=shape).astype("float32"))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            tape.watch([inputs, kernel])
            outputs = compute(inputs, kernel)
        gradients = tape.gradient(outputs, [inputs, kernel], output_gradients=upstream)
        return outputs, gradients
    return step


def compare(tf, label, current, alternative, inputs, kernel, repeats):
    """Timing of both and the largest differences of outputs and gradients."""
    first, second = (forward_backward(tf, f, inputs, kernel) for f in (current, alternative))
    (out_a, grads_a), (out_b, grads_b) = first(), second()
    difference = max(float(tf.reduce_max(tf.abs(a - b)))
                     for a, b in zip([out_a, *grads_a], [out_b, *grads_b]))
    scale = max(float(tf.reduce_max(tf.abs(a))) for a in [out_a, *grads_a])
    times = [median_milliseconds(first, repeats), median_milliseconds(second, repeats)]
    return (f"{label}: {times[0]:.2f} ms vs {times[1]:.2f} ms "
            f"(x{times[0] / times[1]:.2f}); largest difference {difference:.2e} "
            f"(relative {difference / scale:.1e})")


def convolution(tf, x, w):
    """The encoder's last convolution as the network computes it (oneDNN's Conv3D)."""
    return tf.nn.conv3d(x, w, strides=[1] * 5, padding="VALID")


def convolution_as_matrix_product(tf, x, w):
    """A valid convolution whose kernel covers the whole map (one output voxel) is a
    product of the flattened map and the flattened kernel."""
    inputs = int(np.prod(w.shape[:4]))
    product = tf.matmul(tf.reshape(x, [-1, inputs]), tf.reshape(w, [inputs, w.shape[-1]]))
    return tf.reshape(product, [-1, 1, 1, 1, w.shape[-1]])


def transposed_convolution(tf, x, w):
    """The decoder's first transposed convolution (1³ → k³) as the network computes it."""
    return tf.nn.conv3d_transpose(x, w, [tf.shape(x)[0], *w.shape[:4]], strides=[1] * 5,
                                  padding="VALID")


def transposed_as_matrix_product(tf, x, w):
    """output[n, d, h, w, c] = Σ_k x[n, k] W[d, h, w, c, k]: one matrix product."""
    outputs = int(np.prod(w.shape[:4]))
    product = tf.matmul(tf.reshape(x, [-1, w.shape[-1]]), tf.reshape(w, [outputs, w.shape[-1]]),
                        transpose_b=True)
    return tf.reshape(product, [-1, *w.shape[:4]])


def last_layer_version_2(tf, x, w):
    """The decoders' last layer under arithmetic version 2: the 2-D forward pass (version
    3's, ``last_layer_forward.version_3``) with TensorFlow's own gradients of its pieces."""
    batch, depth, height, width = (tf.shape(x)[i] for i in range(4))
    kernel_depth = w.shape[0]
    planes = tf.nn.conv2d_transpose(
        tf.reshape(x, [batch * depth, height, width, x.shape[-1]]),
        tf.transpose(w[:, :, :, 0, :], [1, 2, 0, 3]),
        tf.stack([batch * depth, height + w.shape[1] - 1, width + w.shape[2] - 1, kernel_depth]),
        strides=1, padding="VALID")
    planes = tf.reshape(planes, [batch, depth, height + w.shape[1] - 1,
                                 width + w.shape[2] - 1, kernel_depth])
    return tf.add_n([tf.pad(planes[..., a], [[0, 0], [a, kernel_depth - 1 - a], [0, 0], [0, 0]])
                     for a in range(kernel_depth)])[..., None]


def last_layer_lines(filters, repeats):
    """The decoders' last layer three ways (module docstring), forward and backward."""
    tf = import_tensorflow_quietly()
    from models.fast_layers import one_channel_transposed
    rng = np.random.default_rng(1)
    channels = filters[0]
    kernel = tf.Variable(rng.normal(size=(5, 5, 5, 1, channels)).astype("float32") * 0.05)
    inputs = tf.constant(rng.normal(size=(BATCH_SIZE, 11, 11, 11, channels)).astype("float32"))

    def keras_own(x, w):
        return tf.nn.conv3d_transpose(x, w, [BATCH_SIZE, 15, 15, 15, 1], strides=[1] * 5,
                                      padding="VALID")
    label = f"decoder last layer 11^3x{channels} -> 15^3x1"
    return [compare(tf, f"{label}, Keras's own vs version 4", keras_own,
                    one_channel_transposed, inputs, kernel, repeats),
            compare(tf, f"{label}, version 2 vs version 4",
                    lambda x, w: last_layer_version_2(tf, x, w), one_channel_transposed,
                    inputs, kernel, repeats)]


def layer_lines(filters, repeats):
    tf = import_tensorflow_quietly()
    rng = np.random.default_rng(0)
    low, high = filters[1], filters[2]
    # Both layers' kernels are (5, 5, 5, low, high): conv3 maps 5³×low → 1³×high,
    # deconv1 maps 1³×high → 5³×low.
    kernel = tf.Variable(rng.normal(size=(5, 5, 5, low, high)).astype("float32") * 0.01)
    encoder_map = tf.constant(rng.normal(size=(BATCH_SIZE, 5, 5, 5, low)).astype("float32"))
    representation = tf.constant(rng.normal(size=(BATCH_SIZE, 1, 1, 1, high)).astype("float32"))
    return [
        compare(tf, f"encoder conv3 5^3x{low} -> 1^3x{high}, Keras's own vs matrix product",
                lambda x, w: convolution(tf, x, w),
                lambda x, w: convolution_as_matrix_product(tf, x, w),
                encoder_map, kernel, repeats),
        compare(tf, f"decoder deconv1 1^3x{high} -> 5^3x{low}, Keras's own vs matrix product",
                lambda x, w: transposed_convolution(tf, x, w),
                lambda x, w: transposed_as_matrix_product(tf, x, w),
                representation, kernel, repeats)]


def step_command(filters, repeats, weights_out=None):
    return [sys.executable, __file__, "--step-only", "--filters", ",".join(map(str, filters)),
            "--repeats", str(repeats), *(["--weights-out", str(weights_out)] if weights_out
                                         else [])]


def thread_environment(inter_op_threads=None, intra_op_threads=None):
    # TensorFlow reads its pool sizes once, at start-up: a fresh process each.
    chosen = {"TF_NUM_INTEROP_THREADS": inter_op_threads, "TF_NUM_INTRAOP_THREADS": intra_op_threads}
    return dict(os.environ, **{name: str(count) for name, count in chosen.items() if count})


def step_milliseconds(filters, repeats, inter_op_threads=None, intra_op_threads=None,
                      weights_out=None):
    """train_step ms (M = 2) in a fresh process with the given thread pool sizes."""
    output = subprocess.run(step_command(filters, repeats, weights_out), capture_output=True,
                            text=True, check=True,
                            env=thread_environment(inter_op_threads, intra_op_threads)).stdout
    return float(output.strip().splitlines()[-1])


def side_by_side_milliseconds(filters, repeats, count=2):
    """train_step ms of ``count`` one-thread processes started together (each its own)."""
    processes = [subprocess.Popen(step_command(filters, repeats), stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True,
                                  env=thread_environment(1, 1)) for _ in range(count)]
    return [float(process.communicate()[0].strip().splitlines()[-1]) for process in processes]


def thread_lines(filters, repeats, folder):
    """Default pools against one thread per process, alone and two side by side."""
    default = step_milliseconds(filters, repeats, weights_out=folder / "default.npy")
    single = step_milliseconds(filters, repeats, 1, 1, weights_out=folder / "single.npy")
    step_milliseconds(filters, repeats, 1, 1, weights_out=folder / "again.npy")  # same?
    pair = side_by_side_milliseconds(filters, repeats)
    weights = {name: np.load(folder / f"{name}.npy") for name in ("default", "single", "again")}

    def samples(milliseconds):
        return BATCH_SIZE * 1000.0 / milliseconds
    together = sum(samples(milliseconds) for milliseconds in pair)
    return [f"train_step M=2, every core (default pools): {default:.1f} ms "
            f"({samples(default):.0f} samples/s)",
            f"train_step M=2, one thread: {single:.1f} ms ({samples(single):.0f} samples/s, "
            f"x{default / single:.2f})",
            f"train_step M=2, two one-thread processes side by side: "
            f"{' + '.join(f'{m:.1f}' for m in pair)} ms ({together:.0f} samples/s together, "
            f"x{together / samples(default):.2f} the default)",
            f"weights after {repeats + 2} steps: one thread vs every core identical "
            f"{np.array_equal(weights['single'], weights['default'])} (largest difference "
            f"{np.abs(weights['single'] - weights['default']).max():.1e}); two one-thread runs "
            f"identical {np.array_equal(weights['single'], weights['again'])}"]


def measure_step(filters, repeats, weights_out=None):
    tf = import_tensorflow_quietly()
    import models
    from runtime.seeds import seed_everything
    seed_everything(0)
    network = models.build_axial_network(["m0", "m1"], normalization=True, alpha=0.1,
                                         modality_dropout=True, seed=0, filters=filters)
    network.compile(optimizer=models.make_optimizer())
    rng = np.random.default_rng(0)
    batch = tuple(tf.constant(rng.normal(size=(BATCH_SIZE, 15, 15, 15, 1)).astype("float32"))
                  for _ in range(2))
    step = tf.function(network.train_step)
    milliseconds = median_milliseconds(lambda: step((batch,)), repeats)
    if weights_out:
        np.save(weights_out, np.concatenate([w.numpy().ravel() for w in network.weights]))
    print(milliseconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--filters", default="32,64,128", help="filter counts (default paper)")
    parser.add_argument("--repeats", type=int, default=25, help="timed calls (median)")
    parser.add_argument("--record", type=Path, metavar="FILE")
    parser.add_argument("--layers-only", action="store_true",
                        help="the layers alone, without the thread and step comparisons")
    parser.add_argument("--step-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--weights-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    filters = tuple(int(f) for f in args.filters.split(","))
    if args.step_only:
        return measure_step(filters, args.repeats, args.weights_out)
    lines = layer_lines(filters, args.repeats) + last_layer_lines(filters, args.repeats)
    for line in lines:
        print(line, flush=True)
    if args.layers_only:
        return record(args, lines)
    default, single = (step_milliseconds(filters, args.repeats, threads) for threads in (0, 1))
    lines.append(f"train_step M=2: inter-op threads default {default:.1f} ms, 1 thread "
                 f"{single:.1f} ms (x{default / single:.2f})")
    print(lines[-1])
    with tempfile.TemporaryDirectory() as folder:
        for line in thread_lines(filters, args.repeats, Path(folder)):
            lines.append(line)
            print(line, flush=True)
    record(args, lines)


def record(args, lines):
    if args.record:
        write_record(args.record, lines, [f"medians of {args.repeats} timed calls, batch "
                                          f"{BATCH_SIZE}, filters {args.filters}, "
                                          f"{os.environ['TF_NUM_INTRAOP_THREADS']} thread(s)"])
        print(f"wrote {args.record}")


if __name__ == "__main__":
    main()
