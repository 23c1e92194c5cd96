"""Linking days into histories (METHOD.md section 3), the most distant address selection and the
unreliable-probe tests (section 4)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

import attrs
import numpy as np
import numpy.typing as npt

from .._util import address_dtype
from ..countries import COUNTRY_DTYPE
from ..errors import FamilyMismatchError
from ..groundtruth import Funnel, GroundTruth
from .daily import _RECORD_COLUMNS, DailyRecords
from .params import _DAY, DEDUP_POLICIES

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
