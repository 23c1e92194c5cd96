"""A seeded, deterministic generator of realistic RIPE Atlas daily probe archives, and the truth
it used, so that tests and benchmarks have known answers (see docs/synthetic.md).

``generate_archive(directory, config)`` writes one bzip2 JSON file per day (RIPE's layout
``YYYY/MM/YYYYMMDD.json.bz2`` or flat ``YYYYMMDD.json.bz2``) and returns a :class:`SyntheticTruth`:
every record as the archive reader must see it (columns like a DaySnapshot), the FIRST daily
filter rule each record must fail (METHOD.md section 2; order status, coordinates, country,
address, ASN) or none, probe-level labels, and the missing and corrupt days.

Probes sit in real places: GeoNames cities of the shipped gazetteer drawn by population ** 0.7,
each at least 15 km inside its country's 1:10m border (:func:`eligible_cities`), with a few km of
jitter; each country has a pool of 10-60 access-network ASNs (:func:`asn_pool`). The built-in
:data:`ANCHORS` remain as the fallback for countries without an eligible city.

Phenomena: DHCP reassignments (runs of days on one address), returns to an earlier address,
probes whose declared country changes (some keeping their address), non-Connected statuses,
missing/invalid coordinates (null, absent, strings, out of range), coordinates planted in ANOTHER
country, private/reserved/invalid addresses, missing ASNs, cloud-hosted probes (cloud ASNs with
addresses from the providers' ranges that move often), IPv6 for a share of probes, probes that join
or leave during the period, missing days (no file), corrupt files (truncated bzip2) and
wrong-typed fields. Everything is drawn from one ``numpy.random.Generator(seed)``.

What lives where: this module writes the files (:func:`generate_archive`, :func:`day_payload`: each
day's records encoded as JSON, bzip2-compressed, written by two threads); the configuration and the
probe population's world (anchors, gazetteer cities, ASN pools, cloud ranges) are
:mod:`ipevidence.synthetic.population`; the truth classes :mod:`ipevidence.synthetic.truth`; the
seeded simulation of days, probes and records :mod:`ipevidence.synthetic.simulation`. Every name is
still importable from here.
"""

from __future__ import annotations

import bz2
import concurrent.futures as cf
import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import attrs
import msgspec
import numpy as np

from .._io import atomic_write_bytes
from ..archive.source import relative_path
from .addressplan import default_address_ranges, warn_plan_addresses
from .population import _KM_PER_DEG as _KM_PER_DEG
from .population import _MAX_JITTER as _MAX_JITTER
from .population import (
    ANCHORS,
    BORDER_CLEARANCE_KM,
    CLOUD_PROVIDERS,
    DEFAULT_COUNTRY_WEIGHTS,
    Anchor,
    EligibleCities,
    SyntheticArchiveConfig,
    asn_pool,
    eligible_cities,
)
from .population import _a as _a
from .population import _AddressRanges as _AddressRanges
from .population import _cloud_ranges as _cloud_ranges
from .population import _country_number as _country_number
from .population import _default_countries as _default_countries
from .population import _draw as _draw
from .population import _inside_main as _inside_main
from .population import _jittered as _jittered
from .population import _locations as _locations
from .population import _parts_tree as _parts_tree
from .population import _rate as _rate
from .population import _str_tuple as _str_tuple
from .simulation import _ABSENT, _Sim, _simulate
from .simulation import _NON_CONNECTED as _NON_CONNECTED
from .simulation import _NON_CONNECTED_P as _NON_CONNECTED_P
from .simulation import _country_parsed as _country_parsed
from .simulation import _v4_ok as _v4_ok
from .simulation import _v6_ok as _v6_ok
from .truth import FILTER_RULES_V4, FILTER_RULES_V6, SyntheticTruth, TruthProbes, TruthRecords

__all__ = [
    "ANCHORS",
    "BORDER_CLEARANCE_KM",
    "CLOUD_PROVIDERS",
    "DEFAULT_COUNTRY_WEIGHTS",
    "FILTER_RULES_V4",
    "FILTER_RULES_V6",
    "Anchor",
    "EligibleCities",
    "SyntheticArchiveConfig",
    "SyntheticTruth",
    "TruthProbes",
    "TruthRecords",
    "asn_pool",
    "day_payload",
    "default_address_ranges",
    "eligible_cities",
    "generate_archive",
]


# ---------------------------------------------------------------------------------------------
# writing


_ARCHIVE_STATUS_INT: Final = {
    "Connected": 1,
    "Disconnected": 2,
    "Abandoned": 3,
    "Never Connected": 0,
    "Written Off": 4,
}
_TAGS: Final = ("system-ipv4-works", "system-ipv4-capable", "system-resolves-a-correctly", "home", "nat")
_TAGS_V6: Final = ("system-ipv6-works", "system-ipv6-capable")


