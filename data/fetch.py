"""Public datasets by name: downloaded once, verified, safely extracted, reused.

    python -m data.fetch msd-brats --data-root /scratch/data   # e.g. on a login node
    python -m data.fetch open-ms
    python -m data.fetch open-ms --subjects patient07,patient19,patient26   # 15 files

- ``msd-brats``: the Medical Segmentation Decathlon's Task01_BrainTumour (BraTS 2016/17
  training cases; 484 labelled subjects, 4 modalities; CC-BY-SA 4.0), one 7.6 GB tar.
- ``open-ms``: 30 MS patients of muschellij2/open_ms_data (Lesjak et al., CC-BY), FLAIR,
  T1, T1 post-contrast, T2 and a consensus lesion mask each, 150 files.

Downloads stream into ``NAME.part``, resume with an HTTP Range request where the server
honours it (and start over where it does not), retry a bounded number of times, show
bytes, rate and ETA, and check the checksum (algorithm named: md5 for the tar, git-blob
SHA-1 per open_ms file) before the file is renamed into place. The tar's members are
extracted only from ``dataset.json``, ``imagesTr/`` and ``labelsTr/``, never a ``._*``
file, an absolute path or a ``..`` member, into a temporary folder that is renamed into
place when complete. The data root is ``--data-root``, else ``$CROSS_MODALITY_DATA``,
else ``~/.cache/cross_modality``.
"""
import argparse
import json
import os
import shutil
import tarfile
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath

from runtime.console import format_bytes, run_script, say
from runtime.files import Checksum, checksum_of_file

from .archives import COMPLETE, extract
from .download import FetchError, download

__all__ = ["SOURCES", "Source", "RemoteFile", "FetchError", "Checksum", "checksum_of_file",
           "download", "fetch", "folder_of", "locate", "extract", "default_data_root"]

DATA_ROOT_VARIABLE = "CROSS_MODALITY_DATA"
MANIFEST = Path(__file__).with_name("open_ms_manifest.tsv")


@dataclass(frozen=True)
class RemoteFile:
    path: str  # where it goes, relative to the dataset's folder (or the archive's name)
    url_path: str  # relative to a base URL (a mirror keeps the same paths)
    algorithm: str  # "md5" | "git-blob-sha1"
    checksum: str
    size: int = None


@dataclass(frozen=True)
class Source:
    name: str
    folder: str  # the dataset's folder under the data root
    base_urls: tuple  # tried in order
    files: tuple = ()  # RemoteFile
    archive: RemoteFile = None  # a tar to extract (instead of files)
    keep: tuple = ()  # archive members kept: exact files or folders ending in "/"
    licence: str = ""
    manual: str = ""  # how to download by hand
    extra: dict = field(default_factory=dict)
    # Per-file datasets without sizes in their manifest: a generous bound per file, for
    # the free-space check before downloading.
    bytes_per_file: int = None

    def subject_files(self, subjects=None):
        """The files of the named subjects (their folder is the path's first part), all
        without names; an unknown name is an error that lists the known ones."""
        if subjects is None:
            return self.files
        known = sorted({remote.path.split("/")[0] for remote in self.files})
        unknown = [name for name in subjects if name not in known]
        if unknown:
            raise FetchError(f"{self.name} has no subject {', '.join(unknown)}; it has "
                             f"{', '.join(known[:6])} … {known[-1]} ({len(known)} subjects)")
        return tuple(remote for remote in self.files if remote.path.split("/")[0] in subjects)


def open_ms_files(manifest=MANIFEST):
    """The 150 open_ms files: git blob SHA-1 and repository path, from the manifest."""
    files = []
    for line in manifest.read_text().splitlines()[1:]:
        if not line.strip():
            continue
        checksum, path = line.split("\t")
        parts = PurePosixPath(path).parts  # cross_sectional/MNI/patientNN/file
        files.append(RemoteFile("/".join(parts[-2:]), path, "git-blob-sha1", checksum))
    return tuple(files)


