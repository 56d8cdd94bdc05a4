"""Run folders that never mix data or trust damaged units; clear command-line errors."""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from experiments.runs import run_folder
from reproduce import fig7, table1
from runtime import startup
from runtime.metadata import machine
from tests.conftest import TINY_RUN

pytestmark = pytest.mark.slow  # end to end: the fast tier (-m "not slow") leaves it out

REPOSITORY = Path(__file__).resolve().parents[1]
TINY = TINY_RUN


def test_changed_input_files_are_refused_by_name_and_discarded_only_on_request(
        tmp_path, trained_units):
    out = tmp_path / "run"
    arguments = [*TINY, "--out", str(out), "--configs", "plain-a0"]
    assert table1.main(arguments) == 0
    stored = json.loads((out / "run.json").read_text())["inputs"]
    assert len(stored) == 2 * 3  # two subjects: N, FS, labels
    first_fs = sorted((out / "data" / "knee").glob("*/FS.nii.gz"))[0]
    assert stored[str(first_fs.resolve())]["sha256"] == hashlib.sha256(first_fs.read_bytes()).hexdigest()
    table_before = (out / "table1.md").read_text()

    # Another image under the same name (the second subject's FS scan).
    shutil.copyfile(sorted((out / "data" / "knee").glob("*/FS.nii.gz"))[1], first_fs)
    trained_units.clear()
    with pytest.raises(SystemExit, match=rf"input files .* changed.*{first_fs.parent.name}/FS.nii.gz "
                                         r"changed.*--out.*--discard-stale-units"):
        table1.main(arguments)
    assert trained_units == []
    assert len(run_folder.finished_units(out)) == 2  # nothing deleted
    assert (out / "table1.md").read_text() == table_before

    # A file that is touched but not changed is no change.
    os.utime(sorted((out / "data" / "knee").glob("*/N.nii.gz"))[0], ns=(1, 1))
    with pytest.raises(SystemExit, match="input files") as refused:
        table1.main(arguments)
    assert "N.nii.gz" not in str(refused.value)

    state = out / "training-states" / "plain-a0" / "fold0" / "network.npz"  # of the old data
    state.parent.mkdir(parents=True)
    state.write_bytes(b"a training in progress on the old files")
    assert table1.main([*arguments, "--discard-stale-units"]) == 0
    assert not (out / "training-states").exists()  # not resumed on the new files
    assert sorted(trained_units) == [("plain-a0", 0, None), ("plain-a0", 1, None)]
    trained_units.clear()
    assert table1.main(arguments) == 0  # the new data is now the run's data
    assert trained_units == []


def test_damaged_or_incomplete_units_are_trained_again_with_a_warning(tmp_path, trained_units):
    out = tmp_path / "run"
    arguments = [*TINY, "--out", str(out), "--configs", "dropout-a0.1,dropout+norm-a0.1"]
    assert table1.main(arguments) == 0
    units = out / "units"
    result = json.loads((units / "dropout-a0.1" / "fold0" / "result.json").read_text())
    assert set(result["files"]) == {"model.keras", "features.npz"}
    with open(units / "dropout-a0.1" / "fold0" / "features.npz", "r+b") as handle:
        handle.truncate(100)  # a half-written file
    (units / "dropout+norm-a0.1" / "fold1" / "model.keras").unlink()
    features = units / "dropout-a0.1" / "fold1" / "features.npz"
    content = bytearray(features.read_bytes())
    content[-40] ^= 0xFF  # the same size, other bytes
    features.write_bytes(bytes(content))
    trained_units.clear()
    with pytest.warns(UserWarning, match="damaged") as caught:
        assert table1.main(arguments) == 0
    assert sorted(trained_units) == [("dropout+norm-a0.1", 1, None), ("dropout-a0.1", 0, None),
                                     ("dropout-a0.1", 1, None)]
    problems = " ".join(str(w.message) for w in caught)
    assert "features.npz has 100 bytes" in problems and "model.keras is missing" in problems
    assert "SHA-256" in problems
    # The figure scripts retrain a damaged unit too, instead of failing on it.
    (units / "dropout-a0.1" / "fold0" / "result.json").write_text("{not json")
    trained_units.clear()
    with pytest.warns(UserWarning, match="result.json cannot be read"):
        assert fig7.main([*TINY, "--out", str(out), "--figures-dir", str(tmp_path / "f"),
                          "--alphas", "0.1", "--train-missing"]) == 0
    assert ("dropout-a0.1", 0, None) in trained_units


