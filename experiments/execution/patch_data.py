"""From a run's data folder to patches and folds: subjects → two patch tables → folds.

Two sets of patch positions are drawn per subject, each balanced over the classes:
the autoencoders' training patches (``run.patches_per_class``) and, separately and
more generously, the random forests' patches (``run.evaluation_patches_per_class``),
whose test part sets how precisely a fold's accuracy is measured. The paper used one
set for both (docs/design.md, Decisions).
"""
from __future__ import annotations  # the field types name data classes without importing them

from dataclasses import dataclass
from pathlib import Path

import numpy as np

import data
from runtime.files import atomic_path
from runtime.seeds import derived_seed


def write_phantoms(run, phantom):
    """Writes the synthetic subjects into the run folder once (an explicit step)."""
    if run.data_dir.exists():
        return
    # Imported here: SciPy and nibabel load only when phantoms are written, not before a
    # script has parsed its options.
    from data.synthetic import write_brain_phantoms, write_knee_phantoms
    writer = write_knee_phantoms if phantom == "knee" else write_brain_phantoms
    # Another shard may write the same (deterministic) phantoms first: keep theirs.
    with atomic_path(run.data_dir, replace_existing=False) as partial:
        writer(partial, subjects=run.phantom_subjects, seed=run.seed)


@dataclass
class PatchData:
    """Prepared subjects, their training and evaluation patch tables, and the folds."""
    subjects: list  # data.SubjectFiles
    training: data.PatchTable  # autoencoder patches
    evaluation: data.PatchTable  # random-forest patches
    folds: list  # [(training subject indices, test subject indices)]

    @property
    def input_files(self):
        return sorted({path for subject in self.subjects for path in
                       (*subject.modality_files.values(), subject.label_file, subject.mask_file)
                       if path is not None})

    def subject_names(self, fold, part):
        """Sorted names of the fold's "training" or "test" subjects."""
        return sorted(self.subjects[i].name for i in self.folds[fold][0 if part == "training"
                                                                       else 1])

    def rows(self, table, fold, part):
        """Rows of ``table`` ("training" or "test" part of a fold)."""
        subjects = self.folds[fold][0 if part == "training" else 1]
        return np.flatnonzero(np.isin(table.subject_index, subjects))


def choose_subjects(subjects, chosen, seed):
    """All subjects, a seeded choice of N, or the named ones (in the data's order)."""
    if chosen is None:
        return subjects
    if isinstance(chosen, int):
        if not 2 <= chosen <= len(subjects):
            raise data.DataError(f"--subjects {chosen}: the data holds {len(subjects)} subjects; "
                                 "choose 2 or more, at most that many")
        keep = np.random.default_rng(derived_seed(seed, "subjects")).choice(
            len(subjects), chosen, replace=False)
        return [subjects[i] for i in sorted(keep)]
    names = {subject.name: subject for subject in subjects}
    unknown = [name for name in chosen if name not in names]
    if unknown:
        raise data.DataError(f"--subjects names {unknown} that are not in the data; it holds "
                             f"{', '.join(list(names)[:10])}{' …' if len(names) > 10 else ''}")
    return [subject for subject in subjects if subject.name in set(chosen)]


def locate_data(run, log=print):
    """A named dataset's folder: fetched, or extracted from a given archive, if needed
    (an explicit step; nothing happens for other datasets)."""
    if run.fetch is None:
        return
    from data import fetch
    try:
        named = run.subjects if isinstance(run.subjects, list) else None  # only theirs
        # Only the files this run reads: its modalities', label maps' and masks' names.
        spec = run.spec
        globs = [*(g for alternatives in spec.modalities.values() for g in alternatives),
                 *spec.label, *(spec.mask or ())]
        found = fetch.locate(run.dataset, run.fetch["data_dir"], run.fetch["data_root"],
                             run.fetch["mirror"], log=log, subjects=named,
                             patterns=[Path(glob).name for glob in globs])
    except fetch.FetchError as error:
        raise data.DataError(str(error)) from None
    if found.resolve() != run.data_dir.resolve():
        raise data.DataError(f"{run.dataset} was found in {found}, not in {run.data_dir}")


def load_patch_data(run, log=print, progress=None, cache=None):
    """Every subject prepared (cached in ``cache``, a ``data.PreparedCache``, else in
    ``run.cache_dir``), sampled twice, and split into folds."""
    found = data.find_subjects(run.data_dir, run.spec)
    subjects = choose_subjects(found, run.subjects, run.seed)
    log(f"{len(subjects)} subjects under {run.data_dir}; modalities "
        f"{', '.join(run.modality_names)}; classes {', '.join(run.spec.class_names)}")
    prepared = data.prepare_subjects(subjects, run.spec,
                                     cache_dir=run.cache_dir or run.out / "cache",
                                     progress=progress, cache=cache, log=log)
    tables = {}
    for purpose, per_class in (("training", run.patches_per_class),
                               ("evaluation", run.evaluation_patches_per_class)):
        centers, labels = [], []
        for subject in prepared:
            rng = np.random.default_rng(derived_seed(run.seed, "sampling", purpose, subject.name))
            subject_centers, subject_labels = data.sample_centers(
                subject.class_map, per_class, rng, subject.class_names, subject.name)
            centers.append(subject_centers)
            labels.append(subject_labels)
        tables[purpose] = data.PatchTable(prepared, centers, labels)
    groups = [subject.group for subject in prepared]
    distinct = len(set(groups))
    fold_count = run.folds or min(run.preset_folds, distinct)
    if distinct < max(fold_count, 2):
        ids = f"{distinct} subject id{'s' if distinct != 1 else ''}"
        held = (f"--subjects selected {len(subjects)} of the {len(found)} subjects in "
                f"{run.data_dir} ({ids})" if run.subjects is not None else
                f"{run.data_dir} holds {ids}")
        if distinct < 2:
            raise data.DataError(f"cross-validation needs at least 2 subjects (subject ids), "
                                 f"but {held}: give more subjects")
        raise data.DataError(f"{fold_count} folds need at least {fold_count} subjects "
                             f"(subject ids), but {held}: give --folds {distinct} or fewer, "
                             "or more subjects")
    folds = data.subject_folds(groups, fold_count, seed=run.seed)
    return PatchData(subjects, tables["training"], tables["evaluation"], folds)
