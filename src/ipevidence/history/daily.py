"""The daily filter (METHOD.md section 2): one day's records of one family, rule by rule."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs
import numpy as np
import numpy.typing as npt

from .. import addresses as _addresses
from .._util import address_dtype, check_lengths
from ..addresses import global_mask_v4, global_mask_v6
from ..archive.snapshot import DaySnapshot, ProbeStatus
from ..countries import COUNTRY_DTYPE, known_mask
from ..errors import FamilyMismatchError
from ..groundtruth import GROUND_TRUTH_COLUMNS, Removals
from .params import _DAY, DAILY_RULES, AsnLookup

# ---------------------------------------------------------------------------------------- fast rules


def _known_table() -> npt.NDArray[np.bool_]:
    """:func:`~ipevidence.countries.known_mask` of every 2-byte value, indexed by the value read
    as a native uint16: exactly ``known_mask`` by construction, one table look-up a row."""
    every = np.arange(1 << 16, dtype=np.uint16).view(COUNTRY_DTYPE)
    return np.asarray(known_mask(every), dtype=np.bool_)


_KNOWN: Final = _known_table()


def known_country_mask(column: npt.NDArray[np.bytes_]) -> npt.NDArray[np.bool_]:
    """Same answer as :func:`~ipevidence.countries.known_mask` (a known alpha-2 code), about 40
    times faster on a day's column: one look-up in a 65,536-entry table."""
    col = np.ascontiguousarray(column, dtype=COUNTRY_DTYPE)
    return np.asarray(_KNOWN[col.view(np.uint16)], dtype=np.bool_)


def _v4_slash16_tables() -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Per /16: whether :func:`~ipevidence.addresses.global_mask_v4` is the same for all of its
    addresses (no boundary of a special-purpose range falls strictly inside it) and, if so, its
    value. Built from the same range tables global_mask_v4 uses, so it agrees by construction."""
    bounds = [np.asarray(t, dtype=np.int64) for t in (*_addresses._V4_BAD, *_addresses._V4_EXC)]
    starts = np.concatenate([bounds[0], bounds[2]])
    after_ends = np.concatenate([bounds[1], bounds[3]]) + 1
    edges = np.concatenate([starts, after_ends[after_ends < (1 << 32)]])
    mixed = np.zeros(1 << 16, dtype=np.bool_)
    mixed[(edges[(edges & 0xFFFF) != 0] >> 16).astype(np.intp)] = True
    value = global_mask_v4(np.arange(1 << 16, dtype=np.uint32) << np.uint32(16))
    return mixed, np.asarray(value, dtype=np.bool_)


_V4_MIXED, _V4_GLOBAL = _v4_slash16_tables()


def global_v4_mask(column: npt.NDArray[np.uint32]) -> npt.NDArray[np.bool_]:
    """Same answer as :func:`~ipevidence.addresses.global_mask_v4`, about 10 times faster on a
    day's column: a /16 table answers every address outside the few /16s that straddle a
    special-purpose range's edge; only those go through the range search."""
    col = np.asarray(column, dtype=np.uint32)
    top = (col >> np.uint32(16)).astype(np.intp)
    out = _V4_GLOBAL[top]
    check = _V4_MIXED[top]
    if check.any():
        out[check] = global_mask_v4(col[check])
    return np.asarray(out, dtype=np.bool_)


# ---------------------------------------------------------------------------------------- daily


#: a ground truth's row columns up to ``asn``, then the record's day
_RECORD_COLUMNS: Final[tuple[str, ...]] = (
    *GROUND_TRUTH_COLUMNS[: GROUND_TRUTH_COLUMNS.index("asn") + 1],
    "day",
)


@attrs.frozen(eq=False)
class DailyRecords:
    """Kept daily records of one family as columns (one day, or many once concatenated)."""

    family: int
    probe_id: npt.NDArray[np.int32]
    address: npt.NDArray[Any]
    country: npt.NDArray[np.bytes_]
    latitude: npt.NDArray[np.float64]
    longitude: npt.NDArray[np.float64]
    asn: npt.NDArray[np.uint32]
    day: npt.NDArray[np.datetime64]

    def __attrs_post_init__(self) -> None:
        check_lengths(self, _RECORD_COLUMNS)
        if self.address.dtype != address_dtype(self.family):
            raise FamilyMismatchError(f"IPv{self.family} records need {address_dtype(self.family)} addresses")

    def __len__(self) -> int:
        return int(self.probe_id.shape[0])

    @classmethod
    def empty(cls, family: int) -> DailyRecords:
        return cls(
            family,
            np.zeros(0, np.int32),
            np.zeros(0, address_dtype(family)),
            np.zeros(0, COUNTRY_DTYPE),
            np.zeros(0, np.float64),
            np.zeros(0, np.float64),
            np.zeros(0, np.uint32),
            np.zeros(0, _DAY),
        )

    @classmethod
    def concat(cls, family: int, parts: Sequence[DailyRecords]) -> DailyRecords:
        if not parts:
            return cls.empty(family)
        cols = [np.concatenate([getattr(p, name) for p in parts]) for name in _RECORD_COLUMNS]
        return cls(family, *cols)


