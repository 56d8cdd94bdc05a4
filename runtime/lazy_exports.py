"""A package's names imported from its submodules on first use (PEP 562), so that a
script parses its options, and answers --help or a bad option, before the heavy
libraries (TensorFlow, scikit-learn, SciPy, h5py) load. ``models`` and ``data`` use it."""
import importlib


def lazy_exports(package, sources):
    """(__getattr__, __dir__, __all__) for ``package`` (its ``__name__``), whose names
    ``sources`` maps from submodule to names. A name once looked up is kept in the
    package's namespace, so later uses skip ``__getattr__``."""
    source_of = {name: module for module, names in sources.items() for name in names}
    names = sorted(source_of)

    def __getattr__(name):
        if name not in source_of:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{source_of[name]}", package), name)
        setattr(importlib.import_module(package), name, value)
        return value

    def __dir__():
        return names
    return __getattr__, __dir__, names
