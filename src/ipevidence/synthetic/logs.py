"""Seeded service logs with planted tampering cases, and the truth they were built from.

:func:`generate_log` writes the log of many accounts using a few services over some days. Most
accounts stay in their home country; some travel on plausible flights (the gap before and after a
trip is at least the capitals' great-circle distance at 800 km/h plus two hours, so no maximum
speed of 800 km/h or more and no border-to-border distance can make it impossible). Planted cases
use accounts of their own, each built by hand around one scenario:

* ``vpn_hop`` (found, impossible travel): a home login, then minutes later a login from a far
  country on the same service;
* ``neighbour_hop`` (not found): a login from a neighbouring country minutes after a home login;
* ``plausible_flight`` (not found): a login from a far country 12 h or more after a home login;
* ``cloud_address`` (found, hosting address): a login from the synthetic cloud block, which the plan
  places in Germany, by an account at home in Germany;
* ``credentials_sharing`` (found, cross-service): the account's e-learning session in its home
  country, its mail from a neighbouring country 20 minutes later, and e-learning at home again;
* ``private_address`` (found, non-public address): a login logged with a private address.

Addresses come from an address plan: one IPv4 /16 per country (:data:`PLAN_BLOCKS`) and a cloud
block, which :class:`PlanBackend` places deterministically; :func:`plan_distance_km` is a stand-in
country distance (0 for the plan's land neighbours, else 0.6 x the capitals' distance). With
``address_source=`` a real backend with ``ranges_for`` (such as the IP2Location LITE file), home
and travel addresses are drawn from that database's own ranges for each country instead.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import ipaddress
import os
from collections.abc import Mapping, Sequence
from typing import Any, Final, Protocol

import attrs
import numpy as np
import numpy.typing as npt

from .._io import atomic_text
from ..addresses import IPV4_DTYPE, IPV6_DTYPE, format_ipv4
from ..backends.ranges import RangeTable, TableBackend
from ..countries import COUNTRY_DTYPE
from ..provenance import DatabaseInfo
from ..tamper.model import LogTable

__all__ = [
    "CLOUD_BLOCK",
    "PLAN_BLOCKS",
    "PLAN_CAPITALS",
    "PLAN_NEIGHBOURS",
    "PlanBackend",
    "PlanNetwork",
    "PlantedCase",
    "SyntheticLog",
    "generate_log",
    "plan_distance_km",
    "write_csv",
    "write_moodle_csv",
]

#: capital coordinates (lat, lon) of the plan's countries
PLAN_CAPITALS: Final[Mapping[str, tuple[float, float]]] = {
    "AT": (48.21, 16.37),
    "AU": (-35.28, 149.13),
    "CZ": (50.08, 14.44),
    "DE": (52.52, 13.40),
    "GB": (51.51, -0.13),
    "JP": (35.68, 139.69),
    "NL": (52.37, 4.90),
    "PL": (52.23, 21.01),
    "SK": (48.15, 17.11),
    "US": (38.90, -77.04),
}
#: land neighbours among the plan's countries
PLAN_NEIGHBOURS: Final[frozenset[frozenset[str]]] = frozenset(
    frozenset(p.split("-"))
    for p in ("AT-CZ", "AT-DE", "AT-SK", "CZ-DE", "CZ-PL", "CZ-SK", "DE-NL", "DE-PL", "PL-SK")
)
_COUNTRIES: Final = tuple(sorted(PLAN_CAPITALS))
#: one /16 per plan country: 81.<16+k>.0.0/16 in sorted country order
PLAN_BLOCKS: Final[Mapping[str, str]] = {c: f"81.{16 + k}.0.0/16" for k, c in enumerate(_COUNTRIES)}
#: the synthetic cloud block (placed in DE by the plan)
CLOUD_BLOCK: Final = "52.28.0.0/16"
_CLOUD_COUNTRY: Final = "DE"
_FAR: Final = ("AU", "JP", "US")
_HOME_WEIGHTS: Final = {
    "CZ": 0.35,
    "DE": 0.2,
    "PL": 0.1,
    "SK": 0.1,
    "AT": 0.08,
    "GB": 0.07,
    "NL": 0.05,
    "US": 0.05,
}
SERVICES: Final = ("moodle", "mail", "vpn")
EVENTS: Final = ("login", "view", "submit", "download")


def _block_base(cidr: str) -> int:
    return int(ipaddress.IPv4Network(cidr).network_address)


_PLAN_INDEX: Final = {c: i for i, c in enumerate(_COUNTRIES)}


@functools.cache
def _capital_matrix() -> npt.NDArray[np.float64]:
    """Great-circle km between the plan's capitals (plan country order; 0 on the diagonal)."""
    from ..geography import haversine_km  # shapely loads only when a distance is needed

    lat = np.array([PLAN_CAPITALS[c][0] for c in _COUNTRIES], dtype=np.float64)
    lon = np.array([PLAN_CAPITALS[c][1] for c in _COUNTRIES], dtype=np.float64)
    m = haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    np.fill_diagonal(m, 0.0)
    return m


