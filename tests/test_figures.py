"""Feature analysis (Figs. 6–8) against NumPy, and the figure scripts end to end."""
import csv
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import models
from experiments.measurement import analysis, forests
from experiments.runs import command_line
from experiments.execution import unit
from reproduce import fig5, fig6, fig7, fig8
from experiments.execution.patch_data import load_patch_data
from experiments.paper.configurations import CONFIGURATIONS_BY_NAME
from runtime.seeds import derived_seed

pytestmark = pytest.mark.slow  # end to end: the fast tier (-m "not slow") leaves it out

REPOSITORY = Path(__file__).resolve().parents[1]
TINY = ["--subjects", "4", "--folds", "2", "--filters", "4,8,16", "--patches-per-class", "12",
        "--evaluation-patches-per-class", "16", "--updates", "2", "--verbose", "0"]


def test_ncc_equals_numpy_corrcoef():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 3))
    b = np.stack([2 * a[:, 0] + 1, -a[:, 1] + 0.5 * rng.normal(size=200), rng.normal(size=200)], 1)
    expected = [np.corrcoef(a[:, j], b[:, j])[0, 1] for j in range(3)]
    np.testing.assert_allclose(analysis.normalized_cross_correlation(a, b), expected, rtol=1e-10)
    assert analysis.normalized_cross_correlation(a, b)[0] == pytest.approx(1.0)
    c = rng.normal(size=(200, 3))
    pairs = [analysis.normalized_cross_correlation(x, y) for x, y in ((a, b), (a, c), (b, c))]
    np.testing.assert_allclose(analysis.cross_modality_ncc([a, b, c]), np.mean(pairs, 0))
    constant = np.ones((200, 3))
    np.testing.assert_array_equal(analysis.normalized_cross_correlation(a, constant), 0.0)


def test_mutual_information_ranks_an_informative_feature_above_noise():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, size=500)
    features = np.stack([rng.normal(size=500), labels + 0.3 * rng.normal(size=500)], 1)
    information = analysis.mutual_information(features, labels)
    assert information[1] > information[0] + 0.3


@pytest.mark.parametrize("within_subjects", [False, True])
def test_halves_never_evaluate_on_the_ranking_half(within_subjects):
    subjects = np.repeat(["s1", "s2", "s3", "s4", "s5"], [10, 14, 6, 8, 12])
    labels = np.tile([0, 1], 25)
    halves = analysis.split_test_halves(subjects, labels, within_subjects=within_subjects, seed=3)
    assert len(halves) == 2
    (rank_a, eval_a), (rank_b, eval_b) = halves
    assert not set(rank_a) & set(eval_a)
    assert sorted(np.concatenate([rank_a, eval_a])) == list(range(50))
    np.testing.assert_array_equal(rank_a, eval_b)
    np.testing.assert_array_equal(eval_a, rank_b)
    if not within_subjects:
        assert not set(subjects[rank_a]) & set(subjects[eval_a])
    with pytest.raises(ValueError, match="at least two test subjects"):
        analysis.split_test_halves(np.array(["s1"] * 6))


def test_top_k_with_all_features_uses_every_feature_and_ranks_by_ncc(monkeypatch):
    rng = np.random.default_rng(2)
    labels = np.tile([0, 1], 40)
    shared = labels[:, None] + 0.2 * rng.normal(size=(80, 1))
    training = [np.hstack([shared, rng.normal(size=(80, 3))]) for _ in range(2)]
    test = [np.hstack([shared, rng.normal(size=(80, 3))]) for _ in range(2)]
    subjects = np.repeat(["a", "b", "c", "d"], 20)
    accuracy = analysis.top_k_accuracy(training, labels, test, labels, subjects, [1, 4], trees=10)
    assert accuracy.shape == (2, 2, 2)
    assert accuracy[:, :, 0].min() > 90  # the one shared feature is ranked first
    # k = 4 (all features): three noise features join; the forest is then worse across
    # modalities but still uses the shared feature, well above chance.
    assert 60 < accuracy[:, :, 1].min() < accuracy[:, :, 0].min()
    assert analysis.k_grid(128, 32) == [1, 32, 64, 96, 128]
    assert analysis.k_grid(10, 4) == [1, 4, 8, 10]


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    return tmp_path_factory.mktemp("figures")


