#!/usr/bin/env python3
"""Speed figures per machine: training, feature extraction and patch gathering, beside
a plain PyTorch implementation of the same network (the project's speed peer, read from
shared/bench/torch_reference.py beside the checkout when present) in the same invocation.

    python benchmarks/speed.py                 # M = 2 and 4, paper-size network
    python benchmarks/speed.py --only gather   # patch gathering alone (no TensorFlow)
    python benchmarks/speed.py --backend jax   # the same model under Keras's JAX backend
    python benchmarks/speed.py --keras-layers  # TensorFlow without its fast layers

Each side runs the way it runs best on this machine, on all its cores. The project as
its runs train: as many one-thread worker processes as usable cores (``--processes``),
side by side, each training through the real path (the custom train_step with modality
dropout, per-feature normalization and the similarity term, fed by the PatchBatches
loader reproduce/ uses); their samples per second add up. The PyTorch peer twice: one
process with its default threads, and as many one-thread processes as cores side by
side; the faster is its figure. Every process's own figure is printed too. The last
line, ``train_ratio_vs_torch=<float>``, is the per-machine ratio for the first modality
count (nan without torch). Training is also given in GFLOP/s per machine (the
convolutions' multiply-adds: forward and both backward passes, no input gradient for the
first layer) and as a fraction of the machine's sgemm peak (NumPy float32 matmul on
every core, best of 5). Timings on a shared machine are noisy: each process's figure is
the median of --repeats timings (epochs for training); the ratios matter more than
absolute times. --record FILE keeps the figures with the command, machine and versions.
"""
import argparse
import importlib.util
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPOSITORY = Path(__file__).resolve().parents[1]
TORCH_REFERENCE = REPOSITORY.parent / "shared" / "bench" / "torch_reference.py"

from data import PatchTable, PreparedSubject, gather_patches
from experiments.execution.workers import ONE_THREAD, usable_cores
from runtime.metadata import write_record
from runtime.seeds import seed_everything
from runtime.startup import import_tensorflow_quietly


def synthetic_table(modality_count, shape, count, seed=0):
    """A PatchTable over one random volume of the given shape (content does not matter)."""
    rng = np.random.default_rng(seed)
    volumes = rng.normal(size=(modality_count, *[s + 14 for s in shape])).astype(np.float32)
    subject = PreparedSubject("bench", "bench", [f"m{i}" for i in range(modality_count)],
                              ["background", "foreground"], volumes,
                              np.ones(shape, dtype=np.uint8))
    centers = rng.integers(0, shape, size=(count, 3)).astype(np.int32)
    return PatchTable([subject], [centers], [np.zeros(count, dtype=np.int32)])


def bench_gather(modality_count, shape=(384, 384, 160), count=50_000, repeats=3):
    table = synthetic_table(modality_count, shape, count)
    volumes, centers = table.subjects[0].volumes, table.centers
    gather_patches(volumes, centers[:1000])
    return count / float(np.median([_timed(lambda: gather_patches(volumes, centers))
                                    for _ in range(repeats)]))


def _timed(function):
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def sgemm_peak_gflops(size=2048, repeats=5):
    a = np.random.default_rng(0).random((size, size), dtype=np.float32)
    a @ a
    return 2 * size ** 3 / min(_timed(lambda: a @ a) for _ in range(repeats)) / 1e9


def training_flops_per_sample(network):
    """Convolution FLOPs of one training sample: 2 per multiply-add, forward + input
    gradient + kernel gradient, except the input gradient of the patch-facing layers."""
    import keras
    total = 0
    for model in network.layers:
        if not isinstance(model, keras.Model):
            continue
        first = True
        for layer in model.layers:
            if not isinstance(layer, (keras.layers.Conv3D, keras.layers.Conv3DTranspose)):
                continue
            spatial = layer.output.shape[1:4] if isinstance(layer, keras.layers.Conv3D) \
                else layer.input.shape[1:4]
            forward = 2 * np.prod(spatial) * np.prod(layer.kernel.shape)
            patch_facing = first and model.name.startswith("encoder")
            total += forward * (2 if patch_facing else 3)
            first = False
    return float(total)