def _capital_km(a: str, b: str) -> float:
    return float(_capital_matrix()[_PLAN_INDEX[a], _PLAN_INDEX[b]])


@functools.cache
def _plan_matrix() -> npt.NDArray[np.float64]:
    m = 0.6 * _capital_matrix()
    for i, a in enumerate(_COUNTRIES):
        for j, b in enumerate(_COUNTRIES):
            if frozenset((a, b)) in PLAN_NEIGHBOURS:
                m[i, j] = 0.0
    return m


_PLAN_CODES: Final = np.array(_COUNTRIES, dtype=COUNTRY_DTYPE)


def plan_distance_km(a: npt.NDArray[np.bytes_], b: npt.NDArray[np.bytes_]) -> npt.NDArray[np.float64]:
    """Stand-in country distance over two ``S2`` columns of plan countries (km; NaN otherwise).

    0 for the same country and the plan's land neighbours, else 0.6 x the capitals' great-circle
    distance (a rough minimum border-to-border distance; only for tests and benchmarks)."""
    a = np.asarray(a, COUNTRY_DTYPE)
    b = np.asarray(b, COUNTRY_DTYPE)
    ia = np.searchsorted(_PLAN_CODES, a).clip(0, len(_PLAN_CODES) - 1)
    ib = np.searchsorted(_PLAN_CODES, b).clip(0, len(_PLAN_CODES) - 1)
    ok = (_PLAN_CODES[ia] == a) & (_PLAN_CODES[ib] == b)
    return np.where(ok, _plan_matrix()[ia, ib], np.nan)


class PlanBackend(TableBackend):
    """A :class:`~ipevidence.backends.base.GeoBackend` over the address plan (IPv4 only)."""

    def __init__(self, build_date: dt.date = dt.date(2024, 1, 1), name: str = "synthetic-plan") -> None:
        rows = sorted(
            [(_block_base(b), c) for c, b in PLAN_BLOCKS.items()] + [(_block_base(CLOUD_BLOCK), "DE")]
        )
        starts = np.array([r[0] for r in rows], dtype=IPV4_DTYPE)
        self._table = RangeTable(
            v4=(starts, starts + np.uint32(0xFFFF), np.array([r[1] for r in rows], dtype=COUNTRY_DTYPE))
        )
        self._build_date = build_date
        self.nonstandard_codes = {}
        self._info = DatabaseInfo(
            kind="synthetic",
            name=name,
            sha256="0" * 64,
            build_date=build_date,
            ranges=len(PLAN_BLOCKS) + 1,
            families=frozenset({4}),
            description="address plan of ipevidence.synthetic.logs",
        )