@pytest.mark.parametrize("value, problem", [("1", "must be at least 2"), ("0", "must be at least 2"),
                                            ("-3", "must be at least 2"),
                                            ("two", "expected a whole number")])
def test_bad_fold_counts_say_what_is_wrong_with_folds(value, problem, capsys):
    with pytest.raises(SystemExit):
        table1.main(["--folds", value])
    error = capsys.readouterr().err
    assert "--folds" in error and problem in error


def test_too_many_folds_for_the_subjects_names_both(tmp_path):
    with pytest.raises(SystemExit, match="3 folds need at least 3 subjects.*holds 2.*--folds 2"):
        table1.main([*TINY, "--folds", "3", "--out", str(tmp_path / "run")])


def test_a_progress_line_is_closed_before_an_error(tmp_path, capsys, monkeypatch):
    import nibabel
    from data.synthetic import write_knee_phantoms
    write_knee_phantoms(tmp_path / "knees", subjects=2, seed=0)
    broken = sorted((tmp_path / "knees").glob("*/FS.nii.gz"))[1]
    image = nibabel.load(broken)
    voxels = np.asarray(image.dataobj, dtype=np.float32)
    voxels[0, 0, 0] = np.nan
    nibabel.save(nibabel.Nifti1Image(voxels, image.affine), broken)
    arguments = ["--dataset", "oai", "--data-dir", str(tmp_path / "knees"), *TINY[2:],
                 "--out", str(tmp_path / "run")]
    with pytest.raises(SystemExit, match="NaN or infinite"):
        table1.main(arguments)
    assert "preparing" not in capsys.readouterr().out  # not a terminal: no progress line
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)  # as on a terminal
    with pytest.raises(SystemExit, match="NaN or infinite"):
        table1.main(arguments)
    output = capsys.readouterr().out
    assert "preparing 2/2" in output and output.endswith("\n")