def bench_keras(modality_count, steps, repeats, batch_size=64):
    import models
    seed_everything(0)
    names = [f"m{i}" for i in range(modality_count)]
    network = models.build_axial_network(names, normalization=True, alpha=0.1,
                                         modality_dropout=True, seed=0)
    table = synthetic_table(modality_count, (96, 96, 64), batch_size * steps)
    rows = np.arange(len(table))
    warmup = models.PatchBatches(table, rows[:batch_size * 5], batch_size=batch_size, seed=0)
    models.train(network, warmup, epochs=1, verbose=0)
    batches = models.PatchBatches(table, rows, batch_size=batch_size, seed=1)
    # The median of several epochs: speed on this machine switches between modes.
    training = float(np.median([len(rows) / _timed(lambda: models.train(
        network, batches, epochs=1, verbose=0)) for _ in range(repeats)]))
    patches = table.gather(rows[:4096])
    models.extract_features(network, patches[:1024, 0], 0)
    seconds = float(np.median([_timed(lambda: [models.extract_features(network, patches[:, m], m)
                                               for m in range(modality_count)])
                               for _ in range(repeats)]))
    encoding = 4096 * modality_count / seconds
    return training, encoding, training * training_flops_per_sample(network) / 1e9


def side_by_side(commands, environment=None):
    """Runs the commands at the same time; each one's ``name=value`` figures, parsed."""
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env={**os.environ, **(environment or {})})
                 for command in commands]
    figures = []
    for command, process in zip(commands, processes):
        output, errors = process.communicate()
        if process.returncode:
            raise RuntimeError(f"{' '.join(map(str, command))} failed:\n{errors[-2000:]}")
        figures.append({key: float(value)
                        for key, value in re.findall(r"(\w+)=([\d.]+)", output)})
    return figures


def bench_torch(modality_count, steps, processes, batch_size=64, python=None):
    """The PyTorch peer's training and encoding samples/s per machine at its best, and the
    per-process training figures of each way it was run; nan without torch."""
    nothing = (float("nan"), float("nan"), {})
    if not TORCH_REFERENCE.exists():
        return nothing
    if python is None:
        if importlib.util.find_spec("torch") is None:
            return nothing
        python = sys.executable
    command = [str(python), str(TORCH_REFERENCE), "--modalities", str(modality_count),
               "--batch", str(batch_size), "--steps", str(steps)]
    ways = {"default threads, 1 process": side_by_side([command]),
            f"1 thread, {processes} processes": side_by_side(
                [command + ["--threads", "1"]] * processes)}
    totals = {way: (sum(f["train_samples_per_s"] for f in figures),
                    sum(f["encode_samples_per_s"] for f in figures))
              for way, figures in ways.items()}
    best = max(totals, key=lambda way: totals[way][0])
    per_process = {way: [f["train_samples_per_s"] for f in figures]
                   for way, figures in ways.items()}
    return (*totals[best], {"best": best, **per_process})


def bench_keras_per_machine(arguments, modality_count, processes):
    """The project's figures per machine: ``processes`` one-thread processes side by side."""
    command = [sys.executable, __file__, "--one-process", "--modalities", str(modality_count),
               "--steps", str(arguments.steps), "--repeats", str(arguments.repeats),
               "--backend", arguments.backend,
               *(["--keras-layers"] if arguments.keras_layers else []),
               *(["--mixed-precision"] if arguments.mixed_precision else [])]
    figures = side_by_side([command] * processes, ONE_THREAD)
    return figures, {key: sum(f[key] for f in figures) for key in figures[0]}


