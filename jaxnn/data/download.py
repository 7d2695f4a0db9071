"""Downloading data files: mirrors, SHA-256 verification, atomic writes, a cache folder.

A file is fetched from the first mirror that answers with the right bytes: it streams into a
temporary file beside its destination, its SHA-256 is checked, and only then is it renamed into
place. An interrupted or corrupt download therefore never leaves a partial file under the real
name. The cache folder is ``$JAXNN_DATA`` or ``~/.cache/jaxnn``.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

__all__ = ["cache_dir", "fetch", "sha256_of"]

_CHUNK = 1 << 16


def cache_dir(directory: str | os.PathLike | None = None) -> Path:
    """The data cache folder: ``directory``, else ``$JAXNN_DATA``, else ``~/.cache/jaxnn``.

    Example:
        >>> cache_dir("/tmp/data").as_posix()
        '/tmp/data'
    """
    if directory is not None:
        return Path(directory)
    return Path(os.environ.get("JAXNN_DATA") or Path.home() / ".cache" / "jaxnn")


def sha256_of(path: str | os.PathLike) -> str:
    """The SHA-256 hex digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _progress(total: int | None, desc: str):  # pragma: no cover - depends on a terminal
    if not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, file=sys.stderr, leave=False)


def _download(url: str, destination: Path, sha256: str, timeout: float) -> None:
    """Streams ``url`` to a temp file, checks its digest, renames it to ``destination``."""
    fd, tmp = tempfile.mkstemp(
        prefix=f".{destination.name}.", suffix=".part", dir=destination.parent
    )
    try:
        digest = hashlib.sha256()
        with urllib.request.urlopen(url, timeout=timeout) as response, os.fdopen(fd, "wb") as out:
            length = response.headers.get("Content-Length")
            bar = _progress(int(length) if length else None, destination.name)
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                digest.update(chunk)
                if bar is not None:
                    bar.update(len(chunk))
            if bar is not None:
                bar.close()
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha256:
            raise ValueError(f"SHA-256 {digest.hexdigest()} does not match the expected {sha256}")
        os.replace(tmp, destination)
    finally:
        Path(tmp).unlink(missing_ok=True)


def fetch(
    filename: str,
    *,
    sha256: str,
    mirrors: Sequence[str],
    directory: str | os.PathLike,
    timeout: float = 30.0,
) -> Path:
    """Returns ``directory/filename``, downloading and verifying it first if it is missing.

    A cached file whose digest is wrong is downloaded again.

    Args:
        filename: The file's name on the mirrors and in the cache.
        sha256: Its expected SHA-256 hex digest.
        mirrors: Base URLs tried in order (``mirror + filename``).
        directory: The cache folder for this data set (created if missing).
        timeout: Seconds to wait for each connection (default 30).

    Returns:
        The path of the verified file.

    Raises:
        OSError: If no mirror gives the file; the message lists each mirror's failure and says
            where to put the file by hand.
    """
    directory = Path(directory)
    path = directory / filename
    if path.is_file() and sha256_of(path) == sha256:
        return path
    directory.mkdir(parents=True, exist_ok=True)
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + filename
        try:
            _download(url, path, sha256, timeout)
            return path
        except (urllib.error.URLError, OSError, ValueError, TimeoutError) as error:
            failures.append(f"{url}: {error}")
    raise OSError(
        f"Could not download {filename}: "
        + "; ".join(failures)
        + f". If this machine is offline, copy {filename} (SHA-256 {sha256}) into {directory}."
    )
