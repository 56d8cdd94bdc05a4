"""Named datasets: download, resume, checksums, safe extraction and reading, all against a
loopback HTTP server that each test starts on 127.0.0.1 (port 0) and stops itself."""
import hashlib
import http.server
import io
import json
import shutil
import socket
import tarfile
import threading
from dataclasses import replace
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

import data
from data import fetch
from data.synthetic import write_brain_phantoms

SHARED_OPEN_MS = Path(__file__).resolve().parents[2] / "shared" / "data" / "open_ms"
MSD_ORDER = ["FLAIR", "T1w", "t1gd", "T2w"]  # the Decathlon's channel order
PHANTOM_NAMES = {"FLAIR": "FLAIR", "T1w": "T1", "t1gd": "T1c", "T2w": "T2"}


class Server:
    """Serves files from a dict {url path: bytes}; ``mode``: "range" (honours Range),
    "ignore-range" (always 200 with everything), "cut-once" (the first answer stops
    halfway through the body)."""

    def __init__(self, files, mode="range"):
        self.files, self.mode, self.requests = files, mode, []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                body = server.files.get(self.path.lstrip("/"))
                if body is None:
                    self.send_error(404)
                    return
                start = 0
                ranged = self.headers.get("Range")
                if ranged and server.mode != "ignore-range":
                    start = int(ranged.split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                if server.mode == "cut-once" and len(server.requests) == 1:
                    self.wfile.write(body[:len(body) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body[start:])

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


def msd_tar(tmp_path, subjects=3):
    """A small Task01_BrainTumour.tar in the Decathlon's layout, with its traps."""
    phantoms = tmp_path / "phantoms"
    write_brain_phantoms(phantoms, subjects=subjects, seed=1)
    folders = sorted(p for p in phantoms.iterdir() if p.is_dir())
    task = tmp_path / "Task01_BrainTumour"
    (task / "imagesTr").mkdir(parents=True)
    (task / "labelsTr").mkdir()
    (task / "imagesTs").mkdir()
    training, expected = [], {}
    for index, folder in enumerate(folders):
        name = f"BRATS_{index + 1:03d}"
        channels = [nib.load(next(folder.glob(f"*_{_suffix(PHANTOM_NAMES[m])}.nii.gz")))
                    for m in MSD_ORDER]
        stacked = np.stack([np.asarray(c.dataobj, np.float32) for c in channels], axis=3)
        nib.save(nib.Nifti1Image(stacked, channels[0].affine), task / "imagesTr" / f"{name}.nii.gz")
        labels = np.asarray(nib.load(next(folder.glob("*_seg.nii.gz"))).dataobj)
        decathlon = np.select([labels == 2, labels == 1, labels == 4], [1, 2, 3], 0).astype(np.uint8)
        nib.save(nib.Nifti1Image(decathlon, channels[0].affine), task / "labelsTr" / f"{name}.nii.gz")
        (task / "imagesTr" / f"._{name}.nii.gz").write_bytes(b"\x00\x05\x16\x07AppleDouble")
        training.append({"image": f"./imagesTr/{name}.nii.gz", "label": f"./labelsTr/{name}.nii.gz"})
        expected[name] = (stacked, decathlon)
    nib.save(nib.Nifti1Image(stacked, channels[0].affine), task / "imagesTs" / "BRATS_900.nii.gz")
    (task / "dataset.json").write_text(json.dumps({
        "name": "BRATS", "modality": {str(i): m for i, m in enumerate(MSD_ORDER)},
        "labels": {"0": "background", "1": "edema", "2": "non-enhancing tumor",
                   "3": "enhancing tumour"},
        "numTraining": len(training), "training": training, "test": ["./imagesTs/BRATS_900.nii.gz"]}))
    archive = tmp_path / "Task01_BrainTumour.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(task, arcname="Task01_BrainTumour")
        for evil in ("../evil.txt", "/tmp/evil-absolute.txt", "Task01_BrainTumour/imagesTr/../../evil2.txt"):
            info = tarfile.TarInfo(evil)
            info.size = 4
            tar.addfile(info, io.BytesIO(b"evil"))
    return archive, expected


def _suffix(modality):
    return {"FLAIR": "flair", "T1": "t1", "T1c": "t1ce", "T2": "t2"}[modality]


def msd_source(archive):
    body = archive.read_bytes()
    remote = fetch.RemoteFile("Task01_BrainTumour.tar", "Task01_BrainTumour.tar", "md5",
                              hashlib.md5(body).hexdigest(), len(body))
    return {"msd-brats": replace(fetch.SOURCES["msd-brats"], archive=remote)}, body


def test_msd_download_extraction_and_reading(tmp_path):
    archive, expected = msd_tar(tmp_path)
    sources, body = msd_source(archive)
    root = tmp_path / "root"
    with Server({"Task01_BrainTumour.tar": body}) as server:
        folder = fetch.fetch("msd-brats", root, mirror=server.url, sources=sources,
                             show_progress=False, log=lambda *a: None)
        assert len(server.requests) == 1
        again = fetch.fetch("msd-brats", root, mirror=server.url, sources=sources,
                            show_progress=False, log=lambda *a: None)
        assert again == folder and len(server.requests) == 1  # the second call downloads nothing
    extracted = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert extracted == [".complete", "dataset.json"] + \
        [f"imagesTr/{n}.nii.gz" for n in sorted(expected)] + \
        [f"labelsTr/{n}.nii.gz" for n in sorted(expected)]  # no ._*, no imagesTs
    assert not list(tmp_path.rglob("evil*")) and not Path("/tmp/evil-absolute.txt").exists()

    spec = data.dataset_spec("msd-brats")
    subjects = data.find_subjects(folder, spec)
    assert [s.name for s in subjects] == sorted(expected)
    assert subjects[0].channels == {"FLAIR": 0, "T1": 1, "T1c": 2, "T2": 3}
    for subject in subjects:
        stacked, labels = expected[subject.name]
        for modality, channel in subject.channels.items():
            volume, _ = data.read_volume(subject.modality_files[modality], channel)
            np.testing.assert_array_equal(volume, stacked[..., channel])
        prepared = data.prepare_subject(subject, spec)
        assert prepared.modality_names == ["FLAIR", "T1", "T1c", "T2"]
        assert prepared.class_names == ["non-tumor", "tumor"]
        tumour = prepared.class_map == 2
        np.testing.assert_array_equal(tumour, labels > 0)  # labels 1, 2 and 3 are all tumour
        brain = np.any(stacked != 0, axis=3)
        np.testing.assert_array_equal(prepared.class_map == 1, brain & (labels == 0))
    subset = data.dataset_spec("msd-brats", select=["T1c", "FLAIR"])
    chosen = data.find_subjects(folder, subset)[0]
    assert list(chosen.modality_files) == ["T1c", "FLAIR"] and chosen.channels == {"T1c": 2, "FLAIR": 0}


def test_a_cut_download_resumes_with_range_and_gives_identical_bytes(tmp_path):
    body = bytes(np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8))
    target = tmp_path / "file.bin"
    with Server({"file.bin": body}, mode="cut-once") as server:
        fetch.download(server.url + "file.bin", target, "md5", hashlib.md5(body).hexdigest(),
                       show_progress=False, backoff=0)
    assert target.read_bytes() == body
    assert server.requests[0][1] is None and server.requests[1][1] == f"bytes={len(body) // 2}-"
    assert not target.with_name("file.bin.part").exists()


def test_a_server_that_ignores_range_restarts_cleanly(tmp_path):
    body = bytes(range(256)) * 1000
    target = tmp_path / "file.bin"
    target.with_name("file.bin.part").write_bytes(b"stale bytes from another file" * 100)
    with Server({"file.bin": body}, mode="ignore-range") as server:
        fetch.download(server.url + "file.bin", target, "sha256", hashlib.sha256(body).hexdigest(),
                       show_progress=False)
    assert server.requests[0][1] is not None  # it asked to resume; the server sent everything
    assert target.read_bytes() == body


def test_a_wrong_checksum_names_the_file_and_leaves_nothing_that_looks_complete(tmp_path):
    body = b"x" * 5000
    target = tmp_path / "Task01_BrainTumour.tar"
    with Server({"Task01_BrainTumour.tar": body}) as server:
        with pytest.raises(fetch.FetchError, match=r"Task01_BrainTumour.tar: md5 checksum mismatch: "
                                                   r"expected 0+, received " + hashlib.md5(body).hexdigest()):
            fetch.download(server.url + "Task01_BrainTumour.tar", target, "md5", "0" * 32,
                           show_progress=False)
    assert list(tmp_path.iterdir()) == []


def test_connection_refused_says_how_to_download_by_hand(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(fetch.FetchError, match=r"could not download .* after 2 attempts.*"
                                               r"medicaldecathlon.com.*--data-dir"):
        fetch.fetch("msd-brats", tmp_path, mirror=f"http://127.0.0.1:{port}/",
                    log=lambda *a: None, show_progress=False, retries=2, backoff=0)
    assert not (tmp_path / "Task01_BrainTumour").exists()


@pytest.mark.skipif(not SHARED_OPEN_MS.exists(), reason="../shared/data/open_ms is not beside the checkout")
def test_open_ms_files_download_with_their_git_blob_checksums(tmp_path):
    patients = ("patient07", "patient19", "patient26")
    files = {f"cross_sectional/MNI/{p.parent.name}/{p.name}": p.read_bytes()
             for p in sorted(SHARED_OPEN_MS.glob("patient*/*.nii.gz"))}
    chosen = tuple(f for f in fetch.SOURCES["open-ms"].files if f.path.split("/")[0] in patients)
    assert len(chosen) == 15 and len(fetch.SOURCES["open-ms"].files) == 150
    sources = {"open-ms": replace(fetch.SOURCES["open-ms"], files=chosen)}
    with Server(files) as server:
        folder = fetch.fetch("open-ms", tmp_path, mirror=server.url, sources=sources,
                             show_progress=False, log=lambda *a: None)
    for remote in chosen:
        assert (folder / remote.path).read_bytes() == (SHARED_OPEN_MS / remote.path).read_bytes()
    subjects = data.find_subjects(folder, data.dataset_spec("open-ms", select=["FLAIR", "T2"]))
    assert [s.name for s in subjects] == list(patients)
    # A corrupted copy on the server is caught by the manifest's checksum.
    corrupted = dict(files)
    first = f"cross_sectional/MNI/{chosen[0].path}"
    corrupted[first] = corrupted[first][:-1] + bytes([corrupted[first][-1] ^ 1])
    with Server(corrupted) as server:
        with pytest.raises(fetch.FetchError, match="git-blob-sha1 checksum mismatch"):
            fetch.fetch("open-ms", tmp_path / "other", mirror=server.url, sources=sources,
                        show_progress=False, log=lambda *a: None)


@pytest.mark.slow
def test_table1_runs_on_a_folder_in_the_msd_layout(tmp_path):
    from reproduce import table1
    archive, expected = msd_tar(tmp_path, subjects=3)
    out = tmp_path / "run"
    # The .tar itself as --data-dir: extracted once into the data root, never downloaded.
    arguments = ["--dataset", "msd-brats", "--data-dir", str(archive), "--data-root",
                 str(tmp_path / "root"), "--modalities", "FLAIR,T1c", "--folds", "3",
                 "--filters", "4,8,16", "--patches-per-class", "10",
                 "--evaluation-patches-per-class", "16", "--updates", "2", "--verbose", "0",
                 "--configs", "dropout+norm-a0,baseline-all", "--out", str(out)]
    assert table1.main(arguments) == 0
    document = json.loads((out / "table1.json").read_text())
    assert document["modalities"] == ["FLAIR", "T1c"] and document["folds"] == 3
    assert {row["name"] for row in document["rows"]} == {"dropout+norm-a0", "baseline-all"}
    assert document["rows"][0]["published_cross"] == 65.8  # the BRATS column
    assert (tmp_path / "root" / "Task01_BrainTumour" / "dataset.json").exists()
    shutil.rmtree(tmp_path / "root" / "Task01_BrainTumour" / "imagesTr")
    (tmp_path / "root" / "Task01_BrainTumour" / ".complete").unlink()
    # The extracted folder as --data-dir works too (same subjects, another run folder).
    assert table1.main([*arguments[:3], str(tmp_path / "Task01_BrainTumour"), *arguments[4:-1],
                        str(tmp_path / "run2")]) == 0


def open_ms_served(patients=("patient07", "patient19", "patient26")):
    files = {f"cross_sectional/MNI/{p.parent.name}/{p.name}": p.read_bytes()
             for p in sorted(SHARED_OPEN_MS.glob("patient*/*.nii.gz"))}
    chosen = tuple(f for f in fetch.SOURCES["open-ms"].files if f.path.split("/")[0] in patients)
    return files, {"open-ms": replace(fetch.SOURCES["open-ms"], files=chosen)}


@pytest.mark.skipif(not SHARED_OPEN_MS.exists(), reason="../shared/data/open_ms is not beside the checkout")
def test_named_subjects_download_only_their_files(tmp_path):
    files, sources = open_ms_served()
    with Server(files) as server:
        folder = fetch.fetch("open-ms", tmp_path, mirror=server.url, sources=sources,
                             show_progress=False, log=lambda *a: None, subjects=["patient19"])
        assert sorted(path for path, _ in server.requests) == sorted(
            f"/cross_sectional/MNI/{r.path}" for r in sources["open-ms"].files
            if r.path.startswith("patient19/"))
        assert len(server.requests) == 5 and not (folder / fetch.COMPLETE).exists()
        # Asked again, nothing is downloaded; then the rest completes the dataset.
        fetch.fetch("open-ms", tmp_path, mirror=server.url, sources=sources,
                    show_progress=False, log=lambda *a: None, subjects=["patient19"])
        assert len(server.requests) == 5
        fetch.fetch("open-ms", tmp_path, mirror=server.url, sources=sources,
                    show_progress=False, log=lambda *a: None)
        assert len(server.requests) == 15 and (folder / fetch.COMPLETE).exists()
    # A run of two modalities fetches their files and the label maps only.
    with Server(files) as server:
        fetch.fetch("open-ms", tmp_path / "two", mirror=server.url, sources=sources,
                    show_progress=False, log=lambda *a: None, subjects=["patient07"],
                    patterns=["FLAIR_*.nii.gz", "T2_*.nii.gz", "GOLD_STANDARD_*.nii.gz"])
        assert sorted(path.split("/")[-1].split("_")[0] for path, _ in server.requests) == [
            "FLAIR", "GOLD", "T2"]
    with pytest.raises(fetch.FetchError, match="open-ms has no subject patient99; it has "
                                               "patient07"):
        fetch.fetch("open-ms", tmp_path / "x", sources=sources, subjects=["patient99"])


@pytest.mark.skipif(not SHARED_OPEN_MS.exists(), reason="../shared/data/open_ms is not beside the checkout")
def test_open_ms_free_space_is_checked_before_the_first_request(tmp_path, monkeypatch):
    import shutil as shutil_module
    from collections import namedtuple
    files, sources = open_ms_served()
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil_module, "disk_usage", lambda path: usage(10**9, 10**9, 20_000_000))
    with Server(files) as server:
        with pytest.raises(fetch.FetchError, match=r"15 files of open-ms need up to 75.0 MB, "
                                                   r"but .* has 20.0 MB free"):
            fetch.fetch("open-ms", tmp_path, mirror=server.url, sources=sources,
                        show_progress=False, log=lambda *a: None)
        assert server.requests == []
        # With the estimate passed, a file larger than the free space is refused on its
        # announced size (Content-Length), before its body is written.
        small = replace(sources["open-ms"], files=sources["open-ms"].files[:3], bytes_per_file=1)
        smallest = min(len(files[f"cross_sectional/MNI/{r.path}"]) for r in small.files)
        monkeypatch.setattr(shutil_module, "disk_usage",
                            lambda path: usage(10**9, 10**9, smallest - 1))
        with pytest.raises(fetch.FetchError, match="needs .* more, but .* free"):
            fetch.fetch("open-ms", tmp_path, mirror=server.url, sources={"open-ms": small},
                        show_progress=False, log=lambda *a: None)
        assert len(server.requests) == 1
        assert not any((tmp_path / "open_ms").rglob("*.nii.gz*"))


def test_the_fetch_command_names_itself_and_its_options():
    import subprocess
    import sys
    repository = Path(__file__).resolve().parents[1]
    finished = subprocess.run([sys.executable, "-m", "data.fetch", "--help"], cwd=repository,
                              capture_output=True, text=True, timeout=60)
    assert finished.stdout.startswith("usage: python -m data.fetch")
    assert "--subjects" in finished.stdout
    assert "--data-dir" not in " ".join(s.manual for s in fetch.SOURCES.values()).replace(
        "reproduce/ scripts as --data-dir", "")
    refused = subprocess.run([sys.executable, "-m", "data.fetch", "msd-brats", "--subjects", "a"],
                             cwd=repository, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "downloaded whole" in refused.stderr


def test_an_empty_selection_or_a_file_as_data_root_is_one_error_line(tmp_path):
    """Nothing is requested: both fail before any download (no server is needed)."""
    import subprocess
    import sys
    repository = Path(__file__).resolve().parents[1]
    empty = subprocess.run([sys.executable, "-m", "data.fetch", "open-ms", "--subjects", ",",
                            "--data-root", str(tmp_path / "root")], cwd=repository,
                           capture_output=True, text=True, timeout=60)
    assert empty.returncode == 2 and "--subjects ',' names no subject" in empty.stderr
    assert "ready" not in empty.stdout and not (tmp_path / "root").exists()
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    for root in (a_file, a_file / "below"):
        refused = subprocess.run([sys.executable, "-m", "data.fetch", "open-ms", "--data-root",
                                  str(root)], cwd=repository, capture_output=True, text=True,
                                 timeout=60)
        assert refused.returncode != 0 and "Traceback" not in refused.stderr
        last = refused.stderr.strip().splitlines()[-1]
        assert last == (f"error: the data root {root} cannot be a folder: {a_file} is a file; "
                        "give --data-root a folder")
    assert a_file.read_text() == "not a folder"