def test_tensorflow_start_up_noise_is_dropped_and_other_lines_kept():
    text = ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
            "E0000 00:00:1.2 12 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error\n"
            "I0000 00:00:1.2 12 cudart_stub.cc:31] Could not find cuda drivers on your machine\n"
            "E0000 something else went wrong\n")
    assert startup.unexpected_lines(text) == ["E0000 something else went wrong"]
    finished = subprocess.run(
        [sys.executable, "-c", "from runtime.startup import import_tensorflow_quietly as q; "
         "tf = q(); print(float(tf.reduce_sum(tf.ones(3))))"],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0 and finished.stdout.strip() == "3.0"
    assert "cuInit" not in finished.stderr and "cuda drivers" not in finished.stderr


def test_a_machine_without_gpu_devices_is_answered_without_starting_tensorflow(monkeypatch):
    """gpu_visible: no /dev/nvidia0… and no /dev/kfd on Linux is a no without TensorFlow
    (the parent of a multi-worker call never starts it); with a device node TensorFlow is
    asked, and its answer is the answer."""
    asked = []

    class FakeTensorFlow:  # what import_tensorflow_quietly would return
        class config:
            @staticmethod
            def list_physical_devices(kind):
                asked.append(kind)
                return ["the GPU"]

    monkeypatch.setattr(startup, "import_tensorflow_quietly", lambda: FakeTensorFlow)
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(startup.glob, "glob", lambda pattern: [])
    monkeypatch.setattr(startup.os.path, "exists", lambda path: False)
    assert startup.gpu_visible() is False and asked == []
    monkeypatch.setattr(startup.glob, "glob", lambda pattern: ["/dev/nvidia0"])
    assert startup.gpu_visible() is True and asked == ["GPU"]
    monkeypatch.setattr(startup.glob, "glob", lambda pattern: [])
    monkeypatch.setattr(startup.os.path, "exists", lambda path: path == "/dev/kfd")
    assert startup.gpu_visible() is True and asked == ["GPU", "GPU"]
    monkeypatch.setattr(sys, "platform", "darwin")  # elsewhere TensorFlow is always asked
    monkeypatch.setattr(startup.os.path, "exists", lambda path: False)
    assert startup.gpu_visible() is True and len(asked) == 3


def test_two_shards_started_together_both_finish_and_a_final_call_aggregates(tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "reproduce/table1.py", *TINY, "--out", str(out),
               "--configs", "plain-a0,dropout-a0"]
    # The first shard computes with one thread (the default), the second with as many as
    # there are usable cores (set by hand, as a user may).
    cores = len(os.sched_getaffinity(0))
    environments = [dict(os.environ), dict(os.environ, TF_NUM_INTRAOP_THREADS=str(cores))]
    environments[0].pop("TF_NUM_INTRAOP_THREADS", None)
    shards = [subprocess.Popen([*command, "--shard", f"{i}/2"], cwd=REPOSITORY,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=environments[i])
              for i in range(2)]
    outputs = [shard.communicate(timeout=300)[0] for shard in shards]
    assert [shard.returncode for shard in shards] == [0, 0], "\n\n".join(outputs)  # in full
    # Each shard trained its own half of the four units: disjoint, together all of them.
    trained = [set(re.findall(r"\] (\S+)/fold(\d) ", output)) for output in outputs]
    assert [len(units) for units in trained] == [2, 2] and not trained[0] & trained[1]
    assert trained[0] | trained[1] == {(name, fold) for name in ("plain-a0", "dropout-a0")
                                       for fold in ("0", "1")}
    # A shard that ends while the other still trains: its unit is not called stopped or
    # damaged, and this shard does not promise to train it (it counts as missing).
    name, fold = sorted(trained[1])[0]
    result = out / "units" / name / f"fold{fold}" / "result.json"
    result.rename(result.with_suffix(".kept"))
    early = subprocess.run([*command, "--shard", "0/2"], cwd=REPOSITORY, capture_output=True,
                           text=True, timeout=300)
    assert early.returncode == 0, early.stdout + early.stderr
    assert (f"warning: unit {out / 'units' / name}/fold{fold} is unfinished (no result.json: "
            "it was stopped before it finished, or another process is still training it); it "
            "counts as missing" in early.stderr)
    assert f"1 units are still missing (other shards?): {name}/fold{fold}" in early.stdout
    assert "read_unit_result(" not in early.stderr  # no source line in the message
    result.with_suffix(".kept").rename(result)
    final = subprocess.run(command, cwd=REPOSITORY, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stdout + final.stderr
    assert "0 to run" in final.stdout and (out / "table1.json").exists()
    document = json.loads((out / "table1.json").read_text())
    assert len(document["rows"]) == 2
    # Units of both thread counts are named (their round-off differs: docs/design.md).
    mixed = cores != 1
    assert ("note: the units were computed on 2 machines or thread counts" in final.stdout) == mixed
    assert set(document["computed_on"]) == {
        f"{machine()}; 1 TensorFlow thread",
        f"{machine()}; {cores} TensorFlow thread{'s' if cores != 1 else ''}"}


def test_a_run_folder_of_an_older_version_is_still_read(tmp_path, trained_units):
    out = tmp_path / "run"
    arguments = [*TINY, "--out", str(out), "--configs", "plain-a0"]
    assert table1.main([*arguments, "--vector-normalization", "never"]) == 0
    # run.json as the versions before the readings were recorded wrote it.
    stored = json.loads((out / "run.json").read_text())
    del stored["arguments"]["reading"]
    (out / "run.json").write_text(json.dumps(stored))
    trained_units.clear()
    assert table1.main([*arguments, "--vector-normalization", "never"]) == 0
    assert trained_units == []  # its units are reused: that was the model of its time
    with pytest.raises(SystemExit, match="differ in: the model reading"):
        table1.main(arguments)  # today's default model is another run


def test_a_unit_stopped_before_its_result_is_trained_again_with_a_warning(tmp_path):
    directory = tmp_path / "units" / "plain-a0" / "fold0"
    directory.mkdir(parents=True)
    assert run_folder.read_unit_result(directory) is None  # not started: no warning
    (directory / "model.keras").write_bytes(b"half")
    with pytest.warns(UserWarning, match="plain-a0/fold0 is unfinished .*no result.json: it "
                                         "was stopped before it finished, or another process "
                                         "is still training it.*trained again"):
        assert run_folder.read_unit_result(directory) is None


def test_an_out_that_is_a_file_or_unwritable_fails_in_one_line_before_any_work(tmp_path):
    file = tmp_path / "a_file"
    file.write_text("x")
    finished = subprocess.run([sys.executable, "reproduce/table1.py", *TINY, "--out", str(file)],
                              cwd=REPOSITORY, capture_output=True, text=True, timeout=300)
    assert finished.returncode != 0 and "Traceback" not in finished.stderr
    assert finished.stderr.strip().splitlines()[-1] == (
        f"error: --out {file} is a file, not a folder; give a folder for the run")
    with pytest.raises(run_folder.RunFolderError,
                       match=r"--out .*a_file/run cannot be a folder: .*a_file is a file"):
        run_folder.check_writable(file / "run")  # a folder below a file
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        with pytest.raises(run_folder.RunFolderError, match="cannot be written"):
            run_folder.check_writable(locked / "run")


def test_a_folder_without_a_finished_unit_takes_new_arguments(tmp_path, monkeypatch, capsys):
    """A start that failed (here: Ctrl-C in the first unit) claims nothing: the corrected
    command runs in the same folder. Ctrl-C ends in one message with the resume command."""
    from experiments.execution import unit
    out = tmp_path / "run"

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    original = unit.run_unit
    monkeypatch.setattr(unit, "run_unit", interrupted)
    with pytest.raises(SystemExit) as stopped:
        table1.main([*TINY, "--out", str(out), "--configs", "plain-a0", "--seed", "1"])
    assert stopped.value.code == 130
    error = capsys.readouterr().err
    assert "interrupted (Ctrl-C) in plain-a0/fold0: 0 units of this call finished" in error
    assert "Resume with the same command:\n  python reproduce/table1.py" in error
    assert (out / "run.json").exists() and not run_folder.finished_units(out)
    monkeypatch.setattr(unit, "run_unit", original)
    state = out / "training-states" / "plain-a0" / "fold0" / "network.npz"
    state.parent.mkdir(parents=True)
    state.write_bytes(b"a state of the old options")
    assert table1.main([*TINY, "--out", str(out), "--configs", "plain-a0"]) == 0
    assert "no finished unit: its run.json is replaced" in capsys.readouterr().out
    assert not state.exists()  # the old options' states go with their run.json
    assert json.loads((out / "run.json").read_text())["arguments"]["seed"] == 0
    # Now it holds finished units: other arguments are refused, as before.
    with pytest.raises(SystemExit, match="other arguments .*seed"):
        table1.main([*TINY, "--out", str(out), "--configs", "plain-a0", "--seed", "1"])


def test_ctrl_c_outside_the_grid_ends_in_one_line(capsys):
    from runtime.console import run_script

    def main():
        raise KeyboardInterrupt
    with pytest.raises(SystemExit) as stopped:
        run_script(main)
    assert stopped.value.code == 130
    assert capsys.readouterr().err.strip() == (
        "interrupted (Ctrl-C): everything finished so far is saved; rerun the same command to "
        "resume")


def test_subjects_and_folds_say_what_was_selected_and_what_exists(tmp_path):
    from data.synthetic import write_knee_phantoms
    write_knee_phantoms(tmp_path / "knees", subjects=3, seed=0)
    with pytest.raises(SystemExit, match="--subjects selected 2 of the 3 subjects in .*knees"):
        table1.main(["--dataset", "oai", "--data-dir", str(tmp_path / "knees"), *TINY,
                     "--folds", "3", "--out", str(tmp_path / "run")])


def test_the_console_numbers_folds_as_the_folders_do(tmp_path, capsys):
    assert table1.main([*TINY, "--out", str(tmp_path / "run"), "--configs", "plain-a0"]) == 0
    output = capsys.readouterr().out
    assert "[1/2] plain-a0/fold0 " in output and "[2/2] plain-a0/fold1 " in output
    assert (tmp_path / "run" / "units" / "plain-a0" / "fold1" / "result.json").exists()
    assert "fold 1" not in output and "fold 2" not in output


def test_another_modality_order_on_a_finished_run_is_refused_naming_both(tmp_path):
    """Features are indexed by position: FS patches must never reach the N encoder."""
    from studies import recalibration_effect
    from reproduce import fig6
    out = tmp_path / "run"
    assert table1.main([*TINY, "--out", str(out), "--configs", "plain-a0"]) == 0
    run_json = (out / "run.json").read_text()
    for script, extra in ((recalibration_effect, ["--configs", "plain-a0"]),
                          (fig6, ["--alpha", "0"]), (table1, ["--configs", "plain-a0"])):
        with pytest.raises(SystemExit, match=r"in the order N, FS, this call gives FS, N"):
            script.main([*TINY, "--out", str(out), "--modalities", "FS,N", *extra])
    assert (out / "run.json").read_text() == run_json
    assert table1.main([*TINY, "--out", str(out), "--configs", "plain-a0",
                        "--modalities", "N,FS"]) == 0  # the run's own order resumes it


def test_a_unit_whose_features_are_constant_stops_with_an_error(tmp_path, monkeypatch):
    from experiments.execution import unit
    from experiments.measurement.features import degenerate_modalities
    original = unit.unit_features

    def constant_for_fs(*arguments):
        features = original(*arguments)
        features["test"][:, 1] = 0.0  # FS's features: one vector for every test patch
        return features

    monkeypatch.setattr(unit, "unit_features", constant_for_fs)
    out = tmp_path / "run"
    with pytest.raises(SystemExit, match=r"unit plain-a0/fold0: .*FS: every feature constant "
                                         r"over the test patches"):
        table1.main([*TINY, "--out", str(out), "--configs", "plain-a0"])
    assert run_folder.finished_units(out) == []
    assert not (out / "units" / "plain-a0" / "fold0").exists()
    rng = np.random.default_rng(0)
    varied = {"modalities": np.array(["A", "B"]), "network_of": np.zeros(2, int),
              "train": rng.normal(size=(2, 5, 3)), "test": rng.normal(size=(1, 2, 5, 3))}
    assert degenerate_modalities(varied) == {}
    varied["train"][0, :, :] = 7.0
    varied["test"][0, 1, 2, 0] = np.nan
    assert degenerate_modalities(varied) == {
        "A": "every feature constant over the training patches",
        "B": "non-finite features on the test patches"}


@pytest.mark.parametrize("script, extra", [
    ("studies/recalibration_effect.py", []), ("studies/claims_by_reading.py", ["--report-only"]),
    ("studies/accuracy_vs_updates.py", ["--report-only", "--checkpoints", "2"]),
    ("reproduce/fig5.py", [])])
def test_a_script_that_reads_a_run_on_a_mistyped_out_writes_nothing(tmp_path, script, extra):
    out = tmp_path / "no_such_run"
    tiny = TINY if "--checkpoints" not in extra else [  # the study sets its own length
        a for i, a in enumerate(TINY) if "--updates" not in TINY[max(i - 1, 0):i + 1]]
    finished = subprocess.run(
        [sys.executable, script, *tiny, "--out", str(out), *extra],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=300)
    assert finished.returncode != 0 and "Traceback" not in finished.stderr
    last = finished.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {out} holds no run (no run.json)")
    assert list(tmp_path.iterdir()) == []


def test_a_start_that_fails_on_its_data_leaves_no_folder(tmp_path):
    out = tmp_path / "run"
    finished = subprocess.run(
        [sys.executable, "reproduce/table1.py", "--dataset", "folder", "--data-dir",
         str(tmp_path / "missing"), "--modality", "A=*_a.nii.gz", "--label", "*_seg.nii.gz",
         "--out", str(out), "--verbose", "0"], cwd=REPOSITORY, capture_output=True, text=True,
        timeout=300)
    assert finished.returncode != 0 and "Traceback" not in finished.stderr
    assert not out.exists()


def test_the_thread_count_a_result_depends_on_is_tensorflows_pool(monkeypatch):
    """TF_NUM_INTRAOP_THREADS when set, else the cores this process may run on."""
    from runtime import metadata
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "3")
    assert metadata.tensorflow_threads() == 3
    assert metadata.computed_on() == f"{machine()}; 3 TensorFlow threads"
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "1")
    assert metadata.computed_on().endswith("; 1 TensorFlow thread")
    for unset in ("", "0", "all"):
        monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", unset)
        assert metadata.tensorflow_threads() == len(os.sched_getaffinity(0))


