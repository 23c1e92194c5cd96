"""The simulation behind the synthetic archive generator (:mod:`ipevidence.synthetic.archive`):
one pass over a :class:`~ipevidence.synthetic.population.SyntheticArchiveConfig` that draws, from
one ``numpy.random.Generator(seed)``, the missing and corrupt days, the probes (their places,
countries and country changes, cloud hosting, IPv6, lifetimes), their address runs (DHCP
reassignments, returns to an earlier address) and ASNs, and every record with its planted defects,
giving both the values to write and the truth the reader must produce (:func:`_simulate`).
Encoding and writing the days' files is :mod:`ipevidence.synthetic.archive`.
"""

from __future__ import annotations

import datetime as dt
import socket
from typing import Any, Final

import attrs
import numpy as np
import numpy.typing as npt

from ..addresses import format_ipv4, global_mask_v4, global_mask_v6
from ..archive.parse import STATUS_NAMES
from ..archive.snapshot import ProbeStatus
from ..archive.source import date_range
from ..countries import known_mask
from .addressplan import default_address_ranges
from .population import (
    CLOUD_PROVIDERS,
    SyntheticArchiveConfig,
    _cloud_ranges,
    _country_number,
    _draw,
    _locations,
    asn_pool,
)
from .truth import FILTER_RULES_V4, FILTER_RULES_V6, TruthProbes, TruthRecords

__all__: list[str] = []

_ABSENT: Final = object()  # marks a key left out of the record
_NON_CONNECTED: Final = ("Disconnected", "Abandoned", "Never Connected", "Written Off")
_NON_CONNECTED_P: Final = (0.7, 0.15, 0.1, 0.05)


# ---------------------------------------------------------------------------------------------
# simulation


@attrs.frozen(eq=False)
class _Sim:
    days: list[dt.date]
    missing: list[int]
    corrupt: list[int]
    top_list: npt.NDArray[np.bool_]  # per day: bare list instead of {"objects": ...}
    rec_day: npt.NDArray[np.intp]  # day index per record (all written days incl. corrupt)
    truth: TruthRecords  # records of every written day (corrupt included)
    raw: dict[str, list[Any]]  # values to write per record
    overrides: dict[int, dict[str, Any]]
    probes: TruthProbes
    verbose: bool


def _v4_ok(text: object) -> tuple[int, bool]:
    if isinstance(text, str):
        try:
            return int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big"), True
        except OSError:
            pass
    return 0, False


def _v6_ok(text: object) -> tuple[bytes, bool]:
    if isinstance(text, str):
        try:
            return socket.inet_pton(socket.AF_INET6, text), True
        except OSError:
            pass
    return bytes(16), False


def _country_parsed(value: object) -> bytes:
    if not isinstance(value, str):
        return b""
    s = value.strip().upper()
    return s.encode() if len(s) == 2 and s.isascii() and s.isalpha() else b""


