"""From RIPE Atlas day snapshots to the ground truth (METHOD.md sections 2 to 6).

The pipeline, one family (IPv4 or IPv6) at a time, every step a pure function over columns:

1. :func:`daily_filter` - per day, per record: status Connected, coordinates valid, country a
   known ISO code, address globally routable unicast, ASN present (in that order; each rule
   counted, removed records identified);
2. :class:`Linker` / :func:`link_days` - the kept daily records of many days, linked per probe
   into a :class:`History` of *segments*: maximal runs of consecutive observations of a probe
   with identical content (address, country, coordinates, ASN), with first/last day and the
   number of daily records they stand for. Linking streams: days are compacted into segments
   as they arrive, so the raw daily rows of a whole archive are never held at once;
3. :func:`select_most_distant` - the paper's "most distant" address selection (its Table 2):
   one row per address occurrence under a de-duplication policy, ``first-seen`` (reference),
   ``per-run`` or ``last-seen``;
4. :func:`unreliable_probes` - probes whose declared country differs between any two kept
   DAILY records (default) or, as the reference notebook did, between the de-duplicated rows
   (:func:`unreliable_probes_after_dedup`, reference preset only); :func:`remove_probes`;
5. :func:`check_borders` - coordinates inside the declared country, for every country
   (:mod:`ipevidence.geography`);
6. :func:`remove_cloud` - cloud and hosting addresses by the row's own ASN, optionally by
   providers' range files (:mod:`ipevidence.networks`).

:func:`build_ground_truth` / :func:`build_ground_truths` run it all over an archive source,
:func:`ground_truths_from_snapshots` over snapshots already in memory. Every step is counted
in the :class:`~ipevidence.groundtruth.Funnel`; rows removed after linking are listed with
their reason in :class:`~ipevidence.groundtruth.Removals`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple, Protocol

import attrs
import numpy as np
import numpy.typing as npt

from ._util import address_dtype, check_lengths
from .addresses import global_mask_v4, global_mask_v6
from .archive.snapshot import DaySnapshot, ProbeStatus
from .countries import COUNTRY_DTYPE, known_mask, normalize_country
from .errors import FamilyMismatchError
from .groundtruth import GROUND_TRUTH_COLUMNS, Funnel, FunnelStep, GroundTruth, Removals
from .provenance import ArchiveDay, ArchiveProvenance

if TYPE_CHECKING:
    from .networks import CloudRanges


class BorderChecker(Protocol):
    """What the border step needs (``ipevidence.geography.Borders`` is one)."""

    def check(
        self,
        declared: Any,
        lat: Any,
        lon: Any,
        *,
        tolerance_km: float = ...,
        main_territory: Collection[str] = ...,
    ) -> Any: ...


class AsnLookup(Protocol):
    """What the daily filter needs to fill missing ASNs (``ipevidence.networks.AsnTable`` is one):
    a vectorised ``lookup`` of an address column returning ASNs (0 where unknown)."""

    def lookup(self, addresses: Any) -> Any: ...


__all__ = [
    "DAILY_RULES",
    "DEDUP_POLICIES",
    "PRESETS",
    "AsnLookup",
    "BorderChecker",
    "DailyFilterResult",
    "DailyRecords",
    "DedupPolicy",
    "GroundTruthParams",
    "History",
    "Linker",
    "StepResult",
    "build_ground_truth",
    "build_ground_truths",
    "check_borders",
    "daily_filter",
    "ground_truths_from_snapshots",
    "link_days",
    "remove_cloud",
    "remove_probes",
    "select_most_distant",
    "unreliable_probes",
    "unreliable_probes_after_dedup",
]

DedupPolicy = Literal["first-seen", "per-run", "last-seen"]
CountryChangeTest = Literal["daily", "after-dedup"]

#: the de-duplication ("most distant" address selection) policies; the first is the reference
DEDUP_POLICIES: Final[tuple[str, ...]] = ("first-seen", "per-run", "last-seen")
#: the daily filter's rules, in the order they are applied (METHOD.md section 2)
DAILY_RULES: Final[tuple[str, ...]] = ("status", "coordinates", "country", "address", "asn")
PRESETS: Final[tuple[str, ...]] = ("default", "reference")

_DAY: Final = np.dtype("datetime64[D]")
_NAT: Final = np.datetime64("NaT", "D")

_DAILY_DESCRIPTIONS: Final[Mapping[str, str]] = {
    "status": "daily: probe status is not Connected",
    "coordinates": "daily: latitude/longitude missing, not finite or out of range",
    "country": "daily: declared country missing or not a known ISO 3166-1 alpha-2 code",
    "address": "daily: address missing, unparsable or not globally routable unicast",
    "asn": "daily: ASN of the family missing",
}


def _default_cloud_asns() -> tuple[int, ...]:
    from .networks import DEFAULT_CLOUD_ASNS

    return tuple(sorted(int(a) for a in DEFAULT_CLOUD_ASNS))


def _norm_countries(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = (value,)
    return tuple(sorted({normalize_country(c) for c in value}))


def _norm_ints(value: Iterable[int]) -> tuple[int, ...]:
    return tuple(sorted({int(v) for v in value}))


def _check_dedup(_inst: object, _attr: object, value: str) -> None:
    if value not in DEDUP_POLICIES:
        raise ValueError(f"unknown de-duplication policy {value!r}: use one of {', '.join(DEDUP_POLICIES)}")


def _check_every(_inst: object, _attr: object, value: int) -> None:
    if value < 1:
        raise ValueError(f"every must be >= 1, not {value}")


def _check_tolerance(_inst: object, _attr: object, value: float) -> None:
    if not value >= 0.0:
        raise ValueError(f"border tolerance must be >= 0 km, not {value}")


@attrs.frozen
class GroundTruthParams:
    """Every parameter of a ground-truth build (recorded whole in the result's ``parameters``).

    Presets (METHOD.md section 13), see :meth:`preset`:

    * ``"default"``: first-seen most-distant selection; a probe is unreliable when its declared
      country differs between ANY two kept daily records; border check of every country with a
      10 km coast tolerance and France restricted to its main (European) territory; cloud ASNs
      removed;
    * ``"reference"`` (Komosny 2023 as coded): first-seen; country change tested after
      de-duplication (a change with an unchanged address goes unnoticed); strict borders
      (tolerance 0 km), European France; cloud ASNs removed.
    """

    preset: str = "default"
    dedup: str = attrs.field(default="first-seen", validator=_check_dedup)
    country_change: CountryChangeTest = attrs.field(
        default="daily", validator=attrs.validators.in_(("daily", "after-dedup"))
    )
    require_asn: bool = True
    border_check: bool = True
    border_scale: str = "10m"
    border_tolerance_km: float = attrs.field(default=10.0, converter=float, validator=_check_tolerance)
    main_territory: tuple[str, ...] = attrs.field(default=("FR",), converter=_norm_countries)
    exclude_probes: tuple[int, ...] = attrs.field(default=(), converter=_norm_ints)
    cloud_filter: bool = True
    cloud_asns: tuple[int, ...] = attrs.field(factory=_default_cloud_asns, converter=_norm_ints)
    every: int = attrs.field(default=1, converter=int, validator=_check_every)

    def __attrs_post_init__(self) -> None:
        if self.country_change == "after-dedup" and self.preset != "reference":
            raise ValueError(
                "country_change='after-dedup' (the reference notebook's test, which misses a country "
                "change with an unchanged address) is offered only in the 'reference' preset"
            )

    @classmethod
    def preset_params(cls, name: str = "default", **overrides: Any) -> GroundTruthParams:
        """The parameters of a named preset, with keyword overrides (None values ignored)."""
        fields: dict[str, Any]
        if name == "default":
            fields = {"preset": "default"}
        elif name == "reference":
            fields = {"preset": "reference", "country_change": "after-dedup", "border_tolerance_km": 0.0}
        else:
            raise ValueError(f"unknown preset {name!r}: use one of {', '.join(PRESETS)}")
        fields.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**fields)

    def to_dict(self) -> dict[str, Any]:
        return {
            "preset": self.preset,
            "dedup": self.dedup,
            "country_change": self.country_change,
            "require_asn": self.require_asn,
            "border_check": self.border_check,
            "border_scale": self.border_scale,
            "border_tolerance_km": self.border_tolerance_km,
            "main_territory": list(self.main_territory),
            "exclude_probes": list(self.exclude_probes),
            "cloud_filter": self.cloud_filter,
            "cloud_asns": list(self.cloud_asns),
            "every": self.every,
        }

    def __str__(self) -> str:
        borders = (
            f"{self.border_scale} tolerance {self.border_tolerance_km:g} km" if self.border_check else "off"
        )
        cloud = len(self.cloud_asns) if self.cloud_filter else "off"
        return (
            f"ground-truth parameters ({self.preset}): most distant selection {self.dedup}, "
            f"country change tested on {self.country_change} records, borders {borders}, "
            f"cloud ASNs {cloud}, every {self.every} day(s)"
        )


def _resolve_params(preset: str | GroundTruthParams, overrides: Mapping[str, Any]) -> GroundTruthParams:
    known = {f.name for f in attrs.fields(GroundTruthParams)} - {"preset"}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise TypeError(
            f"unknown ground-truth parameter(s) {', '.join(unknown)}: use {', '.join(sorted(known))}"
        )
    if isinstance(preset, GroundTruthParams):
        changes = {k: v for k, v in overrides.items() if v is not None}
        return attrs.evolve(preset, **changes) if changes else preset
    return GroundTruthParams.preset_params(preset, **overrides)


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
        global_ok = global_mask_v4(addr)
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
        known_mask(snapshot.country),
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


# ---------------------------------------------------------------------------------------- linking

_SEGMENT_COLUMNS: Final[tuple[str, ...]] = (
    "probe_id",
    "address",
    "country",
    "latitude",
    "longitude",
    "asn",
    "first_day",
    "last_day",
    "n_obs",
)


@attrs.frozen(eq=False)
class History:
    """Linked daily records of one family, as *segments*.

    A segment is a maximal run of consecutive observations of one probe whose content
    (address, country, latitude, longitude, ASN) is identical; ``first_day``/``last_day`` bound it
    and ``n_obs`` counts the daily records it stands for. Rows are sorted by probe, then first
    day. "Consecutive" means consecutive OBSERVATIONS of the probe: days on which the probe has no
    kept record (archive day missing or corrupt, probe disconnected, record filtered out, or a day
    skipped by ``every``) do not break a segment or a run.
    """

    family: int
    probe_id: npt.NDArray[np.int32]
    address: npt.NDArray[Any]
    country: npt.NDArray[np.bytes_]
    latitude: npt.NDArray[np.float64]
    longitude: npt.NDArray[np.float64]
    asn: npt.NDArray[np.uint32]
    first_day: npt.NDArray[np.datetime64]
    last_day: npt.NDArray[np.datetime64]
    n_obs: npt.NDArray[np.int64]
    days: int = 0

    def __len__(self) -> int:
        return int(self.probe_id.shape[0])

    @property
    def records(self) -> int:
        """The number of daily records linked."""
        return int(self.n_obs.sum())

    def columns(self) -> dict[str, npt.NDArray[Any]]:
        return {name: getattr(self, name) for name in _SEGMENT_COLUMNS}

    def without_probes(self, probes: npt.ArrayLike) -> History:
        keep = ~np.isin(self.probe_id, np.asarray(probes, dtype=np.int32))
        cols = {k: v[keep] for k, v in self.columns().items()}
        return History(self.family, **cols, days=self.days)

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "records": self.records,
            "segments": len(self),
            "probes": int(np.unique(self.probe_id).size),
            "days": self.days,
        }

    def __str__(self) -> str:
        return (
            f"IPv{self.family} history: {self.records:,} daily records of {np.unique(self.probe_id).size:,} "
            f"probes over {self.days:,} days in {len(self):,} segments"
        )


def _sort_order(
    probe: npt.NDArray[np.int32], first: npt.NDArray[Any], cols: Mapping[str, Any]
) -> npt.NDArray[np.intp]:
    """Order rows by probe, first day, address; fully tied rows by their remaining content.

    Fast path: one 63-bit key (probe offset << 31 | day offset) sorted once; only when two rows
    share probe and day (never in the real archive) is a full multi-key lexsort needed.
    """
    day = first.view(np.int64)
    if probe.shape[0] == 0:
        return np.zeros(0, np.intp)
    p_off = probe.astype(np.int64) - int(probe.min())
    d_off = day - int(day.min())
    if int(d_off.max()) < (1 << 31) and int(p_off.max()) < (1 << 32):
        key = (p_off << 31) | d_off
        order = np.argsort(key, kind="stable")
        k = key[order]
        if not np.any(k[1:] == k[:-1]):
            return np.asarray(order, dtype=np.intp)
    address = cols["address"]
    order = np.lexsort((address, day, probe))
    p, f, a = probe[order], day[order], address[order]
    tied = (p[1:] == p[:-1]) & (f[1:] == f[:-1]) & (a[1:] == a[:-1])
    if tied.any():
        order = np.lexsort(
            (cols["longitude"], cols["latitude"], cols["asn"], cols["country"], address, day, probe)
        )
    return np.asarray(order, dtype=np.intp)


def _compact(family: int, cols: dict[str, npt.NDArray[Any]], days: int) -> History:
    """Sort rows (raw records or segments) by probe and time and merge identical neighbours."""
    n = cols["probe_id"].shape[0]
    if n == 0:
        return History(family, **{k: v[:0] for k, v in cols.items()}, days=days)
    order = _sort_order(cols["probe_id"], cols["first_day"], cols)
    s = {k: v[order] for k, v in cols.items()}
    same = s["probe_id"][1:] == s["probe_id"][:-1]
    for name in ("address", "country", "latitude", "longitude", "asn"):
        same &= s[name][1:] == s[name][:-1]
    starts = np.flatnonzero(np.concatenate(([True], ~same)))
    out = {k: v[starts] for k, v in s.items() if k not in ("last_day", "n_obs")}
    out["last_day"] = np.maximum.reduceat(s["last_day"].view(np.int64), starts).view(_DAY)
    out["n_obs"] = np.add.reduceat(s["n_obs"], starts)
    return History(family, **out, days=days)


class Linker:
    """Links kept daily records of one family into a :class:`History`, streaming.

    Days can be added in any order until the pending rows reach ``chunk_rows``; then they are
    compacted into segments. After a compaction, a day older than or equal to the newest
    compacted day is refused (ValueError): feed days in date order (as
    :func:`ipevidence.archive.iter_days` yields them) or use :func:`link_days`, which sorts.
    Memory stays near ``chunk_rows`` rows plus the segments.
    """

    def __init__(self, family: int, *, chunk_rows: int = 1 << 22) -> None:
        address_dtype(family)
        self.family = family
        self.chunk_rows = max(1, int(chunk_rows))
        self._pending: list[DailyRecords] = []
        self._pending_rows = 0
        self._segments: list[History] = []
        self._compacted_until: np.datetime64 | None = None
        self._days: set[int] = set()

    def add(self, records: DailyRecords) -> None:
        if records.family != self.family:
            raise FamilyMismatchError(f"IPv{records.family} records given to an IPv{self.family} linker")
        if len(records) == 0:
            return
        if self._compacted_until is not None and records.day.min() <= self._compacted_until:
            raise ValueError(
                f"day {records.day.min()} added after days up to {self._compacted_until} were compacted: "
                "add days in date order or use link_days()"
            )
        self._pending.append(records)
        self._pending_rows += len(records)
        self._days.update(np.unique(records.day.view(np.int64)).tolist())
        if self._pending_rows >= self.chunk_rows:
            self._compact_pending()

    def _compact_pending(self) -> None:
        if not self._pending:
            return
        cat = DailyRecords.concat(self.family, self._pending)
        self._pending = []
        self._pending_rows = 0
        cols: dict[str, npt.NDArray[Any]] = {
            "probe_id": cat.probe_id,
            "address": cat.address,
            "country": cat.country,
            "latitude": cat.latitude,
            "longitude": cat.longitude,
            "asn": cat.asn,
            "first_day": cat.day,
            "last_day": cat.day,
            "n_obs": np.ones(len(cat), dtype=np.int64),
        }
        del cat
        self._segments.append(_compact(self.family, cols, 0))
        newest = cols["last_day"].max()
        if self._compacted_until is None or newest > self._compacted_until:
            self._compacted_until = newest

    def finish(self) -> History:
        """Compact what is pending and merge the chunks into one :class:`History`."""
        self._compact_pending()
        days = len(self._days)
        if not self._segments:
            empty = DailyRecords.empty(self.family)
            return History(
                self.family,
                empty.probe_id,
                empty.address,
                empty.country,
                empty.latitude,
                empty.longitude,
                empty.asn,
                empty.day,
                empty.day.copy(),
                np.zeros(0, np.int64),
                days=0,
            )
        cols = {
            name: np.concatenate([h.columns()[name] for h in self._segments]) for name in _SEGMENT_COLUMNS
        }
        merged = _compact(self.family, cols, days)
        self._segments = [merged]
        return merged


def link_days(
    days: Iterable[DailyRecords], family: int | None = None, *, chunk_rows: int = 1 << 22
) -> History:
    """Link daily records given in ANY order, in any grouping (parts may repeat or span days).

    The records are sorted by day and fed to a :class:`Linker` in slices that never split a day,
    so the result does not depend on how the records were ordered or grouped.
    """
    parts = [d for d in days if len(d)]
    fam = family if family is not None else (parts[0].family if parts else 4)
    linker = Linker(fam, chunk_rows=chunk_rows)
    if not parts:
        return linker.finish()
    cat = DailyRecords.concat(fam, parts)
    order = np.argsort(cat.day.view(np.int64), kind="stable")
    day = cat.day.view(np.int64)[order]
    day_starts = np.flatnonzero(np.concatenate(([True], day[1:] != day[:-1])))
    bounds = np.append(day_starts, day.shape[0])
    lo = 0
    while lo < len(bounds) - 1:
        # take whole days until the slice reaches chunk_rows (at least one day)
        hi = int(np.searchsorted(bounds, bounds[lo] + linker.chunk_rows, side="right")) - 1
        hi = max(hi, lo + 1)
        idx = order[bounds[lo] : bounds[hi]]
        linker.add(DailyRecords(fam, *(getattr(cat, name)[idx] for name in _RECORD_COLUMNS)))
        lo = hi
    return linker.finish()


# ---------------------------------------------------------------------------------------- most distant


def _rows_from(
    history: History,
    idx: npt.NDArray[np.intp],
    date: npt.NDArray[Any],
    first: npt.NDArray[Any],
    last: npt.NDArray[Any],
) -> GroundTruth:
    gt = GroundTruth(
        family=history.family,
        probe_id=history.probe_id[idx],
        address=history.address[idx],
        country=history.country[idx],
        latitude=history.latitude[idx],
        longitude=history.longitude[idx],
        asn=history.asn[idx],
        date=np.asarray(date, dtype=_DAY),
        first_seen=np.asarray(first, dtype=_DAY),
        last_seen=np.asarray(last, dtype=_DAY),
        funnel=Funnel(family=history.family),
    )
    order = np.lexsort((gt.address, gt.probe_id, gt.date.view(np.int64)))
    return gt.select(order)


def _group_starts(*keys: npt.NDArray[Any]) -> npt.NDArray[np.intp]:
    n = keys[0].shape[0]
    if n == 0:
        return np.zeros(0, np.intp)
    change = np.zeros(n - 1, dtype=bool)
    for k in keys:
        change |= k[1:] != k[:-1]
    return np.flatnonzero(np.concatenate(([True], change)))


def select_most_distant(history: History, policy: str = "first-seen") -> GroundTruth:
    """The paper's "most distant" address selection (its Table 2), under a policy.

    The paper's Table 2 shows one probe's addresses day after day, oldest to newest, as runs
    (A ... A, B ... B, C ... C, ...) and highlights the addresses "on the most distant dates" so
    that an address held for 100 days counts once. The policies read that table as follows:

    * ``first-seen`` (reference, default): one row per (probe, address) over the whole period,
      dated and described by the first day the pair was seen (the leftmost cell of every address
      in Table 2; a returning address A B A yields A once);
    * ``per-run``: one row per maximal run of consecutive observations of the same address on the
      same probe (A A B B A gives A, B, A), dated and described by the run's first day;
    * ``last-seen``: one row per (probe, address), dated and described by the last day seen (the
      rightmost cell of every address in Table 2).

    ``first_seen``/``last_seen`` hold the first and last day of the pair (first-seen, last-seen)
    or of the run (per-run). Rows are sorted by date, probe, address.
    """
    if policy not in DEDUP_POLICIES:
        raise ValueError(f"unknown de-duplication policy {policy!r}: use one of {', '.join(DEDUP_POLICIES)}")
    n = len(history)
    if n == 0:
        return GroundTruth.empty(history.family, funnel=Funnel(family=history.family))
    probe, addr = history.probe_id, history.address
    first, last = history.first_day.view(np.int64), history.last_day.view(np.int64)
    if policy == "per-run":
        # history is sorted by probe then time: a run starts where the probe or the address changes
        starts = _group_starts(probe, addr)
        run_last = np.maximum.reduceat(last, starts)
        return _rows_from(history, starts, first[starts], first[starts], run_last)
    order = np.lexsort((last, first, addr, probe))
    starts = _group_starts(probe[order], addr[order])
    ends = np.concatenate((starts[1:], [n])) - 1
    pair_first = first[order][starts]
    pair_last = np.maximum.reduceat(last[order], starts)
    if policy == "first-seen":
        idx = order[starts]
        return _rows_from(history, idx, pair_first, pair_first, pair_last)
    idx = order[ends]  # last-seen: the segment that ends last (sorted by last day within the pair)
    return _rows_from(history, idx, pair_last, pair_first, pair_last)


# ---------------------------------------------------------------------------------------- unreliable


def _country_code16(country: npt.NDArray[np.bytes_]) -> npt.NDArray[np.uint16]:
    return np.frombuffer(np.ascontiguousarray(country, dtype=COUNTRY_DTYPE).tobytes(), dtype=">u2").astype(
        np.uint16
    )


def _several_countries(
    probe: npt.NDArray[np.int32], country: npt.NDArray[np.bytes_]
) -> npt.NDArray[np.int32]:
    if probe.shape[0] == 0:
        return np.zeros(0, np.int32)
    order = np.argsort(probe, kind="stable")
    p = probe[order]
    c = _country_code16(country)[order]
    starts = _group_starts(p)
    lo = np.minimum.reduceat(c, starts)
    hi = np.maximum.reduceat(c, starts)
    return np.asarray(p[starts][lo != hi], dtype=np.int32)


def unreliable_probes(history: History) -> npt.NDArray[np.int32]:
    """Probes whose declared country differs between any two kept DAILY records (sorted ids)."""
    return _several_countries(history.probe_id, history.country)


def unreliable_probes_after_dedup(rows: GroundTruth) -> npt.NDArray[np.int32]:
    """The reference notebook's test: probes with several countries among de-duplicated rows.

    A country change with an unchanged address is invisible here under ``first-seen``.
    """
    return _several_countries(rows.probe_id, rows.country)


@attrs.frozen(eq=False)
class StepResult:
    """One step after linking: the rows kept, the rows removed (with reasons), the funnel step."""

    kept: GroundTruth
    removed: Removals
    step: FunnelStep

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step.to_dict(), "removed_by_reason": self.removed.by_reason()}

    def __str__(self) -> str:
        return str(self.step)


def _step(
    name: str, description: str, rows: GroundTruth, keep: npt.NDArray[np.bool_], reason: npt.ArrayLike
) -> StepResult:
    gone = ~keep
    reasons = np.asarray(reason)
    if reasons.ndim == 0:
        reasons = np.full(int(gone.sum()), str(reasons))
    else:
        reasons = reasons[gone] if reasons.shape[0] == keep.shape[0] else reasons
    removed = Removals(
        family=rows.family,
        probe_id=rows.probe_id[gone],
        address=rows.address[gone],
        date=rows.date[gone],
        reason=np.asarray(reasons, dtype=str),
    )
    step = FunnelStep(name=name, description=description, rows_in=len(rows), removed=int(gone.sum()))
    return StepResult(kept=rows.select(keep), removed=removed, step=step)


def remove_probes(
    rows: GroundTruth,
    probes: npt.ArrayLike,
    *,
    name: str = "excluded_probes",
    reason: str | None = None,
    description: str = "",
) -> StepResult:
    """Remove every row of the given probe ids (reason code defaults to the step name)."""
    drop = np.isin(rows.probe_id, np.asarray(probes, dtype=np.int32))
    return _step(name, description or f"rows of {name.replace('_', ' ')}", rows, ~drop, reason or name)


def check_borders(
    rows: GroundTruth,
    borders: BorderChecker,
    *,
    tolerance_km: float = 10.0,
    main_territory: Sequence[str] = ("FR",),
) -> StepResult:
    """Remove rows whose coordinates are not inside their declared country (every country).

    The decision is :meth:`ipevidence.geography.Borders.check`'s; the reason code of a removed
    row is ``"border:<status>"``.
    """
    result = borders.check(
        rows.country,
        rows.latitude,
        rows.longitude,
        tolerance_km=tolerance_km,
        main_territory=tuple(main_territory),
    )
    keep = np.asarray(result.accepted, dtype=bool)
    status = np.asarray(result.status)
    if status.dtype.kind in "ui":
        from .geography import BorderStatus

        names = np.array(["unknown"] * (max(int(s) for s in BorderStatus) + 1), dtype=object)
        for s in BorderStatus:
            names[int(s)] = s.name.lower()
        status = names.astype(str)[status.astype(np.intp)] if status.size else np.zeros(0, "U1")
    elif status.dtype.kind == "S":
        status = status.astype(str)
    reasons = np.char.add("border:", status.astype(str)) if status.size else np.zeros(0, "U1")
    territory = ",".join(main_territory) or "-"
    desc = (
        f"coordinates outside the declared country (tolerance {tolerance_km:g} km, "
        f"main territory {territory})"
    )
    if status.size:
        names_, counts_ = np.unique(status.astype(str), return_counts=True)
        tally = ", ".join(f"{k} {int(v):,}" for k, v in zip(names_.tolist(), counts_.tolist(), strict=True))
        desc += f"; checked: {tally}"
    return _step("border", desc, rows, keep, reasons)


def remove_cloud(
    rows: GroundTruth,
    asns: Iterable[int],
    *,
    ranges: CloudRanges | None = None,
) -> list[StepResult]:
    """Remove cloud/hosting rows: by the row's own ASN (step ``cloud_asn``, reason
    ``cloud_asn:<asn>``), then optionally by providers' range files (step ``cloud_ranges``)."""
    from .networks import cloud_asn_mask

    asn_set = frozenset(int(a) for a in asns)
    hit = np.asarray(cloud_asn_mask(rows.asn, asn_set), dtype=bool)
    reasons = np.char.add("cloud_asn:", rows.asn.astype(str))
    first = _step("cloud_asn", f"address in a cloud/hosting ASN ({len(asn_set)} ASNs)", rows, ~hit, reasons)
    out = [first]
    if ranges is not None:
        kept = first.kept
        in_range, labels = _cloud_range_hits(ranges, kept.address)
        out.append(
            _step(
                "cloud_ranges", "address inside a provider's published cloud range", kept, ~in_range, labels
            )
        )
    return out


