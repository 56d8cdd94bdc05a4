"""Public datasets by name: downloaded once, verified, safely extracted, reused.

    python -m data.fetch msd-brats --data-root /scratch/data   # e.g. on a login node
    python -m data.fetch open-ms

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
import sys
import copy
import tarfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from runtime.files import Checksum, atomic_path, checksum_of_file

from .download import FetchError, download

__all__ = ["SOURCES", "Source", "RemoteFile", "FetchError", "Checksum", "checksum_of_file",
           "download", "fetch", "folder_of", "locate", "extract", "default_data_root"]

DATA_ROOT_VARIABLE = "CROSS_MODALITY_DATA"
MANIFEST = Path(__file__).with_name("open_ms_manifest.tsv")
COMPLETE = ".complete"


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
        manual="download Task01_BrainTumour.tar from http://medicaldecathlon.com/ and pass "
               "the .tar (or its extracted folder) as --data-dir"),
    "open-ms": Source(
        name="open-ms", folder="open_ms",
        base_urls=("https://raw.githubusercontent.com/muschellij2/open_ms_data/"
                   "65704901f60650824565aa5a4818611aa89716f4/",),
        files=open_ms_files(),
        licence="CC-BY (Lesjak et al., Neuroinformatics 2017)",
        manual="clone https://github.com/muschellij2/open_ms_data and pass "
               "cross_sectional/MNI as --data-dir"),
}


def default_data_root():
    return Path(os.environ.get(DATA_ROOT_VARIABLE) or Path.home() / ".cache" / "cross_modality")


# -- extraction -----------------------------------------------------------------------------
def safe_members(archive, keep):
    """The archive's regular files under ``keep``, without ``._*``, absolute or ``..`` paths."""
    for member in archive:
        name = member.name
        path = PurePosixPath(name)
        if not member.isfile() or name.startswith("/") or ".." in path.parts:
            continue
        if path.name.startswith("._"):
            continue
        normalized = "/".join(part for part in path.parts if part != ".")
        if any(normalized == k or (k.endswith("/") and normalized.startswith(k)) for k in keep):
            yield member, normalized


def extract(archive_path, root, keep, folder):
    """Extracts the kept members into ROOT/FOLDER through a temporary folder, with
    tarfile's "data" filter (no links out of the folder, no devices, safe permissions)
    on top of our own choice of members."""
    root = Path(root)
    count = 0
    with atomic_path(root / folder) as temporary:
        try:
            with tarfile.open(archive_path) as archive:
                for member, name in safe_members(archive, keep):
                    relative = PurePosixPath(name).relative_to(folder) \
                        if PurePosixPath(name).parts[0] == folder else PurePosixPath(name)
                    member = copy.copy(member)
                    member.name = str(relative)
                    archive.extract(member, temporary, filter="data")
                    count += 1
        except (tarfile.TarError, OSError) as error:
            raise FetchError(f"{archive_path}: cannot be extracted ({error})") from None
        if count == 0:
            raise FetchError(f"{archive_path}: no member under {', '.join(keep)}")
        (temporary / COMPLETE).write_text(json.dumps({"archive": str(archive_path),
                                                      "files": count}))
    return root / folder


# -- datasets -------------------------------------------------------------------------------
def fetch(name, data_root=None, mirror=None, log=print, show_progress=True, sources=SOURCES,
          retries=3, backoff=2.0):
    """The dataset's folder under the data root, downloaded and extracted if needed."""
    if name not in sources:
        raise FetchError(f"unknown dataset {name!r}; choose from {', '.join(sources)}")
    source = sources[name]
    root = Path(data_root) if data_root else default_data_root()
    final = root / source.folder
    if (final / COMPLETE).exists():
        return final
    base_urls = (mirror if mirror.endswith("/") else mirror + "/",) if mirror else source.base_urls
    log(f"fetching {name} ({source.licence}) into {root}")
    try:
        if source.archive is not None:
            archive = root / source.archive.path
            if not archive.exists():
                _from_any(base_urls, source.archive, archive, show_progress, retries, backoff)
            log(f"extracting {archive.name}")
            extract(archive, root, source.keep, source.folder)
        else:
            for index, remote in enumerate(source.files):
                target = final / remote.path
                if not target.exists():
                    if show_progress:
                        log(f"[{index + 1}/{len(source.files)}] {remote.path}")
                    _from_any(base_urls, remote, target, show_progress, retries, backoff)
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


def locate(name, data_dir=None, data_root=None, mirror=None, log=print, sources=SOURCES):
    """The folder to read a named dataset from (``folder_of``), after fetching it or
    extracting a given MSD ``.tar`` into the data root once, where needed."""
    source = sources[name]
    if data_dir is None:
        return fetch(name, data_root, mirror, log, sources=sources)
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=sorted(SOURCES))
    parser.add_argument("--data-root", type=Path, help=f"where datasets go (default "
                        f"${DATA_ROOT_VARIABLE}, else ~/.cache/cross_modality)")
    parser.add_argument("--mirror", help="base URL of another copy with the same paths and "
                        "checksums")
    args = parser.parse_args(argv)
    try:
        folder = fetch(args.name, args.data_root, args.mirror)
    except FetchError as error:
        raise SystemExit(f"error: {error}") from None
    print(f"{args.name} is ready in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
