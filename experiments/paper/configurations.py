"""The configurations of Table I (the grid: axial settings, baselines, controls) and the
run presets (how big a run is), defined once for every script."""
from dataclasses import dataclass, field

from experiments.paper.published import ALPHAS


@dataclass(frozen=True)
class Configuration:
    """One row cell of Table I: an axial network setting, a baseline, or a control (beyond
    the paper: what the forests get without a trained network)."""
    name: str
    kind: str  # "axial" | "baseline" | "control"
    dropout: bool = None
    normalization: bool = None
    alpha: float = None
    baseline: str = None  # "all" | "training"
    control: str = None  # CONTROLS: "raw-patch" | "raw-centre" | "untrained"

    @property
    def row_label(self):
        """The row label of the paper's Table I (of our control block for a control)."""
        if self.kind == "control":
            return CONTROLS[self.control]
        if self.kind == "baseline":
            return {"all": "Features from all modalities",
                    "training": "Features from the training modality only"}[self.baseline]
        return {(False, False): "No modality dropout, no per-feature normalization",
                (False, True): "No modality dropout, with per-feature normalization",
                (True, False): "Modality dropout, no per-feature normalization",
                (True, True): "Modality dropout and per-feature normalization"}[
            (self.dropout, self.normalization)]


def axial_name(dropout, normalization, alpha):
    prefix = {(False, False): "plain", (False, True): "norm", (True, False): "dropout",
              (True, True): "dropout+norm"}[(dropout, normalization)]
    return f"{prefix}-a{alpha:g}"


# The controls: the same forest patches, folds and forests, with features that no
# training made. raw-*: the prepared (z-scored) patch voxels themselves; untrained: the
# dropout + normalization network at its seeded initial weights, its normalization
# statistics taken from the training patches.
CONTROLS = {"raw-patch": "Raw intensities: the whole 15³ patch",
            "raw-centre": "Raw intensities: the central 5³ block",
            "untrained": "Untrained network (dropout + normalization, initial weights)"}
RAW_BLOCKS = {"raw-patch": 15, "raw-centre": 5}  # edge of the block of voxels used

CONFIGURATIONS = [
    Configuration(axial_name(dropout, normalization, alpha), "axial", dropout, normalization,
                  alpha)
    for dropout in (False, True) for normalization in (False, True) for alpha in ALPHAS
] + [Configuration("baseline-all", "baseline", baseline="all"),
     Configuration("baseline-training", "baseline", baseline="training")] + [
    Configuration(name, "control", control=name) for name in CONTROLS]
CONFIGURATIONS_BY_NAME = {c.name: c for c in CONFIGURATIONS}


@dataclass(frozen=True)
class RunPreset:
    """How big a run is: the network, the patches, and the training length, given as
    ``updates`` per network (whatever the number of subjects) or as ``epochs`` by
    published table ("oai" / "brats", else ``default_epochs``)."""
    name: str
    description: str
    filters: tuple
    patches_per_class: int  # autoencoder training patches per class per subject
    evaluation_patches_per_class: int  # random-forest patches per class per subject
    updates: int = None
    epochs: dict = field(default_factory=dict)
    folds: int = 5  # at most; never more than the number of subjects
    batch_size: int = 64
    trees: int = 30
    synthetic_subjects: int = 6
    default_epochs: int = 50
    momentum: float = 0.99  # of the batch-normalization moving averages
    recalibrate_statistics: bool = False  # recompute them after training (docs/design.md)

    def epochs_for(self, table):
        return self.epochs.get(table, self.default_epochs)


RUN_PRESETS = {
    "quick": RunPreset(
        name="quick",
        description="scaled to finish the whole grid in about a quarter of an hour on 2 "
                    "CPU cores: "
                    "small network (16/32/64 filters), 120 updates per network, 75 training "
                    "and 500 forest patches per class per subject, batch-norm momentum 0.9",
        filters=(16, 32, 64), patches_per_class=75, evaluation_patches_per_class=500,
        updates=120, folds=3, synthetic_subjects=6,
        # Only 120 updates per network: with the default 0.99 the moving statistics that
        # inference uses would still be 30 % their initial values.
        momentum=0.9),
    "paper": RunPreset(
        name="paper",
        description="the paper's scale: 32/64/128 filters, 5000 patches per class per scan "
                    "(and 5000 more for the forests), 100 epochs (OAI) / 50 (BRATS), batch 64, "
                    "5 folds (GPU work; its cost: benchmarks/README.md)",
        filters=(32, 64, 128), patches_per_class=5000, evaluation_patches_per_class=5000,
        epochs={"oai": 100, "brats": 50}, default_epochs=50, folds=5, synthetic_subjects=20),
}