SOURCES = {
    "msd-brats": Source(
        name="msd-brats", folder="Task01_BrainTumour",
        base_urls=("https://msd-for-monai.s3-us-west-2.amazonaws.com/",
                   "https://msd-for-monai-eu.s3-eu-west-2.amazonaws.com/"),
        archive=RemoteFile("Task01_BrainTumour.tar", "Task01_BrainTumour.tar", "md5",
                           "240a19d752f0d9e9101544901065d872", 7_608_266_240),
        keep=("Task01_BrainTumour/dataset.json", "Task01_BrainTumour/imagesTr/",
              "Task01_BrainTumour/labelsTr/"),
        licence="CC-BY-SA 4.0 (Medical Segmentation Decathlon, Antonelli et al. 2022)",
        manual="download Task01_BrainTumour.tar from http://medicaldecathlon.com/ and give "
               "the .tar (or its extracted folder) to the reproduce/ scripts as --data-dir"),
    "open-ms": Source(
        name="open-ms", folder="open_ms",
        base_urls=("https://raw.githubusercontent.com/muschellij2/open_ms_data/"
                   "65704901f60650824565aa5a4818611aa89716f4/",),
        files=open_ms_files(),
        licence="CC-BY (Lesjak et al., Neuroinformatics 2017)",
        manual="clone https://github.com/muschellij2/open_ms_data and give "
               "cross_sectional/MNI to the reproduce/ scripts as --data-dir",
        # The three patients in ../shared/data/open_ms average 3.2 MB per file.
        bytes_per_file=5_000_000),
}


def default_data_root():
    return Path(os.environ.get(DATA_ROOT_VARIABLE) or Path.home() / ".cache" / "cross_modality")


# -- datasets -------------------------------------------------------------------------------
def fetch(name, data_root=None, mirror=None, log=print, show_progress=True, sources=SOURCES,
          retries=3, backoff=2.0, subjects=None, patterns=None):
    """The dataset's folder under the data root, downloaded and extracted if needed.
    ``subjects``: for a per-file dataset, download only these subjects' files;
    ``patterns``: only the files whose names match one of these globs (a run of some
    modalities does not need, nor fail on, the others)."""
    if name not in sources:
        raise FetchError(f"unknown dataset {name!r}; choose from {', '.join(sources)}")
    source = sources[name]
    root = Path(data_root) if data_root else default_data_root()
    _check_data_root(root)
    final = root / source.folder
    if (final / COMPLETE).exists():
        return final
    wanted = source.subject_files(subjects) if source.archive is None else ()
    if patterns:
        wanted = tuple(remote for remote in wanted if any(
            fnmatch(remote.path.rsplit("/", 1)[-1], pattern) for pattern in patterns))
    missing = [remote for remote in wanted if not (final / remote.path).exists()]
    if source.archive is None and not missing:
        return final
    base_urls = (mirror if mirror.endswith("/") else mirror + "/",) if mirror else source.base_urls
    log(f"fetching {name} ({source.licence}) into {root}"
        + (f": {len(missing)} files" if subjects or patterns else "")
        + (f" of {len(subjects)} subjects" if subjects else ""))
    if missing and source.bytes_per_file:
        root.mkdir(parents=True, exist_ok=True)
        needed, free = len(missing) * source.bytes_per_file, shutil.disk_usage(root).free
        if needed > free:
            raise FetchError(f"{len(missing)} files of {name} need up to {format_bytes(needed)}, "
                             f"but {root} has {format_bytes(free)} free")
    try:
        if source.archive is not None:
            archive = root / source.archive.path
            if not archive.exists():
                _from_any(base_urls, source.archive, archive, show_progress, retries, backoff)
            log(f"extracting {archive.name}")
            extract(archive, root, source.keep, source.folder)
        else:
            for index, remote in enumerate(missing):
                if show_progress:
                    log(f"[{index + 1}/{len(missing)}] {remote.path}")
                _from_any(base_urls, remote, final / remote.path, show_progress, retries,
                          backoff)
            if all((final / remote.path).exists() for remote in source.files):
                (final / COMPLETE).write_text(json.dumps({"files": len(source.files)}))
    except FetchError as error:
        raise FetchError(f"{error}. To proceed without this download: {source.manual}") from None
    return final


