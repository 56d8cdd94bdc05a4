#!/usr/bin/env python3
"""Dense against patch-wise features for a whole brain: the cost of segmenting a scan.

    python benchmarks/dense_features.py                       # an open_ms patient's FLAIR
    python benchmarks/dense_features.py --filters 32,64,128 --record benchmarks/results/dense.txt

Both paths in the same process on the same volume: ``models.dense_features`` over every
voxel of the brain mask (tiles of --tile³ voxels), and the patch-wise path
(``data.gather_patches`` + ``models.extract_features``, as Table I computes features)
timed on --sample voxels of the mask and scaled to the whole mask. The dense features
are checked against the patch-wise ones on that sample. The volume is patient07's
FLAIR from ../shared/data/open_ms (182 × 218 × 182; its nonzero voxels are the brain)
when it is beside the checkout, else a synthetic ellipsoid brain of that size. The
network is untrained (speed does not depend on the weights). Prints one name=value
line per figure; the peak resident memory is the process's (TensorFlow included).
"""
import argparse
import resource
import time
from pathlib import Path

import numpy as np

REPOSITORY = Path(__file__).resolve().parents[1]
OPEN_MS_FLAIR = next(iter(sorted((REPOSITORY.parent / "shared" / "data" / "open_ms" /
                                  "patient07").glob("FLAIR_*.nii.gz"))), None)


def brain_volume():
    """(padded normalized volume, mask voxels, description)."""
    import data
    if OPEN_MS_FLAIR is not None:
        volume, _ = data.read_volume(OPEN_MS_FLAIR)
        description = f"{OPEN_MS_FLAIR.name} of patient07"
    else:
        shape = (182, 218, 182)
        grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, s) for s in shape], indexing="ij"))
        inside = ((grid / np.array([0.8, 0.85, 0.8])[:, None, None, None]) ** 2).sum(0) < 1
        volume = np.where(inside, np.random.default_rng(0).normal(1, 0.3, shape), 0)
        description = "a synthetic ellipsoid brain"
    mask = volume != 0
    normalized = data.normalize(volume.astype(np.float32), mask)
    padded = np.pad(normalized * mask, data.PATCH_RADIUS)
    return padded, np.argwhere(mask), f"{description}, {volume.shape}, {mask.sum()} mask voxels"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--filters", default="16,32,64", help="encoder filters (default "
                        "16,32,64, the open_ms runs'; the paper's: 32,64,128)")
    parser.add_argument("--tile", type=int, default=32, help="output voxels per tile side")
    parser.add_argument("--sample", type=int, default=20_000,
                        help="mask voxels timed through the patch-wise path (default 20000)")
    parser.add_argument("--record", type=Path, metavar="FILE",
                        help="also write the figures with the command and machine into FILE")
    args = parser.parse_args()
    from runtime.startup import import_tensorflow_quietly
    import_tensorflow_quietly()
    import data
    import models
    from models.dense import dense_features

    lines = []

    def report(line):
        print(line, flush=True)
        lines.append(line)

    filters = tuple(int(f) for f in args.filters.split(","))
    network = models.build_axial_network(["FLAIR", "T2"], filters=filters, seed=0)
    padded, voxels, description = brain_volume()
    report(f"# volume: {description}; filters {args.filters}; tile {args.tile}")
    rng = np.random.default_rng(0)
    sample = voxels[rng.choice(len(voxels), min(args.sample, len(voxels)), replace=False)]

    dense_features(network, padded, 0, sample[:10], tile=args.tile)  # warm-up
    memory_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    dense = dense_features(network, padded, 0, voxels, tile=args.tile)
    dense_seconds = time.perf_counter() - started
    memory_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    volumes = padded[None]  # (M = 1, X + 14, Y + 14, Z + 14), as a prepared subject holds
    models.extract_features(network, data.gather_patches(volumes, sample[:1024])[:, 0], 0)
    started = time.perf_counter()
    patch_features = models.extract_features(
        network, data.gather_patches(volumes, sample)[:, 0], 0)
    patch_seconds = (time.perf_counter() - started) * len(voxels) / len(sample)
    order = {tuple(v): i for i, v in enumerate(voxels)}
    difference = np.abs(dense[[order[tuple(v)] for v in sample]] - patch_features).max()

    report(f"dense_voxels_per_s={len(voxels) / dense_seconds:.0f}")
    report(f"dense_seconds_per_scan={dense_seconds:.1f}")
    report(f"patchwise_voxels_per_s={len(voxels) / patch_seconds:.0f}")
    report(f"patchwise_seconds_per_scan={patch_seconds:.1f} (scaled from {len(sample)} voxels)")
    report(f"dense_speedup={patch_seconds / dense_seconds:.1f}")
    report(f"max_abs_difference_on_sample={difference:.2e}")
    report(f"peak_resident_mb_before_dense={memory_before:.0f}")
    report(f"peak_resident_mb_after_dense={memory_after:.0f} "
           f"(features of the whole mask: {dense.nbytes / 1e6:.0f} MB)")
    if args.record:
        from runtime.metadata import write_record
        write_record(args.record, lines)
        print(f"wrote {args.record}")


if __name__ == "__main__":
    main()