def test_a_reader_writes_nothing_into_a_folder_of_another_run(tmp_path):
    """The probe: a figure script given a folder-data run's --out (without its data
    options) wrote a phantom and a cache into the finished run folder; claims_by_reading
    --report-only made run.json files inside a Table I folder."""
    from tests.data_files import write_subject
    for index in range(3):
        write_subject(tmp_path / "data" / f"s{index}", shape=(24, 22, 20), seed=index)
    out = tmp_path / "run"
    data = ["--dataset", "folder", "--data-dir", str(tmp_path / "data"), "--modality",
            "A=A.nii.gz", "--modality", "B=B.nii.gz", "--label", "seg.nii.gz",
            "--class", "x=1", "--patches-per-class", "5", "--evaluation-patches-per-class",
            "5", "--folds", "3", "--verbose", "0", "--cache-dir", str(tmp_path / "cache")]
    made = subprocess.run([sys.executable, "reproduce/table1.py", *data, "--configs",
                           "raw-patch", "--out", str(out), "--workers", "1"],
                          cwd=REPOSITORY, capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stdout[-2000:] + made.stderr[-2000:]
    before = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    figure = subprocess.run([sys.executable, "reproduce/fig5.py", "--out", str(out)],
                            cwd=REPOSITORY, capture_output=True, text=True, timeout=300)
    assert figure.returncode != 0 and "Traceback" not in figure.stderr
    assert figure.stderr.strip().splitlines()[-1].startswith(
        f"error: {out} holds a run made with other arguments (they differ in: ")
    report = subprocess.run([sys.executable, "studies/claims_by_reading.py", *data,
                             "--configs", "raw-patch", "--out", str(out), "--report-only"],
                            cwd=REPOSITORY, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in report.stderr, report.stderr[-2000:]
    created = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    assert not [name for name in created if name not in before
                and not name.startswith("claims_by_reading")], created


def test_a_system_error_without_a_file_name_names_where_the_script_writes(capsys, tmp_path):
    """The probe: a full disk said "No space left on device" without a place."""
    import errno
    from runtime import console
    console.writing_under(tmp_path / "run")

    def main():
        raise OSError(errno.ENOSPC, "No space left on device")
    try:
        with pytest.raises(SystemExit) as stopped:
            console.run_script(main)
    finally:
        console.writing_place.clear()
    assert stopped.value.code == 1
    assert capsys.readouterr().err.strip() == (
        f"error: writing under {tmp_path / 'run'}: No space left on device; everything "
        "finished so far is saved")
