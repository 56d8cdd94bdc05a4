#!/usr/bin/env python3
"""Where one training step's time goes: every layer's forward and backward pass, the
feature normalizations, the mean, the losses, the optimizer, the input pipeline and the
per-step overhead of ``fit``, beside the whole step.

    python benchmarks/profile_step.py                      # paper and quick filters, M = 2 and 4
    python benchmarks/profile_step.py --filters 8,16,32 --modalities 2

The network is the one ``benchmarks/speed.py`` trains (dropout, per-feature
normalization, alpha 0.1, batch 64). Each piece is timed on its own, in its own
``tf.function``, on random inputs of the shape it sees in the network: the forward
pass in training mode, then forward and backward (the gradients the real step needs:
weights always, the input unless the layer faces the patch); "backward" is the
difference. The whole step is ``train_step`` in one ``tf.function`` (what ``fit`` runs,
no XLA on CPUs) on a constant batch; ``fit`` on the real loader adds the input pipeline
and Keras's per-step work. "not attributed" is the whole step minus the pieces:
TensorFlow runs independent pieces side by side, so it can be negative. Every figure
is the median of --repeats timings of one call. Prints one table per network and
``name=value`` lines; --record FILE keeps them with the command, machine and versions.
"""
import argparse
import time
from pathlib import Path

import numpy as np

from runtime.metadata import write_record
from runtime.seeds import seed_everything
from runtime.startup import import_tensorflow_quietly
from runtime.timing import median_milliseconds

BATCH_SIZE = 64
FILTER_SETS = {"paper": (32, 64, 128), "quick": (16, 32, 64)}


def layer_timings(tf, layer, input_shape, needs_input_gradient, repeats, rng):
    """(forward ms, forward + backward ms) of one layer in training mode."""
    inputs = tf.constant(rng.normal(size=(BATCH_SIZE, *input_shape)).astype("float32"))
    weights = layer.trainable_weights

    @tf.function
    def forward():
        return tf.reduce_sum(layer(inputs, training=True))

    @tf.function
    def forward_backward():
        with tf.GradientTape() as tape:
            if needs_input_gradient:
                tape.watch(inputs)
            outputs = layer(inputs, training=True)
        sources = ([inputs] if needs_input_gradient else []) + list(weights)
        if not sources:
            return tf.reduce_sum(outputs)
        # An upstream gradient of the output's shape, as the layer above would send.
        gradients = tape.gradient(outputs, sources, output_gradients=tf.ones_like(outputs))
        # The output is returned too: a linear layer's gradients do not need it, and
        # TensorFlow would otherwise drop the forward pass from this function.
        return tf.add_n([tf.reduce_sum(outputs)] + [tf.reduce_sum(g) for g in gradients])

    return median_milliseconds(forward, repeats), median_milliseconds(forward_backward, repeats)


def kind_of(layer):
    import keras
    if isinstance(layer, keras.layers.Conv3DTranspose):
        return "transposed convolution"
    if isinstance(layer, keras.layers.Conv3D):
        return "convolution"
    if isinstance(layer, keras.layers.BatchNormalization):  # FixedNormalization is one too
        return "batch normalization"
    if isinstance(layer, keras.layers.LeakyReLU):
        return "leaky ReLU"
    return "reshape"


def profile_network(filters, modality_count, repeats):
    """Rows (piece, kind, forward ms, backward ms) and the step figures of one network."""
    tf = import_tensorflow_quietly()
    import keras
    import models
    from data import PatchTable, PreparedSubject
    seed_everything(0)
    rng = np.random.default_rng(0)
    names = [f"m{i}" for i in range(modality_count)]
    network = models.build_axial_network(names, normalization=True, alpha=0.1,
                                         modality_dropout=True, seed=0, filters=filters)
    network.compile(optimizer=models.make_optimizer())
    rows = []
    # One encoder and one decoder: every modality's are the same layers on the same shapes.
    for model_name in ("encoder_m0", "decoder_m0"):
        model = network.get_layer(model_name)
        first_weighted = True
        for layer in model.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            patch_facing = model_name.startswith("encoder") and first_weighted
            if layer.trainable_weights:
                first_weighted = False
            forward, both = layer_timings(tf, layer, tuple(layer.input.shape[1:]),
                                          not patch_facing, repeats, rng)
            rows.append((f"{layer.name.replace('_m0', '')} {tuple(layer.output.shape[1:])}",
                         kind_of(layer), modality_count * forward,
                         modality_count * (both - forward)))
    rows += head_rows(tf, network, filters[-1], modality_count, repeats, rng)
    rows.append(optimizer_row(tf, network, repeats))
    step, fit_step, pipeline = step_figures(tf, network, modality_count, repeats,
                                            PatchTable, PreparedSubject, rng)
    rows.append(("input pipeline (PatchBatches → tf.data, per batch)", "input pipeline",
                 pipeline, 0.0))
    return rows, step, fit_step


