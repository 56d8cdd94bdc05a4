"""Downloading one file: streamed into ``NAME.part``, resumed with an HTTP Range request
where the server honours it (and started over where it does not), retried a bounded
number of times with a progress line (bytes, rate, ETA), and checked against a checksum
computed while streaming — the algorithm named explicitly — before the file is renamed
into place."""
import http.client
import os
import shutil
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from runtime.console import format_bytes, format_seconds
from runtime.files import Checksum, checksum_of_file
from runtime.errors import ProjectError


class FetchError(ProjectError, RuntimeError):
    """A download or extraction that failed; the message says what to do instead."""


# -- downloading ----------------------------------------------------------------------------
class Progress:
    """bytes, rate and ETA on one line of the standard error stream, at most twice a second."""

    def __init__(self, label, total, already=0, stream=sys.stderr):
        self.label, self.total, self.done, self.stream = label, total, already, stream
        self.started, self.start_bytes, self.shown = time.monotonic(), already, 0.0

    def update(self, count):
        self.done += count
        now = time.monotonic()
        if now - self.shown >= 0.5:
            self.shown = now
            self.show(now)

    def show(self, now=None, end="\r"):
        elapsed = max((now or time.monotonic()) - self.started, 1e-6)
        rate = (self.done - self.start_bytes) / elapsed
        total = f" / {format_bytes(self.total)}" if self.total else ""
        eta = (f", ETA {format_seconds((self.total - self.done) / rate)}"
               if self.total and rate > 0 else "")
        self.stream.write(f"  {self.label}: {format_bytes(self.done)}{total} at "
                          f"{format_bytes(rate)}/s{eta}   {end}")
        self.stream.flush()

    def close(self):
        self.show(end="\n")


def download(url, destination, algorithm, expected, size=None, retries=3, timeout=60,
             show_progress=True, backoff=2.0):
    """Streams ``url`` to ``destination`` via ``destination.part``; verified, then renamed.

    Resumes a ``.part`` left by an earlier call with a Range request; a server that
    answers 200 instead of 206 sends the whole file, and the download starts over.
    Attempts are ``backoff``, 2·``backoff``, … seconds apart.
    Raises FetchError after ``retries`` failed attempts or on a checksum mismatch (the
    ``.part`` is deleted then: nothing that looks complete is left)."""
    destination = Path(destination)
    partial = destination.with_name(destination.name + ".part")
    destination.parent.mkdir(parents=True, exist_ok=True)
    if size:
        check_free_space(partial, size - (partial.stat().st_size if partial.exists() else 0))
    last_error = None
    for attempt in range(1, retries + 1):
        try:
            received = _attempt(url, partial, algorithm, timeout, show_progress,
                                destination.name)
            break
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            if isinstance(error, urllib.error.HTTPError) and error.code in (403, 404, 410):
                raise FetchError(f"{url}: HTTP {error.code} {error.reason}") from None
            last_error = error
            if attempt < retries:
                time.sleep(min(backoff * 2 ** (attempt - 1), 60))
    else:
        raise FetchError(f"could not download {url} after {retries} attempts "
                         f"({_reason(last_error)})")
    if received is None:  # the size was not known before the content (no Content-Length)
        received = checksum_of_file(partial, algorithm)
    if received != expected:
        partial.unlink(missing_ok=True)
        raise FetchError(f"{destination.name}: {algorithm} checksum mismatch: expected "
                         f"{expected}, received {received} (from {url}); the partial file was "
                         "deleted, run again to download it afresh")
    os.replace(partial, destination)
    return destination


def check_free_space(partial, needed):
    """Refuses a download that the disk cannot hold, before a byte is written."""
    free = shutil.disk_usage(partial.parent).free
    if needed > free:
        raise FetchError(f"{partial.name.removesuffix('.part')} needs {format_bytes(needed)} "
                         f"more, but {partial.parent} has {format_bytes(free)} free")


def _attempt(url, partial, algorithm, timeout, show_progress, label):
    """One request; appends to (resumes) or rewrites ``partial``. Returns the checksum of
    the whole file, fed while streaming (the resumed part first), or None when the size
    that a git-blob checksum needs first was not announced."""
    have = partial.stat().st_size if partial.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and have:  # the .part is already whole: verify it
            return None
        raise
    with response:
        resumed = bool(have) and response.status == 206
        length = response.headers.get("Content-Length")
        total = (have if resumed else 0) + int(length) if length is not None else None
        if length is not None:  # the size is known now, if it was not before
            check_free_space(partial, int(length))
        checksum = Checksum(algorithm)
        if total is None and algorithm == "git-blob-sha1":
            checksum = None
        elif total is not None:
            checksum.start(total)
        if resumed and checksum:
            with open(partial, "rb") as handle:
                while block := handle.read(1 << 20):
                    checksum.update(block)
        progress = Progress(label, total, have if resumed else 0) if show_progress else None
        # 200 to a Range request: the server sends the whole file, so start over.
        with open(partial, "ab" if resumed else "wb") as handle:
            while block := response.read(1 << 20):
                handle.write(block)
                if checksum:
                    checksum.update(block)
                if progress:
                    progress.update(len(block))
        if progress:
            progress.close()
        if total is not None and partial.stat().st_size < total:
            raise ConnectionError(f"connection closed after {partial.stat().st_size} of "
                                  f"{total} bytes")
    return checksum.hexdigest() if checksum else None


def _reason(error):
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)
    return str(error)