def one_process(arguments):
    """A child of ``bench_keras_per_machine``: this process's figures, one per line."""
    training, encoding, gflops = bench_keras(arguments.modalities_count, arguments.steps,
                                             arguments.repeats)
    print(f"train_samples_per_s={training:.2f}\nencode_samples_per_s={encoding:.2f}\n"
          f"train_gflop_per_s={gflops:.2f}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modalities", default="2,4", help="modality counts (default 2,4)")
    parser.add_argument("--steps", type=int, default=60, help="timed training steps")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed repetitions; medians are reported (default 3)")
    parser.add_argument("--processes", type=int, default=usable_cores(),
                        help="processes side by side, one thread each, for the project and "
                        "for the peer's one-thread way (default: the usable cores, "
                        f"{usable_cores()} here, as the runs' default --workers)")
    parser.add_argument("--only", choices=["gather", "train"], help="run one part only")
    parser.add_argument("--torch-python", type=Path, metavar="PYTHON",
                        help="the Python that runs the PyTorch peer (an environment with "
                        "torch; default: this Python if it has torch)")
    parser.add_argument("--backend", choices=["tensorflow", "jax", "torch"],
                        default=os.environ.get("KERAS_BACKEND", "tensorflow"),
                        help="the Keras backend of the model (default KERAS_BACKEND, else "
                        "tensorflow; jax and torch: pip install -r requirements-backends.txt)")
    parser.add_argument("--keras-layers", action="store_true",
                        help="TensorFlow with Keras's own layers instead of the fast ones "
                        "(models/fast_layers.py)")
    parser.add_argument("--mixed-precision", action="store_true",
                        help="train and extract in float16 with float32 weights (as the "
                        "scripts' --mixed-precision; for GPUs)")
    parser.add_argument("--record", type=Path, metavar="FILE", help="also write the figures, "
                        "the command, the machine and the versions into FILE (the evidence "
                        "behind benchmarks/README.md)")
    parser.add_argument("--one-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.keras_layers and args.backend != "tensorflow":
        parser.error("--keras-layers is TensorFlow's: the other backends always use Keras's layers")
    if args.processes < 1:
        parser.error(f"--processes must be at least 1, not {args.processes}")
    os.environ["KERAS_BACKEND"] = args.backend  # before Keras is imported
    if args.one_process:
        import_tensorflow_quietly()
        if args.keras_layers:
            from models import fast_layers
            fast_layers.on_tensorflow = lambda: False
        if args.mixed_precision:
            import models
            models.use_mixed_precision(True)
        args.modalities_count = int(args.modalities)
        return one_process(args)
    lines = []

    def report(line):
        print(line, flush=True)
        lines.append(line)
    report(f"backend={args.backend}{' (Keras layers)' if args.keras_layers else ''}; "
           f"{args.processes} one-thread processes")
    counts = [int(m) for m in args.modalities.split(",")]
    ratio = float("nan")
    if args.only in (None, "train"):
        peak = sgemm_peak_gflops()
        report(f"sgemm_peak_gflop_per_s={peak:.0f}")
    for modality_count in counts:
        if args.only in (None, "gather"):
            report(f"M={modality_count} gather_patches_per_s="
                   f"{bench_gather(modality_count, repeats=args.repeats):.0f}")
        if args.only not in (None, "train"):
            continue
        each, machine = bench_keras_per_machine(args, modality_count, args.processes)
        torch_training, torch_encoding, torch_ways = bench_torch(
            modality_count, args.steps, args.processes, python=args.torch_python)
        prefix = f"M={modality_count}"
        report(f"{prefix} keras_train_samples_per_s_each_process="
               + ",".join(f"{f['train_samples_per_s']:.1f}" for f in each))
        report(f"{prefix} keras_train_samples_per_s={machine['train_samples_per_s']:.1f}")
        report(f"{prefix} keras_train_gflop_per_s={machine['train_gflop_per_s']:.0f} "
               f"({100 * machine['train_gflop_per_s'] / peak:.0f} % of sgemm peak)")
        report(f"{prefix} keras_features_patches_per_s={machine['encode_samples_per_s']:.1f}")
        for way, rates in torch_ways.items():
            if way != "best":
                report(f"{prefix} torch_train_samples_per_s_each_process ({way})="
                       + ",".join(f"{rate:.1f}" for rate in rates))
        if torch_ways:
            report(f"{prefix} torch_best_way: {torch_ways['best']}")
        report(f"{prefix} torch_train_samples_per_s={torch_training:.1f}")
        report(f"{prefix} torch_encode_samples_per_s={torch_encoding:.1f}")
        report(f"{prefix} train_ratio={machine['train_samples_per_s'] / torch_training:.3f}")
        if modality_count == counts[0]:
            ratio = machine["train_samples_per_s"] / torch_training
    if args.only in (None, "train"):
        report(f"train_ratio_vs_torch={ratio:.3f}")
    if args.record:
        write_record(args.record, lines, [
            f"per machine: each side's processes side by side on all cores; each process's "
            f"figure the median of {args.repeats} timings"])
        print(f"wrote {args.record}")


if __name__ == "__main__":
    main()
