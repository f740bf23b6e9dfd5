"""Verified downloads: stream a URL to ``*.part`` beside the target, check length and sha256,
then rename into place. A file whose hash does not match is deleted, never kept.

Every ``urllib`` / ``http.client`` / socket error is translated here into :class:`ModelError`
naming the URL.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from aios.agent.errors import ModelError

DOWNLOAD_TIMEOUT_S = 30.0
BLOCK = 1 << 16


def download_verified(url: str, target: Path, sha256: str, *, progress: bool = True) -> Path:
    """Download ``url`` to ``target`` if its sha256 is ``sha256``; atomic (``*.part``, rename).

    Raises :class:`ModelError` on a network or HTTP error, a short read, or a hash mismatch;
    no partial file is left behind in any case."""
    expected = sha256.strip().lower()
    if len(expected) != 64 or any(c not in "0123456789abcdef" for c in expected):
        raise ModelError(f"expected sha256 for {url} is not 64 hex digits: {sha256!r}")
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with (
            os.fdopen(fd, "wb") as out,
            urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response,
        ):
            total = int(response.headers.get("Content-Length") or 0) or None
            received = 0
            with _progress(progress) as bar:
                task = bar.add_task(target.name, total=total)
                for block in iter(lambda: response.read(BLOCK), b""):
                    out.write(block)
                    digest.update(block)
                    received += len(block)
                    bar.update(task, advance=len(block))
        if total is not None and received != total:
            raise ModelError(
                f"download of {url} failed: truncated, got {received} of {total} bytes"
            )
        found = digest.hexdigest()
        if found != expected:
            raise ModelError(
                f"download of {url} failed: sha256 mismatch, expected {expected}, got {found} "
                "(the file was deleted)"
            )
        os.replace(tmp, target)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        if isinstance(exc, urllib.error.HTTPError):
            exc.close()  # an HTTP error status keeps its response, and the socket, open
        raise ModelError(f"download of {url} failed: {_reason(exc)}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"{exc.reason} (offline, or the host is unreachable?)"
    if isinstance(exc, http.client.IncompleteRead):
        return f"truncated, the connection closed after {len(exc.partial)} bytes of a block"
    return str(exc) or type(exc).__name__


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=True,
    )