@attrs.frozen(eq=False)
class DailyFilterResult:
    """The daily filter's answer for one day and one family.

    ``counts`` holds ``records`` (rows in the day), the rows each rule removed (in
    :data:`DAILY_RULES` order), ``kept`` and ``asn_filled`` (missing ASNs filled from an
    IP-to-ASN table before the ASN rule). ``removed`` identifies every removed record
    (probe id, address as read, day, ``reason`` = the first rule it failed).
    """

    day: dt.date
    family: int
    kept: DailyRecords
    counts: Mapping[str, int]
    removed: Removals

    def to_dict(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "family": self.family, "counts": dict(self.counts)}

    def __str__(self) -> str:
        parts = ", ".join(f"{r} {self.counts[r]:,}" for r in DAILY_RULES)
        return (
            f"{self.day.isoformat()} IPv{self.family}: {self.counts['records']:,} records, "
            f"removed {parts}; kept {self.counts['kept']:,}"
        )


def daily_filter(
    snapshot: DaySnapshot,
    family: int = 4,
    *,
    require_asn: bool = True,
    asn_table: AsnLookup | None = None,
) -> DailyFilterResult:
    """Apply METHOD.md section 2 to one day, for one family.

    Rules in order (a record is counted under the first rule it fails): ``status`` Connected;
    ``coordinates`` present, finite, ``|lat| <= 90``, ``|lon| <= 180``; ``country`` a known ISO
    3166-1 alpha-2 code; ``address`` parsed and globally routable unicast; ``asn`` present (0 is
    missing). With ``asn_table``, missing ASNs of records that passed the other rules are first
    looked up in the table (counted as ``asn_filled``). ``require_asn=False`` turns the ASN rule off.
    """
    n = len(snapshot)
    addr: npt.NDArray[Any]
    if family == 4:
        addr, valid, asn = snapshot.ipv4, snapshot.ipv4_valid, snapshot.asn_v4
        global_ok = global_v4_mask(addr)
    elif family == 6:
        addr, valid, asn = snapshot.ipv6, snapshot.ipv6_valid, snapshot.asn_v6
        global_ok = global_mask_v6(addr)
    else:
        raise ValueError(f"family must be 4 or 6, not {family!r}")
    asn = np.asarray(asn, dtype=np.uint32).copy()
    lat, lon = snapshot.latitude, snapshot.longitude
    with np.errstate(invalid="ignore"):
        coords_ok = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90.0) & (np.abs(lon) <= 180.0)
    checks: list[npt.NDArray[np.bool_]] = [
        snapshot.status == np.uint8(ProbeStatus.CONNECTED),
        coords_ok,
        known_country_mask(snapshot.country),
        np.asarray(valid, dtype=bool) & global_ok,
    ]
    first_fail = np.full(n, len(DAILY_RULES), dtype=np.int8)  # len(rules) = kept
    alive = np.ones(n, dtype=bool)
    for code, ok in enumerate(checks):
        fail = alive & ~ok
        first_fail[fail] = code
        alive &= ok
    filled = 0
    if asn_table is not None:
        need = alive & (asn == 0)
        if need.any():
            found = np.asarray(asn_table.lookup(addr[need]), dtype=np.uint32)
            asn[need] = found
            filled = int(np.count_nonzero(found))
    if require_asn:
        fail = alive & (asn == 0)
        first_fail[fail] = len(DAILY_RULES) - 1
        alive &= ~fail
    counts: dict[str, int] = {"records": n}
    per_code = np.bincount(first_fail, minlength=len(DAILY_RULES) + 1)
    for code, rule in enumerate(DAILY_RULES):
        counts[rule] = int(per_code[code])
    counts["kept"] = int(per_code[len(DAILY_RULES)])
    counts["asn_filled"] = filled
    day64 = np.datetime64(snapshot.day, "D")
    kept = DailyRecords(
        family,
        np.asarray(snapshot.probe_id[alive], dtype=np.int32),
        np.asarray(addr[alive], dtype=address_dtype(family)),
        np.asarray(snapshot.country[alive], dtype=COUNTRY_DTYPE),
        np.asarray(lat[alive], dtype=np.float64),
        np.asarray(lon[alive], dtype=np.float64),
        asn[alive],
        np.full(int(alive.sum()), day64, dtype=_DAY),
    )
    gone = ~alive
    names = np.array((*DAILY_RULES, "kept"))
    removed = Removals(
        family=family,
        probe_id=np.asarray(snapshot.probe_id[gone], dtype=np.int32),
        address=np.asarray(addr[gone], dtype=address_dtype(family)),
        date=np.full(int(gone.sum()), day64, dtype=_DAY),
        reason=names[first_fail[gone]],
    )
    return DailyFilterResult(day=snapshot.day, family=family, kept=kept, counts=counts, removed=removed)
