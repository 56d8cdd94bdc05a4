"""Deterministic phantoms, written as NIfTI folders that the loaders read like real data.

- ``write_knee_phantoms``: 2 modalities (N, FS) and 3 classes, shaped like the OAI data
  (paper §III, Fig. 4a): a femur and a tibia with thin curved cartilage sheets on their
  facing surfaces, wedge-shaped menisci between them, fluid, muscle and fat around. Read
  with the ``oai`` layout (files N.nii.gz, FS.nii.gz, labels.nii.gz; labels 1 = femoral
  cartilage, 2 = tibial cartilage, 5 = meniscus).
- ``write_brain_phantoms``: 4 modalities (T1, T1c, T2, FLAIR) and 2 classes, shaped like
  BRATS (Fig. 4b): textured white/grey matter with ventricles and a tumor (necrotic core,
  enhancing rim, edema) in an ellipsoidal brain. Read with the ``brats`` layout (BraTS
  2017–2021 file names, labels 1 / 2 / 4).

The modalities differ the way MRI contrasts do: each maps the tissues to intensities of
its own, with inversions (marrow and fat bright in N, dark in FS; CSF dark in T1, bright
in T2), a different resolution (blur), noise and a smooth bias field. A single shared
transformation therefore sees different patterns per modality, while the anatomy (the
label-defining structure) is shared: the setting in which the paper's methods matter.
"""
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

KNEE_SHAPE = (72, 72, 40)
BRAIN_SHAPE = (64, 64, 48)

# Tissue intensities per modality. Knee: N is the normal scan, FS is fat-suppressed.
KNEE_TISSUES = ("air", "fat", "muscle", "marrow", "fluid", "cartilage", "meniscus")
KNEE_INTENSITY = {
    "N":  {"air": 0.0, "fat": 1.0, "muscle": 0.35, "marrow": 0.85, "fluid": 0.45,
           "cartilage": 0.6, "meniscus": 0.08},
    "FS": {"air": 0.0, "fat": 0.12, "muscle": 0.3, "marrow": 0.15, "fluid": 0.95,
           "cartilage": 0.7, "meniscus": 0.05},
}
KNEE_BLUR = {"N": 0.5, "FS": 1.1}  # FS has the lower resolution
KNEE_NOISE = {"N": 0.04, "FS": 0.06}

BRAIN_TISSUES = ("outside", "white", "grey", "csf", "edema", "necrosis", "enhancing")
BRAIN_INTENSITY = {
    "T1":    {"outside": 0.0, "white": 0.85, "grey": 0.6, "csf": 0.15, "edema": 0.5,
              "necrosis": 0.3, "enhancing": 0.55},
    "T1c":   {"outside": 0.0, "white": 0.85, "grey": 0.6, "csf": 0.15, "edema": 0.5,
              "necrosis": 0.3, "enhancing": 1.1},
    "T2":    {"outside": 0.0, "white": 0.35, "grey": 0.55, "csf": 1.0, "edema": 0.8,
              "necrosis": 0.9, "enhancing": 0.65},
    "FLAIR": {"outside": 0.0, "white": 0.45, "grey": 0.6, "csf": 0.1, "edema": 0.95,
              "necrosis": 0.6, "enhancing": 0.8},
}
BRAIN_BLUR = {"T1": 0.6, "T1c": 0.8, "T2": 0.7, "FLAIR": 1.1}
BRAIN_NOISE = {"T1": 0.04, "T1c": 0.05, "T2": 0.05, "FLAIR": 0.06}
BRATS_FILE_SUFFIX = {"T1": "t1", "T1c": "t1ce", "T2": "t2", "FLAIR": "flair"}
BRATS_NECROSIS, BRATS_EDEMA, BRATS_ENHANCING = 1, 2, 4


def _grid(shape):
    return np.meshgrid(*[np.arange(size, dtype=np.float32) for size in shape], indexing="ij")


def _smooth_noise(rng, shape, sigma):
    field = ndimage.gaussian_filter(rng.normal(size=shape).astype(np.float32), sigma)
    return field / (field.std() + 1e-8)


