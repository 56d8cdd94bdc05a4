"""Cross-modality segmentation (studies/segment.py) end to end on the brain phantom:
maps on the target's grid, scores recomputed from the written maps, same seed same maps,
reruns that keep what exists, and clear errors."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from runtime.errors import ProjectError

from experiments.segmentation import segmentation
from studies import segment
from reproduce import table1
from tests.conftest import TINY_RUN

pytestmark = pytest.mark.slow  # end to end: the fast tier (-m "not slow") leaves it out

REPOSITORY = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def brain_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("segment") / "run"
    assert table1.main([*TINY_RUN[:1], "3", *TINY_RUN[2:], "--phantom", "brain", "--folds", "3",
                        "--out", str(out), "--configs", "dropout+norm-a0"]) == 0
    return out


def maps_of(out, run):
    """OUT/<run folder>-<run id>: where segment.py puts the maps of ``run``'s units."""
    return out / f"{run.name}-{segmentation.run_id(run / 'units' / 'any' / 'fold0')}"


def options(run, out, *extra):
    return ["--unit", str(run / "units" / "dropout+norm-a0" / "fold0"),
            "--data-dir", str(run / "data" / "brain"), "--labelled", "FLAIR=*_flair.nii.gz",
            "--label", "*_seg.nii.gz", "--class", "tumor=1,2,4", "--target", "T2=*_t2.nii.gz",
            "--target", "FLAIR=*_flair.nii.gz", "--patches-per-class", "20", "--trees", "5",
            "--out", str(out), *extra]


def test_maps_on_the_targets_grid_with_scores_from_the_written_maps(brain_run, tmp_path):
    out = tmp_path / "maps"
    assert segment.main(options(brain_run, out, "--overlays")) == 0
    unit = segmentation.load_unit(brain_run / "units" / "dropout+norm-a0" / "fold0")
    (subject,) = unit.test_subjects  # one test phantom per fold
    with open(out / "segmentation.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["target_modality"], r["prior"]) for r in rows} == {
        (m, p) for m in ("T2", "FLAIR") for p in ("labelled", "balanced")}
    image = nib.load(next((brain_run / "data" / "brain" / subject).glob("*_t2.nii.gz")))
    truth = np.isin(np.rint(nib.load(next((brain_run / "data" / "brain" / subject).glob(
        "*_seg.nii.gz"))).get_fdata()), [1, 2, 4])
    for modality in ("T2", "FLAIR"):
        maps = maps_of(out, brain_run) / "dropout+norm-a0" / "fold0" / subject
        labels_map = nib.load(maps / f"{modality}_labels.nii.gz")
        probability = nib.load(maps / f"{modality}_probability.nii.gz")
        for written in (labels_map, probability):
            assert written.shape == image.shape
            np.testing.assert_array_equal(written.affine, image.affine)
            assert written.header.get_zooms() == image.header.get_zooms()
        labels = np.asarray(labels_map.dataobj)
        assert labels.dtype == np.uint8 and set(np.unique(labels)) <= {0, 1}
        foreground = np.asarray(probability.dataobj)
        assert foreground.min() >= 0 and foreground.max() <= 1
        # The labelled prior's map: a voxel is tumour where its probability wins.
        mask = np.asarray(image.dataobj) != 0
        np.testing.assert_array_equal(labels == 1, mask & (foreground > 0.5))
        (row,) = [r for r in rows if r["target_modality"] == modality and r["prior"] == "labelled"]
        predicted = labels == 1
        both = np.count_nonzero(predicted & truth)
        assert int(row["true_voxels"]) == truth.sum()
        assert int(row["predicted_voxels"]) == predicted.sum()
        if predicted.sum():
            assert float(row["dice"]) == pytest.approx(2 * both / (predicted.sum() + truth.sum()),
                                                       abs=1e-4)
    assert len(list((out / "overlays").glob("*.png"))) == 1
    assert "Dice, prior: labelled" in (out / "segmentation.md").read_text()


