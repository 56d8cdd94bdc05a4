"""Starting TensorFlow without its start-up noise (called first by every script).

On a machine without a GPU, TensorFlow's C++ start-up writes lines such as
``E0000 … failed call to cuInit: … CUDA error`` and ``Could not find cuda drivers`` to
the standard error stream before any Python logging is configured; to a new user they
look like failures. ``import_tensorflow_quietly`` imports TensorFlow and lists its
devices (which triggers those lines) with the standard error stream captured, drops
the known harmless lines, and writes everything else back. ``gpu_visible`` answers
whether TensorFlow sees a GPU, without starting it where the machine has none.
"""
import glob
import os
import re
import sys
import tempfile

HARMLESS = re.compile(
    r"WARNING: All log messages before absl::InitializeLog|oneDNN custom operations are on|"
    r"Could not find cuda drivers|failed call to cuInit|cpu_feature_guard|"
    r"To enable the following instructions|rebuild TensorFlow with the appropriate compiler|"
    r"Unable to register cu(DNN|FFT|BLAS) factory|computation placer already registered|"
    r"TF-TRT Warning|Memory patch applied")


def import_tensorflow_quietly():
    """Imports TensorFlow (once) with its known start-up lines dropped; returns it."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    # One thread per process unless told otherwise: the thread count decides float32
    # round-off, so with one the number of cores does not enter (the cores are used by
    # worker processes, experiments/execution/workers.py).
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow
            tensorflow.config.list_physical_devices()
            # The first generator dataset logs a note about memory trimming: have it here.
            for _ in tensorflow.data.Dataset.from_generator(
                    lambda: iter([0]), output_signature=tensorflow.TensorSpec((), "int32")):
                pass
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = unexpected_lines(captured.read().decode(errors="replace"))
            if kept:
                print("\n".join(kept), file=sys.stderr, flush=True)
    tensorflow.get_logger().addFilter(_without_retracing_notes)
    if os.environ.get("KERAS_BACKEND") == "torch":  # the same one thread under PyTorch
        import torch
        torch.set_num_threads(int(os.environ["TF_NUM_INTRAOP_THREADS"]))
    return tensorflow


def gpu_visible():
    """Whether TensorFlow sees a GPU. On Linux without an NVIDIA or AMD compute device
    (no /dev/nvidia0…, no /dev/kfd) the answer is no without starting TensorFlow
    (several seconds): the process that only hands a grid to its worker processes never starts it.
    Everywhere else TensorFlow is asked."""
    if "tensorflow" not in sys.modules and sys.platform.startswith("linux") \
            and not glob.glob("/dev/nvidia[0-9]*") and not os.path.exists("/dev/kfd"):
        return False
    return bool(import_tensorflow_quietly().config.list_physical_devices("GPU"))


def unexpected_lines(text):
    """The lines of start-up output that are not known to be harmless."""
    return [line for line in text.splitlines() if line.strip() and not HARMLESS.search(line)]


def _without_retracing_notes(record):
    # Every unit builds new feature extractors, whose first calls trace: expected here.
    return "triggered tf.function retracing" not in record.getMessage()
