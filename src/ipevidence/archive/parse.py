"""One RIPE Atlas archive file (bzip2 JSON, or plain JSON) to a :class:`DaySnapshot`.

The whole file is decoded in one msgspec pass into small structs that name only the fields the
method needs (``tags``, ``description`` and other unknown fields are skipped without being built)
and leave their values untyped; each column is then built with one comprehension that checks
types (a JSON string latitude, a list where an object is expected, a boolean ASN: that field is
missing for that record and counted as ``wrongtype_<field>``) and vectorised numpy checks. Only
when an element of the record list is not an object at all is the file decoded again record by
record (``dropped_not_object``).

A bzip2 file of several blocks is decompressed on two threads by default
(:mod:`ipevidence.archive.bz2par`), with exactly the output and errors of the sequential path.

A file that cannot be read whole (truncated bzip2, not JSON, an HTML page, no ``objects``) raises
:class:`~ipevidence.errors.ArchiveCorruptError` carrying the file's SHA-256.

What lives where: this module reads the file (:func:`read_day_file`, bounded) and decompresses
it (:func:`parse_day`); :mod:`ipevidence.archive.decode` decodes the JSON text (whole, in pieces
or record by record, within the record and memory bounds, repairing bad UTF-8 and lone
surrogate escapes); :mod:`ipevidence.archive.columns` turns the decoded records into the
snapshot's numpy columns. Every name is still importable from here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from ..errors import ArchiveCorruptError
from ..provenance import ArchiveDay, sha256_file
from . import bz2par
from .bz2par import DEFAULT_MAX_DECOMPRESSED, bunzip, default_threads
from .columns import _ASN_MAX as _ASN_MAX
from .columns import _INT32_MAX as _INT32_MAX
from .columns import _NAN as _NAN
from .columns import _STATUS_EXACT as _STATUS_EXACT
from .columns import _ZERO4 as _ZERO4
from .columns import _ZERO16 as _ZERO16
from .columns import COUNT_KEYS, STATUS_NAMES, status_code
from .columns import _addresses as _addresses
from .columns import _asns as _asns
from .columns import _column_arrays as _column_arrays
from .columns import _Columns as _Columns
from .columns import _columns as _columns
from .columns import _coordinates as _coordinates
from .columns import _countries as _countries
from .columns import _country_slow as _country_slow
from .columns import _Counts as _Counts
from .columns import _floats as _floats
from .columns import _ids as _ids
from .columns import _Rec as _Rec
from .columns import _snapshot as _snapshot
from .columns import _statuses as _statuses
from .decode import _BYTES_PER_VALUE as _BYTES_PER_VALUE
from .decode import _CUT_TRIES as _CUT_TRIES
from .decode import _DECODER as _DECODER
from .decode import _ESCAPE_RE as _ESCAPE_RE
from .decode import _ESCAPED_BYTE_RE as _ESCAPED_BYTE_RE
from .decode import _FIRST_KEY_RE as _FIRST_KEY_RE
from .decode import _HEAD_LIMIT as _HEAD_LIMIT
from .decode import _HEAD_RE as _HEAD_RE
from .decode import _JSON_WS as _JSON_WS
from .decode import _LIST_DECODER as _LIST_DECODER
from .decode import _RAW_DECODER as _RAW_DECODER
from .decode import _REC_DECODER as _REC_DECODER
from .decode import _REC_LOOSE_DECODER as _REC_LOOSE_DECODER
from .decode import _REPAIR_STEP as _REPAIR_STEP
from .decode import _REPLACEMENT_ESCAPE as _REPLACEMENT_ESCAPE
from .decode import _TOO_DEEP as _TOO_DEEP
from .decode import DEFAULT_MAX_DECODE_MEMORY, DEFAULT_MAX_RECORDS
from .decode import PIECE_BYTES as PIECE_BYTES
from .decode import _check_budget as _check_budget
from .decode import _check_records as _check_records
from .decode import _cut_after as _cut_after
from .decode import _decode as _decode
from .decode import _decode_cost as _decode_cost
from .decode import _decode_in_pieces as _decode_in_pieces
from .decode import _decode_text as _decode_text
from .decode import _describe_bad_json as _describe_bad_json
from .decode import _last_non_ws as _last_non_ws
from .decode import _loose_record as _loose_record
from .decode import _Malformed as _Malformed
from .decode import _RawTop as _RawTop
from .decode import _repair_text as _repair_text
from .decode import _repair_utf8 as _repair_utf8
from .decode import _Top as _Top
from .snapshot import SNAPSHOT_COLUMNS as SNAPSHOT_COLUMNS
from .snapshot import DaySnapshot
from .snapshot import ProbeStatus as ProbeStatus

__all__ = [
    "COUNT_KEYS",
    "DEFAULT_MAX_DECODE_MEMORY",
    "DEFAULT_MAX_DECOMPRESSED",
    "DEFAULT_MAX_RECORDS",
    "PARSER_VERSION",
    "STATUS_NAMES",
    "bunzip",
    "day_from_name",
    "parse_day",
    "read_day_file",
    "status_code",
]

#: bump whenever the columns produced for the same file could change (invalidates the parsed cache)
PARSER_VERSION: Final = 1

_BZ_MAGIC: Final = b"BZh"

_DAY_RE: Final = re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})(?!\d)")


def day_from_name(name: str) -> dt.date:
    """The day of an archive file name such as ``20220121.json.bz2`` (last YYYYMMDD in the name)."""
    found = _DAY_RE.findall(os.path.basename(name))
    for y, m, d in reversed(found):
        try:
            return dt.date(int(y), int(m), int(d))
        except ValueError:
            continue
    raise ValueError(f"no YYYYMMDD date in file name {name!r}: pass day= explicitly")


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a day's objects are built: they hold no cycles, and
    its generation scans over the hundreds of thousands of new objects cost as much as building
    them. Left as found (a caller that disabled it keeps it disabled)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def read_day_file(path: str | os.PathLike[str], max_decompressed: int = DEFAULT_MAX_DECOMPRESSED) -> bytes:
    """The bytes of an archive file, refusing (:class:`ArchiveCorruptError`, with the file's
    SHA-256) before reading it whole a file larger than any day within the caps could be: a plain
    JSON file larger than ``max_decompressed``, a bzip2 file larger than ``max_decompressed``
    plus 1 % (bzip2 never expands its input by more than about 0.5 %)."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        head = fh.read(3)
        limit = max_decompressed + max_decompressed // 100 + 1024 if head == _BZ_MAGIC else max_decompressed
        if size > limit:
            name = Path(os.fspath(path)).name
            raise ArchiveCorruptError(
                f"{size:,} bytes, larger than any day within max_decompressed={max_decompressed:,} "
                "(limit max_decompressed)",
                path=name,
                day=_day_or_none(name),
                sha256=sha256_file(path),
            )
        fh.seek(0)
        raw = fh.read(limit + 1)  # never more, even if the file grows while it is read
    if len(raw) > limit:
        name = Path(os.fspath(path)).name
        raise ArchiveCorruptError(
            f"grew past {limit:,} bytes while it was read (limit max_decompressed)",
            path=name,
            day=_day_or_none(name),
        )
    return raw


