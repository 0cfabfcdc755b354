"""Downloads cached by URL and verified by sha256.

Cache layout: <cache_dir>/<first 16 hex digits of sha256(url)>/<file name of the URL>, beside it
`download.json` = {"url", "sha256", "size"} recorded when the download finished. Keying by the
URL (not the file name) keeps two URLs that end in the same name apart. A cached file is
re-hashed on every use and must still match what was recorded, and the checksum the caller
expects when one is given; a file without its record (a download cut short between the two
renames) is fetched again. Nothing is ever left under the final name before it is verified.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from pointrend.utils.output_files import (
    OutputWriteError,
    describe_write_failure,
    write_text_atomically,
)

RECORD_FILE = "download.json"
URL_KEY_DIGITS = 16
CHUNK_BYTES = 1 << 20
URL_SCHEMES = ("http", "https", "file")


class DownloadError(ValueError):
    """A download failed, or a downloaded / cached file does not have the expected checksum."""


def is_url(path_or_url: str) -> bool:
    return urllib.parse.urlparse(path_or_url).scheme in URL_SCHEMES


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_sha256(path: str | os.PathLike, expected: str, hint: str = "") -> None:
    """DownloadError unless the file's sha256 is `expected` (hex, any case)."""
    actual = file_sha256(path)
    if actual != expected.lower():
        raise DownloadError(
            f"sha256 mismatch for {path}: got {actual}, expected {expected}"
            + (f"; {hint}" if hint else "")
        )


def cache_entry(url: str, cache_dir: str | os.PathLike) -> Path:
    """The cache folder of `url`."""
    key = hashlib.sha256(url.encode("utf-8")).hexdigest()[:URL_KEY_DIGITS]
    return Path(cache_dir) / key


def cached_download(url: str, cache_dir: str | os.PathLike, sha256: str | None = None) -> Path:
    """The local copy of `url`, downloaded into `cache_dir` on first use and verified (against
    `sha256` when given, and against the checksum recorded at download) on every use."""
    entry = cache_entry(url, cache_dir)
    name = os.path.basename(urllib.parse.urlparse(url).path) or "download"
    target = entry / name
    record = _read_record(entry)
    if target.is_file() and record is not None:
        _verify_cached(url, target, record, sha256, entry)
        return target
    return _download(url, entry, target, sha256)


def _read_record(entry: Path) -> dict | None:
    try:
        record = json.loads((entry / RECORD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("sha256"), str) else None


def _verify_cached(url: str, target: Path, record: dict, sha256: str | None, entry: Path) -> None:
    way_out = f"delete {entry} to download it again"
    if record.get("url") != url:
        raise DownloadError(
            f"the cache folder {entry} holds {record.get('url')}, not {url}: {way_out}"
        )
    actual = file_sha256(target)
    if actual != record["sha256"]:
        raise DownloadError(
            f"sha256 mismatch for {target}: the cached download of {url} changed since it was "
            f"downloaded (recorded {record['sha256']}, now {actual}); {way_out}"
        )
    if sha256 is not None and actual != sha256.lower():
        raise DownloadError(
            f"sha256 mismatch for {target} (downloaded from {url}): got {actual}, "
            f"expected {sha256}; {way_out}"
        )


def _download(url: str, entry: Path, target: Path, sha256: str | None) -> Path:
    entry.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    handle, partial = tempfile.mkstemp(dir=entry, prefix=f".{target.name}.", suffix=".part")
    try:
        try:
            with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url) as response:
                for chunk in iter(lambda: response.read(CHUNK_BYTES), b""):
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
        except (OSError, ValueError) as error:
            raise DownloadError(_failure(url, entry, target, error)) from error
        if sha256 is not None and digest.hexdigest() != sha256.lower():
            raise DownloadError(
                f"sha256 mismatch for {url}: got {digest.hexdigest()}, "
                f"expected {sha256}; the download was discarded"
            )
        record = {"url": url, "sha256": digest.hexdigest(), "size": size}
        try:
            (entry / RECORD_FILE).unlink(missing_ok=True)
            os.replace(partial, target)
            write_text_atomically(entry / RECORD_FILE, json.dumps(record, indent=2) + "\n")
        except OSError as error:
            raise DownloadError(_failure(url, entry, target, error)) from error
        except OutputWriteError as error:
            raise DownloadError(f"{error} (downloading {url})") from error
    finally:
        with contextlib.suppress(OSError):
            os.remove(partial)
    return target


def _failure(url: str, entry: Path, target: Path, error: Exception) -> str:
    """Why a download failed: the local write (disk full...) or the source (not found...)."""
    if isinstance(error, OSError) and not isinstance(error, urllib.error.URLError) and error.errno:
        return f"{describe_write_failure(error, target.name, entry)} (downloading {url})"
    reason = getattr(error, "reason", None) or error
    return f"cannot download {url}: {reason}"
