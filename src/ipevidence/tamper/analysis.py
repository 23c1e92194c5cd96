"""Geolocate a log and find what makes its country location evidence void (METHOD.md section 11).

Everything on the bulk path is numpy over the columns of a :class:`~.model.LogTable`: one
``lexsort`` by (account, time, line), one lookup per database and address family, consecutive-pair
arithmetic for impossible travel, a forward fill per service for the cross-service check, a
country-index distance matrix, and ``reduceat`` over the sorted rows for the evidence windows.
Python objects are made only for the findings and for what a caller asks to see.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, Literal, Protocol

import attrs
import numpy as np
import numpy.typing as npt

from ..addresses import global_mask_v4, global_mask_v6, non_global_reason, parse_address
from ..backends.base import GeoBackend
from ..countries import NOT_LOCATED
from ..errors import FamilyMismatchError
from ..provenance import DatabaseInfo
from .findings import (
    AccountWindow,
    CrossServiceInconsistency,
    Finding,
    HostingAddress,
    ImpossibleTravel,
    LocatedEntry,
    NonPublicAddress,
)
from .model import LogEntry, LogTable
from .readers import LogRead
from .report import render_json, render_markdown

__all__ = [
    "AddressSet",
    "AsnLookup",
    "DistanceFunction",
    "DistanceTerritory",
    "TamperParameters",
    "TamperReport",
    "analyse",
    "distance_matrix",
]

#: Vectorised country distance: two ``S2`` columns of equal length -> km (``float64``).
DistanceFunction = Callable[[npt.NDArray[np.bytes_], npt.NDArray[np.bytes_]], npt.NDArray[np.float64]]

#: Which shipped distance table the default distance uses: whole countries (``"all"``, METHOD.md
#: section 11's literal rule: France and Brazil are neighbours through French Guiana) or main
#: territories (``"main"``: overseas parts left out, so such hops can be impossible).
DistanceTerritory = Literal["all", "main"]


class AsnLookup(Protocol):
    """An IP-to-ASN table (such as :class:`ipevidence.networks.AsnTable`): origin AS per address."""

    def lookup(self, addresses: npt.NDArray[Any]) -> npt.NDArray[Any]: ...


class AddressSet(Protocol):
    """A set of networks (a provider's ranges, a VPN exit list): membership per address."""

    def contains(self, addresses: npt.NDArray[Any]) -> npt.NDArray[np.bool_]: ...


_KIND_ORDER = {"impossible_travel": 0, "cross_service": 1, "hosting_address": 2, "non_public_address": 3}


@attrs.frozen
class TamperParameters:
    """Every parameter of an analysis (recorded in the report)."""

    max_speed_kmh: float = 900.0
    cross_service_window_s: int = 3600
    window_s: int = 86400
    expect_public: bool = True
    hosting_asns: frozenset[int] = frozenset()
    networks: tuple[str, ...] = ()
    asn_table: bool = False
    distance: str = ""
    distance_margin_km: float = 10.0
    distance_territory: str = "all"

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_speed_kmh": self.max_speed_kmh,
            "cross_service_window_s": self.cross_service_window_s,
            "window_s": self.window_s,
            "expect_public": self.expect_public,
            "hosting_asns": sorted(self.hosting_asns),
            "networks": list(self.networks),
            "asn_table": self.asn_table,
            "distance": self.distance,
            "distance_margin_km": self.distance_margin_km,
            "distance_territory": self.distance_territory,
        }


def distance_matrix(codes: npt.NDArray[np.bytes_], distance_km: DistanceFunction) -> npt.NDArray[np.float64]:
    """The k x k matrix of ``distance_km`` over ``codes`` (one vectorised call for all pairs)."""
    k = len(codes)
    a = np.repeat(codes, k)
    b = np.tile(codes, k)
    d = np.asarray(distance_km(a, b), dtype=np.float64).reshape(k, k)
    if np.any(np.isnan(d)):
        nan = np.isnan(d).ravel()
        bad = sorted({(x.decode(), y.decode()) for x, y in zip(a[nan], b[nan], strict=True)})
        raise ValueError(f"no distance for the country pairs {bad[:5]}")
    return d