def test_same_seed_same_maps_and_a_rerun_keeps_them(brain_run, tmp_path, capsys):
    first, second = tmp_path / "first", tmp_path / "second"
    for out in (first, second):
        assert segment.main(options(brain_run, out, "--prior", "balanced")) == 0
    maps = sorted(p.relative_to(first) for p in first.rglob("*.nii.gz"))
    assert len(maps) == 4
    for relative in maps:
        assert np.array_equal(np.asarray(nib.load(first / relative).dataobj),
                              np.asarray(nib.load(second / relative).dataobj))
    table = (first / "segmentation.csv").read_text()
    stamps = {p: p.stat().st_mtime_ns for p in first.rglob("*.nii.gz")}
    capsys.readouterr()
    assert segment.main(options(brain_run, first, "--prior", "balanced")) == 0
    assert "kept" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in first.rglob("*.nii.gz")} == stamps
    assert (first / "segmentation.csv").read_text() == table  # scores from the kept maps


def test_a_target_with_only_its_own_modality_is_segmented(brain_run, tmp_path):
    """A folder holding nothing but T2 scans (no labels, no other modality)."""
    import shutil
    targets = tmp_path / "t2_only" / "case1"
    targets.mkdir(parents=True)
    source = next((brain_run / "data" / "brain").glob("*/*_t2.nii.gz"))
    shutil.copyfile(source, targets / "scan_t2.nii.gz")
    out = tmp_path / "maps"
    arguments = options(brain_run, out)
    arguments[arguments.index("--target") + 1] = "T2=*_t2.nii.gz"
    del arguments[arguments.index("FLAIR=*_flair.nii.gz", 10) - 1:
                  arguments.index("FLAIR=*_flair.nii.gz", 10) + 1]
    assert segment.main([*arguments, "--target-dir", str(targets.parent)]) == 0
    assert (maps_of(out, brain_run) / "dropout+norm-a0" / "fold0" / "case1" /
            "T2_labels.nii.gz").exists()
    assert not (out / "segmentation.csv").exists()  # nothing to score against


@pytest.mark.parametrize("change, message", [
    (["--target", "PD=*_t2.nii.gz"], "has no PD encoder; it knows T1, T1c, T2, FLAIR"),
    (["--unit", "{run}/units/dropout+norm-a0/fold9"], "is not a finished unit"),
    (["--mask", "*_seg.nii.gz", "--class", "tumor=3"], "no voxel of class 'tumor'"),
])
def test_bad_input_is_one_error_line(brain_run, tmp_path, change, message):
    arguments = options(brain_run, tmp_path / "maps")
    change = [c.replace("{run}", str(brain_run)) for c in change]
    if change[0] == "--unit":
        arguments[1] = change[1]
    elif change[0] == "--mask":
        arguments[arguments.index("tumor=1,2,4")] = "tumor=3"
        arguments += change[:2]
    else:
        arguments += change
    with pytest.raises(SystemExit, match=message):
        segment.main(arguments)


def target_with_mask(brain_run, folder, mask_of_shape):
    """A target folder with one phantom's T2 and the mask ``mask_of_shape(image shape)``."""
    import shutil
    folder.mkdir(parents=True)
    source = next((brain_run / "data" / "brain").glob("*/*_t2.nii.gz"))
    shutil.copyfile(source, folder / "case_t2.nii.gz")
    image = nib.load(source)
    nib.save(nib.Nifti1Image(mask_of_shape(image.shape).astype(np.uint8), image.affine),
             folder / "case_mask.nii.gz")


def test_a_mask_on_another_grid_names_both_files(brain_run, tmp_path):
    target_with_mask(brain_run, tmp_path / "targets" / "case1",
                     lambda shape: np.ones([s - 1 for s in shape]))
    arguments = options(brain_run, tmp_path / "maps")
    finished = subprocess.run(
        [sys.executable, "studies/segment.py", *arguments[:arguments.index("--target")],
         "--target", "T2=*_t2.nii.gz", "--out", str(tmp_path / "maps"),
         "--target-dir", str(tmp_path / "targets"), "--mask", "*_mask.nii.gz"],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=300)
    assert finished.returncode != 0 and "Traceback" not in finished.stderr
    last = finished.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "case_mask.nii.gz has shape" in last


def test_an_empty_target_mask_is_named(brain_run, tmp_path):
    target_with_mask(brain_run, tmp_path / "targets" / "case1", np.zeros)
    arguments = options(brain_run, tmp_path / "maps")
    with pytest.raises(SystemExit, match=r"case_mask.nii.gz: the mask has no voxels"):
        segment.main([*arguments[:arguments.index("--target")], "--target", "T2=*_t2.nii.gz",
                      "--target-dir", str(tmp_path / "targets"), "--out",
                      str(tmp_path / "maps"), "--mask", "*_mask.nii.gz"])