def head_rows(tf, network, feature_count, modality_count, repeats, rng):
    """The pieces between the encoders and the decoders, and the losses."""
    from models.layers import masked_mean
    features = [tf.constant(rng.normal(size=(BATCH_SIZE, feature_count)).astype("float32"))
                for _ in range(modality_count)]
    mask = network.draw_modality_mask(BATCH_SIZE)
    rows = []
    for prefix, kind in (("vector_normalization", "feature normalization (§II-C)"),
                         ("normalization", "feature normalization (§II-D)")):
        if f"{prefix}_m0" not in [layer.name for layer in network.layers]:
            continue  # the §II-C step applies unless per-feature normalization does
        layer = network.get_layer(f"{prefix}_m0")
        forward, both = layer_timings(tf, layer, (feature_count,), True, repeats, rng)
        rows.append((f"{prefix} ({feature_count},)", kind, modality_count * forward,
                     modality_count * (both - forward)))

    @tf.function
    def mean_forward():
        return tf.reduce_sum(masked_mean([mask, *features]))

    @tf.function
    def mean_both():
        with tf.GradientTape() as tape:
            tape.watch(features)
            value = tf.reduce_sum(masked_mean([mask, *features]))
        return value, tape.gradient(value, features)
    forward = median_milliseconds(mean_forward, repeats)
    rows.append(("masked mean f(x)", "mean and losses", forward,
                 median_milliseconds(mean_both, repeats) - forward))

    patch_size = network.inputs[0].shape[1]
    patches = [tf.constant(rng.normal(size=(BATCH_SIZE, *(patch_size,) * 3, 1)).astype("float32"))
               for _ in range(modality_count)]
    outputs = {"mean_representation": tf.constant(rng.normal(size=(BATCH_SIZE, feature_count))
                                                  .astype("float32"))}
    for index, name in enumerate(network.modality_names):
        outputs[f"features_{name}"] = features[index]
        outputs[f"reconstruction_{name}"] = patches[index] + 0.1
    values = list(outputs.values())

    @tf.function
    def loss_forward():
        return network.compute_losses(patches, outputs, mask)[0]

    @tf.function
    def loss_both():
        with tf.GradientTape() as tape:
            tape.watch(values)
            loss = network.compute_losses(patches, dict(zip(outputs, values)), mask)[0]
        return loss, tape.gradient(loss, values)
    forward = median_milliseconds(loss_forward, repeats)
    rows.append(("losses (1)–(3)", "mean and losses", forward,
                 median_milliseconds(loss_both, repeats) - forward))
    return rows


def optimizer_row(tf, network, repeats):
    """SGD's update of every trainable weight (zero gradients leave the weights alone)."""
    weights = network.trainable_weights
    gradients = [tf.zeros_like(w) for w in weights]
    network.optimizer.build(weights)

    @tf.function
    def apply():
        network.optimizer.apply(gradients, weights)
        return network.optimizer.iterations
    return ("SGD update", "optimizer", median_milliseconds(apply, repeats), 0.0)