class PlanNetwork:
    """Membership in one IPv4 CIDR block (the synthetic cloud): an :class:`~..tamper.AddressSet`."""

    def __init__(self, cidr: str = CLOUD_BLOCK) -> None:
        net = ipaddress.IPv4Network(cidr)
        self._start = int(net.network_address)
        self._end = int(net.broadcast_address)

    def contains(self, addresses: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
        col = np.asarray(addresses)
        if col.dtype == IPV6_DTYPE:
            return np.zeros(len(col), dtype=np.bool_)
        col = col.astype(np.int64)
        return np.asarray((col >= self._start) & (col <= self._end), dtype=np.bool_)


class _RangeSource(Protocol):
    def ranges_for(self, country: str, family: int = 4) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]: ...


class _AddressSet(Protocol):
    def contains(self, column: npt.ArrayLike) -> npt.NDArray[np.bool_]: ...


@attrs.frozen
class PlantedCase:
    """One planted scenario: its kind, account, the log lines involved, and whether the analysis
    must find it (``finding`` names the finding kind, None for the cases that must NOT be found)."""

    scenario: str
    account: str
    lines: tuple[int, ...]
    finding: str | None
    description: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "account": self.account,
            "lines": list(self.lines),
            "finding": self.finding,
            "description": self.description,
        }


@attrs.frozen(eq=False)
class SyntheticLog:
    """A generated log (entries in time order, lines 1..N) and what was planted in it."""

    table: LogTable
    cases: tuple[PlantedCase, ...]
    home: Mapping[str, str]
    seed: int

    @property
    def expected(self) -> frozenset[tuple[str, str, tuple[int, ...]]]:
        """(finding kind, account, lines) of every finding the analysis must report, no more."""
        return frozenset((c.finding, c.account, c.lines) for c in self.cases if c.finding is not None)


class _Addr:
    """Draws addresses of a country: from the plan, or from a real database's ranges."""

    def __init__(self, source: _RangeSource | None, avoid: _AddressSet | None = None) -> None:
        self._source = source
        self._avoid = avoid
        self._cache: dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = {}

    def draw(self, country: str, keys: npt.NDArray[np.int64]) -> npt.NDArray[np.uint32]:
        """Deterministic addresses of ``country`` for integer ``keys`` (same key, same address)."""
        keys = np.asarray(keys, dtype=np.int64)
        if self._source is None:
            base = _block_base(PLAN_BLOCKS[country])
            return (base + 256 + (keys * 7919) % 65000).astype(IPV4_DTYPE)
        if country not in self._cache:
            s, e = self._source.ranges_for(country, 4)
            s = np.asarray(s).astype(np.int64)
            e = np.asarray(e).astype(np.int64)
            # only ranges of at least 256 addresses, first 64 of them: stable, routable, large blocks
            big = (e - s) >= 255
            s, e = s[big], e[big]
            if self._avoid is not None and len(s):
                # drop ranges whose drawn part (the first 256 addresses) touches the avoided set
                s, e = s[:512], e[:512]
                probe = (s[:, None] + np.arange(256, dtype=np.int64)[None, :]).astype(IPV4_DTYPE)
                hit = self._avoid.contains(probe.ravel()).reshape(probe.shape).any(axis=1)
                s, e = s[~hit], e[~hit]
            s, e = s[:64], e[:64]
            if not len(s):
                raise ValueError(f"the address source has no large range for {country}")
            self._cache[country] = (s, e)
        s, e = self._cache[country]
        r = keys % len(s)
        out: npt.NDArray[np.uint32] = (s[r] + 1 + (keys * 7919) % np.minimum(e[r] - s[r] - 1, 250)).astype(
            IPV4_DTYPE
        )
        return out


