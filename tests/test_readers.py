"""Scripts that read a run never change it: no option of theirs deletes, a changed input
file is refused with the run left as it was, a partial run is read over the same folds for
every row, and bad output places are refused before any work."""
import json

import nibabel as nib
import numpy as np
import pytest

from reproduce import fig5, table1
from studies import normalization_at_evaluation, recalibration_effect
from tests.conftest import TINY_RUN

pytestmark = pytest.mark.slow  # end to end: the fast tier (-m "not slow") leaves it out

CONFIGS = ["--configs", "untrained,plain-a0"]


def listing(folder):
    """Every file under ``folder`` with its size and modification time; of the phantoms'
    cache (OUT/cache, not part of the run) the names only: a use marks its files' time."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            if p.parent.name != "cache" else None
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_script_that_reads_a_run_refuses_changed_data_and_deletes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    assert table1.main([*TINY_RUN, *CONFIGS, "--out", str(out)]) == 0
    scan = sorted((out / "data").rglob("*.nii.gz"))[0]
    image = nib.load(scan)
    nib.save(nib.Nifti1Image(np.asarray(image.dataobj) * 1.01, image.affine), scan)
    before = listing(out)
    for main in (normalization_at_evaluation.main, recalibration_effect.main):
        with pytest.raises(SystemExit, match=r"changed since its 4 finished units were made.*"
                                             r"only reads the run and changes nothing"):
            main([*TINY_RUN, *CONFIGS, "--out", str(out)])
    with pytest.raises(SystemExit, match="only reads the run"):
        fig5.main([*TINY_RUN, "--alpha", "0", "--out", str(out)])
    assert listing(out) == before  # not a unit, table or run.json touched
    # None of them takes the option that deletes a run's units.
    for main in (normalization_at_evaluation.main, recalibration_effect.main, fig5.main):
        with pytest.raises(SystemExit) as stopped:
            main([*TINY_RUN, "--out", str(out), "--discard-stale-units"])
        assert stopped.value.code == 2
        assert "unrecognized arguments: --discard-stale-units" in capsys.readouterr().err
    assert listing(out) == before


def test_a_partial_run_is_read_over_the_same_folds_for_every_row(tmp_path, capsys):
    out = tmp_path / "run"
    assert table1.main([*TINY_RUN, "--configs", "untrained", "--out", str(out)]) == 0
    assert table1.main([*TINY_RUN, *CONFIGS, "--shard", "0/2", "--out", str(out)]) == 0
    assert not (out / "units" / "plain-a0" / "fold1" / "result.json").exists()
    with pytest.raises(SystemExit, match=r"1 units of .* are not finished \(plain-a0/fold1\)"):
        normalization_at_evaluation.main([*TINY_RUN, *CONFIGS, "--out", str(out)])
    capsys.readouterr()
    figures = tmp_path / "figures"
    assert normalization_at_evaluation.main([*TINY_RUN, "--out", str(out),
                                             "--figures-dir", str(figures)]) == 0
    assert "left out 20 configurations not finished on every fold" in capsys.readouterr().out

    def refuse(constant):
        raise ValueError(f"{constant} in strict JSON")
    document = json.loads((figures / "normalization_at_evaluation.json").read_text(),
                          parse_constant=refuse)
    assert [(row["name"], row["folds"]) for row in document["rows"]] == [("untrained", 2)]


def test_bad_output_places_are_refused_before_any_work(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    out = tmp_path / "run"
    with pytest.raises(SystemExit, match=rf"--publish {afile} is a file, not a folder"):
        table1.main([*TINY_RUN, "--configs", "raw-patch", "--out", str(out),
                     "--publish", str(afile)])
    with pytest.raises(SystemExit, match=rf"--cache-dir {afile} is a file, not a folder"):
        table1.main([*TINY_RUN, "--configs", "raw-patch", "--out", str(out),
                     "--cache-dir", str(afile)])
    with pytest.raises(SystemExit, match=rf"--cache-dir {afile / 'cache'} cannot be a folder: "
                                         rf"{afile} is a file"):
        table1.main([*TINY_RUN, "--configs", "raw-patch", "--out", str(out),
                     "--cache-dir", str(afile / "cache")])
    assert not out.exists()
    assert table1.main([*TINY_RUN, "--configs", "raw-patch", "--out", str(out)]) == 0
    with pytest.raises(SystemExit, match=rf"--figures-dir {afile / 'x'} cannot be a folder"):
        normalization_at_evaluation.main([*TINY_RUN, "--configs", "raw-patch", "--out", str(out),
                                          "--figures-dir", str(afile / "x")])