def _day_or_none(name: str) -> dt.date | None:
    try:
        return day_from_name(name)
    except ValueError:
        return None


def parse_day(
    data: bytes | str | os.PathLike[str],
    day: dt.date | None = None,
    *,
    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
    max_records: int = DEFAULT_MAX_RECORDS,
    max_decode_memory: int = DEFAULT_MAX_DECODE_MEMORY,
    threads: int | None = None,
) -> DaySnapshot:
    """Read one archive day (bzip2 JSON, or plain JSON when the bytes are not bzip2).

    ``data`` is the file's path or its raw bytes. The day defaults to the YYYYMMDD in the file
    name (required for bytes). Raises :class:`ArchiveCorruptError` (with the SHA-256 of the raw
    file) for anything that cannot be read whole; bad individual fields are counted instead.
    ``threads`` (default: 2 where the machine has 2 cores, else 1) decompress a file of several
    bzip2 blocks block by block in parallel (:mod:`ipevidence.archive.bz2par`; same output and
    errors as the sequential path, which is used for 1 thread, single-block files and anything
    irregular). Multi-day runs (:func:`~ipevidence.archive.iter_days`) pass ``threads=1``: their
    parallelism is one process per day.

    Bounds (each exceeded one makes the day corrupt, with the limit named in the reason): at
    most ``max_decompressed`` bytes of JSON (default 256 MiB; checked as the output grows), at
    most ``max_records`` records (default 1,000,000), and a whole-text decode only when it cannot
    take more than ``max_decode_memory`` (default 512 MiB, estimated from the text before
    decoding). A real day (2024) is about 1 MB of bzip2, 20 MB of JSON and 30,000 records.
    """
    name: str | None = None
    path: str | None = None
    if isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
    else:
        path = os.fspath(data)
        name = Path(path).name
        raw = read_day_file(path, max_decompressed)
    if day is None:
        if name is None:
            raise ValueError("parse_day(bytes) needs day=")
        day = day_from_name(name)
    return _parse_raw(
        raw,
        day,
        name=name,
        path=path,
        sha=hashlib.sha256(raw).hexdigest(),
        max_decompressed=max_decompressed,
        max_records=max_records,
        max_decode_memory=max_decode_memory,
        threads=threads,
    )


def _parse_raw(
    raw: bytes,
    day: dt.date,
    *,
    name: str | None,
    path: str | None,
    sha: str,
    max_decompressed: int,
    max_records: int,
    max_decode_memory: int,
    threads: int | None,
) -> DaySnapshot:
    """:func:`parse_day` of the raw bytes of a file whose SHA-256 (``sha``) the caller has
    already computed (a pool worker hashes the file once, to look it up in the parsed-day cache);
    ``name`` and ``path`` go into the snapshot's source and into errors."""

    def fail(reason: str) -> ArchiveCorruptError:
        return ArchiveCorruptError(reason, path=path, day=day, sha256=sha)

    if raw.startswith(_BZ_MAGIC):
        n_threads = default_threads() if threads is None else max(1, int(threads))
        try:
            if n_threads > 1:
                text = bz2par.decompress(raw, threads=n_threads, max_decompressed=max_decompressed)
            else:
                text = bunzip(raw, max_decompressed)
        except ValueError as exc:
            raise fail(str(exc)) from None
        except MemoryError:
            raise fail(_OUT_OF_MEMORY) from None
        del raw
    else:
        text = raw
        if len(text) > max_decompressed:
            raise fail(f"larger than {max_decompressed} bytes (limit max_decompressed)")
    source = ArchiveDay(day=day, status="ok", name=name, sha256=sha)
    try:
        with _gc_paused():
            return _decode(text, day, source, fail, max_records, max_decode_memory)
    except MemoryError:
        # a last resort below the stated bounds (a process limit lower than they assume): the
        # day is corrupt for this run, and the verdict is not cached (it names a limit)
        raise fail(_OUT_OF_MEMORY) from None


_OUT_OF_MEMORY: Final = (
    "ran out of memory while reading this day, within the stated bounds (limit of this process's "
    "memory: lower max_decompressed, max_records or max_decode_memory, or allow more memory)"
)