def _cloud_range_hits(
    ranges: CloudRanges, addresses: npt.NDArray[Any]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.str_]]:
    """Vectorised membership in provider ranges, with a ``cloud_range:<provider>`` label per row."""
    providers = np.asarray(ranges.lookup(addresses)).astype(str)
    return np.asarray(providers != "", dtype=np.bool_), np.char.add("cloud_range:", providers)


# ---------------------------------------------------------------------------------------- build


def _describe(obj: object) -> Any:
    if obj is None:
        return None
    for attr in ("describe", "to_dict"):
        fn = getattr(obj, attr, None)
        if callable(fn):
            try:
                value = fn()
            except TypeError:
                continue
            if hasattr(value, "to_dict"):
                return value.to_dict()
            return value
    return type(obj).__name__


def _finish(
    history: History,
    params: GroundTruthParams,
    *,
    daily_days: list[np.datetime64],
    daily_counts: list[list[int]],
    provenance: ArchiveProvenance | None,
    extra: Mapping[str, Any],
    borders: BorderChecker | None,
    cloud_ranges: CloudRanges | None,
) -> GroundTruth:
    fam = history.family
    steps: list[FunnelStep] = []
    counts = np.asarray(daily_counts, dtype=np.int64).reshape(len(daily_counts), len(DAILY_RULES) + 2)
    totals = counts.sum(axis=0)
    rows_in = int(totals[0])
    for i, rule in enumerate(DAILY_RULES):
        removed = int(totals[i + 1])
        desc = _DAILY_DESCRIPTIONS[rule]
        if rule == "asn" and int(totals[-1]):
            desc += f" ({int(totals[-1]):,} missing ASNs filled from the IP-to-ASN table first)"
        steps.append(FunnelStep(rule, desc, rows_in, removed))
        rows_in -= removed
    rows = select_most_distant(history, params.dedup)
    steps.append(
        FunnelStep(
            "most_distant",
            f"repeated addresses removed: most distant address selection '{params.dedup}'",
            history.records,
            history.records - len(rows),
        )
    )
    removed_parts: list[Removals] = []
    if params.country_change == "daily":
        bad = unreliable_probes(history)
        desc = "probes whose declared country differs between any two kept daily records"
    else:
        bad = unreliable_probes_after_dedup(rows)
        desc = "probes with several declared countries among de-duplicated rows (reference)"
    res = remove_probes(rows, bad, name="unreliable_probes", reason="unreliable_probe", description=desc)
    steps.append(res.step)
    removed_parts.append(res.removed)
    rows = res.kept
    res = remove_probes(
        rows,
        np.asarray(params.exclude_probes, dtype=np.int32),
        name="excluded_probes",
        reason="excluded_probe",
        description=f"probe ids on the exclusion list ({len(params.exclude_probes)} ids)",
    )
    steps.append(res.step)
    removed_parts.append(res.removed)
    rows = res.kept
    if params.border_check:
        if borders is None:
            from .geography import Borders as _Borders

            borders = _Borders.load(params.border_scale)
        res = check_borders(
            rows, borders, tolerance_km=params.border_tolerance_km, main_territory=params.main_territory
        )
        steps.append(res.step)
        removed_parts.append(res.removed)
        rows = res.kept
    if params.cloud_filter or cloud_ranges is not None:
        for res in remove_cloud(rows, params.cloud_asns if params.cloud_filter else (), ranges=cloud_ranges):
            steps.append(res.step)
            removed_parts.append(res.removed)
            rows = res.kept
    removals = Removals(
        family=fam,
        probe_id=np.concatenate([r.probe_id for r in removed_parts]),
        address=np.concatenate([r.address for r in removed_parts]),
        date=np.concatenate([r.date for r in removed_parts]),
        reason=np.concatenate([r.reason.astype(str) for r in removed_parts])
        if removed_parts
        else np.zeros(0, "U1"),
        daily_rules=("records", *DAILY_RULES, "asn_filled"),
        daily_days=np.asarray(daily_days, dtype=_DAY),
        daily_counts=counts,
    )
    parameters = {**params.to_dict(), **extra, "family": fam}
    if borders is not None and params.border_check:
        parameters["borders"] = _describe(borders)
    parameters["cloud_ranges"] = _describe(cloud_ranges)
    return attrs.evolve(
        rows,
        funnel=Funnel(family=fam, steps=tuple(steps)),
        provenance=provenance,
        parameters=parameters,
        removals=removals,
    )


