"""Country range tables in CSV: the IP2Location LITE CSV layout and a generic start,end,country.

Accepted rows (comma separated, fields optionally double-quoted, extra columns ignored):

* IP2Location LITE CSV: ``"ip_from","ip_to","country_code","country_name"`` with decimal
  addresses. In the IPv6 files (``...-IPV6.CSV``) every address is a 128-bit decimal and IPv4 is
  the ``::ffff:0:0/96`` block, which also becomes this backend's IPv4 table;
* generic: ``start,end,country`` with dotted IPv4, IPv6 text or decimal addresses, ends inclusive.

A file whose decimal addresses all fit in 32 bits is IPv4; one with any larger decimal is the
IPv6 layout (all its decimal addresses are 128-bit). Text addresses give their own family per row.
An optional first row naming the columns (``ip_from,ip_to,...`` or ``start,end,country``) is
skipped, and so are blank lines and lines starting with ``#``.

A CSV file has no build date of its own. It must be given, either as ``build_date=`` or in a
header comment ``# build_date: YYYY-MM-DD`` among the file's leading ``#`` lines; when both are
present they must agree. The file's modification time is never used.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import ipaddress
import os
import re
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from ..addresses import IPV4_DTYPE, IPV6_DTYPE
from ..errors import DatabaseFormatError
from ..provenance import sha256_file
from .ranges import FamilyRanges, RangeTable, TableBackend, clean_countries

__all__ = ["CsvRangeBackend", "looks_like_range_csv"]

_DATE_COMMENT: Final = re.compile(r"^#\s*build[_ -]?date\s*[:=]\s*(\S+)\s*$", re.IGNORECASE)
_HEADER_WORDS: Final = ("ip_from", "ip_to", "start", "end", "from", "to", "first", "last", "network")
_V4_MAPPED: Final = 0xFFFF_0000_0000
_MAX_V4: Final = 0xFFFFFFFF


def looks_like_range_csv(head: bytes) -> bool:
    """True when the first bytes look like a CSV range table (text, commas, an address-like row)."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = head[:-3].decode("utf-8", "ignore") if len(head) > 3 else ""
        if not text:
            return False
    if "\x00" in text:
        return False
    for line in text.splitlines()[:50]:
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        fields = [f.strip().strip('"') for f in s.split(",")]
        if len(fields) < 3:
            return False
        if fields[0].lower() in _HEADER_WORDS:
            continue
        return _parse_text(fields[0]) is not None or fields[0].isdigit()
    return False


def _parse_text(field: str) -> tuple[int, int] | None:
    """(family, value) of a dotted or colon address, None if it is not one."""
    if ":" in field or "." in field:
        try:
            a = ipaddress.ip_address(field)
        except ValueError:
            return None
        return a.version, int(a)
    return None


class CsvRangeBackend(TableBackend):
    """A country range table read from CSV (see the module documentation for the layouts).

    ``build_date``: the database's date (required unless the file states it in a
    ``# build_date: YYYY-MM-DD`` comment). Malformed rows raise
    :class:`~ipevidence.errors.DatabaseFormatError` naming the line; non-country codes (``"-"``)
    become not located and are tallied in :attr:`nonstandard_codes`.
    """

    kind: Final = "csv-ranges"

    def __init__(self, path: str | os.PathLike[str], *, build_date: dt.date | None = None) -> None:
        p = Path(path)
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise DatabaseFormatError(f"{p}: cannot read: {exc}") from exc
        self._setup(data, name=p.name, sha256=sha256_file(p), note="", build_date=build_date)

    @classmethod
    def from_buffer(
        cls, data: bytes, *, name: str, sha256: str, note: str = "", build_date: dt.date | None = None
    ) -> CsvRangeBackend:
        """A backend over CSV bytes already in memory; ``name``/``sha256`` are for provenance."""
        self = cls.__new__(cls)
        self._setup(data, name=name, sha256=sha256, note=note, build_date=build_date)
        return self

    def _setup(self, data: bytes, *, name: str, sha256: str, note: str, build_date: dt.date | None) -> None:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise DatabaseFormatError(f"{name}: not a UTF-8 text file, so not a CSV range table") from None
        stated = _stated_date(text, name)
        if build_date is not None and stated is not None and build_date != stated:
            raise DatabaseFormatError(
                f"{name}: build_date={build_date.isoformat()} disagrees with the file's own "
                f"'# build_date: {stated.isoformat()}'"
            )
        date = build_date if build_date is not None else stated
        if date is None:
            raise DatabaseFormatError(
                f"{name}: a CSV range table has no build date of its own: pass build_date=... "
                "or put '# build_date: YYYY-MM-DD' at the top of the file"
            )
        if isinstance(date, dt.datetime):
            date = date.date()
        self._build_date = date
        self._table, bad, layout = _parse(text, name)
        self.nonstandard_codes = bad
        desc = f"CSV range table ({layout}; {self._families_label})"
        self._info = self._table_info(self.kind, name, sha256, date, desc, note)


