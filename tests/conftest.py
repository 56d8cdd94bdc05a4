import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Scripts called in this process train in it (their tests patch what a unit does); the
# worker processes are tested as processes (test_workers.py).
os.environ.setdefault("CROSS_MODALITY_WORKERS", "1")



@pytest.fixture(autouse=True, scope="session")
def private_data_root(tmp_path_factory):
    """Downloads and the shared cache of prepared volumes go to a folder of the test
    session, never to the user's ~/.cache."""
    root = tmp_path_factory.mktemp("data_root")
    saved = os.environ.get("CROSS_MODALITY_DATA")
    os.environ["CROSS_MODALITY_DATA"] = str(root)
    yield root
    if saved is None:
        os.environ.pop("CROSS_MODALITY_DATA", None)
    else:
        os.environ["CROSS_MODALITY_DATA"] = saved


# A grid on two phantom knees with tiny networks: seconds per unit.
TINY_RUN = ["--subjects", "2", "--filters", "4,8,16", "--patches-per-class", "12",
            "--evaluation-patches-per-class", "20", "--updates", "2", "--verbose", "0"]


@pytest.fixture
def trained_units(monkeypatch):
    """Records (configuration, fold, modality) of every network that is trained."""
    from experiments.execution import unit
    calls = []
    original = unit.train_network

    def recording(run, configuration, patch_data, fold, modality=None, **options):
        calls.append((configuration.name, fold, modality))
        return original(run, configuration, patch_data, fold, modality, **options)

    monkeypatch.setattr(unit, "train_network", recording)
    return calls