def _families(families: Iterable[int]) -> tuple[int, ...]:
    fams = tuple(sorted({int(f) for f in families}))
    if not fams or any(f not in (4, 6) for f in fams):
        raise ValueError(f"families must be a non-empty subset of (4, 6), not {families!r}")
    return fams


class _Run(NamedTuple):
    """What one pass over the days gives :func:`_finish_all`."""

    histories: dict[int, History]
    counts: dict[int, list[list[int]]]  # per family, per day: records, removals per rule, ASNs filled
    days: list[np.datetime64]
    seen: list[ArchiveDay]


def _run(
    items: Iterable[tuple[ArchiveDay | None, DaySnapshot | None]],
    fams: tuple[int, ...],
    params: GroundTruthParams,
    *,
    asn_table: AsnLookup | None,
    chunk_rows: int,
) -> _Run:
    linkers = {f: Linker(f, chunk_rows=chunk_rows) for f in fams}
    counts: dict[int, list[list[int]]] = {f: [] for f in fams}
    days: list[np.datetime64] = []
    seen: list[ArchiveDay] = []
    for archive_day, snap in items:
        if archive_day is not None:
            seen.append(archive_day)
        if snap is None:
            continue
        days.append(np.datetime64(snap.day, "D"))
        for f in fams:
            res = daily_filter(snap, f, require_asn=params.require_asn, asn_table=asn_table)
            counts[f].append(
                [res.counts["records"], *(res.counts[r] for r in DAILY_RULES), res.counts["asn_filled"]]
            )
            linkers[f].add(res.kept)
        del snap
    return _Run({f: linkers[f].finish() for f in fams}, counts, days, seen)