def _default_distance(territory: DistanceTerritory = "all") -> tuple[DistanceFunction, str]:
    from .. import geography  # shapely and the border data load only when needed

    table = geography.CountryDistances.load(territory)
    info = table.describe()
    return (
        table.distances,
        f"ipevidence.geography ({'main territories' if territory == 'main' else 'whole countries'}): "
        f"{info.get('method', '')} ({info.get('source', '')})",
    )


def _default_hosting_asns() -> Mapping[int, str]:
    from ..networks import DEFAULT_CLOUD_ASNS

    return DEFAULT_CLOUD_ASNS


# ------------------------------------------------------------------------------------- the report
@attrs.frozen(eq=False)
class TamperReport:
    """The result of :func:`analyse`: geolocated timeline, findings and evidence windows.

    The entry columns are in analysis order (account name, time, line): ``table`` (the entries),
    ``country`` (``S2``, ``b""`` not located), ``database`` (index into ``databases``, -1 none),
    ``database_after`` (database built after the entry), ``asn`` (0 unknown), ``public`` (globally
    routable), ``network`` (index into ``network_labels``, -1 none). Windows are columns too
    (``window_*``), one row per account and window that has entries; ``account_rank`` maps an
    account code to its place in name order. Objects are made on request: :meth:`timeline`,
    :meth:`windows`, and the findings.
    """

    parameters: TamperParameters
    databases: tuple[DatabaseInfo, ...]
    sources: tuple[Mapping[str, Any], ...]
    table: LogTable
    country: npt.NDArray[np.bytes_]
    database: npt.NDArray[np.int16]
    database_after: npt.NDArray[np.bool_]
    asn: npt.NDArray[np.uint32]
    network: npt.NDArray[np.int32]
    network_labels: tuple[str, ...]
    findings: tuple[Finding, ...]
    window_first: npt.NDArray[np.int64]
    window_count: npt.NDArray[np.int64]
    window_located: npt.NDArray[np.int64]
    window_after: npt.NDArray[np.int64]
    window_void: Mapping[int, tuple[str, ...]]
    public: npt.NDArray[np.bool_]
    account_rank: npt.NDArray[np.int64]

    # --------------------------------------------------------------------------- entries
    def located_entry(self, i: int) -> LocatedEntry:
        """Row ``i`` (analysis order) as a :class:`LocatedEntry`."""
        c = bytes(self.country[i]).decode("ascii")
        db = int(self.database[i])
        net = int(self.network[i])
        asn = int(self.asn[i])
        return LocatedEntry(
            entry=self.table.entry(i),
            country=c or None,
            database=self.databases[db].name if db >= 0 else None,
            database_after=bool(self.database_after[i]),
            asn=asn or None,
            network=self.network_labels[net] if net >= 0 else None,
        )

    @property
    def accounts(self) -> tuple[str, ...]:
        """Account names with entries, sorted."""
        return tuple(sorted(self.table.accounts[int(c)] for c in np.unique(self.table.account)))

    def _bounds(self, account: str) -> tuple[int, int]:
        # rows are sorted by account name: one account's rows are contiguous
        code = self.table.account_code(account)
        rank = int(self.account_rank[code])
        col = self.account_rank[self.table.account]
        return int(np.searchsorted(col, rank, "left")), int(np.searchsorted(col, rank, "right"))

    def _rows_of(self, account: str) -> npt.NDArray[np.int64]:
        lo, hi = self._bounds(account)
        return np.arange(lo, hi, dtype=np.int64)

    def timeline(self, account: str) -> tuple[LocatedEntry, ...]:
        """Every entry of one account in time order, with its location."""
        return tuple(self.located_entry(int(i)) for i in self._rows_of(account))

    def findings_for(self, account: str) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.account == account)

    # --------------------------------------------------------------------------- windows
    def _window(self, w: int) -> AccountWindow:
        first = int(self.window_first[w])
        n = int(self.window_count[w])
        located = int(self.window_located[w])
        account = self.table.accounts[int(self.table.account[first])]
        ws = self.parameters.window_s
        start = (int(self.table.time[first]) // ws) * ws
        cc = self.country[first : first + n]
        countries = tuple(sorted(c.decode() for c in np.unique(cc[cc != NOT_LOCATED])))
        void = self.window_void.get(w, ())
        # ids are F1, F2, ... in the order of ``findings``
        reasons = tuple(f"{fid}: {self.findings[int(fid[1:]) - 1].kind.replace('_', ' ')}" for fid in void)
        notes = []
        if n - located:
            notes.append(f"{n - located} of {n} entries not located")
        if int(self.window_after[w]):
            notes.append(f"{int(self.window_after[w])} entries geolocated with a database built after them")
        status: Any = "void" if void else ("stands" if located else "no evidence")
        utc = dt.timezone.utc
        return AccountWindow(
            account=account,
            start=dt.datetime.fromtimestamp(start, utc),
            end=dt.datetime.fromtimestamp(start + ws, utc),
            entries=n,
            located=located,
            countries=countries,
            status=status,
            findings=void,
            reasons=reasons,
            notes=tuple(notes),
        )

    def windows(self, account: str | None = None) -> tuple[AccountWindow, ...]:
        """The evidence windows (of one account, or all), in account and time order."""
        if account is None:
            return tuple(self._window(w) for w in range(len(self.window_first)))
        lo, hi = self._bounds(account)
        w0, w1 = np.searchsorted(self.window_first, [lo, hi], "left")
        return tuple(self._window(w) for w in range(int(w0), int(w1)))

    @property
    def void_windows(self) -> tuple[AccountWindow, ...]:
        return tuple(self._window(w) for w in sorted(self.window_void))

    # --------------------------------------------------------------------------- summary
    def summary(self) -> dict[str, Any]:
        n = len(self.table)
        located = int(np.count_nonzero(self.country != NOT_LOCATED))
        kinds: dict[str, int] = {k: 0 for k in _KIND_ORDER}
        for f in self.findings:
            kinds[f.kind] += 1
        nw = len(self.window_first)
        void = len(self.window_void)
        no_ev = int(np.count_nonzero(self.window_located == 0))
        no_ev_void = sum(1 for w in self.window_void if int(self.window_located[w]) == 0)
        by_db = np.bincount(self.database[self.database >= 0], minlength=len(self.databases))
        return {
            "entries": n,
            "accounts": len(np.unique(self.table.account)),
            "located": located,
            "not_located": n - located,
            "entries_per_database": {d.name: int(c) for d, c in zip(self.databases, by_db, strict=True)},
            "entries_database_after": int(np.count_nonzero(self.database_after)),
            "entries_not_public": int(np.count_nonzero(~self.public)),
            "entries_no_database": int(np.count_nonzero((self.database < 0) & self.public)),
            "findings": kinds,
            "windows": nw,
            "windows_void": void,
            "windows_stand": nw - void - (no_ev - no_ev_void),
            "windows_no_evidence": no_ev - no_ev_void,
        }

    def to_dict(self, *, timelines: bool = True, windows: bool = True) -> dict[str, Any]:
        """JSON-ready, deterministic. ``timelines``/``windows`` False leave out the per-entry and
        per-window detail (for very large logs); findings and void windows are always included."""
        out: dict[str, Any] = {
            "parameters": self.parameters.to_dict(),
            "databases": [d.to_dict() for d in self.databases],
            "sources": [dict(s) for s in self.sources],
            "summary": self.summary(),
            "findings": [f.to_dict() for f in self.findings],
            "void_windows": [w.to_dict() for w in self.void_windows],
        }
        if timelines or windows:
            accounts = []
            for a in self.accounts:
                item: dict[str, Any] = {"account": a}
                if windows:
                    item["windows"] = [w.to_dict() for w in self.windows(a)]
                if timelines:
                    item["timeline"] = [e.to_dict() for e in self.timeline(a)]
                accounts.append(item)
            out["accounts"] = accounts
        return out

    def to_json(self, *, timelines: bool = True, windows: bool = True) -> str:
        return render_json(self, timelines=timelines, windows=windows)

    def to_markdown(self, *, timelines: bool = True) -> str:
        return render_markdown(self, timelines=timelines)

    def __str__(self) -> str:
        s = self.summary()
        k = s["findings"]
        return (
            f"Tamper analysis of {s['entries']} entries of {s['accounts']} accounts "
            f"({s['located']} located): {len(self.findings)} findings "
            f"({k['impossible_travel']} impossible travel, {k['cross_service']} cross-service, "
            f"{k['hosting_address']} hosting/VPN, {k['non_public_address']} non-public); "
            f"{s['windows_void']} of {s['windows']} windows void, {s['windows_stand']} stand, "
            f"{s['windows_no_evidence']} without located entries."
        )


# ------------------------------------------------------------------------------------- the work
def _as_table(
    entries: LogTable | LogRead | Iterable[LogEntry] | Iterable[LogRead],
) -> tuple[LogTable, tuple[Mapping[str, Any], ...]]:
    if isinstance(entries, LogTable):
        return entries, ()
    if isinstance(entries, LogRead):
        return entries.table, (_source_summary(entries),)
    items = list(entries)
    if items and all(isinstance(x, LogRead) for x in items):
        reads = [x for x in items if isinstance(x, LogRead)]
        return LogTable.concat([r.table for r in reads]), tuple(_source_summary(r) for r in reads)
    if not all(isinstance(x, LogEntry) for x in items):
        raise TypeError("analyse() takes a LogTable, a LogRead, LogReads or LogEntry objects")
    return LogTable.from_entries(x for x in items if isinstance(x, LogEntry)), ()


def _source_summary(read: LogRead) -> dict[str, Any]:
    return {
        "source": read.source,
        "format": read.format,
        "lines": read.lines,
        "entries": read.entries,
        "malformed": read.problem_count,
        "malformed_lines": [int(x) for x in read.problem_lines[:100]],
        "not_entries": dict(read.ignored),
        "encoding": read.encoding,
        "replaced_bytes": read.replaced_bytes,
    }


def _geolocate(
    t: LogTable, public: npt.NDArray[np.bool_], backends: Sequence[GeoBackend]
) -> tuple[npt.NDArray[np.bytes_], npt.NDArray[np.int16], npt.NDArray[np.bool_]]:
    n = len(t)
    country = np.zeros(n, dtype="S2")
    db = np.full(n, -1, dtype=np.int16)
    after = np.zeros(n, dtype=np.bool_)
    day = t.time // 86400
    epoch = dt.date(1970, 1, 1)
    for fam in (4, 6):
        cands = [i for i, b in enumerate(backends) if fam in b.families]
        rows = np.flatnonzero((t.family == fam) & public)
        if not cands or not len(rows):
            continue
        cands.sort(key=lambda i: (backends[i].build_date, i))
        built = np.array([(backends[i].build_date - epoch).days for i in cands], dtype=np.int64)
        # nearest build on or before the entry's (UTC) day; else the earliest, flagged
        pick = np.searchsorted(built, day[rows], side="right") - 1
        late = pick < 0
        pick[late] = 0
        after[rows[late]] = True
        for k, bi in enumerate(cands):
            sel = rows[pick == k]
            if not len(sel):
                continue
            col = t.ipv4[sel] if fam == 4 else t.ipv6[sel]
            country[sel] = np.asarray(backends[bi].lookup(col), dtype="S2")
            db[sel] = bi
    return country, db, after


def _contains(net: AddressSet, col: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    try:
        return np.asarray(net.contains(col), dtype=np.bool_)
    except FamilyMismatchError:
        return np.zeros(len(col), dtype=np.bool_)


def _as_name(table: AsnLookup | None, asn: int) -> str | None:
    name = getattr(table, "as_name", None)
    if not callable(name):
        return None
    value = name(asn)
    return str(value) if value else None


def _asn_lookup(table: AsnLookup, col: npt.NDArray[Any]) -> npt.NDArray[np.uint32]:
    try:
        out = np.asarray(table.lookup(col))
    except FamilyMismatchError:
        return np.zeros(len(col), dtype=np.uint32)
    return np.where(out.astype(np.int64) > 0, out, 0).astype(np.uint32)


def analyse(
    entries: LogTable | LogRead | Iterable[LogEntry] | Iterable[LogRead],
    *,
    backend: GeoBackend | None = None,
    backends: Sequence[GeoBackend] | None = None,
    distance_km: DistanceFunction | None = None,
    distance_territory: DistanceTerritory = "all",
    max_speed_kmh: float = 900.0,
    distance_margin_km: float = 10.0,
    cross_service_window: dt.timedelta = dt.timedelta(hours=1),
    window: dt.timedelta = dt.timedelta(days=1),
    hosting_asns: Collection[int] | None = None,
    asn_table: AsnLookup | None = None,
    networks: Mapping[str, AddressSet] | None = None,
    expect_public: bool = True,
) -> TamperReport:
    """Geolocate every entry and find what makes the country location evidence void.

    * ``backend`` (one database) or ``backends`` (dated databases: each entry uses, per address
      family, the database built nearest before the entry's UTC day, else the nearest after,
      flagged ``database_after``).
    * ``distance_km``: vectorised minimum border-to-border distance between two ``S2`` columns
      (default: :mod:`ipevidence.geography`); neighbours are 0 km, so never impossible travel.
    * ``distance_territory`` chooses the default's table: ``"all"`` (default) measures whole
      countries, overseas parts included, as METHOD.md section 11 reads (France borders Brazil
      through French Guiana, so FR -> BR is never impossible); ``"main"`` measures main
      territories (FR-BR about 6,360 km), finds more and so errs towards voiding evidence; its
      findings say so and give the whole-country distance too. Only with the default distance.
    * impossible travel: consecutive located entries of one account in different countries whose
      distance, less ``distance_margin_km`` (the distance table's error allowance, default 10 km),
      exceeds ``max_speed_kmh`` x elapsed time (the elapsed time is lengthened by the log's
      timestamp resolution, so a coarse clock never makes travel look faster).
    * cross-service: an entry in another country than the account's most recent entry on another
      service, at most ``cross_service_window`` earlier; chained pairs form one finding.
    * hosting/VPN: the address in one of ``networks`` (label -> range set: a
      :class:`~ipevidence.networks.ProviderRanges`, a :class:`~ipevidence.networks.CloudRanges`
      whose providers then name the network, or anything with ``contains``, such as a VPN exit
      list), or else its ASN (from ``asn_table``, e.g. :class:`~ipevidence.networks.AsnTable`) in
      ``hosting_asns`` (default :data:`ipevidence.networks.DEFAULT_CLOUD_ASNS`; a mapping's names
      are used in the explanation); one finding per account, address and network.
    * non-public: private or reserved addresses (when ``expect_public``), one finding per account
      and address; they are never geolocated.
    * windows: each account's time is cut into ``window``-long windows aligned to the Unix epoch
      (UTC midnight for days); a window with an entry of a finding is void.
    """
    if (backend is None) == (backends is None):
        raise TypeError("give exactly one of backend= or backends=")
    dbs: tuple[GeoBackend, ...] = (backend,) if backend is not None else tuple(backends or ())
    if not dbs:
        raise ValueError("backends= is empty")
    if max_speed_kmh <= 0:
        raise ValueError("max_speed_kmh must be positive")
    if distance_margin_km < 0:
        raise ValueError("distance_margin_km must not be negative")
    window_s = int(window.total_seconds())
    cross_s = int(cross_service_window.total_seconds())
    if window_s <= 0 or cross_s < 0:
        raise ValueError("window must be positive and cross_service_window not negative")
    if distance_territory not in ("all", "main"):
        raise ValueError(f"distance_territory must be 'all' or 'main', not {distance_territory!r}")
    whole_km: DistanceFunction | None = None
    if distance_km is None:
        distance_km, distance_name = _default_distance(distance_territory)
        if distance_territory == "main":
            whole_km = _default_distance("all")[0]
    elif distance_territory != "all":
        raise ValueError("distance_territory chooses a shipped distance table: not with distance_km=")
    else:
        distance_name = getattr(distance_km, "__qualname__", "custom distance function")
    if hosting_asns is None:
        hosting_asns = _default_hosting_asns() if asn_table is not None else {}
    hosting = frozenset(int(a) for a in hosting_asns)
    hosting_names: Mapping[int, str] = (
        {int(k): str(v) for k, v in hosting_asns.items()} if isinstance(hosting_asns, Mapping) else {}
    )
    nets = dict(networks or {})
    params = TamperParameters(
        max_speed_kmh=float(max_speed_kmh),
        cross_service_window_s=cross_s,
        window_s=window_s,
        expect_public=expect_public,
        hosting_asns=hosting,
        networks=tuple(sorted(nets)),
        asn_table=asn_table is not None,
        distance=distance_name,
        distance_margin_km=float(distance_margin_km),
        distance_territory=distance_territory,
    )

    raw, sources = _as_table(entries)
    # analysis order: account NAME, time, line
    rank = np.empty(len(raw.accounts), dtype=np.int64)
    rank[np.argsort(np.array(raw.accounts, dtype=object), kind="stable")] = np.arange(len(raw.accounts))
    acc_rank = rank[raw.account] if len(raw) else np.zeros(0, np.int64)
    order = np.lexsort((raw.line, raw.time, acc_rank))
    t = raw.take(order)
    n = len(t)
    is4 = t.family == 4
    public = np.where(is4, global_mask_v4(t.ipv4), global_mask_v6(t.ipv6))

    country, dbi, after = _geolocate(t, public, dbs)

    # ---- ASN and network labels
    asn = np.zeros(n, dtype=np.uint32)
    if asn_table is not None:
        for fam, col in ((4, t.ipv4), (6, t.ipv6)):
            rows = np.flatnonzero((t.family == fam) & public)
            if len(rows):
                asn[rows] = _asn_lookup(asn_table, col[rows])
    network = np.full(n, -1, dtype=np.int32)
    labels: list[str] = []
    for label in sorted(nets):
        net = nets[label]
        which = np.full(n, -1, dtype=np.int64)  # index of the sub-label (provider) per row
        sub: tuple[str, ...] = tuple(getattr(net, "labels", ()) or ()) if hasattr(net, "match") else ()
        for fam, col in ((4, t.ipv4), (6, t.ipv6)):
            rows = np.flatnonzero((t.family == fam) & public)
            if not len(rows):
                continue
            if sub:
                with contextlib.suppress(FamilyMismatchError):
                    which[rows] = np.asarray(net.match(col[rows]), dtype=np.int64)  # type: ignore[attr-defined]
            else:
                which[rows] = np.where(_contains(net, col[rows]), 0, -1)
        for k in np.unique(which[(which >= 0) & (network < 0)]).tolist():
            sel = (which == k) & (network < 0)
            network[sel] = len(labels)
            labels.append(f"{label}: {sub[k]}" if sub else label)
    if hosting:
        hit = np.isin(asn, np.fromiter(hosting, dtype=np.uint32)) & (network < 0) & public
        for a in np.unique(asn[hit]).tolist():
            who = hosting_names.get(int(a)) or _as_name(asn_table, int(a))
            network[hit & (asn == a)] = len(labels)
            labels.append(f"AS{a}{f' ({who})' if who else ''}, a cloud/hosting network")
    report = TamperReport(
        parameters=params,
        databases=tuple(b.describe() for b in dbs),
        sources=sources,
        table=t,
        country=country,
        database=dbi,
        database_after=after,
        asn=asn,
        network=network,
        network_labels=tuple(labels),
        findings=(),
        window_first=np.zeros(0, np.int64),
        window_count=np.zeros(0, np.int64),
        window_located=np.zeros(0, np.int64),
        window_after=np.zeros(0, np.int64),
        window_void={},
        public=public,
        account_rank=rank,
    )

    raw_findings: list[tuple[tuple[int, int, int, int], Callable[[str], Finding], npt.NDArray[np.int64]]] = []
    account_rank_sorted = acc_rank[order]

    def key(kind: str, rows: npt.NDArray[np.int64]) -> tuple[int, int, int, int]:
        first = int(rows[0])
        return (int(account_rank_sorted[first]), int(t.time[first]), _KIND_ORDER[kind], int(t.line[first]))

    located = country != NOT_LOCATED
    L = np.flatnonzero(located)
    res = t.resolution

    # ---- (a) impossible travel
    if len(L) > 1:
        a, b = L[:-1], L[1:]
        cand = (t.account[a] == t.account[b]) & (country[a] != country[b])
        a, b = a[cand], b[cand]
        if len(a):
            codes, inv = np.unique(np.concatenate([country[a], country[b]]), return_inverse=True)
            mat = distance_matrix(codes, distance_km)
            d = mat[inv[: len(a)], inv[len(a) :]]
            elapsed = (t.time[b] - t.time[a]) + res
            bad = (d - distance_margin_km) > max_speed_kmh * elapsed / 3600.0
            whole = np.full(len(a), np.nan)
            if whole_km is not None and np.any(bad):
                whole[bad] = np.asarray(whole_km(country[a[bad]], country[b[bad]]), dtype=np.float64)
            for i, j, dist, el, wd in zip(a[bad], b[bad], d[bad], elapsed[bad], whole[bad], strict=True):
                rows = np.array([i, j], dtype=np.int64)

                def make_it(
                    fid: str,
                    rows: npt.NDArray[np.int64] = rows,
                    dist: float = float(dist),
                    el: int = int(el),
                    wd: float | None = None if np.isnan(wd) else float(wd),
                ) -> Finding:
                    return ImpossibleTravel(
                        id=fid,
                        account=t.accounts[int(t.account[rows[0]])],
                        entries=tuple(report.located_entry(int(r)) for r in rows),
                        distance_km=dist,
                        elapsed_s=el,
                        max_speed_kmh=float(max_speed_kmh),
                        distance_margin_km=float(distance_margin_km),
                        distance_territory=distance_territory,
                        whole_country_km=wd,
                    )

                raw_findings.append((key("impossible_travel", rows), make_it, rows))

    # ---- (b) cross-service inconsistency
    if len(L) > 1 and len(t.services) > 1:
        acc_l, svc_l, cty_l, time_l = t.account[L], t.service[L], country[L], t.time[L]
        pos = np.arange(len(L))
        pairs: list[npt.NDArray[np.int64]] = []
        for s in np.unique(svc_l):
            last = np.maximum.accumulate(np.where(svc_l == s, pos, -1))
            prev = np.concatenate([[-1], last[:-1]])
            ok = (svc_l != s) & (prev >= 0)
            j = pos[ok]
            p = prev[ok]
            hit = (acc_l[p] == acc_l[j]) & (cty_l[p] != cty_l[j]) & (time_l[j] - time_l[p] <= cross_s)
            if np.any(hit):
                pairs.append(np.stack([L[p[hit]], L[j[hit]]], axis=1))
        if pairs:
            allp = np.unique(np.concatenate(pairs), axis=0)
            allp = allp[np.lexsort((allp[:, 1], allp[:, 0]))]
            episodes: list[list[int]] = []
            for p0, p1 in allp.tolist():
                if episodes and t.account[episodes[-1][0]] == t.account[p0] and p0 <= max(episodes[-1]):
                    episodes[-1].extend((p0, p1))
                else:
                    episodes.append([p0, p1])
            for ep in episodes:
                rows = np.unique(np.array(ep, dtype=np.int64))

                def make_cs(fid: str, rows: npt.NDArray[np.int64] = rows) -> Finding:
                    return CrossServiceInconsistency(
                        id=fid,
                        account=t.accounts[int(t.account[rows[0]])],
                        entries=tuple(report.located_entry(int(r)) for r in rows),
                        window_s=cross_s,
                    )

                raw_findings.append((key("cross_service", rows), make_cs, rows))

    # ---- (c) hosting / VPN networks, and non-public addresses
    def grouped(mask: npt.NDArray[np.bool_]) -> list[npt.NDArray[np.int64]]:
        rows = np.flatnonzero(mask)
        if not len(rows):
            return []
        v6 = np.frombuffer(np.ascontiguousarray(t.ipv6[rows]).tobytes(), dtype=">u8").reshape(-1, 2)
        keys = np.stack(
            [
                t.account[rows].astype(np.int64),
                t.family[rows].astype(np.int64),
                t.ipv4[rows].astype(np.int64),
                v6[:, 0].astype(np.int64),
                v6[:, 1].astype(np.int64),
                network[rows].astype(np.int64),
            ],
            axis=1,
        )
        _, inv = np.unique(keys, axis=0, return_inverse=True)
        inv = inv.ravel()
        srt = np.argsort(inv, kind="stable")
        bounds = np.flatnonzero(np.diff(inv[srt])) + 1
        return [rows[g] for g in np.split(srt, bounds)]

    for rows in grouped(network >= 0):
        address = t.address_text(int(rows[0]))
        label = labels[int(network[rows[0]])]

        def make_h(
            fid: str, rows: npt.NDArray[np.int64] = rows, address: str = address, label: str = label
        ) -> Finding:
            return HostingAddress(
                id=fid,
                account=t.accounts[int(t.account[rows[0]])],
                entries=tuple(report.located_entry(int(r)) for r in rows),
                address=address,
                network=label,
            )

        raw_findings.append((key("hosting_address", rows), make_h, rows))

    if expect_public:
        for rows in grouped(~public):
            address = t.address_text(int(rows[0]))
            reason = non_global_reason(parse_address(address)) or "reserved"

            def make_np(
                fid: str, rows: npt.NDArray[np.int64] = rows, address: str = address, reason: str = reason
            ) -> Finding:
                return NonPublicAddress(
                    id=fid,
                    account=t.accounts[int(t.account[rows[0]])],
                    entries=tuple(report.located_entry(int(r)) for r in rows),
                    address=address,
                    reason=reason,
                )

            raw_findings.append((key("non_public_address", rows), make_np, rows))

    # ---- findings in a deterministic order, with ids
    raw_findings.sort(key=lambda x: x[0])
    findings = tuple(make(f"F{k + 1}") for k, (_, make, _) in enumerate(raw_findings))

    # ---- windows: contiguous runs of (account, window) in analysis order
    wnum = t.time // window_s
    if n:
        change = np.ones(n, dtype=np.bool_)
        change[1:] = (t.account[1:] != t.account[:-1]) | (wnum[1:] != wnum[:-1])
        first = np.flatnonzero(change)
        count = np.diff(np.append(first, n))
        loc_n = np.add.reduceat(located.astype(np.int64), first)
        after_n = np.add.reduceat((after & located).astype(np.int64), first)
        wid = np.cumsum(change) - 1
    else:
        first = count = loc_n = after_n = wid = np.zeros(0, np.int64)
    void: dict[int, list[str]] = {}
    for f, (_, _, rows) in zip(findings, raw_findings, strict=True):
        for w in np.unique(wid[rows]).tolist():
            void.setdefault(int(w), []).append(f.id)
    return attrs.evolve(
        report,
        findings=findings,
        window_first=first.astype(np.int64),
        window_count=count.astype(np.int64),
        window_located=loc_n.astype(np.int64),
        window_after=after_n.astype(np.int64),
        window_void={w: tuple(ids) for w, ids in sorted(void.items())},
    )