# -- reruns, leaks and bad names (each failed silently before maps were keyed) ----------------
def test_a_rerun_under_other_options_is_refused_naming_the_difference(brain_run, tmp_path):
    out = tmp_path / "maps"
    assert segment.main(options(brain_run, out)) == 0
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.nii.gz")}
    for change, named in ((["--prior", "balanced"], "prior: labelled → balanced"),
                          (["--seed", "3"], "seed: 0 → 3"),
                          (["--trees", "6"], "trees: 5 → 6")):
        arguments = options(brain_run, out)
        if change[0] == "--trees":
            arguments[arguments.index("--trees") + 1] = "6"
        else:
            arguments += change
        with pytest.raises(SystemExit, match=named):
            segment.main(arguments)
    labelled = options(brain_run, out)
    labelled[labelled.index("--labelled") + 1] = "T2=*_t2.nii.gz"
    with pytest.raises(SystemExit, match="labelled_modality: FLAIR → T2"):
        segment.main(labelled)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.nii.gz")} == stamps


def perturbed_copy(run, destination):
    """Another run folder whose dropout+norm-a0/fold0 network has other weights."""
    import json
    import shutil

    import models
    from experiments.runs.run_folder import write_unit_result
    shutil.copytree(run, destination, ignore=shutil.ignore_patterns("data"))
    unit = destination / "units" / "dropout+norm-a0" / "fold0"
    network = models.load_network(unit / "model.keras")
    rng = np.random.default_rng(1)
    network.set_weights([w + rng.normal(scale=0.5, size=w.shape).astype(w.dtype)
                         for w in network.get_weights()])
    network.save(unit / "model.keras")
    result = json.loads((unit / "result.json").read_text())
    del result["files"]
    write_unit_result(unit, result)
    return unit


