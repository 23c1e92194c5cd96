"""Sorted, non-overlapping address ranges with vectorised country lookup.

Every backend ends up here: a :class:`RangeTable` holds, per address family, three columns of
equal length (``starts``, ``ends`` inclusive, ``countries`` ``S2``) and answers a whole address
column with one :func:`numpy.searchsorted`. Addresses between ranges, and ranges whose country is
:data:`~ipevidence.countries.NOT_LOCATED`, are not located (``b""``).

:class:`TableBackend` is the shared implementation of the :class:`~.base.GeoBackend` protocol on
top of a range table (``lookup``, ``country``, ``families``, ``ranges_for``); the concrete backends
only build the table and say what the file is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from .._util import address_column
from ..addresses import IPV4_DTYPE, IPV6_DTYPE, parse_address
from ..countries import COUNTRY_DTYPE, NOT_LOCATED, known_mask, normalize_country
from ..errors import DatabaseFormatError, FamilyMismatchError, InvalidAddressError
from ..provenance import DatabaseInfo

__all__ = ["FamilyRanges", "RangeTable", "TableBackend", "as_address_column", "clean_countries"]

_DTYPES: Final = {4: IPV4_DTYPE, 6: IPV6_DTYPE}
_CHUNK: Final = 1 << 17  # addresses per searchsorted call in lookup()


def clean_countries(codes: npt.ArrayLike) -> tuple[npt.NDArray[np.bytes_], dict[str, int]]:
    """Upper-case a column of vendor codes; anything not an ISO alpha-2 code becomes ``b""``.

    Returns the ``S2`` column and a tally of the vendor codes that were turned into "not located"
    (``"-"``, ``"ZZ"``, ``"EU"``, ...), so that nothing is dropped silently. Codes longer than two
    characters are never truncated into a valid-looking code: they count as non-country codes.
    """
    raw = np.asarray(codes)
    if raw.dtype.kind == "U":
        raw = np.char.encode(raw, "ascii", "replace") if raw.size else raw.astype("S")
    raw = np.asarray(raw, dtype=np.bytes_) if raw.dtype.kind != "S" else raw
    stripped = np.char.upper(np.char.strip(raw)) if raw.size else raw
    too_long = np.char.str_len(stripped) > 2 if raw.size else np.zeros(0, np.bool_)
    col = np.where(too_long, b"", stripped).astype(COUNTRY_DTYPE)
    ok = known_mask(col) & ~too_long
    bad: dict[str, int] = {}
    if not ok.all():
        vals, counts = np.unique(stripped[~ok], return_counts=True)
        for v, c in zip(vals.tolist(), counts.tolist(), strict=True):
            key = v.decode("ascii", "replace") if v else "<missing>"
            bad[key] = bad.get(key, 0) + int(c)
    col[~ok] = NOT_LOCATED
    return col, bad


def as_address_column(addresses: npt.ArrayLike) -> tuple[int, npt.NDArray[Any]]:
    """(family, column) of an address column: ``uint32`` (or any integer dtype in range) -> 4,
    ``S16`` -> 6. Anything else raises :class:`InvalidAddressError`."""
    arr = np.asarray(addresses)
    if arr.ndim != 1:
        arr = arr.reshape(-1)
    if arr.dtype == IPV4_DTYPE:
        return 4, arr
    if arr.dtype == IPV6_DTYPE:
        return 6, arr
    if arr.dtype.kind in "iu":
        if arr.size and (int(arr.min()) < 0 or int(arr.max()) > 0xFFFFFFFF):
            raise InvalidAddressError("<column>", "integer addresses must lie in 0 .. 2**32-1 (IPv4)")
        return 4, arr.astype(IPV4_DTYPE)
    raise InvalidAddressError(
        f"<column of dtype {arr.dtype}>",
        "an address column must be uint32 (IPv4) or S16 (IPv6, network byte order)",
    )


class FamilyRanges:
    """The ranges of one address family: ``starts`` <= ``ends`` (inclusive), sorted, disjoint."""

    __slots__ = ("countries", "ends", "family", "starts")

    def __init__(
        self,
        family: int,
        starts: npt.NDArray[Any],
        ends: npt.NDArray[Any],
        countries: npt.NDArray[np.bytes_],
        *,
        validate: bool = True,
    ) -> None:
        if family not in _DTYPES:
            raise ValueError(f"family must be 4 or 6, not {family!r}")
        dtype = _DTYPES[family]
        self.family = family
        self.starts = np.ascontiguousarray(starts, dtype=dtype)
        self.ends = np.ascontiguousarray(ends, dtype=dtype)
        self.countries = np.ascontiguousarray(countries, dtype=COUNTRY_DTYPE)
        if validate:
            self._validate()

    def _validate(self) -> None:
        n = len(self.starts)
        if len(self.ends) != n or len(self.countries) != n:
            raise DatabaseFormatError("range columns differ in length")
        if n == 0:
            return
        if not bool(np.all(self.starts <= self.ends)):
            bad = int(np.argmin(self.starts <= self.ends))
            raise DatabaseFormatError(f"IPv{self.family} range {bad} ends before it starts")
        if n > 1 and not bool(np.all(self.ends[:-1] < self.starts[1:])):
            bad = int(np.argmin(self.ends[:-1] < self.starts[1:]))
            raise DatabaseFormatError(
                f"IPv{self.family} ranges {bad} and {bad + 1} overlap or are not sorted by start"
            )

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def nbytes(self) -> int:
        return int(self.starts.nbytes + self.ends.nbytes + self.countries.nbytes)

    def index(self, column: npt.NDArray[Any]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
        """Index of the range holding each address and a mask of addresses inside some range."""
        idx = np.searchsorted(self.starts, column, side="right") - 1
        inside = idx >= 0
        np.maximum(idx, 0, out=idx)
        if len(self.starts) == 0:
            return idx, np.zeros(len(column), np.bool_)
        inside &= column <= self.ends[idx]
        return idx, inside

    def lookup(self, column: npt.NDArray[Any]) -> npt.NDArray[np.bytes_]:
        """Countries of an address column of this family, in chunks so that the temporary index
        arrays stay small (a few MB) however long the column is."""
        out = np.zeros(len(column), COUNTRY_DTYPE)
        if len(self.starts) == 0:
            return out
        for lo in range(0, len(column), _CHUNK):
            part = column[lo : lo + _CHUNK]
            idx, inside = self.index(part)
            out[lo : lo + len(part)] = np.where(inside, self.countries[idx], NOT_LOCATED)
        return out

    def merged(self) -> FamilyRanges:
        """Adjacent ranges (end + 1 == next start) of one country joined; not-located ranges dropped."""
        keep = self.countries != NOT_LOCATED
        s, e, c = self.starts[keep], self.ends[keep], self.countries[keep]
        if len(s) < 2:
            return FamilyRanges(self.family, s, e, c, validate=False)
        if self.family == 4:
            contiguous = e[:-1].astype(np.uint64) + 1 == s[1:].astype(np.uint64)
        else:
            contiguous = _s16_successor(e[:-1]) == s[1:]
        join = contiguous & (c[:-1] == c[1:])
        first = np.concatenate([[True], ~join])
        last = np.concatenate([~join, [True]])
        return FamilyRanges(self.family, s[first], e[last], c[first], validate=False)


def _s16_successor(col: npt.NDArray[np.bytes_]) -> npt.NDArray[np.bytes_]:
    """value + 1 of an S16 column (wrapping), vectorised on two big-endian uint64 halves."""
    halves = np.frombuffer(np.ascontiguousarray(col).tobytes(), dtype=">u8").reshape(-1, 2).astype(np.uint64)
    hi, lo = halves[:, 0].copy(), halves[:, 1].copy()
    lo += np.uint64(1)
    hi += (lo == 0).astype(np.uint64)
    out = np.empty((len(col), 2), dtype=">u8")
    out[:, 0], out[:, 1] = hi, lo
    return out.reshape(-1).view(IPV6_DTYPE) if len(col) else np.zeros(0, IPV6_DTYPE)


class RangeTable:
    """Sorted, non-overlapping ranges per address family with a vectorised lookup.

    ``RangeTable(v4=(starts, ends, countries), v6=(...))``: IPv4 columns ``uint32``, IPv6 ``S16``,
    ends inclusive, countries ``S2`` (``b""`` = not located). Construction checks the ranges are
    sorted and disjoint (:class:`~ipevidence.errors.DatabaseFormatError` otherwise).
    """

    def __init__(
        self,
        v4: FamilyRanges | tuple[npt.ArrayLike, npt.ArrayLike, npt.ArrayLike] | None = None,
        v6: FamilyRanges | tuple[npt.ArrayLike, npt.ArrayLike, npt.ArrayLike] | None = None,
    ) -> None:
        self._fam: dict[int, FamilyRanges] = {}
        for family, part in ((4, v4), (6, v6)):
            if part is None:
                continue
            if isinstance(part, FamilyRanges):
                if part.family != family:
                    raise ValueError(f"IPv{part.family} ranges given as IPv{family}")
                self._fam[family] = part
            else:
                s, e, c = part
                self._fam[family] = FamilyRanges(family, np.asarray(s), np.asarray(e), np.asarray(c))

    @property
    def families(self) -> frozenset[int]:
        return frozenset(self._fam)

    def family(self, family: int) -> FamilyRanges:
        """The ranges of one family; :class:`FamilyMismatchError` if the table lacks it."""
        try:
            return self._fam[family]
        except KeyError:
            have = ", ".join(f"IPv{f}" for f in sorted(self._fam)) or "no family"
            raise FamilyMismatchError(f"the database has no IPv{family} ranges (it covers {have})") from None

    def __len__(self) -> int:
        return sum(len(r) for r in self._fam.values())

    def __repr__(self) -> str:
        parts = ", ".join(f"IPv{f}: {len(r)} ranges" for f, r in sorted(self._fam.items()))
        return f"RangeTable({parts})"

    @property
    def nbytes(self) -> int:
        return sum(r.nbytes for r in self._fam.values())

    def lookup(self, addresses: npt.ArrayLike) -> npt.NDArray[np.bytes_]:
        """Countries (``S2``, ``b""`` = not located) of a ``uint32`` or ``S16`` column."""
        family, col = as_address_column(addresses)
        return self.family(family).lookup(col)

    def ranges_for(self, country: str, family: int = 4) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
        """(starts, ends) of the ranges the database gives to ``country``, adjacent ones joined."""
        code = normalize_country(country).encode("ascii")
        merged = self.family(family).merged()
        sel = merged.countries == code
        return merged.starts[sel].copy(), merged.ends[sel].copy()

    def country_counts(self, family: int = 4) -> dict[str, int]:
        """Number of ranges per country code ("" = not located) of one family."""
        vals, counts = np.unique(self.family(family).countries, return_counts=True)
        return {v.decode("ascii"): int(c) for v, c in zip(vals.tolist(), counts.tolist(), strict=True)}


class TableBackend:
    """Shared :class:`~.base.GeoBackend` implementation over a :class:`RangeTable`.

    Subclasses set ``_table``, ``_build_date``, ``_info`` (a :class:`DatabaseInfo`) and may override
    :meth:`_map_v6` to send some IPv6 addresses to the IPv4 table (IP2Location does that for
    IPv4-mapped, 6to4 and Teredo addresses).
    """

    _table: RangeTable
    _build_date: dt.date
    _info: DatabaseInfo
    #: vendor codes that were turned into "not located", with the number of ranges carrying them
    nonstandard_codes: Mapping[str, int]

    @property
    def table(self) -> RangeTable:
        return self._table

    @property
    def build_date(self) -> dt.date:
        return self._build_date

    @property
    def families(self) -> frozenset[int]:
        return self._table.families

    def describe(self) -> DatabaseInfo:
        return self._info

    @property
    def _families_label(self) -> str:
        """The table's families for a description: ``"IPv4, IPv6"``."""
        return ", ".join(f"IPv{f}" for f in sorted(self._table.families))

    def _table_info(
        self, kind: str, name: str, sha256: str, build_date: dt.date, description: str, note: str | None
    ) -> DatabaseInfo:
        """The :class:`DatabaseInfo` of the loaded ``_table`` (``note``, if any, ends the description)."""
        return DatabaseInfo(
            kind=kind,
            name=name,
            sha256=sha256,
            build_date=build_date,
            ranges=len(self._table),
            families=self._table.families,
            description=description + (f"; {note}" if note else ""),
        )

    def __len__(self) -> int:
        return len(self._table)

    def __repr__(self) -> str:
        i = self._info
        return f"{type(self).__name__}({i.name!r}, built {i.build_date.isoformat()}, {len(self)} ranges)"

    def _lookup_v6(self, column: npt.NDArray[np.bytes_]) -> npt.NDArray[np.bytes_]:
        return self._table.family(6).lookup(column)

    def lookup(self, addresses: npt.ArrayLike) -> npt.NDArray[np.bytes_]:
        """Countries (``S2``, ``b""`` = not located) of a ``uint32`` (IPv4) or ``S16`` (IPv6) column.

        Raises :class:`FamilyMismatchError` for a family the database lacks.
        """
        family, col = as_address_column(addresses)
        if family == 4:
            return self._table.family(4).lookup(col)
        return self._lookup_v6(col)

    def country(self, ip: str) -> str | None:
        """The country of one address (any globally routable or not), None when not located.

        Raises :class:`InvalidAddressError` for a non-address and :class:`FamilyMismatchError` for
        a family the database lacks.
        """
        code = self.lookup(address_column(parse_address(ip)))[0]
        return code.decode("ascii") if code else None

    def ranges_for(self, country: str, family: int = 4) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
        """(starts, ends) of ``country``'s ranges in this database (see :meth:`RangeTable.ranges_for`)."""
        return self._table.ranges_for(country, family)