def _finish_all(
    run: _Run,
    params: GroundTruthParams,
    provenance: ArchiveProvenance | None,
    extra: Mapping[str, Any],
    borders: BorderChecker | None,
    cloud_ranges: CloudRanges | None,
) -> dict[int, GroundTruth]:
    """:func:`_finish` each family of one :func:`_run` (same days, provenance and parameters)."""
    return {
        f: _finish(
            history,
            params,
            daily_days=run.days,
            daily_counts=run.counts[f],
            provenance=provenance,
            extra=extra,
            borders=borders,
            cloud_ranges=cloud_ranges,
        )
        for f, history in run.histories.items()
    }


def _extra_parameters(
    params: GroundTruthParams, asn_table: AsnLookup | None, fams: tuple[int, ...]
) -> dict[str, Any]:
    return {"families": list(fams), "asn_table": _describe(asn_table)}


def ground_truths_from_snapshots(
    snapshots: Iterable[DaySnapshot],
    *,
    families: Iterable[int] = (4, 6),
    preset: str | GroundTruthParams = "default",
    borders: BorderChecker | None = None,
    cloud_ranges: CloudRanges | None = None,
    asn_table: AsnLookup | None = None,
    provenance: ArchiveProvenance | None = None,
    chunk_rows: int = 1 << 22,
    **overrides: Any,
) -> dict[int, GroundTruth]:
    """The whole pipeline over snapshots already in memory (any order; sorted by day here).

    ``overrides`` are :class:`GroundTruthParams` fields (``dedup=...``, ``border_tolerance_km=...``);
    ``every`` is not applied here (the caller chose the snapshots). Without ``provenance``, one is
    made from the snapshots (source ``"in-memory snapshots"``, each day's ``source`` record).
    """
    fams = _families(families)
    params = _resolve_params(preset, overrides)
    snaps = sorted(snapshots, key=lambda s: s.day)
    run = _run(((s.source, s) for s in snaps), fams, params, asn_table=asn_table, chunk_rows=chunk_rows)
    if provenance is None and snaps:
        provenance = ArchiveProvenance(
            source="in-memory snapshots",
            start=snaps[0].day,
            end=snaps[-1].day,
            days=tuple(s.source if s.source is not None else ArchiveDay(s.day, "ok") for s in snaps),
        )
    extra = _extra_parameters(params, asn_table, fams)
    return _finish_all(run, params, provenance, extra, borders, cloud_ranges)