def test_units_of_two_runs_get_their_own_maps(brain_run, tmp_path):
    other = perturbed_copy(brain_run, tmp_path / "other_run")
    out = tmp_path / "maps"
    arguments = options(brain_run, out)
    assert segment.main([*arguments, "--unit", str(other)]) == 0
    subject = segmentation.load_unit(other).test_subjects[0]
    first = (maps_of(out, brain_run) / "dropout+norm-a0" / "fold0" / subject /
             "T2_probability.nii.gz")
    second = (maps_of(out, tmp_path / "other_run") / "dropout+norm-a0" / "fold0" / subject /
              "T2_probability.nii.gz")
    assert not np.array_equal(np.asarray(nib.load(first).dataobj),
                              np.asarray(nib.load(second).dataobj))
    with open(out / "segmentation.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["run"] for r in rows} == {"run", "other_run"}


def test_targets_the_forest_learnt_from_are_marked_and_kept_out_of_the_means(
        brain_run, tmp_path, capsys):
    out = tmp_path / "maps"
    arguments = options(brain_run, out)
    arguments = arguments[:arguments.index("--target")] + [
        "--target", "T2=*_t2.nii.gz", "--out", str(out)]
    unit = segmentation.load_unit(brain_run / "units" / "dropout+norm-a0" / "fold0")
    assert segment.main([*arguments, "--target-dir", str(brain_run / "data" / "brain")]) == 0
    with open(out / "segmentation.csv") as handle:
        rows = list(csv.DictReader(handle))
    roles = {r["subject"]: r["role"] for r in rows}
    assert len(roles) == 3
    for subject, role in roles.items():
        assert role == ("held-out" if subject in unit.test_subjects else "labelled")
    assert "2 target scans are not held out" in capsys.readouterr().out
    summary = (out / "segmentation.md").read_text()
    assert "(n=1)" in summary and "(n=3)" not in summary  # the mean is the held-out scan's
    (held,) = [r for r in rows if r["role"] == "held-out" and r["prior"] == "labelled"]
    assert f"| dropout+norm-a0 | {float(held['dice']):.3f} ± 0.000 (n=1)" in summary
    assert "(labelled)" in summary.split("## Dice")[0]


def test_unit_globs_absolute_or_relative_and_one_that_names_nothing(brain_run, tmp_path):
    out = tmp_path / "maps"
    arguments = options(brain_run, out)
    arguments[1] = str(brain_run.resolve() / "units" / "dropout+norm-a0" / "fold[0]")
    assert segment.main(arguments) == 0
    missing = str(brain_run / "units" / "plain-a0" / "fold*")
    with pytest.raises(SystemExit, match=r"--unit .*plain-a0/fold\* matches no folder"):
        segment.main([*arguments, "--unit", missing])


def test_an_unknown_labelled_subject_is_one_error_line(brain_run, tmp_path):
    finished = subprocess.run(
        [sys.executable, "studies/segment.py", *options(brain_run, tmp_path / "maps"),
         "--labelled-subjects", "patient99"], cwd=REPOSITORY, capture_output=True, text=True,
        timeout=300)
    assert finished.returncode != 0 and "Traceback" not in finished.stderr
    last = finished.stderr.strip().splitlines()[-1]
    assert last.startswith("error: --labelled-subjects patient99") and "found" in last
    assert not (tmp_path / "maps").exists()


def test_half_maps_of_a_killed_run_are_removed_on_the_next(brain_run, tmp_path):
    out = tmp_path / "maps"
    assert segment.main(options(brain_run, out)) == 0
    subject_folder = next(out.glob("run-*/dropout+norm-a0/fold0/*"))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = subject_folder / f"T2_labels.nii.gz.tmp{dead}.nii.gz"
    stale.write_bytes(b"half a map")
    assert segment.main(options(brain_run, out)) == 0
    assert not stale.exists()


def test_a_damaged_unit_is_named_without_promising_a_training(brain_run, tmp_path):
    import shutil
    copy = tmp_path / "run" / "units" / "dropout+norm-a0" / "fold0"
    shutil.copytree(brain_run / "units" / "dropout+norm-a0" / "fold0", copy)
    (copy / "features.npz").unlink()
    with pytest.warns(UserWarning, match=r"features.npz is missing\); segment.py cannot use it"):
        with pytest.raises(ProjectError, match="is not a finished unit"):
            segmentation.load_unit(copy)


def test_separate_calls_into_one_out_keep_each_runs_maps_and_every_score(brain_run, tmp_path):
    """Two runs whose folders share a name (runs/c1 and runs2/c1), segmented in two
    calls into one --out: each run gets its own map folder, and the second call's
    scores join the first's instead of replacing them."""
    twin = perturbed_copy(brain_run, tmp_path / "elsewhere" / brain_run.name)
    stored = json.loads((twin.parents[2] / "run.json").read_text())
    stored["arguments"]["seed"] = 1  # another run (made with another seed)
    (twin.parents[2] / "run.json").write_text(json.dumps(stored))
    out = tmp_path / "maps"
    assert segment.main(options(brain_run, out)) == 0
    with open(out / "segmentation.csv") as handle:
        first = list(csv.DictReader(handle))
    assert segment.main([*options(brain_run, out)[2:], "--unit", str(twin)]) == 0
    with open(out / "segmentation.csv") as handle:
        rows = list(csv.DictReader(handle))
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert len(folders) == 2 and all(name.startswith(brain_run.name + "-") for name in folders)
    assert len(rows) == 2 * len(first) and rows[:len(first)] == first
    assert len({row["run_id"] for row in rows}) == 2
    # The same call again replaces its own rows only.
    assert segment.main([*options(brain_run, out)[2:], "--unit", str(twin)]) == 0
    with open(out / "segmentation.csv") as handle:
        assert list(csv.DictReader(handle)) == rows
    assert "-" in (out / "segmentation.md").read_text().split("| network |")[1].split("\n")[2]


def test_a_run_folder_given_as_a_unit_is_named_as_such(brain_run, tmp_path, capsys):
    with pytest.raises(SystemExit, match=r"is a run folder, not a unit: name its units"):
        segment.main([*options(brain_run, tmp_path / "maps")[2:], "--unit", str(brain_run)])
    assert "unfinished" not in capsys.readouterr().err


def test_a_unit_option_that_names_no_unit_is_refused_before_any_network_loads(tmp_path):
    """unit_folders runs before TensorFlow starts: a run folder, a missing folder or one
    without a result.json is answered there, each by name."""
    from experiments.segmentation import segmentation_plan
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.json").write_text("{}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ProjectError, match="run is a run folder, not a unit"):
        segmentation_plan.unit_folders([str(tmp_path / "run")])
    for name in ("empty", "nowhere"):
        with pytest.raises(ProjectError, match=f"{name} is not a finished unit"):
            segmentation_plan.unit_folders([str(tmp_path / name)])
    (tmp_path / "empty" / "result.json").write_text("{}")  # validity is load_unit's check
    assert segmentation_plan.unit_folders([str(tmp_path / "empty")]) == [tmp_path / "empty"]