@pytest.mark.parametrize("script, extra, name", [
    (fig5, [], "fig5"), (fig6, [], "fig6"), (fig7, ["--alphas", "0.1"], "fig7"),
    (fig8, ["--k-step", "8"], "fig8"),
])
def test_figure_scripts_write_a_png_and_its_numbers(run_folder, script, extra, name):
    out, figures = run_folder / "run", run_folder / "figures"
    assert script.main([*TINY, "--out", str(out), "--figures-dir", str(figures), *extra,
                        "--train-missing"]) == 0
    png = figures / f"{name}.png"
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
    with open(figures / f"{name}.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    check_figure_numbers(name, rows)
    check_against_the_units(name, rows, out)
    if name == "fig8":
        assert {row["k"] for row in rows} == {"1", "8", "16"}
        assert {row["configuration"] for row in rows} == {"plain-a0.1", "norm-a0.1",
                                                          "dropout-a0.1", "dropout+norm-a0.1"}


def check_against_the_units(name, rows, out):
    """Fig. 5's errors and Fig. 8's accuracy with all features, recomputed here from the
    run folder's saved networks and features."""
    if name not in ("fig5", "fig8"):
        return
    run = command_line.resolve_run(command_line.script_parser("x").parse_args(
        [*TINY, "--out", str(out)]), [])
    patch_data = load_patch_data(run, log=lambda *a: None)
    table = patch_data.evaluation
    if name == "fig5":
        configuration = CONFIGURATIONS_BY_NAME["dropout+norm-a0.1"]
        network = unit.load_unit_network(run, configuration, 0)
        patches = table.gather(fig5.shown_rows(table, patch_data.rows(table, 0, "test"), run.seed))
        given = {"N": patches[:, 0], "FS": patches[:, 1]}
        for row in rows:
            available = ["N", "FS"] if row["from"] == "all" else [row["from"]]
            reconstructed = models.reconstruct(network, given, available)[row["reconstruction"]]
            expected = np.mean(np.abs(reconstructed - given[row["reconstruction"]]))
            assert float(row["mean_absolute_error"]) == pytest.approx(expected, rel=1e-4)
        return
    for configuration_name in {r["configuration"] for r in rows}:
        configuration = CONFIGURATIONS_BY_NAME[configuration_name]
        per_fold = []
        for fold in range(2):
            features = unit.load_unit_features(run, configuration, fold)
            train, test = list(features["train"]), list(features["test"][0])
            accuracy = np.zeros((2, 2))
            for ranking, evaluation in analysis.split_test_halves(
                    features["test_subjects"], features["test_labels"],
                    seed=derived_seed(run.seed, "fig8", configuration_name, fold)):
                # All 16 features, in the order of their NCC on the ranking half.
                order = np.argsort(-analysis.cross_modality_ncc([t[ranking] for t in test]),
                                   kind="stable")
                correct = forests.forest_correct(
                    [t[:, order] for t in train], features["training_labels"],
                    [[t[evaluation][:, order] for t in test]] * 2,
                    features["test_labels"][evaluation],
                    run.trees, derived_seed(run.seed, "fig8", configuration_name, fold))
                accuracy += 50.0 * correct.mean(axis=2)
            per_fold.append(forests.same_and_cross(accuracy))
        (row,) = [r for r in rows if r["configuration"] == configuration_name and r["k"] == "16"]
        same, cross = np.mean(per_fold, axis=0)
        assert (float(row["same"]), float(row["cross"])) == pytest.approx((same, cross), abs=0.006)


def check_figure_numbers(name, rows):
    """The CSV columns and value ranges of each figure."""
    columns = set(rows[0])
    if name == "fig5":
        assert columns == {"reconstruction", "from", "mean_absolute_error"}
        assert {(r["reconstruction"], r["from"]) for r in rows} == {
            (target, source) for target in ("N", "FS") for source in ("all", "N", "FS")}
        assert all(0 <= float(r["mean_absolute_error"]) < 10 for r in rows)
    elif name == "fig6":
        assert columns == {"configuration", "feature", "rank", "ncc", "mi_N", "mi_FS", "sd_N",
                           "sd_FS"}
        for configuration in {r["configuration"] for r in rows}:
            chosen = [r for r in rows if r["configuration"] == configuration]
            assert sorted(int(r["feature"]) for r in chosen) == list(range(16))
            information = [float(r["mi_N"]) for r in chosen]  # sorted by MI in N
            assert information == sorted(information, reverse=True)
        assert all(-1 <= float(r["ncc"]) <= 1 and float(r["sd_N"]) >= 0 and
                   float(r["mi_FS"]) >= 0 for r in rows)
    elif name == "fig7":
        assert columns == {"configuration", "rank", "ncc"}
        for configuration in {r["configuration"] for r in rows}:
            curve = [float(r["ncc"]) for r in rows if r["configuration"] == configuration]
            assert len(curve) == 16 and all(-1 <= v <= 1 for v in curve)
            assert curve == sorted(curve, reverse=True)  # high to low
    else:
        assert columns == {"configuration", "k", "same", "cross"}
        assert all(0 <= float(r["same"]) <= 100 and 0 <= float(r["cross"]) <= 100 for r in rows)


def test_fig8_halves_within_subjects_as_a_script(tmp_path):
    out, figures = tmp_path / "run", tmp_path / "figures"
    one_test_subject = ["--subjects", "3", "--folds", "3", *TINY[4:]]
    finished = subprocess.run(
        [sys.executable, "reproduce/fig8.py", *one_test_subject, "--out", str(out),
         "--figures-dir", str(figures), "--halves", "within-subjects", "--k-step", "16",
         "--train-missing"],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stdout[-2000:] + finished.stderr[-2000:]
    with open(figures / "fig8.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["k"] for row in rows} == {"1", "16"} and len(rows) == 4 * 2
    # By subject it cannot work with one test subject per fold: a clear error.
    by_subject = subprocess.run(
        [sys.executable, "reproduce/fig8.py", *one_test_subject, "--out", str(out),
         "--figures-dir", str(figures)], cwd=REPOSITORY, capture_output=True, text=True,
        timeout=600)
    assert by_subject.returncode != 0 and "within-subjects" in by_subject.stderr


def test_a_figure_script_trains_nothing_unasked_and_names_the_command(tmp_path, trained_units,
                                                                     capsys):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as stopped:
        fig6.main([*TINY, "--out", str(out), "--alpha", "0.5"])
    message = str(stopped.value)
    assert trained_units == []
    assert "holds no run" in message and "plain-a0.5, norm-a0.5, dropout-a0.5" in message
    assert not out.exists()  # a failed start leaves no folder
    # The command it names trains exactly those units; the figure then trains nothing.
    command = message.split("`")[1].split()
    assert command[:2] == ["python", "reproduce/table1.py"]
    from reproduce import table1
    assert table1.main(command[2:]) == 0
    assert sorted({name for name, _, _ in trained_units}) == [
        "dropout+norm-a0.5", "dropout-a0.5", "norm-a0.5", "plain-a0.5"]
    trained_units.clear()
    assert fig6.main([*TINY, "--out", str(out), "--alpha", "0.5"]) == 0
    assert trained_units == [] and (out / "figures" / "fig6.png").exists()
    shutil.rmtree(out / "units" / "norm-a0.5" / "fold1")  # a run that lacks a unit
    with pytest.raises(SystemExit, match=r"lacks 1 of the 8 units .*norm-a0.5/fold1"):
        fig6.main([*TINY, "--out", str(out), "--alpha", "0.5"])


@pytest.mark.parametrize("option", [["--configs", "plain-a0"], ["--shard", "0/2"],
                                    ["--repeats", "2"], ["--discard-stale-units"]])
def test_figure_scripts_neither_take_nor_list_the_grid_options(tmp_path, option, capsys):
    """A figure script draws fixed units and never deletes any: the options that choose
    units to train or discard them are not its options (refused, and not in --help)."""
    with pytest.raises(SystemExit) as stopped:
        fig7.main([*TINY, "--out", str(tmp_path), *option])
    assert stopped.value.code == 2
    assert f"unrecognized arguments: {option[0]}" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        fig7.main(["--help"])
    assert option[0] not in capsys.readouterr().out


def test_fig7_names_its_own_option_for_an_alpha_outside_the_grid(tmp_path):
    with pytest.raises(SystemExit, match=r"--alphas 0.3 is not in the grid; choose from 0, "
                                         r"0.1, 0.2, 0.5"):
        fig7.main([*TINY, "--out", str(tmp_path), "--alphas", "0.3"])
    with pytest.raises(SystemExit) as stopped:  # fig7 takes --alphas, not --alpha
        fig7.main([*TINY, "--out", str(tmp_path), "--alpha", "0.1"])
    assert stopped.value.code == 2


def test_a_figure_script_with_default_options_changes_no_tracked_file(tmp_path):
    """On a copy of the repository: fig7 with the default run folder and no
    --figures-dir leaves `git status` clean (its figure goes into the run folder)."""
    copy = tmp_path / "repository"
    tracked = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=REPOSITORY, capture_output=True,
                             check=True).stdout.decode().split("\0")
    for name in filter(None, tracked):
        if (REPOSITORY / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            (copy / name).write_bytes((REPOSITORY / name).read_bytes())
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "copy"]):
        subprocess.run([*git, *command], cwd=copy, check=True)
    finished = subprocess.run(
        [sys.executable, "reproduce/fig7.py", *TINY, "--alphas", "0.1", "--train-missing"],
        cwd=copy, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stdout[-2000:] + finished.stderr[-2000:]
    written = list((copy / "runs").glob("*/figures/fig7.png"))
    assert len(written) == 1
    status = subprocess.run([*git, "status", "--porcelain"], cwd=copy, capture_output=True,
                            text=True, check=True).stdout
    assert status == ""


def test_a_finished_run_is_opened_by_its_folder_and_left_as_it_was(run_folder, tmp_path):
    """The review: a figure of a run made with many options meant retyping them all. Now
    RUN_FOLDER is enough (its run.json records the run), the folder's files stay byte for
    byte, and a run.json of the time before the record gets one line with the remedy."""
    import json
    out = run_folder / "run"  # made by the parametrized test above (with --train-missing)
    assert (out / "units").is_dir(), "run the module's figure tests first"

    def contents():
        return {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*")
                if p.is_file() and ".writer.lock" not in p.name}
    before = contents()
    assert fig5.main([str(out), "--figures-dir", str(tmp_path / "figures")]) == 0
    assert (tmp_path / "figures" / "fig5.png").is_file()
    assert contents() == before
    with pytest.raises(SystemExit) as refused:
        fig5.main([str(out), "--out", str(out)])
    assert "give the run folder" in str(refused.value.code)
    copy = tmp_path / "old"
    copy.mkdir()
    stored = json.loads((out / "run.json").read_text())
    del stored["run"]
    (copy / "run.json").write_text(json.dumps(stored))
    with pytest.raises(SystemExit) as refused:
        fig5.main([str(copy)])
    assert str(refused.value.code).startswith(
        f"error: {copy / 'run.json'} was written before run folders recorded their settings")
    with pytest.raises(SystemExit) as refused:
        fig5.main([str(tmp_path / "nowhere")])
    assert "is not a folder" in str(refused.value.code)


def test_a_run_is_rebuilt_from_its_record(tmp_path):
    """settings → record → settings: the same run (fingerprint and all)."""
    import json
    from experiments.runs import command_line
    from experiments.runs.run import run_from_record, run_record
    (tmp_path / "data").mkdir()  # a missing --data-dir is refused before anything else
    for argv in ([], ["--phantom", "brain", "--subjects", "4", "--configs", "plain-a0",
                      "--repeats", "2", "--checkpoint-every", "off"],
                 ["--dataset", "folder", "--data-dir", str(tmp_path / "data"),
                  "--modality", "A=a_*.nii.gz",
                  "--modality", "B=b_*.nii.gz", "--label", "l_*.nii.gz", "--class", "x=1,2",
                  "--out", "/runs/r", "--momentum", "0.99"]):
        run = command_line.resolve_run(command_line.script_parser("x").parse_args(argv), argv)
        again = run_from_record(json.loads(json.dumps(run_record(run))))
        assert again == run and again.fingerprint() == run.fingerprint()


def _opened_folder(tmp_path):
    """A run folder written by ``open_run_folder`` (nothing trained): (run, inputs, folder)."""
    from experiments.runs import command_line
    from experiments.runs.run_folder import open_run_folder
    folder = tmp_path / "run"
    made = ["--out", str(folder), "--configs", "plain-a0"]
    run = command_line.resolve_run(command_line.script_parser("x").parse_args(made), made)
    inputs = [tmp_path / "a.nii.gz"]
    inputs[0].write_bytes(b"volume")
    open_run_folder(run, inputs, log=lambda *a, **k: None)
    return run, inputs, folder


def test_a_shard_keeps_the_runs_command_and_a_reader_names_its_own(tmp_path):
    """run.json keeps the command of the call that made the run when a worker (a --shard
    call) writes it again; a script that opens the folder reports its own command."""
    import dataclasses
    import json
    from experiments.runs import command_line
    from experiments.runs.run_folder import open_run_folder
    run, inputs, folder = _opened_folder(tmp_path)
    worker = dataclasses.replace(run, command=run.command + " --shard 1/2 --workers 1")
    recorded = lambda: json.loads((folder / "run.json").read_text())["run"]["command"]  # noqa: E731
    open_run_folder(worker, inputs, log=lambda *a, **k: None, keep_command=True)
    assert recorded() == run.command and "--shard" not in recorded()
    open_run_folder(worker, inputs, log=lambda *a, **k: None)  # a call of its own: its command
    assert recorded() == worker.command
    reader = [str(folder), "--figures-dir", str(tmp_path / "figures")]
    opened = command_line.opened_run(command_line.run_reader_parser("x").parse_args(reader),
                                     reader, "studies/reader.py")
    assert opened.command == f"python studies/reader.py {folder} --figures-dir {tmp_path / 'figures'}"
    assert opened.fingerprint() == run.fingerprint()


def test_a_folder_of_another_arithmetic_version_is_refused_with_the_remedy(tmp_path):
    """Units of two arithmetic versions never share a folder: a later version is refused,
    naming both versions and --out."""
    import json
    from experiments.runs.run_folder import RunFolderError, open_run_folder
    run, inputs, folder = _opened_folder(tmp_path)
    stored = json.loads((folder / "run.json").read_text())
    stored["arguments"]["arithmetic_version"] = 2
    (folder / "run.json").write_text(json.dumps(stored))
    (folder / "units" / "plain-a0" / "fold0").mkdir(parents=True)  # a finished unit
    (folder / "units" / "plain-a0" / "fold0" / "result.json").write_text("{}")
    with pytest.raises(RunFolderError, match=r"arithmetic version 2; this code computes "
                       r"version 4 .* Give another --out"):
        open_run_folder(run, inputs, log=lambda *a, **k: None)
