"""The software versions a run records beside its results."""
import platform
from importlib import metadata

PACKAGES = ("keras", "tensorflow", "numpy", "scikit-learn", "nibabel", "h5py")


def versions():
    """{"python": …, package: version} without importing the packages."""
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found