def step_figures(tf, network, modality_count, repeats, PatchTable, PreparedSubject, rng):
    """(train_step ms on a constant batch, ms per step of ``fit`` on the real loader,
    ms per batch of the loader alone)."""
    import models
    patch_size = network.inputs[0].shape[1]
    batch = tuple(tf.constant(rng.normal(size=(BATCH_SIZE, *(patch_size,) * 3, 1))
                              .astype("float32")) for _ in range(modality_count))
    step_function = tf.function(network.train_step)
    step = median_milliseconds(lambda: step_function((batch,)), repeats)

    shape, steps = (48, 48, 32), 40
    margin = patch_size - 1
    volumes = rng.normal(size=(modality_count, *[s + margin for s in shape])).astype("float32")
    subject = PreparedSubject("profile", "profile", [f"m{i}" for i in range(modality_count)],
                              ["background", "foreground"], volumes,
                              np.ones(shape, dtype=np.uint8))
    count = BATCH_SIZE * steps
    centres = rng.integers(0, shape, size=(count, 3)).astype(np.int32)
    table = PatchTable([subject], [centres], [np.zeros(count, dtype=np.int32)])
    loader = models.PatchBatches(table, batch_size=BATCH_SIZE, seed=0)
    models.train(network, loader, epochs=1, verbose=0)  # traces fit's function
    fit_times = []
    for _ in range(max(1, repeats // 5)):
        started = time.perf_counter()
        models.train(network, loader, epochs=1, verbose=0)
        fit_times.append((time.perf_counter() - started) / steps)
    dataset = models.steady_dataset(loader)
    started = time.perf_counter()
    for _ in dataset:
        pass
    pipeline = (time.perf_counter() - started) / steps
    return step, 1000.0 * float(np.median(fit_times)), 1000.0 * pipeline


def table_lines(label, rows, step, fit_step):
    pieces = sum(forward + backward for _, kind, forward, backward in rows
                 if kind != "input pipeline")
    lines = [f"## {label}", "",
             f"train_step {step:.1f} ms (one tf.function call on a constant batch of "
             f"{BATCH_SIZE}); fit {fit_step:.1f} ms per step on the real loader", "",
             "| piece | kind | forward ms | backward ms | share of train_step |",
             "|---|---|---|---|---|"]
    for name, kind, forward, backward in rows:
        share = "" if kind == "input pipeline" else f"{100 * (forward + backward) / step:.1f} %"
        lines.append(f"| {name} | {kind} | {forward:.2f} | {backward:.2f} | {share} |")
    lines.append(f"| not attributed (train_step − pieces) | overlap and overhead | "
                 f"{step - pieces:.2f} | | {100 * (step - pieces) / step:.1f} % |")
    lines.append(f"| fit − train_step (loader, callbacks, Keras's step) | per-step overhead | "
                 f"{fit_step - step:.2f} | | {100 * (fit_step - step) / step:.1f} % |")
    by_kind = {}
    for _, kind, forward, backward in rows:
        by_kind.setdefault(kind, [0.0, 0.0])
        by_kind[kind][0] += forward
        by_kind[kind][1] += backward
    lines += ["", "| kind | forward ms | backward ms | share of train_step |", "|---|---|---|---|"]
    for kind, (forward, backward) in sorted(by_kind.items(), key=lambda item: -sum(item[1])):
        share = "" if kind == "input pipeline" else f"{100 * (forward + backward) / step:.1f} %"
        lines.append(f"| {kind} | {forward:.2f} | {backward:.2f} | {share} |")
    lines.append("")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--filters", action="append", metavar="SET",
                        help="a filter set: 'paper' (32,64,128), 'quick' (16,32,64) or counts "
                        "such as 16,32,64; repeat for several (default: paper and quick)")
    parser.add_argument("--modalities", default="2,4", help="modality counts (default 2,4)")
    parser.add_argument("--repeats", type=int, default=15,
                        help="timed calls per piece; medians are reported (default 15)")
    parser.add_argument("--record", type=Path, metavar="FILE",
                        help="also write the tables, the command, the machine and the versions")
    args = parser.parse_args()
    try:
        filter_sets = [(spec, FILTER_SETS.get(spec) or tuple(int(f) for f in spec.split(",")))
                       for spec in args.filters or list(FILTER_SETS)]
    except ValueError:
        parser.error(f"--filters takes paper, quick or counts such as 16,32,64: {args.filters}")
    lines = []
    for label, filters in filter_sets:
        for modality_count in (int(m) for m in args.modalities.split(",")):
            rows, step, fit_step = profile_network(filters, modality_count, args.repeats)
            name = f"filters {','.join(map(str, filters))} ({label}), M = {modality_count}"
            table = table_lines(name, rows, step, fit_step)
            print("\n".join(table), flush=True)
            lines += table
            lines.append(f"filters={','.join(map(str, filters))} M={modality_count} "
                         f"train_step_ms={step:.2f} fit_step_ms={fit_step:.2f} "
                         f"fit_samples_per_s={1000 * BATCH_SIZE / fit_step:.1f}")
            lines.append("")
    if args.record:
        write_record(args.record, lines, [f"every figure is the median of {args.repeats} "
                                          "timings (fit: of repeats // 5 epochs of 40 steps)"])
        print(f"wrote {args.record}")


if __name__ == "__main__":
    main()