def _render(tissue_map, tissue_names, intensity, blur, noise, rng):
    """One modality: tissue intensities with texture, blur, bias field and noise."""
    shape = tissue_map.shape
    lookup = np.array([intensity[name] for name in tissue_names], dtype=np.float32)
    image = lookup[tissue_map]
    texture = _smooth_noise(rng, shape, 1.5)
    image = image * (1.0 + 0.08 * texture)
    image = ndimage.gaussian_filter(image, blur)
    bias = np.exp(0.15 * _smooth_noise(rng, shape, 12.0))
    image = image * bias + noise * rng.normal(size=shape).astype(np.float32)
    image[tissue_map == 0] = np.abs(image[tissue_map == 0]) * 0.2  # dark air / outside
    return image.astype(np.float32)


def knee_phantom(seed):
    """(images {N, FS}, labels) for one synthetic knee."""
    rng = np.random.default_rng(seed)
    x, y, z = _grid(KNEE_SHAPE)
    cx, cz = KNEE_SHAPE[0] / 2 + rng.uniform(-3, 3), KNEE_SHAPE[2] / 2 + rng.uniform(-2, 2)
    joint_y = KNEE_SHAPE[1] / 2 + rng.uniform(-3, 3)
    femur_radius = rng.uniform(14, 18)
    # The femoral condyle: a cylinder along z whose bottom touches the joint line.
    femur_center_y = joint_y - femur_radius - 3
    femur_distance = np.sqrt((x - cx) ** 2 + (y - femur_center_y) ** 2)
    femur_cartilage_thickness = rng.uniform(2.0, 3.0)
    # The tibial plateau: a slightly curved slab below the joint line.
    plateau = joint_y + 3 + 0.01 * (x - cx) ** 2
    tibia_cartilage_thickness = rng.uniform(1.8, 2.6)
    in_limb = ((x - cx) / 33) ** 2 + ((y - KNEE_SHAPE[1] / 2) / 34) ** 2 <= 1.0
    in_limb &= (z >= 2) & (z < KNEE_SHAPE[2] - 2)
    tissue = np.zeros(KNEE_SHAPE, dtype=np.int64)
    tissue[in_limb] = KNEE_TISSUES.index("muscle")
    fat_shell = in_limb & (((x - cx) / 29) ** 2 + ((y - KNEE_SHAPE[1] / 2) / 30) ** 2 > 1.0)
    tissue[fat_shell] = KNEE_TISSUES.index("fat")
    joint_space = in_limb & ~fat_shell & (np.abs(x - cx) < femur_radius + 6) & \
        (y > femur_center_y) & (y < plateau + tibia_cartilage_thickness + 1)
    tissue[joint_space] = KNEE_TISSUES.index("fluid")
    femur = in_limb & ~fat_shell & (femur_distance < femur_radius)
    tissue[femur | (in_limb & ~fat_shell & (y < femur_center_y) &
                    (np.abs(x - cx) < femur_radius))] = KNEE_TISSUES.index("marrow")
    tibia = in_limb & ~fat_shell & (y >= plateau + tibia_cartilage_thickness) & \
        (np.abs(x - cx) < femur_radius + 4)
    tissue[tibia] = KNEE_TISSUES.index("marrow")
    femoral_cartilage = in_limb & ~fat_shell & (femur_distance >= femur_radius) & \
        (femur_distance < femur_radius + femur_cartilage_thickness) & (y > femur_center_y)
    tibial_cartilage = in_limb & ~fat_shell & (y >= plateau) & \
        (y < plateau + tibia_cartilage_thickness) & (np.abs(x - cx) < femur_radius + 2)
    # Menisci: wedges in the gap between the condyle's flanks and the plateau.
    meniscus = np.zeros(KNEE_SHAPE, dtype=bool)
    for side in (-1, 1):
        mx = cx + side * rng.uniform(0.55, 0.7) * femur_radius
        width, height = rng.uniform(5, 7), rng.uniform(3.5, 5)
        dx = side * (x - mx)  # > 0 towards the outside of the joint
        wedge = (y < plateau) & (y > plateau - height * (0.3 + 0.7 * np.clip((dx + width) / (2 * width), 0, 1)))
        wedge &= np.abs(dx) < width
        meniscus |= wedge & (femur_distance >= femur_radius + femur_cartilage_thickness) & \
            in_limb & ~fat_shell & (np.abs(z - cz) < 14)
    tissue[femoral_cartilage | tibial_cartilage] = KNEE_TISSUES.index("cartilage")
    tissue[meniscus] = KNEE_TISSUES.index("meniscus")
    labels = np.zeros(KNEE_SHAPE, dtype=np.float32)
    labels[femoral_cartilage] = 1
    labels[tibial_cartilage] = 2
    labels[meniscus] = 5
    images = {name: _render(tissue, KNEE_TISSUES, KNEE_INTENSITY[name], KNEE_BLUR[name],
                            KNEE_NOISE[name], rng) for name in KNEE_INTENSITY}
    return images, labels