def _source_name(source: object) -> str:
    describe = getattr(source, "describe", None)
    if callable(describe):
        return str(describe())
    for attr in ("url", "base_url", "root", "directory", "path", "name"):
        value = getattr(source, attr, None)
        if value is not None and not callable(value):
            return str(value)
    return type(source).__name__


def build_ground_truths(
    source: Any,
    start: dt.date,
    end: dt.date,
    *,
    families: Iterable[int] = (4, 6),
    preset: str | GroundTruthParams = "default",
    every: int | None = None,
    executor: Any = None,
    progress: Any = None,
    cache: Any = "default",
    borders: BorderChecker | None = None,
    cloud_ranges: CloudRanges | None = None,
    asn_table: AsnLookup | None = None,
    chunk_rows: int = 1 << 22,
    **overrides: Any,
) -> dict[int, GroundTruth]:
    """Build the ground truth of several families from ONE pass over an archive source.

    Days ``start`` to ``end`` (inclusive), every ``every``-th day, are read with
    :func:`ipevidence.archive.iter_days` (in date order, parsed in ``executor`` if given) and
    filtered one by one as they arrive; raw snapshots are dropped at once. ``preset`` is
    ``"default"``, ``"reference"`` or a :class:`GroundTruthParams`; ``overrides`` are its fields
    (``dedup="per-run"``, ``border_tolerance_km=0``, ``exclude_probes=[...]``,
    ``cloud_asns=[...]``, ...). The provenance lists every day with its status and SHA-256.
    """
    from .archive import date_range, iter_days

    fams = _families(families)
    params = _resolve_params(preset, {**overrides, "every": every})
    day_list = list(date_range(start, end, params.every))
    stream: Iterator[tuple[ArchiveDay, DaySnapshot | None]] = iter(
        iter_days(source, day_list, executor=executor, cache=cache, progress=progress)
    )
    run = _run(stream, fams, params, asn_table=asn_table, chunk_rows=chunk_rows)
    provenance = ArchiveProvenance(source=_source_name(source), start=start, end=end, days=tuple(run.seen))
    extra = {**_extra_parameters(params, asn_table, fams), "start": start.isoformat(), "end": end.isoformat()}
    return _finish_all(run, params, provenance, extra, borders, cloud_ranges)


def build_ground_truth(
    source: Any,
    start: dt.date,
    end: dt.date,
    *,
    family: int = 4,
    preset: str | GroundTruthParams = "default",
    dedup: str | None = None,
    every: int | None = None,
    executor: Any = None,
    progress: Any = None,
    cache: Any = "default",
    borders: BorderChecker | None = None,
    cloud_asns: Iterable[int] | None = None,
    cloud_ranges: CloudRanges | None = None,
    asn_table: AsnLookup | None = None,
    exclude_probes: Iterable[int] | None = None,
    **overrides: Any,
) -> GroundTruth:
    """Build one family's ground truth from an archive source (see :func:`build_ground_truths`)."""
    return build_ground_truths(
        source,
        start,
        end,
        families=(family,),
        preset=preset,
        every=every,
        executor=executor,
        progress=progress,
        cache=cache,
        borders=borders,
        cloud_ranges=cloud_ranges,
        asn_table=asn_table,
        dedup=dedup,
        cloud_asns=cloud_asns,
        exclude_probes=exclude_probes,
        **overrides,
    )[family]