def generate_log(
    *,
    accounts: int = 200,
    entries: int = 5000,
    days: int = 30,
    seed: int = 1,
    start: dt.datetime = dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc),
    travellers: float = 0.05,
    planted: int = 1,
    address_source: _RangeSource | None = None,
    avoid: _AddressSet | None = None,
) -> SyntheticLog:
    """A seeded log of ``accounts`` accounts with about ``entries`` entries over ``days`` days.

    ``avoid`` (anything with a vectorised ``contains``, such as
    :func:`ipevidence.netdata.shipped_cloud_ranges`): with ``address_source``, ranges touching it are
    never drawn, so that a real database's cloud or hosting ranges give no home or travel address
    and only the planted ``cloud_address`` case is a hosting address.

    ``planted`` copies of each of the six scenarios (module documentation) use accounts of their
    own (counted in ``accounts``); ``travellers`` is the share of background accounts that take
    one plausible trip abroad. Entries are in time order with lines 1..N (source ``synthetic.log``).
    """
    rng = np.random.default_rng(seed)
    addr = _Addr(address_source, avoid)
    scen = (
        "vpn_hop",
        "neighbour_hop",
        "plausible_flight",
        "cloud_address",
        "credentials_sharing",
        "private_address",
    )
    n_planted = planted * len(scen)
    n_bg = accounts - n_planted
    if n_bg < 1:
        raise ValueError("accounts must exceed the planted accounts (6 x planted)")
    if planted and days < 9:
        raise ValueError(
            f"days must be at least 9 when cases are planted (got {days}): each planted case needs "
            "3 days of ordinary history before it and 5 after"
        )
    span = days * 86400
    t0 = int(start.timestamp())

    names = [f"user{i:05d}@example.org" for i in range(accounts)]
    homes_list = list(_HOME_WEIGHTS)
    probs = np.array(list(_HOME_WEIGHTS.values()))
    home_idx = rng.choice(len(homes_list), size=accounts, p=probs / probs.sum())
    home = {names[i]: homes_list[int(home_idx[i])] for i in range(accounts)}

    # ---- background: counts per account, times, services, events
    # each planted set writes 29 entries: 6 x 3 context entries and 11 scenario entries
    per = rng.multinomial(max(entries - planted * 29, n_bg), np.full(n_bg, 1.0 / n_bg))
    acc = np.repeat(np.arange(n_bg, dtype=np.int64), per)
    m = len(acc)
    t = rng.integers(0, span, size=m, dtype=np.int64)
    o = np.lexsort((t, acc))
    acc, t = acc[o], t[o]
    country = np.array([home[names[int(a)]] for a in range(n_bg)], dtype=COUNTRY_DTYPE)[acc]
    host = acc * 3 + rng.integers(0, 3, size=m)  # each account has up to 3 home addresses
    # travellers: a trip abroad with plausible gaps on both sides
    trav = np.flatnonzero(rng.random(n_bg) < travellers)
    for a in trav.tolist():
        h = home[names[a]]
        dest = str(rng.choice([c for c in _COUNTRIES if c != h]))
        gap = int((_capital_km(h, dest) / 800.0 + 2.0) * 3600)
        ts = int(rng.integers(0, span // 2))
        te = ts + int(rng.integers(2 * 86400, 7 * 86400))
        lo, hi = np.searchsorted(acc, [a, a + 1])
        tt = t[lo:hi]
        abroad = (tt >= ts) & (tt < te)
        shift = np.where(tt >= ts, gap, 0) + np.where(tt >= te, gap, 0)
        t[lo:hi] = tt + shift
        country[lo:hi][abroad] = dest.encode()
        host[lo:hi][abroad] = host[lo:hi][abroad] + 1_000_003 * (1 + _COUNTRIES.index(dest))
    ipv4 = np.zeros(m, dtype=IPV4_DTYPE)
    for c in np.unique(country):
        sel = country == c
        ipv4[sel] = addr.draw(c.decode(), host[sel])
    service = rng.integers(0, len(SERVICES), size=m).astype(np.int32)
    event = rng.integers(0, len(EVENTS), size=m).astype(np.int32)

    # ---- planted scenarios, built by hand
    p_acc: list[int] = []
    p_time: list[int] = []
    p_v4: list[int] = []
    p_svc: list[int] = []
    p_evt: list[int] = []
    p_case: list[int] = []  # index into cases_raw, -1 for context entries
    cases_raw: list[tuple[str, str, str | None, str]] = []

    def put(a: int, when: int, country_or_addr: str, svc: str, case: int, key: int = 0) -> None:
        p_acc.append(a)
        p_time.append(when)
        if country_or_addr == "cloud":
            v = _block_base(CLOUD_BLOCK) + 4242 + key
        elif country_or_addr == "private":
            v = (10 << 24) | (20 << 16) | (30 << 8) | 40
        else:
            v = int(addr.draw(country_or_addr, np.array([a * 3 + key]))[0])
        p_v4.append(v)
        p_svc.append(SERVICES.index(svc))
        p_evt.append(0)
        p_case.append(case)

    for k in range(planted):
        for si, sname in enumerate(scen):
            a = n_bg + k * len(scen) + si
            name = names[a]
            h = home[name]
            if sname == "cloud_address":
                h = _CLOUD_COUNTRY
            elif sname in ("neighbour_hop", "credentials_sharing", "vpn_hop", "plausible_flight"):
                h = "CZ"
            home[name] = h
            base = t0 + int(rng.integers(3 * 86400, span - 5 * 86400))
            base -= base % 60
            # context: home entries two days before and three days after the scenario
            put(a, base - 2 * 86400, h, "moodle", -1)
            put(a, base - 2 * 86400 + 3600, h, "mail", -1)
            put(a, base + 3 * 86400, h, "moodle", -1)
            ci = len(cases_raw)
            if sname == "vpn_hop":
                far = _FAR[k % len(_FAR)]
                put(a, base, h, "vpn", ci)
                put(a, base + 300, far, "vpn", ci, key=1)
                cases_raw.append(
                    (sname, name, "impossible_travel", f"home login in {h}, then {far} 5 min later")
                )
            elif sname == "neighbour_hop":
                put(a, base, h, "moodle", ci)
                put(a, base + 300, "SK", "moodle", ci, key=1)
                cases_raw.append(
                    (sname, name, None, f"{h} then its neighbour SK 5 min later (never impossible)")
                )
            elif sname == "plausible_flight":
                far = _FAR[k % len(_FAR)]
                gap = int((_capital_km(h, far) / 800.0 + 2.0) * 3600)
                gap = max(gap, 12 * 3600)
                put(a, base, h, "mail", ci)
                put(a, base + gap, far, "mail", ci, key=1)
                cases_raw.append((sname, name, None, f"{h} then {far} {gap / 3600:.1f} h later (a flight)"))
            elif sname == "cloud_address":
                put(a, base, "cloud", "mail", ci, key=k)
                cases_raw.append(
                    (sname, name, "hosting_address", f"login from the cloud block {CLOUD_BLOCK}")
                )
            elif sname == "credentials_sharing":
                put(a, base, h, "moodle", ci)
                put(a, base + 1200, "SK", "mail", ci, key=1)
                put(a, base + 2400, h, "moodle", ci)
                cases_raw.append(
                    (
                        sname,
                        name,
                        "cross_service",
                        f"moodle from {h}, mail from SK 20 min later, moodle from {h}",
                    )
                )
            else:
                put(a, base, "private", "moodle", ci)
                cases_raw.append(
                    (sname, name, "non_public_address", "login logged with the private 10.20.30.40")
                )

    # ---- one log in time order
    all_acc = np.concatenate([acc, np.array(p_acc, dtype=np.int64)])
    all_t = np.concatenate([t0 + t, np.array(p_time, dtype=np.int64)])
    all_v4 = np.concatenate([ipv4, np.array(p_v4, dtype=IPV4_DTYPE)])
    all_svc = np.concatenate([service, np.array(p_svc, dtype=np.int32)])
    all_evt = np.concatenate([event, np.array(p_evt, dtype=np.int32)])
    all_case = np.concatenate([np.full(m, -1, np.int64), np.array(p_case, dtype=np.int64)])
    order = np.lexsort((all_acc, all_t))
    n = len(order)
    line = np.empty(n, dtype=np.int64)
    line[order] = np.arange(1, n + 1)
    table = LogTable(
        time=all_t[order],
        utc_offset=np.zeros(n, np.int32),
        account=all_acc[order].astype(np.int32),
        family=np.full(n, 4, np.uint8),
        ipv4=all_v4[order],
        ipv6=np.zeros(n, IPV6_DTYPE),
        service=all_svc[order],
        event=all_evt[order],
        line=np.arange(1, n + 1, dtype=np.int64),
        source=np.zeros(n, np.int32),
        accounts=names,
        services=SERVICES,
        events=EVENTS,
        sources=("synthetic.log",),
    )
    cases = []
    for ci, (sname, name, finding, desc) in enumerate(cases_raw):
        lines = tuple(sorted(int(x) for x in line[all_case == ci]))
        cases.append(PlantedCase(sname, name, lines, finding, desc))
    return SyntheticLog(table=table, cases=tuple(cases), home=home, seed=seed)


# ------------------------------------------------------------------------------------------ writers
def _write_csv_rows(path: str | os.PathLike[str], rows: Sequence[Sequence[str]]) -> None:
    with atomic_text(path, newline="") as f:
        csv.writer(f).writerows(rows)


def _rows_of(log: SyntheticLog, services: Sequence[str] | None) -> npt.NDArray[np.int64]:
    t = log.table
    if services is None:
        return np.arange(len(t), dtype=np.int64)
    codes = [t.services.index(s) for s in services if s in t.services]
    return np.flatnonzero(np.isin(t.service, codes)).astype(np.int64)


def write_csv(
    log: SyntheticLog, path: str | os.PathLike[str], *, services: Sequence[str] | None = None
) -> npt.NDArray[np.int64]:
    """The log (or the entries of ``services``) as a generic CSV: ``time`` (ISO 8601 UTC),
    ``account``, ``ip``, ``service``, ``event``. Returns the log's line numbers written, in file
    order (file line k + 1 holds the k-th)."""
    t = log.table
    rows_idx = _rows_of(log, services)
    ips = format_ipv4(t.ipv4[rows_idx])
    rows: list[list[str]] = [["time", "account", "ip", "service", "event"]]
    for k, i in enumerate(rows_idx.tolist()):
        when = dt.datetime.fromtimestamp(int(t.time[i]), dt.timezone.utc).isoformat()
        rows.append([when, t.accounts[t.account[i]], ips[k], t.services[t.service[i]], t.events[t.event[i]]])
    _write_csv_rows(path, rows)
    written: npt.NDArray[np.int64] = t.line[rows_idx].copy()
    return written


def write_moodle_csv(
    log: SyntheticLog,
    path: str | os.PathLike[str],
    *,
    tz: dt.tzinfo = dt.timezone.utc,
    services: Sequence[str] | None = ("moodle",),
) -> npt.NDArray[np.int64]:
    """The ``moodle`` entries (or those of ``services``; None for all) as a Moodle log export:
    English time format, minutes only, in ``tz``. Returns the log's line numbers written, in file
    order (line 1 is the header, so file line k + 1 holds the k-th)."""
    t = log.table
    rows_idx = _rows_of(log, services)
    ips = format_ipv4(t.ipv4[rows_idx])
    header = (
        "Time,User full name,Affected user,Event context,Component,Event name,Description,Origin,IP address"
    )
    rows: list[list[str]] = [header.split(",")]
    for k, i in enumerate(rows_idx.tolist()):
        when = dt.datetime.fromtimestamp(int(t.time[i]), tz).strftime("%d/%m/%y, %H:%M")
        user = t.accounts[t.account[i]]
        event = t.events[t.event[i]]
        rows.append(
            [
                when,
                user,
                "-",
                "Course: Forensic methods",
                "System",
                f"Course {event}",
                f"The user '{user}' did '{event}' in the course.",
                "web",
                ips[k],
            ]
        )
    _write_csv_rows(path, rows)
    written: npt.NDArray[np.int64] = t.line[rows_idx].copy()
    return written