def _records_json(sim: _Sim, lo: int, hi: int, day: dt.date, as_list: bool) -> bytes:
    raw = sim.raw
    epoch = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp())
    since_iso = dt.datetime.fromtimestamp(epoch - 86400 * 30, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    objs: list[dict[str, Any]] = []
    ids, ccs, v4s, v6s = raw["id"], raw["country_code"], raw["address_v4"], raw["address_v6"]
    a4s, a6s, lats, lons = raw["asn_v4"], raw["asn_v6"], raw["latitude"], raw["longitude"]
    names, nested = raw["status_name"], raw["nested"]
    verbose = sim.verbose
    tags = _TAGS if verbose else _TAGS[:2]
    flat_tags = list(tags)
    obj_tags = [{"name": t.replace("-", " "), "slug": t} for t in tags]
    for i in range(lo, hi):
        pid = ids[i]
        name = names[i] or None
        v6 = v6s[i]
        rec: dict[str, Any] = {
            "address_v4": v4s[i],
            "address_v6": v6,
            "asn_v4": a4s[i],
            "asn_v6": a6s[i],
            "country_code": ccs[i],
            "id": pid,
        }
        if verbose:
            rec["is_anchor"] = False
            rec["is_public"] = pid % 7 != 0
            rec["prefix_v4"] = None
            rec["status_since"] = epoch - 86400 * 30
            rec["total_uptime"] = 86400 * (pid % 1000)
            rec["description"] = f"probe {pid} at home"
            rec["first_connected"] = 1400000000 + pid
            rec["last_connected"] = epoch
            rec["prefix_v6"] = None
            rec["type"] = "Probe"
        if nested[i]:
            rec["geometry"] = {"type": "Point", "coordinates": [lons[i], lats[i]]}
            rec["status"] = {"id": _ARCHIVE_STATUS_INT.get(name or "", 0), "name": name, "since": since_iso}
            rec["tags"] = obj_tags
        else:
            rec["latitude"] = lats[i]
            rec["longitude"] = lons[i]
            rec["status"] = _ARCHIVE_STATUS_INT.get(name or "", 0)
            rec["status_name"] = name
            rec["tags"] = flat_tags + list(_TAGS_V6) if v6 and verbose else flat_tags
        ov = sim.overrides.get(i)
        if ov:
            for k, v in ov.items():
                if v is _ABSENT:
                    rec.pop(k, None)
                else:
                    rec[k] = v
        for k in ("address_v4", "asn_v4", "asn_v6", "country_code"):
            if rec.get(k) is _ABSENT:
                del rec[k]
        objs.append(rec)
    return msgspec.json.encode(objs if as_list else {"objects": objs})


def _truth(
    cfg: SyntheticArchiveConfig, sim: _Sim, directory: Path | None, files: Mapping[dt.date, str]
) -> SyntheticTruth:
    corrupt_set = set(sim.corrupt)
    keep = ~np.isin(sim.rec_day, np.array(sorted(corrupt_set), dtype=np.intp))
    return SyntheticTruth(
        config=cfg,
        directory=directory,
        days=tuple(sim.days),
        missing_days=tuple(sim.days[i] for i in sim.missing),
        corrupt_days=tuple(sim.days[i] for i in sim.corrupt),
        files=dict(files),
        records=sim.truth.select(keep),
        probes=sim.probes,
    )


def generate_archive(directory: str | os.PathLike[str], config: SyntheticArchiveConfig) -> SyntheticTruth:
    """Write the archive described by ``config`` under ``directory`` and return its truth.

    Days are encoded in this thread and compressed/written by two threads (bzip2 releases the GIL).
    The corrupt days are written as the first half of their bzip2 file (a truncated stream).
    """
    if config.address_ranges is None:  # a real database cannot place the plan's addresses
        warn_plan_addresses()
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    sim = _simulate(config)
    bounds = np.searchsorted(sim.rec_day, np.arange(len(sim.days) + 1))
    missing = set(sim.missing)
    corrupt = set(sim.corrupt)
    files: dict[dt.date, str] = {}

    def compress_write(path: Path, payload: bytes, truncate: bool) -> None:
        data = bz2.compress(payload, config.compresslevel)
        atomic_write_bytes(path, data[: len(data) // 2] if truncate else data, make_parents=True)

    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        futs: list[cf.Future[None]] = []
        for k, day in enumerate(sim.days):
            if k in missing:
                continue
            rel = relative_path(day, config.layout)
            payload = _records_json(sim, int(bounds[k]), int(bounds[k + 1]), day, bool(sim.top_list[k]))
            futs.append(pool.submit(compress_write, root / rel, payload, k in corrupt))
            files[day] = rel
            if len(futs) > 8:
                futs.pop(0).result()
        for f in futs:
            f.result()
    return _truth(config, sim, root, files)


def day_payload(config: SyntheticArchiveConfig, *, compress: bool = True) -> tuple[bytes, SyntheticTruth]:
    """One day's archive file in memory (the config's first day; no missing or corrupt days),
    bzip2-compressed unless ``compress=False``, with its truth. For benchmarks."""
    one = attrs.evolve(config, end=config.start, missing_days=(), corrupt_days=0)
    sim = _simulate(one)
    payload = _records_json(sim, 0, len(sim.rec_day), one.start, bool(sim.top_list[0]))
    data = bz2.compress(payload, one.compresslevel) if compress else payload
    return data, _truth(one, sim, None, {})
