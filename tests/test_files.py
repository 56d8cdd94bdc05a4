"""runtime/files.py: the one temporary-file convention and atomic folders under races."""
import os
import subprocess
import sys

from runtime.files import atomic_path, remove_stale_temporaries, temporary_name


def test_a_temporary_keeps_the_suffixes_and_the_clean_up_knows_it(tmp_path):
    assert temporary_name(tmp_path / "scan.nii.gz").name == f"scan.nii.gz.tmp{os.getpid()}.nii.gz"
    assert temporary_name(tmp_path / "knee").name == f"knee.tmp{os.getpid()}"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = [tmp_path / f"scan.nii.gz.tmp{dead}.nii.gz", tmp_path / "sub" / f"a.h5.tmp{dead}"]
    live = tmp_path / f"scan.nii.gz.tmp{os.getpid()}.nii.gz"
    kept = tmp_path / "notes.tmp.txt"  # not a temporary of this convention
    for path in [*stale, live, kept]:
        path.parent.mkdir(exist_ok=True)
        path.write_text("x")
    assert sorted(remove_stale_temporaries(tmp_path, recursive=True)) == sorted(stale)
    assert live.exists() and kept.exists()


def test_a_folder_another_process_put_first_is_kept(tmp_path):
    """Two shards write the phantoms at once: the loser's copy is dropped, no error."""
    target = tmp_path / "knee"
    with atomic_path(target, replace_existing=False) as temporary:
        temporary.mkdir()
        (temporary / "mine.txt").write_text("mine")
        target.mkdir()  # the other shard renamed its folder into place meanwhile
        (target / "theirs.txt").write_text("theirs")
    assert sorted(p.name for p in target.iterdir()) == ["theirs.txt"]
    assert not temporary.exists()
