"""The software versions a run records beside its results, and the machine a timing was
measured on."""
import platform
from importlib import metadata
from pathlib import Path

PACKAGES = ("keras", "tensorflow", "jax", "torch", "numpy", "scikit-learn", "nibabel", "h5py")


def versions():
    """{"python": …, package: version} without importing the packages."""
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def machine():
    """'2 cores, Intel(R) Xeon(R) Processor, Linux-…': what a timing was measured on."""
    import os
    import platform
    cpu = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                    if line.startswith("model name")), cpu)
    return f"{os.cpu_count()} cores, {cpu}, {platform.platform()}"


def tensorflow_threads():
    """How many threads TensorFlow splits each operation over (its intra-op pool): with
    oneDNN this decides the order of a convolution's sums, so a training's float32
    round-off, and scaled runs' numbers (docs/design.md). The pool is TF_NUM_INTRAOP_THREADS
    when set, else what the process may run on."""
    import os
    configured = os.environ.get("TF_NUM_INTRAOP_THREADS", "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def keras_backend():
    """The Keras backend this process computes with ("tensorflow", "jax", "torch"), read as
    Keras reads it, without importing Keras: KERAS_BACKEND, else ~/.keras/keras.json (or
    $KERAS_HOME's), else TensorFlow."""
    import json
    import os
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    config = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "keras.json"
    try:
        return json.loads(config.read_text()).get("backend", "tensorflow")
    except (OSError, ValueError):
        return "tensorflow"


def computed_on():
    """'2 cores, AMD EPYC, Linux-…; 2 TensorFlow threads': what a result's arithmetic
    depends on besides the code (recorded with every trained unit). Under another Keras
    backend the backend is named ('…; Keras on PyTorch, 1 thread'; '…; Keras on JAX')."""
    threads = tensorflow_threads()
    plural = "s" if threads != 1 else ""
    backend = keras_backend()
    if backend == "torch":
        return f"{machine()}; Keras on PyTorch, {threads} thread{plural}"
    if backend == "jax":
        return f"{machine()}; Keras on JAX (XLA's CPU threads)"
    return f"{machine()}; {threads} TensorFlow thread{plural}"


def write_record(path, lines, notes=()):
    """Measured figures with what produced them (command, date, machine, versions):
    the evidence file behind a number in the README."""
    import sys
    from datetime import datetime, timezone
    header = [f"# command: python {' '.join(sys.argv)}",
              f"# date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
              f"# machine: {machine()}",
              f"# versions: {', '.join(f'{k} {v}' for k, v in versions().items())}",
              *(f"# {note}" for note in notes)]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("\n".join(header + list(lines)) + "\n")
