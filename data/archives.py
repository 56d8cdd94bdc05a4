"""Extracting a downloaded archive safely: only the members asked for, never a link out
of the folder, a device, an absolute path, a ``..`` member or a macOS ``._*`` file, into
a temporary folder renamed into place when complete (``fetch.py`` uses it)."""
import copy
import json
import tarfile
from pathlib import Path, PurePosixPath

from runtime.files import atomic_path

from .download import FetchError

COMPLETE = ".complete"  # written last into a dataset folder that is whole


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
