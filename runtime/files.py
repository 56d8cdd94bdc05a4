"""Files written atomically, and file checksums — one way each for the whole project."""
import contextlib
import hashlib
import os
import re
import shutil
from pathlib import Path

CHECKSUMS = ("md5", "sha256", "git-blob-sha1")


class Checksum:
    """md5, sha256 or git-blob-sha1 (SHA-1 of ``b"blob <size>\\0" + content``), fed in
    blocks. git-blob-sha1 needs the size first; ``start(size)`` gives it."""

    def __init__(self, algorithm):
        if algorithm not in CHECKSUMS:
            raise ValueError(f"unknown checksum algorithm {algorithm!r}")
        self.algorithm = algorithm
        self.digest = hashlib.sha1() if algorithm == "git-blob-sha1" else hashlib.new(algorithm)

    def start(self, size):
        if self.algorithm == "git-blob-sha1":
            self.digest.update(b"blob %d\0" % size)

    def update(self, block):
        self.digest.update(block)

    def hexdigest(self):
        return self.digest.hexdigest()


def checksum_of_file(path, algorithm="sha256", chunk=1 << 20):
    checksum = Checksum(algorithm)
    checksum.start(os.path.getsize(path))
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            checksum.update(block)
    return checksum.hexdigest()


TEMPORARY = re.compile(r"\.tmp(\d+)((?:\.[A-Za-z0-9]+)*)$")


def temporary_name(path):
    """Where ``atomic_path`` writes before the rename: beside the target, named by process,
    ``<name>.tmp<PID><suffixes>`` (``scan.nii.gz`` → ``scan.nii.gz.tmp123.nii.gz``), so that
    libraries that choose a format by the suffix (nibabel) write the right one. The one
    convention for every temporary file of the project: ``remove_stale_temporaries``
    knows it."""
    path = Path(path)
    return path.with_name(f"{path.name}.tmp{os.getpid()}{''.join(path.suffixes)}")


def remove_stale_temporaries(folder, recursive=False):
    """Deletes what ``atomic_path`` left in ``folder`` (and below it, ``recursive``) when
    its process was killed: every ``temporary_name`` whose process is gone (another live
    process's are kept). Returns the paths removed."""
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for path in sorted((folder.rglob if recursive else folder.glob)("*.tmp*")):
        match = TEMPORARY.search(path.name)
        if match is None or _process_alive(int(match.group(1))):
            continue
        _remove(path)
        removed.append(path)
    return removed


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _remove(path):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


@contextlib.contextmanager
def atomic_path(path, replace_existing=True):
    """Yields a temporary path beside ``path`` to write a file or a folder into; renames
    it into place when the block ends, so a killed process never leaves half a result
    under the real name. On an error the temporary is removed. A folder that exists at
    ``path`` is replaced when ``replace_existing`` (else kept, and the new one dropped)."""
    path = Path(path)
    temporary = temporary_name(path)
    _remove(temporary)
    try:
        yield temporary
    except BaseException:
        _remove(temporary)
        raise
    if path.is_dir() and not path.is_symlink():
        if not replace_existing:
            _remove(temporary)
            return
        shutil.rmtree(path)
    try:
        os.replace(temporary, path)
    except OSError:
        # Another process (a shard started at the same moment) put its folder there
        # first: keep it unless asked to replace it.
        if replace_existing or not path.is_dir():
            raise
        _remove(temporary)


def atomic_write_text(path, text):
    with atomic_path(path) as temporary:
        temporary.write_text(text)


def atomic_write_csv(path, header, rows):
    """A CSV file written atomically: ``header`` (column names) and ``rows`` (sequences in
    the header's order, or dicts; a dict's keys outside the header are ignored)."""
    import csv
    with atomic_path(path) as temporary:
        with open(temporary, "w", newline="") as handle:
            if rows and isinstance(rows[0], dict):
                writer = csv.DictWriter(handle, header, extrasaction="ignore")
                writer.writeheader()
            else:
                writer = csv.writer(handle)
                writer.writerow(header)
            writer.writerows(rows)


class FileHashes:
    """SHA-256 of input files, each hashed once and remembered in a JSON memo by its path,
    size, modification time, change time and inode. The change time (ctime) is set by the
    system on every write and cannot be set back by ``touch`` or ``cp -p``, so a file
    rewritten with its old size and mtime is hashed again: what is keyed by these hashes
    (the prepared-volume cache, run.json) always describes the bytes that were read.
    ``save()`` writes the memo (atomically); without ``memo_path`` nothing is written."""

    def __init__(self, memo_path=None):
        self.memo_path = Path(memo_path) if memo_path else None
        self.known = {}
        if self.memo_path and self.memo_path.is_file():
            try:
                import json
                self.known = dict(json.loads(self.memo_path.read_text()))
            except (OSError, ValueError, TypeError):
                self.known = {}  # a damaged memo only costs hashing again
        self.changed = False

    @staticmethod
    def _stamp(status):
        return [status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino]

    def sha256(self, path):
        resolved = str(Path(path).resolve())
        stamp = self._stamp(os.stat(resolved))
        entry = self.known.get(resolved)
        if isinstance(entry, dict) and entry.get("stamp") == stamp and entry.get("sha256"):
            return entry["sha256"]
        digest = checksum_of_file(resolved, "sha256")
        self.known[resolved] = {"stamp": stamp, "sha256": digest}
        self.changed = True
        return digest

    def restamp(self, path, digest):
        """Remembers ``digest`` for the file as it is now, after a change of its times
        alone (``os.utime``) that left its verified bytes as they were."""
        resolved = str(Path(path).resolve())
        self.known[resolved] = {"stamp": self._stamp(os.stat(resolved)), "sha256": digest}
        self.changed = True

    def save(self):
        if self.memo_path and self.changed:
            import json
            self.memo_path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.memo_path, json.dumps(self.known, indent=0, sort_keys=True))
            self.changed = False
