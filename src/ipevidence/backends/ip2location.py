"""IP2Location BIN databases (DB1 ... DB26, IPv4 and IPv6 BIN), read straight from a memory map.

The layout (as read by the official ``IP2Location`` package):

* a 32-byte little-endian header: DB type, column count, build year - 2000, month, day, IPv4
  row count and 1-based offset, IPv6 row count and 1-based offset, IPv4 and IPv6 index offsets,
  product code, licence code, database size;
* the IPv4 table: ``count`` rows of ``columns * 4`` bytes; a row is ``ip_from`` (uint32) then
  ``columns - 1`` uint32 fields; a range runs from its ``ip_from`` to the next row's ``ip_from``
  minus one, and the last row (``ip_from`` = the last address) only closes the last range, so a
  table of ``count`` rows holds ``count - 1`` ranges; the country field (column 2 in every DB
  type) is the file offset of a Pascal string (length byte + ``country_short``, followed by ``country_long``);
* the IPv6 table: the same with a 16-byte little-endian ``ip_from`` (rows of ``columns * 4 + 12``).

The tables are viewed with :func:`numpy.frombuffer` on an ``mmap`` of the file (no read, no
copy); only the start column (needed contiguous by ``searchsorted``) and a 2-byte country per
range are materialised. The country strings are decoded once per distinct pointer.

Vendor behaviour kept for exactness with the official reader: ``255.255.255.255`` (and the last
IPv6 address) fall in the last range; IPv6 lookups of IPv4-mapped (``::ffff:0:0/96``), 6to4
(``2002::/16``) and Teredo (``2001::/32``) addresses are answered from the IPv4 table, as the
official reader does. ``"-"`` (unallocated/reserved) and any other non-country code are not located.
"""

from __future__ import annotations

import datetime as dt
import mmap
import os
import struct
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ..addresses import IPV4_DTYPE, IPV6_DTYPE
from ..countries import COUNTRY_DTYPE
from ..errors import DatabaseFormatError
from ..provenance import sha256_file
from .ranges import FamilyRanges, RangeTable, TableBackend, clean_countries

__all__ = ["IP2LocationBackend", "ip2location_header_problem", "looks_like_ip2location_bin"]

_HEADER: Final = struct.Struct("<BBBBBIIIIIIBBB")
_MAX_V4: Final = 0xFFFFFFFF
_MAX_V6_BYTES: Final = b"\xff" * 16
_COUNTRY_POSITION: Final = 2  # column 2 in every DB type (DB1 .. DB26)
_MAX_DB_TYPE: Final = 26


class _Header:
    __slots__ = (
        "columns",
        "date",
        "db_type",
        "license_code",
        "product_code",
        "v4_addr",
        "v4_count",
        "v4_index",
        "v6_addr",
        "v6_count",
        "v6_index",
    )

    def __init__(self, buf: bytes | mmap.mmap, size: int) -> None:
        if size < 64:
            raise DatabaseFormatError(f"too short for an IP2Location BIN file ({size} bytes)")
        (
            self.db_type,
            self.columns,
            year,
            month,
            day,
            self.v4_count,
            self.v4_addr,
            self.v6_count,
            self.v6_addr,
            self.v4_index,
            self.v6_index,
            self.product_code,
            self.license_code,
            _size,
        ) = _HEADER.unpack(bytes(buf[: _HEADER.size]))
        if not 1 <= self.db_type <= _MAX_DB_TYPE:
            raise DatabaseFormatError(f"not an IP2Location BIN file: DB type {self.db_type} is not 1..26")
        if self.columns < _COUNTRY_POSITION:
            raise DatabaseFormatError(f"IP2Location BIN header: {self.columns} columns, need at least 2")
        # the official reader's check: newer files carry product code 1 (IP2Location)
        if self.product_code not in (0, 1) and year > 20:
            raise DatabaseFormatError(
                f"not an IP2Location geolocation BIN file (product code {self.product_code}); "
                "IP2Proxy and other products are not country databases"
            )
        try:
            self.date = dt.date(2000 + year, month, day)
        except ValueError:
            raise DatabaseFormatError(
                f"IP2Location BIN header: invalid build date bytes {year}/{month}/{day}"
            ) from None
        if self.v4_count == 0 and self.v6_count == 0:
            raise DatabaseFormatError("IP2Location BIN header: no IPv4 and no IPv6 rows")
        for fam, count, addr, width in (
            (4, self.v4_count, self.v4_addr, self.columns * 4),
            (6, self.v6_count, self.v6_addr, self.columns * 4 + 12),
        ):
            if count == 0:
                continue
            # ``count`` rows, the last of which only closes the last range (its ip_from is its end)
            need = addr - 1 + (count - 1) * width + (4 if fam == 4 else 16)
            if count < 2 or addr < 1 or need > size:
                raise DatabaseFormatError(
                    f"IP2Location BIN header: the IPv{fam} table ({count} rows at offset {addr}) "
                    f"runs past the end of the file ({size} bytes)"
                )