def _simulate(cfg: SyntheticArchiveConfig) -> _Sim:
    rng = np.random.default_rng(cfg.seed)
    days = date_range(cfg.start, cfg.end)
    n_days = len(days)
    n_p = cfg.n_probes
    countries = list(cfg.countries)
    n_c = len(countries)

    # --- days: missing and corrupt
    if cfg.missing_days is not None:
        wanted = set(cfg.missing_days)
        missing_mask = np.array([d in wanted for d in days], dtype=np.bool_)
    else:
        missing_mask = rng.random(n_days) < cfg.missing_day_rate
    if missing_mask.all():
        missing_mask[0] = False
    avail = np.flatnonzero(~missing_mask)
    n_corrupt = min(cfg.corrupt_days, max(0, avail.size - 1))
    corrupt = sorted(rng.choice(avail, size=n_corrupt, replace=False).tolist()) if n_corrupt else []
    top_list = {
        "objects": np.zeros(n_days, np.bool_),
        "list": np.ones(n_days, np.bool_),
        "mixed": rng.random(n_days) < 0.5,
    }[cfg.top_level]

    # --- probes
    ids = (cfg.first_probe_id + np.cumsum(rng.integers(1, 4, n_p)) - 1).astype(np.int32)
    home = rng.choice(n_c, size=n_p, p=cfg.country_weights())
    u = rng.random(n_p)
    cloud = u < cfg.cloud_share
    changer = (u >= cfg.cloud_share) & (u < cfg.cloud_share + cfg.country_change_share)
    outside = (u >= cfg.cloud_share + cfg.country_change_share) & (
        u < cfg.cloud_share + cfg.country_change_share + cfg.outside_border_share
    )
    if n_c < 2:
        changer[:] = False
        outside[:] = False
    if n_days < 2:
        changer[:] = False
    has_v6 = (rng.random(n_p) < cfg.ipv6_share) & ~cloud
    providers = sorted(CLOUD_PROVIDERS)
    provider = np.where(cloud, rng.integers(0, len(providers), n_p), -1)
    # lifetimes: churning probes exist on a sub-interval
    churn = (rng.random(n_p) < cfg.churn_share) & ~changer  # a change is always seen
    a = rng.integers(0, n_days, n_p)
    b = rng.integers(0, n_days, n_p)
    first = np.where(churn, np.minimum(a, b), 0)
    last = np.where(churn, np.maximum(a, b), n_days - 1)
    # country changes
    # the change falls on a readable day after at least one readable day, so that it can be seen
    readable = np.setdiff1d(avail, np.array(corrupt, dtype=np.intp))
    if readable.size < 2:
        changer[:] = False
    change_days = readable[1:] if readable.size >= 2 else np.array([n_days])
    change_day = np.where(changer, change_days[rng.integers(0, change_days.size, n_p)], n_days)
    shift = rng.integers(1, max(2, n_c), n_p)
    new_country = (home + shift) % n_c
    keeps_addr = changer & (rng.random(n_p) < cfg.same_address_change_share)
    day_idx = np.arange(n_days)[:, None]
    after = day_idx >= change_day[None, :]
    country_dp = np.where(after, new_country[None, :], home[None, :])  # (D, P)
    # coordinates: one location per probe and period; planted probes sit in another country
    coord_country = np.where(outside, (home + shift) % n_c, home)
    lat0 = np.zeros(n_p)
    lon0 = np.zeros(n_p)
    lat1 = np.zeros(n_p)
    lon1 = np.zeros(n_p)
    for ci, cc in enumerate(countries):
        m = coord_country == ci
        lat0[m], lon0[m] = _locations(rng, cfg, cc, int(m.sum()))
        m = (new_country == ci) & changer
        lat1[m], lon1[m] = _locations(rng, cfg, cc, int(m.sum()))

    # --- address runs (DHCP): run id per (day, probe); returns to an earlier address
    rate = np.where(cloud, cfg.cloud_move_rate, cfg.dhcp_rate)
    change = rng.random((n_days, n_p)) < rate[None, :]
    change[0, :] = False
    cd = np.flatnonzero(changer)
    change[change_day[cd], cd] = ~keeps_addr[cd]
    run = np.cumsum(change, axis=0)
    n_runs = run[-1, :] + 1
    offset = np.concatenate(([0], np.cumsum(n_runs)[:-1]))
    starts_mask = change.copy()
    starts_mask[0, :] = True
    sp, sd = np.nonzero(starts_mask.T)  # ordered by probe, then day = global run order
    n_r = sp.size
    local = np.arange(n_r) - offset[sp]
    pool = np.where(cloud[sp], n_c + provider[sp], country_dp[sd, sp])
    canon = np.arange(n_r)
    ret_u = rng.random(n_r)
    ret_pick = rng.random(n_r)
    for g in np.flatnonzero((local >= 2) & (ret_u < cfg.return_rate)).tolist():
        first_run = int(offset[sp[g]])
        prev = canon[g - 1]
        cands = [k for k in range(first_run, g - 1) if pool[k] == pool[g] and canon[k] != prev]
        if cands:
            canon[g] = canon[cands[int(ret_pick[g] * len(cands))]]
    # addresses for canonical runs, per pool
    addr_run = np.zeros(n_r, np.uint32)
    is_canon = canon == np.arange(n_r)
    ranges_fn = cfg.address_ranges or default_address_ranges
    for q in np.unique(pool[is_canon]).tolist():
        sel = np.flatnonzero(is_canon & (pool == q))
        if q < n_c:
            rg = ranges_fn(countries[q])
            what = countries[q]
        else:
            rg = _cloud_ranges(providers[q - n_c])
            what = providers[q - n_c]
        addr_run[sel] = _draw(rng, rg, sel.size, what)
    addr_run = addr_run[canon]
    numbers = _country_number()
    v6_bytes = np.zeros((n_r, 16), np.uint8)
    v6_bytes[:, 0] = 0x2A
    country_num = np.array([numbers[c] for c in countries], np.int64)
    v6_bytes[:, 1] = (country_num[np.minimum(pool, n_c - 1)] & 0xFF).astype(np.uint8)
    v6_bytes[:, 2:] = rng.integers(0, 256, (n_r, 14), dtype=np.uint8)
    v6_run = v6_bytes.view("S16").reshape(n_r)[canon]
    # ASNs: a home probe keeps its ISP's ASN across address changes; it switches ISP (a new draw from
    # its country's pool) on a new run with ``isp_switch_rate`` and whenever its country changes
    cloud_asn_of = np.array([CLOUD_PROVIDERS[p][0] for p in providers], np.int64)
    asn_draw = np.zeros(n_r, np.int64)
    for q in np.unique(pool).tolist():
        sel = np.flatnonzero(pool == q)
        if q < n_c:
            asns = asn_pool(countries[q])
            zipf = 1.0 / np.arange(1, asns.size + 1, dtype=np.float64)
            asn_draw[sel] = asns[rng.choice(asns.size, size=sel.size, p=zipf / zipf.sum())]
        else:
            asn_draw[sel] = cloud_asn_of[q - n_c]
    new_isp = (local == 0) | (rng.random(n_r) < cfg.isp_switch_rate)
    new_isp[1:] |= pool[1:] != pool[:-1]
    holder = np.maximum.accumulate(np.where(new_isp, np.arange(n_r), 0))
    asn_pool_run = asn_draw[holder].astype(np.uint32)[canon]

    # --- records: every active probe on every written day, day-major, probe order within a day
    active = (day_idx >= first[None, :]) & (day_idx <= last[None, :]) & ~missing_mask[:, None]
    rd, rp = np.nonzero(active)
    n = rd.size
    g = offset[rp] + run[rd, rp]
    declared = country_dp[rd, rp]
    later = rd >= change_day[rp]
    lat = np.where(later, lat1[rp], lat0[rp])
    lon = np.where(later, lon1[rp], lon0[rp])
    v4 = addr_run[g]
    asn4 = asn_pool_run[g]
    v6 = np.where(has_v6[rp], v6_run[g], np.zeros(1, "S16")[0])
    v6_ok = has_v6[rp].copy()
    asn6 = np.where(has_v6[rp], asn4, 0).astype(np.uint32)
    shape_nested = {
        "flat": np.zeros(n, np.bool_),
        "nested": np.ones(n, np.bool_),
        "mixed": rng.random(n) < 0.5,
    }[cfg.record_shape]
    cc_text = np.array(countries)[declared]

    status_name = np.full(n, "Connected", dtype="U16")
    nc = np.flatnonzero(rng.random(n) < cfg.non_connected_rate)
    status_name[nc] = rng.choice(_NON_CONNECTED, size=nc.size, p=_NON_CONNECTED_P)
    defects: dict[int, list[str]] = {}
    overrides: dict[int, dict[str, Any]] = {}

    def mark(i: int, what: str, **fields: Any) -> None:
        defects.setdefault(i, []).append(what)
        if fields:
            overrides.setdefault(i, {}).update(fields)

    # truth values start as written; defects below change both the written value and the truth
    t_status = np.full(n, int(ProbeStatus.CONNECTED), np.uint8)
    for name, code in STATUS_NAMES.items():
        t_status[status_name == " ".join(w.capitalize() for w in name.split())] = int(code)
    t_lat = lat.astype(np.float64).copy()
    t_lon = lon.astype(np.float64).copy()
    t_country = np.array(cc_text, dtype="S2")
    t_v4 = v4.copy()
    t_v4_ok = np.ones(n, np.bool_)
    t_asn4 = asn4.copy()
    t_v6 = v6.copy()
    t_v6_ok = v6_ok.copy()
    t_asn6 = asn6.copy()
    wrong = np.full(n, "", dtype="U16")
    raw_cc: list[Any] = cc_text.tolist()
    raw_v4: list[Any] = format_ipv4(v4)
    v6_idx = np.flatnonzero(v6_ok)
    raw_v6: list[Any] = [None] * n
    ntop = socket.inet_ntop
    v6_blob = np.ascontiguousarray(v6[v6_idx]).tobytes()
    for k, i in enumerate(v6_idx.tolist()):
        raw_v6[i] = ntop(socket.AF_INET6, v6_blob[16 * k : 16 * k + 16])
    raw_asn4: list[Any] = asn4.tolist()
    raw_asn6: list[Any] = [
        int(x) if ok else None for x, ok in zip(asn6.tolist(), v6_ok.tolist(), strict=True)
    ]

    # status missing altogether (a small share of the non-connected draw)
    for i in nc[rng.random(nc.size) < 0.05].tolist():
        status_name[i] = ""
        t_status[i] = int(ProbeStatus.MISSING)
        if shape_nested[i]:
            mark(i, "status_missing", status=None)
        else:
            mark(i, "status_missing", status=None, status_name=None)

    # coordinates
    bad = np.flatnonzero(rng.random(n) < cfg.bad_coordinates_rate)
    kinds = rng.choice(["null", "absent", "string", "lat_range", "lon_range"], size=bad.size)
    for i, kind in zip(bad.tolist(), kinds.tolist(), strict=True):
        nested = bool(shape_nested[i])
        la, lo = float(t_lat[i]), float(t_lon[i])
        if kind in ("null", "absent"):
            t_lat[i] = t_lon[i] = np.nan
            val = None if kind == "null" else _ABSENT
            if nested:
                mark(i, f"coordinates_{kind}", geometry=val)
            else:
                mark(i, f"coordinates_{kind}", latitude=val, longitude=val)
        elif kind == "string":
            t_lat[i] = np.nan
            if nested:
                t_lon[i] = np.nan
                mark(i, "coordinates_string", geometry={"type": "Point", "coordinates": [lo, str(la)]})
            else:
                mark(i, "coordinates_string", latitude=str(la))
        else:
            if kind == "lat_range":
                la = float(np.round(np.sign(la or 1.0) * rng.uniform(90.5, 120.0), 4))
                t_lat[i] = la
            else:
                lo = float(np.round(np.sign(lo or 1.0) * rng.uniform(180.5, 250.0), 4))
                t_lon[i] = lo
            if nested:
                mark(i, f"coordinates_{kind}", geometry={"type": "Point", "coordinates": [lo, la]})
            else:
                mark(i, f"coordinates_{kind}", latitude=la, longitude=lo)

    # countries: lower case is benign (the reader upper-cases); the others make it invalid
    low = np.flatnonzero(rng.random(n) < cfg.lowercase_country_rate)
    for i in low.tolist():
        raw_cc[i] = raw_cc[i].lower()
    bad = np.flatnonzero(rng.random(n) < cfg.bad_country_rate)
    choices: list[Any] = [None, _ABSENT, "", "ZZ", "Deutschland", "D", " "]
    for i, k in zip(bad.tolist(), rng.integers(0, len(choices), bad.size).tolist(), strict=True):
        raw_cc[i] = choices[k]
        t_country[i] = _country_parsed(choices[k])
        mark(i, "country_bad")

    # IPv4 addresses that say nothing (private, shared, loopback, documentation, ...) or are not
    # addresses at all
    bad = np.flatnonzero(rng.random(n) < cfg.bad_address_rate)
    for i in bad.tolist():
        x, y = (int(v) for v in rng.integers(1, 255, 2))
        text: Any = [
            f"10.{x}.{y}.7",
            f"192.168.{x}.{y}",
            f"172.{16 + x % 16}.{y}.1",
            f"100.{64 + x % 64}.{y}.9",
            "127.0.0.1",
            f"169.254.{x}.{y}",
            f"192.0.2.{y}",
            f"198.51.100.{y}",
            f"203.0.113.{y}",
            f"240.{x}.{y}.1",
            f"224.0.0.{y}",
            "0.0.0.0",
            "999.12.1.1",
            "1.2.3",
            "not-an-address",
            None,
            _ABSENT,
        ][int(rng.integers(0, 17))]
        raw_v4[i] = text
        t_v4[i], t_v4_ok[i] = _v4_ok(text)
        mark(i, "address_v4_bad")
    bad = np.flatnonzero((rng.random(n) < cfg.bad_address_rate) & v6_ok)
    for i in bad.tolist():
        text6: str | None = [
            "fd12:3456:789a::1",
            "fe80::1",
            "2001:db8::5",
            "::1",
            "ff02::1",
            "gggg::1",
            None,
        ][int(rng.integers(0, 7))]
        raw_v6[i] = text6
        packed, ok = _v6_ok(text6)
        t_v6[i], t_v6_ok[i] = packed, ok
        mark(i, "address_v6_bad")

    # missing ASNs (null, absent, or AS0 which is reserved and read as missing)
    for which, t_asn, raw_asn in (("v4", t_asn4, raw_asn4), ("v6", t_asn6, raw_asn6)):
        bad = np.flatnonzero(rng.random(n) < cfg.missing_asn_rate)
        for i, k in zip(bad.tolist(), rng.integers(0, 3, bad.size).tolist(), strict=True):
            if which == "v6" and raw_asn[i] is None:
                continue
            raw_asn[i] = [None, _ABSENT, 0][k]
            t_asn[i] = 0
            mark(i, f"asn_{which}_missing")

    # wrong-typed fields: the reader must treat the field as missing for that record
    bad = np.flatnonzero(rng.random(n) < cfg.wrong_type_rate)
    flat_fields = ("latitude", "longitude", "asn_v4", "address_v4", "country_code", "status_name")
    nested_fields = ("geometry", "status", "asn_v4", "address_v4", "country_code")
    for i in bad.tolist():
        nested = bool(shape_nested[i])
        fields = nested_fields if nested else flat_fields
        f = fields[int(rng.integers(0, len(fields)))]
        wrong[i] = f
        if f == "latitude":
            mark(i, "wrong_type", latitude=str(t_lat[i]))
            t_lat[i] = np.nan
        elif f == "longitude":
            mark(i, "wrong_type", longitude=[float(t_lon[i])])
            t_lon[i] = np.nan
        elif f == "geometry":
            mark(i, "wrong_type", geometry=f"POINT({t_lon[i]} {t_lat[i]})")
            t_lat[i] = t_lon[i] = np.nan
        elif f == "asn_v4":
            raw_asn4[i] = f"AS{int(asn4[i])}"
            t_asn4[i] = 0
            mark(i, "wrong_type")
        elif f == "address_v4":
            raw_v4[i] = int(v4[i])
            t_v4[i], t_v4_ok[i] = 0, False
            mark(i, "wrong_type")
        elif f == "country_code":
            raw_cc[i] = 276
            t_country[i] = b""
            mark(i, "wrong_type")
        elif f == "status_name":
            mark(i, "wrong_type", status_name=1)
            t_status[i] = int(ProbeStatus.MISSING)
            status_name[i] = ""
        else:  # nested status as a list
            mark(i, "wrong_type", status=["Connected"])
            t_status[i] = int(ProbeStatus.MISSING)
            status_name[i] = ""

    # --- first daily-filter failure of each record
    coord_ok = np.isfinite(t_lat) & np.isfinite(t_lon) & (np.abs(t_lat) <= 90) & (np.abs(t_lon) <= 180)
    status_ok = t_status == ProbeStatus.CONNECTED
    country_ok = known_mask(t_country)
    v4_ok = t_v4_ok & global_mask_v4(t_v4)
    v6_good = t_v6_ok & global_mask_v6(t_v6)

    def first_failure(addr_ok: Any, asn: Any, rules: tuple[str, ...]) -> npt.NDArray[np.str_]:
        out = np.full(n, "", dtype="U12")
        checks = (status_ok, coord_ok, country_ok, addr_ok, asn != 0)
        for rule, ok in zip(reversed(rules), reversed(checks), strict=True):
            out[~ok] = rule
        return out

    day64 = np.array(days, dtype="datetime64[D]")
    truth = TruthRecords(
        day=day64[rd],
        probe_id=ids[rp],
        status=t_status,
        status_name=status_name,
        country=t_country,
        latitude=t_lat,
        longitude=t_lon,
        ipv4=t_v4,
        ipv4_valid=t_v4_ok,
        asn_v4=t_asn4,
        ipv6=t_v6,
        ipv6_valid=t_v6_ok,
        asn_v6=t_asn6,
        cloud=cloud[rp],
        shape=np.where(shape_nested, "nested", "flat").astype("U6"),
        wrong_type=wrong,
        defect=np.array([";".join(defects.get(i, ())) for i in range(n)], dtype=np.str_)
        if n
        else np.zeros(0, "U1"),
        first_failure_v4=first_failure(v4_ok, t_asn4, FILTER_RULES_V4),
        first_failure_v6=first_failure(v6_good, t_asn6, FILTER_RULES_V6),
    )
    nat = np.datetime64("NaT", "D")
    probes = TruthProbes(
        probe_id=ids,
        home_country=np.array(countries, "S2")[home],
        final_country=np.array(countries, "S2")[np.where(changer & (change_day <= last), new_country, home)],
        country_changed=changer,
        change_day=np.where(changer, day64[np.minimum(change_day, n_days - 1)], nat),
        change_keeps_address=keeps_addr,
        planted_outside_border=outside,
        coordinate_country=np.array(countries, "S2")[coord_country],
        cloud=cloud,
        cloud_asn=np.where(
            cloud, np.array([CLOUD_PROVIDERS[p][0] for p in providers])[np.maximum(provider, 0)], 0
        ).astype(np.uint32),
        cloud_provider=np.where(cloud, np.array(providers)[np.maximum(provider, 0)], "").astype("U16"),
        has_ipv6=has_v6,
        first_day=day64[first],
        last_day=day64[last],
    )
    raw: dict[str, list[Any]] = {
        "id": ids[rp].tolist(),
        "country_code": raw_cc,
        "address_v4": raw_v4,
        "address_v6": raw_v6,
        "asn_v4": raw_asn4,
        "asn_v6": raw_asn6,
        "latitude": lat.tolist(),
        "longitude": lon.tolist(),
        "status_name": status_name.tolist(),
        "nested": shape_nested.tolist(),
    }
    return _Sim(
        days=days,
        missing=np.flatnonzero(missing_mask).tolist(),
        corrupt=corrupt,
        top_list=top_list,
        rec_day=rd,
        truth=truth,
        raw=raw,
        overrides=overrides,
        probes=probes,
        verbose=cfg.verbose_records,
    )