def _from_any(base_urls, remote, target, show_progress, retries, backoff):
    errors = []
    for base in base_urls:
        try:
            return download(base + remote.url_path, target, remote.algorithm, remote.checksum,
                            size=remote.size, show_progress=show_progress, retries=retries,
                            backoff=backoff)
        except FetchError as error:
            if "checksum mismatch" in str(error):
                raise
            errors.append(str(error))
    raise FetchError("; ".join(errors))


def _check_data_root(root):
    """A data root must be a folder (or not exist yet): a file there is named, not
    tripped over."""
    for place in (root, *root.parents):
        if place.exists():
            if not place.is_dir():
                raise FetchError(f"the data root {root} cannot be a folder: {place} is a file; "
                                 "give --data-root a folder")
            return


def folder_of(name, data_dir=None, data_root=None, sources=SOURCES):
    """Where a named dataset will be read from, without fetching or extracting anything:
    the data root's folder (downloaded, or extracted from a given archive), the dataset
    folder inside a given folder, or the given folder itself."""
    source = sources[name]
    root = Path(data_root) if data_root else default_data_root()
    if data_dir is None or Path(data_dir).is_file():
        return root / source.folder
    data_dir = Path(data_dir)
    if source.archive is not None and not (data_dir / "dataset.json").exists() \
            and (data_dir / source.folder / "dataset.json").exists():
        return data_dir / source.folder
    return data_dir


def locate(name, data_dir=None, data_root=None, mirror=None, log=print, sources=SOURCES,
           subjects=None, patterns=None):
    """The folder to read a named dataset from (``folder_of``), after fetching it (only
    the named ``subjects``' files, for a per-file dataset) or extracting a given MSD
    ``.tar`` into the data root once, where needed."""
    source = sources[name]
    if data_dir is None:
        return fetch(name, data_root, mirror, log, sources=sources, subjects=subjects,
                     patterns=patterns)
    data_dir = Path(data_dir)
    if data_dir.is_file():
        if source.archive is None or not tarfile.is_tarfile(data_dir):
            raise FetchError(f"{data_dir}: not an archive of {name}; give its folder")
        final = folder_of(name, data_dir, data_root, sources)
        if not (final / COMPLETE).exists():
            log(f"extracting {data_dir} into {final.parent}")
            extract(data_dir, final.parent, source.keep, source.folder)
        return final
    return folder_of(name, data_dir, data_root, sources)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m data.fetch",
                                     description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=sorted(SOURCES))
    parser.add_argument("--data-root", type=Path, help=f"where datasets go (default "
                        f"${DATA_ROOT_VARIABLE}, else ~/.cache/cross_modality)")
    parser.add_argument("--mirror", help="base URL of another copy with the same paths and "
                        "checksums")
    parser.add_argument("--subjects", metavar="NAME,NAME,...", help="open-ms: only these "
                        "patients' files (e.g. patient07,patient19)")
    args = parser.parse_args(argv)
    subjects = [n.strip() for n in args.subjects.split(",") if n.strip()] \
        if args.subjects is not None else None
    if subjects == []:
        parser.error(f"--subjects {args.subjects!r} names no subject")
    if subjects and SOURCES[args.name].archive is not None:
        parser.error(f"--subjects: {args.name} is one archive; it is downloaded whole")
    folder = fetch(args.name, args.data_root, args.mirror, subjects=subjects)
    say(f"{args.name} is ready in {folder}")
    return 0


if __name__ == "__main__":
    run_script(main)