def ip2location_header_problem(head: bytes, size: int) -> str | None:
    """Why the first bytes, which name a valid DB type, column count and build date, do not make
    a readable IP2Location BIN file of ``size`` bytes (a truncated file: its tables run past the
    end); None when they are not an IP2Location header at all, or a readable one."""
    if len(head) < _HEADER.size:
        return None
    db_type, columns, year, month, day = head[0], head[1], head[2], head[3], head[4]
    if not 1 <= db_type <= _MAX_DB_TYPE or columns < _COUNTRY_POSITION or not 1 <= month <= 12:
        return None
    try:
        dt.date(2000 + year, month, day)
    except ValueError:
        return None
    try:
        _Header(head, max(size, 64))
    except DatabaseFormatError as exc:
        return str(exc) if size >= 64 else f"too short for an IP2Location BIN file ({size} bytes)"
    return None


def looks_like_ip2location_bin(head: bytes, size: int) -> bool:
    """True when the first bytes parse as a plausible IP2Location BIN header."""
    try:
        _Header(head, size)
    except DatabaseFormatError:
        return False
    return True


class IP2LocationBackend(TableBackend):
    """An IP2Location BIN database (any DB type, IPv4 and/or IPv6 tables), country column only.

    ``IP2LocationBackend(path)`` memory-maps the file; ``IP2LocationBackend.from_buffer(data, ...)``
    reads a buffer already in memory (for a gzip-compressed file, see
    :func:`~ipevidence.backends.open_database`).
    """

    kind: Final = "ip2location-bin"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        p = Path(path)
        self._setup(_map(p), name=p.name, sha256=sha256_file(p), note="")

    @classmethod
    def from_mapped_file(
        cls, path: str | os.PathLike[str], *, name: str, sha256: str, note: str = ""
    ) -> IP2LocationBackend:
        """Memory-map ``path`` but record ``name``/``sha256``/``note`` as the provenance (used for a
        decompressed copy of a ``.gz`` file)."""
        self = cls.__new__(cls)
        self._setup(_map(Path(path)), name=name, sha256=sha256, note=note)
        return self

    @classmethod
    def from_buffer(cls, data: bytes, *, name: str, sha256: str, note: str = "") -> IP2LocationBackend:
        """A backend over an in-memory copy of a BIN file; ``name``/``sha256`` are for provenance."""
        self = cls.__new__(cls)
        self._setup(data, name=name, sha256=sha256, note=note)
        return self

    def _setup(self, buf: mmap.mmap | bytes, *, name: str, sha256: str, note: str) -> None:
        self._buffer = buf
        size = len(buf)
        try:
            header = _Header(buf, size)
        except DatabaseFormatError as exc:
            raise DatabaseFormatError(f"{name}: {exc}") from None
        self.header = header
        raw = np.frombuffer(buf, dtype=np.uint8)  # a view on the mmap: nothing is read yet
        bad: dict[str, int] = {}
        v4 = v6 = None
        if header.v4_count:
            v4 = self._table_v4(raw, header, bad, name)
        if header.v6_count:
            v6 = self._table_v6(raw, header, bad, name)
        self._table = RangeTable(v4=v4, v6=v6)
        self._build_date = header.date
        self.nonstandard_codes = dict(sorted(bad.items()))
        desc = f"IP2Location BIN DB{header.db_type} ({header.columns} columns, {self._families_label})"
        self._info = self._table_info(self.kind, name, sha256, header.date, desc, note)

    # -- tables ---------------------------------------------------------------------------------

    def _countries(
        self, raw: npt.NDArray[np.uint8], pointers: npt.NDArray[np.uint32], bad: dict[str, int], name: str
    ) -> npt.NDArray[np.bytes_]:
        """Decode the country strings once per distinct pointer and spread them over the ranges."""
        uniq = np.unique(pointers)  # a few hundred distinct strings
        inverse = np.searchsorted(uniq, pointers).astype(np.uint16 if len(uniq) < 65536 else np.intp)
        codes: list[bytes] = []
        for ptr in uniq.tolist():
            if ptr + 1 > len(raw):
                raise DatabaseFormatError(f"{name}: country pointer {ptr} lies outside the file")
            n = int(raw[ptr])
            if ptr + 1 + n > len(raw):
                raise DatabaseFormatError(f"{name}: country string at {ptr} runs past the end of the file")
            codes.append(raw[ptr + 1 : ptr + 1 + n].tobytes())
        # vendor codes per distinct string; "-" and other non-countries become not located
        clean, _ = clean_countries(np.array(codes, dtype=np.bytes_) if codes else np.zeros(0, "S1"))
        per_range = clean[inverse]
        counts = np.bincount(inverse, minlength=len(uniq))
        for i in np.flatnonzero(clean == b"").tolist():
            key = codes[i].decode("latin-1").strip().upper() or "<missing>"
            bad[key] = bad.get(key, 0) + int(counts[i])
        return np.asarray(per_range, dtype=COUNTRY_DTYPE)

    def _table_v4(
        self, raw: npt.NDArray[np.uint8], h: _Header, bad: dict[str, int], name: str
    ) -> FamilyRanges:
        width = h.columns * 4
        start = h.v4_addr - 1
        n = h.v4_count - 1  # the last row only closes the last range
        # n rows + the closing row's ip_from, as one strided uint32 view (no copy)
        rows = raw[start : start + n * width].view("<u4").reshape(n, h.columns)
        starts = rows[:, 0].astype(IPV4_DTYPE)  # contiguous copy: searchsorted needs it
        closing = int(raw[start + n * width : start + n * width + 4].view("<u4")[0])
        if n > 1 and not bool(np.all(starts[:-1] < starts[1:])):
            raise DatabaseFormatError(f"{name}: IPv4 table is not sorted by ip_from")
        if closing <= int(starts[-1]):
            raise DatabaseFormatError(f"{name}: IPv4 table's closing row does not end the last range")
        ends = np.empty(n, dtype=IPV4_DTYPE)
        np.subtract(starts[1:], 1, out=ends[:-1])
        # the official reader looks 255.255.255.255 up as .254, so it falls in the last range
        ends[-1] = _MAX_V4 if closing == _MAX_V4 else closing - 1
        countries = self._countries(raw, np.ascontiguousarray(rows[:, _COUNTRY_POSITION - 1]), bad, name)
        return FamilyRanges(4, starts, ends, countries, validate=False)

    def _table_v6(
        self, raw: npt.NDArray[np.uint8], h: _Header, bad: dict[str, int], name: str
    ) -> FamilyRanges:
        width = h.columns * 4 + 12
        start = h.v6_addr - 1
        n = h.v6_count - 1  # the last row only closes the last range
        block = raw[start : start + n * width].reshape(n, width)
        # 16-byte little-endian ip_from -> network-order S16 (byte reversal: one copy)
        starts = np.ascontiguousarray(block[:, 15::-1]).view(IPV6_DTYPE).reshape(n)
        closing = raw[start + n * width : start + n * width + 16][::-1].tobytes()
        if n > 1 and not bool(np.all(starts[:-1] < starts[1:])):
            raise DatabaseFormatError(f"{name}: IPv6 table is not sorted by ip_from")
        last_start = starts[-1:].tobytes()
        if closing <= last_start:
            raise DatabaseFormatError(f"{name}: IPv6 table's closing row does not end the last range")
        next_starts = np.concatenate([starts[1:], np.frombuffer(closing, dtype=IPV6_DTYPE)])
        ends = _s16_predecessor(next_starts)
        if closing == _MAX_V6_BYTES:
            ends[-1] = np.frombuffer(_MAX_V6_BYTES, dtype=IPV6_DTYPE)[0]
        ptr_off = 16 + 4 * (_COUNTRY_POSITION - 2)
        pointers = np.ascontiguousarray(block[:, ptr_off : ptr_off + 4]).view("<u4").reshape(n)
        countries = self._countries(raw, pointers.astype(np.uint32), bad, name)
        return FamilyRanges(6, starts, ends, countries, validate=False)

    # -- IPv6 lookups answered by the IPv4 table, as the official reader does -------------------

    def _lookup_v6(self, column: npt.NDArray[np.bytes_]) -> npt.NDArray[np.bytes_]:
        table6 = self._table.family(6)
        out = table6.lookup(column)
        if 4 not in self._table.families or not len(column):
            return out
        words = np.frombuffer(np.ascontiguousarray(column).tobytes(), dtype=">u4").reshape(-1, 4)
        mapped = (words[:, 0] == 0) & (words[:, 1] == 0) & (words[:, 2] == 0xFFFF)
        six_to_four = (words[:, 0] >> 16) == 0x2002
        teredo = words[:, 0] == 0x20010000
        v4 = np.zeros(len(column), dtype=IPV4_DTYPE)
        v4[mapped] = words[mapped, 3]
        # 6to4: the IPv4 address is bits 80..111 (ipnum >> 80, mod 2**32)
        v4[six_to_four] = ((words[six_to_four, 0] & 0xFFFF) << 16) | (words[six_to_four, 1] >> 16)
        v4[teredo] = ~words[teredo, 3]  # Teredo: the client address, bit-inverted
        sel = mapped | six_to_four | teredo
        if sel.any():
            out[sel] = self._table.family(4).lookup(v4[sel])
        return out


def _map(p: Path) -> mmap.mmap:
    try:
        with open(p, "rb") as f:
            if os.fstat(f.fileno()).st_size == 0:
                raise DatabaseFormatError(f"{p.name}: empty file, not an IP2Location BIN database")
            return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as exc:
        raise DatabaseFormatError(f"{p}: cannot open: {exc}") from exc


def _s16_predecessor(col: npt.NDArray[np.bytes_]) -> npt.NDArray[np.bytes_]:
    """value - 1 of an S16 column (wrapping), vectorised on two big-endian uint64 halves."""
    halves = np.frombuffer(np.ascontiguousarray(col).tobytes(), dtype=">u8").reshape(-1, 2).astype(np.uint64)
    hi, lo = halves[:, 0].copy(), halves[:, 1].copy()
    borrow = lo == 0
    lo -= np.uint64(1)
    hi -= borrow.astype(np.uint64)
    out = np.empty((len(col), 2), dtype=">u8")
    out[:, 0], out[:, 1] = hi, lo
    res: npt.NDArray[Any] = out.reshape(-1).view(IPV6_DTYPE)
    return res
