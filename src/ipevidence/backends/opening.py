"""Open any supported database by its content, never by its file name.

Detection order on the (decompressed) bytes: gzip magic ``1f 8b`` (decompressed, then detected
again), the MaxMind DB metadata marker ``\\xab\\xcd\\xefMaxMind.com`` near the end, a plausible
IP2Location BIN header, a CSV range table. Anything else raises
:class:`~ipevidence.errors.DatabaseFormatError`.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import os
import warnings
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Final

from .._cachefiles import CacheWarning, clean_stale, writable_dir
from .._io import atomic_write_bytes
from ..errors import DatabaseFormatError
from ..provenance import sha256_file
from .base import GeoBackend
from .csvranges import CsvRangeBackend, looks_like_range_csv
from .ip2location import IP2LocationBackend, ip2location_header_problem, looks_like_ip2location_bin

if TYPE_CHECKING:
    from .mmdb import CountryField

__all__ = ["detect_kind", "open_database"]

_GZIP_MAGIC: Final = b"\x1f\x8b"
_MMDB_MARKER: Final = b"\xab\xcd\xefMaxMind.com"
_MAX_GZIP_RATIO: Final = 200  # refuse "gzip bombs" (country databases compress ~2-4x)


def detect_kind(data: bytes) -> str:
    """``"mmdb"``, ``"ip2location-bin"`` or ``"csv-ranges"`` from a file's (uncompressed) bytes."""
    return _kind(data[:8192], data[-128 * 1024 :], len(data))


def _kind(head: bytes, tail: bytes, size: int) -> str:
    if tail.rfind(_MMDB_MARKER) != -1:
        return "mmdb"
    if looks_like_ip2location_bin(head[:64], size):
        return "ip2location-bin"
    if looks_like_range_csv(head[:8192]):
        return "csv-ranges"
    problem = ip2location_header_problem(head[:64], size)
    if problem is not None:  # an IP2Location header whose tables do not fit: say why
        raise DatabaseFormatError(f"an IP2Location BIN file that cannot be read: {problem}")
    raise DatabaseFormatError(
        "not a geolocation database this library reads: no MaxMind DB metadata, no IP2Location "
        "BIN header and not a CSV range table"
    )


def _gunzip(raw: bytes, name: str) -> bytes:
    """The content of a gzip file of exactly one member; a bomb (more than 200x), a truncated
    file, a second member (concatenated files) or trailing bytes are refused: a database is one
    file, and silently reading only its first part (or ignoring what follows) could change it."""
    try:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out = d.decompress(raw, max(len(raw) * _MAX_GZIP_RATIO, 1 << 20))
        if d.unconsumed_tail:
            raise DatabaseFormatError(f"{name}: gzip content expands more than {_MAX_GZIP_RATIO}x; refused")
        if not d.eof:
            raise DatabaseFormatError(f"{name}: truncated gzip file")
    except (zlib.error, EOFError, gzip.BadGzipFile) as exc:
        raise DatabaseFormatError(f"{name}: corrupt gzip file: {exc}") from None
    rest = d.unused_data
    if rest.startswith(_GZIP_MAGIC):
        raise DatabaseFormatError(
            f"{name}: a second gzip member after the first (concatenated files?); refused: a database "
            "is one file"
        )
    if rest:
        raise DatabaseFormatError(f"{name}: {len(rest):,} bytes of trailing garbage after the gzip data")
    return out


def open_database(
    path: str | os.PathLike[str],
    *,
    country_field: CountryField = "country",
    cache_dir: str | os.PathLike[str] | None = None,
    build_date: dt.date | None = None,
) -> GeoBackend:
    """Open an IP2Location BIN, a MaxMind DB or a CSV range table, chosen by content.

    A gzip-compressed file is decompressed to memory, or, with ``cache_dir``, once to
    ``cache_dir/<sha256 of the .gz>-<name>`` (atomically) and memory-mapped from there; the
    provenance names the file as given (its base name and SHA-256) and records the decompressed
    content's SHA-256 in the description. ``country_field`` applies to MaxMind DB files,
    ``cache_dir`` also holds their flattened tables, ``build_date`` is for CSV range tables
    (which have none of their own).
    """
    p = Path(path)
    try:
        with open(p, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(8192)
            f.seek(max(0, size - 128 * 1024))
            tail = f.read()
    except OSError as exc:
        raise DatabaseFormatError(f"{p}: cannot open: {exc}") from exc
    name = p.name
    sha = sha256_file(p)
    if head[:2] != _GZIP_MAGIC:
        try:
            kind = _kind(head, tail, size)
        except DatabaseFormatError as exc:
            raise DatabaseFormatError(f"{name}: {exc}") from None
        if kind == "ip2location-bin":
            return IP2LocationBackend.from_mapped_file(p, name=name, sha256=sha)
        data = p.read_bytes()
        if kind == "mmdb":
            from .mmdb import MMDBBackend  # maxminddb is imported only for a MaxMind file

            return MMDBBackend.from_buffer(
                data, name=name, sha256=sha, country_field=country_field, cache_dir=cache_dir
            )
        return CsvRangeBackend.from_buffer(data, name=name, sha256=sha, build_date=build_date)

    cached: Path | None = None
    if cache_dir is not None:
        cached = Path(cache_dir) / f"{sha}-{name.removesuffix('.gz').removesuffix('.GZ')}"
        if not cached.is_file():
            problem = writable_dir(cache_dir)
            if problem is None:
                clean_stale([cache_dir])
                atomic_write_bytes(cached, _gunzip(p.read_bytes(), name), make_parents=True)
            else:  # the cache is optional: decompress to memory instead
                warnings.warn(
                    f"database cache {cache_dir} cannot be written ({problem}); going on without it",
                    CacheWarning,
                    stacklevel=2,
                )
                cached = None
    data = _gunzip(p.read_bytes(), name) if cached is None else cached.read_bytes()
    note = f"gzip-compressed; decompressed content SHA-256 {hashlib.sha256(data).hexdigest()}"
    kind = _detect(data, name)
    if kind == "ip2location-bin":
        if cached is not None:
            del data
            return IP2LocationBackend.from_mapped_file(cached, name=name, sha256=sha, note=note)
        return IP2LocationBackend.from_buffer(data, name=name, sha256=sha, note=note)
    if kind == "mmdb":
        from .mmdb import MMDBBackend

        return MMDBBackend.from_buffer(
            data, name=name, sha256=sha, note=note, country_field=country_field, cache_dir=cache_dir
        )
    return CsvRangeBackend.from_buffer(data, name=name, sha256=sha, note=note, build_date=build_date)


def _detect(data: bytes, name: str) -> str:
    try:
        return detect_kind(data)
    except DatabaseFormatError as exc:
        raise DatabaseFormatError(f"{name}: {exc}") from None