def _stated_date(text: str, name: str) -> dt.date | None:
    for line in text.splitlines():
        s = line.strip()
        if not s:
            continue
        if not s.startswith("#"):
            break
        m = _DATE_COMMENT.match(s)
        if m:
            try:
                return dt.date.fromisoformat(m.group(1))
            except ValueError:
                raise DatabaseFormatError(
                    f"{name}: '# build_date:' comment is not YYYY-MM-DD: {s!r}"
                ) from None
    return None


def _parse(text: str, name: str) -> tuple[RangeTable, dict[str, int], str]:
    rows: list[tuple[int, str, str, str]] = []  # (line number, start, end, country)
    reader = csv.reader(io.StringIO(text))
    first = True
    for fields in reader:
        line = reader.line_num
        if not fields or not "".join(fields).strip() or fields[0].lstrip().startswith("#"):
            continue
        if len(fields) < 3:
            raise DatabaseFormatError(f"{name}, line {line}: expected start,end,country, got {fields!r}")
        f0 = fields[0].strip()
        if first and f0.lower() in _HEADER_WORDS:
            first = False
            continue
        first = False
        rows.append((line, f0, fields[1].strip(), fields[2].strip()))
    if not rows:
        raise DatabaseFormatError(f"{name}: no ranges in the CSV file")
    decimal = [r[1].isdigit() and r[2].isdigit() for r in rows]
    big = any(d and (len(r[2]) > 10 or int(r[2]) > _MAX_V4) for d, r in zip(decimal, rows, strict=True))
    fam: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    codes: list[str] = []
    for (line, a, b, c), dec in zip(rows, decimal, strict=True):
        if dec:
            f, s, e = (6 if big else 4), int(a), int(b)
        else:
            pa, pb = _parse_text(a), _parse_text(b)
            if pa is None or pb is None:
                raise DatabaseFormatError(f"{name}, line {line}: {a!r} .. {b!r} is not an address range")
            if pa[0] != pb[0]:
                raise DatabaseFormatError(f"{name}, line {line}: range mixes IPv4 and IPv6 ({a} .. {b})")
            f, s, e = pa[0], pa[1], pb[1]
        limit = _MAX_V4 if f == 4 else (1 << 128) - 1
        if e > limit or s > e:
            raise DatabaseFormatError(f"{name}, line {line}: invalid range {a} .. {b}")
        fam.append(f)
        starts.append(s)
        ends.append(e)
        codes.append(c)
    countries, bad = clean_countries(np.array([c.encode("ascii", "replace") for c in codes], dtype=np.bytes_))
    fam_arr = np.array(fam, dtype=np.int8)
    parts: dict[int, FamilyRanges] = {}
    if (fam_arr == 4).any():
        sel = np.flatnonzero(fam_arr == 4)
        parts[4] = _family(4, [starts[i] for i in sel], [ends[i] for i in sel], countries[sel], name)
    if (fam_arr == 6).any():
        sel = np.flatnonzero(fam_arr == 6)
        parts[6] = _family(6, [starts[i] for i in sel], [ends[i] for i in sel], countries[sel], name)
        if big and 4 not in parts:
            # IP2Location's IPv6 layout: IPv4 lives in ::ffff:0:0/96
            lo, hi = _V4_MAPPED, _V4_MAPPED + _MAX_V4
            pick = [i for i in sel if starts[i] <= hi and ends[i] >= lo]
            if pick:
                parts[4] = _family(
                    4,
                    [max(starts[i], lo) - lo for i in pick],
                    [min(ends[i], hi) - lo for i in pick],
                    countries[np.array(pick, dtype=np.intp)],
                    name,
                )
    layout = "decimal 128-bit (IP2Location IPv6 layout)" if big else ("decimal" if all(decimal) else "text")
    return RangeTable(v4=parts.get(4), v6=parts.get(6)), bad, layout


def _family(
    family: int, starts: list[int], ends: list[int], countries: npt.NDArray[np.bytes_], name: str
) -> FamilyRanges:
    if family == 4:
        s: npt.NDArray[np.generic] = np.array(starts, dtype=IPV4_DTYPE)
        e: npt.NDArray[np.generic] = np.array(ends, dtype=IPV4_DTYPE)
    else:
        s = np.frombuffer(b"".join(v.to_bytes(16, "big") for v in starts), dtype=IPV6_DTYPE)
        e = np.frombuffer(b"".join(v.to_bytes(16, "big") for v in ends), dtype=IPV6_DTYPE)
    order = np.argsort(s, kind="stable")
    try:
        return FamilyRanges(family, s[order], e[order], countries[order], validate=True)
    except DatabaseFormatError as exc:
        raise DatabaseFormatError(f"{name}: {exc}") from None