def brain_phantom(seed):
    """(images {T1, T1c, T2, FLAIR}, labels with BraTS values 1/2/4) for one synthetic brain."""
    rng = np.random.default_rng(seed)
    x, y, z = _grid(BRAIN_SHAPE)
    center = np.array(BRAIN_SHAPE, dtype=np.float32) / 2
    radii = np.array(BRAIN_SHAPE, dtype=np.float32) / 2 - rng.uniform(3, 5, size=3)
    brain = ((x - center[0]) / radii[0]) ** 2 + ((y - center[1]) / radii[1]) ** 2 + \
        ((z - center[2]) / radii[2]) ** 2 <= 1.0
    tissue = np.zeros(BRAIN_SHAPE, dtype=np.int64)
    folding = _smooth_noise(rng, BRAIN_SHAPE, 2.5)
    tissue[brain] = np.where(folding[brain] > 0.2, BRAIN_TISSUES.index("grey"),
                             BRAIN_TISSUES.index("white"))
    sulci = brain & (folding > 1.6)
    tissue[sulci] = BRAIN_TISSUES.index("csf")
    for side in (-1, 1):  # lateral ventricles
        ventricle = ((x - center[0] - side * 6) / 3.0) ** 2 + ((y - center[1]) / 10.0) ** 2 + \
            ((z - center[2]) / 5.0) ** 2 <= 1.0
        tissue[ventricle] = BRAIN_TISSUES.index("csf")
    tumor_center = center + rng.uniform(-0.4, 0.4, size=3) * radii
    tumor_radius = rng.uniform(5, 8)
    roughness = 1.5 * _smooth_noise(rng, BRAIN_SHAPE, 3.0)
    distance = np.sqrt((x - tumor_center[0]) ** 2 + (y - tumor_center[1]) ** 2 +
                       (z - tumor_center[2]) ** 2) + roughness
    edema = brain & (distance < tumor_radius + rng.uniform(4, 7))
    enhancing = brain & (distance < tumor_radius)
    necrosis = brain & (distance < tumor_radius * rng.uniform(0.4, 0.6))
    tissue[edema] = BRAIN_TISSUES.index("edema")
    tissue[enhancing] = BRAIN_TISSUES.index("enhancing")
    tissue[necrosis] = BRAIN_TISSUES.index("necrosis")
    labels = np.zeros(BRAIN_SHAPE, dtype=np.float32)
    labels[edema] = BRATS_EDEMA
    labels[enhancing] = BRATS_ENHANCING
    labels[necrosis] = BRATS_NECROSIS
    images = {}
    for name in BRAIN_INTENSITY:
        image = _render(tissue, BRAIN_TISSUES, BRAIN_INTENSITY[name], BRAIN_BLUR[name],
                        BRAIN_NOISE[name], rng)
        image[~brain] = 0.0  # skull-stripped, like BRATS
        images[name] = image
    return images, labels


def _save(array, path, spacing):
    affine = np.diag([*spacing, 1.0])
    nib.save(nib.Nifti1Image(np.asarray(array, dtype=np.float32), affine), str(path))


def write_knee_phantoms(directory, subjects=6, seed=0):
    """Writes ``subjects`` knee folders (knee01 …) and returns the directory."""
    directory = Path(directory)
    for index in range(subjects):
        folder = directory / f"knee{index + 1:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        images, labels = knee_phantom(seed * 1000 + index)
        for name, image in images.items():
            _save(image, folder / f"{name}.nii.gz", (0.36, 0.36, 0.7))
        _save(labels, folder / "labels.nii.gz", (0.36, 0.36, 0.7))
    return directory


def write_brain_phantoms(directory, subjects=6, seed=0):
    """Writes ``subjects`` BraTS-named folders (Synthetic_001 …) and returns the directory."""
    directory = Path(directory)
    for index in range(subjects):
        name = f"Synthetic_{index + 1:03d}"
        folder = directory / name
        folder.mkdir(parents=True, exist_ok=True)
        images, labels = brain_phantom(seed * 1000 + index)
        for modality, image in images.items():
            _save(image, folder / f"{name}_{BRATS_FILE_SUFFIX[modality]}.nii.gz", (1, 1, 1))
        _save(labels, folder / f"{name}_seg.nii.gz", (1, 1, 1))
    return directory
