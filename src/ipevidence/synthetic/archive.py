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
"""

from __future__ import annotations

import bz2
import concurrent.futures as cf
import datetime as dt
import functools
import ipaddress
import os
import socket
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Final, Literal

import attrs
import msgspec
import numpy as np
import numpy.typing as npt

from .._io import atomic_write_bytes
from ..addresses import format_ipv4, global_mask_v4, global_mask_v6
from ..archive.parse import STATUS_NAMES
from ..archive.snapshot import DaySnapshot, ProbeStatus
from ..archive.source import date_range, relative_path
from ..countries import all_countries, is_known_country, known_mask
from .addressplan import default_address_ranges, warn_plan_addresses

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

#: daily filter rules in the order they are applied (METHOD.md section 2)
FILTER_RULES_V4: Final = ("status", "coordinates", "country", "ipv4_address", "ipv4_asn")
FILTER_RULES_V6: Final = ("status", "coordinates", "country", "ipv6_address", "ipv6_asn")


@attrs.frozen
class Anchor:
    """A point well inside a country (checked >= 50 km from its border and coast in Natural Earth
    1:10m admin-0, see tests/test_synthetic_archive.py)."""

    country: str
    latitude: float
    longitude: float
    place: str


def _a(cc: str, *pts: tuple[float, float, str]) -> tuple[Anchor, ...]:
    return tuple(Anchor(cc, lat, lon, place) for lat, lon, place in pts)


#: anchor points per country, the fallback locations (``locations="anchors"`` or no eligible city): a
#: probe sits at one of its country's anchors plus <= 0.05 deg jitter
ANCHORS: Final[Mapping[str, tuple[Anchor, ...]]] = {
    "DE": _a("DE", (51.31, 9.48, "Kassel"), (50.98, 11.03, "Erfurt"), (49.79, 9.95, "Wuerzburg")),
    "FR": _a("FR", (47.08, 2.40, "Bourges"), (45.78, 3.08, "Clermont-Ferrand"), (48.86, 2.35, "Paris")),
    "GB": _a("GB", (52.49, -1.89, "Birmingham"), (52.64, -1.13, "Leicester"), (51.75, -1.26, "Oxford")),
    "IT": _a("IT", (43.77, 11.25, "Florence"), (43.11, 12.39, "Perugia"), (45.05, 9.69, "Piacenza")),
    "ES": _a("ES", (40.42, -3.70, "Madrid"), (38.99, -1.86, "Albacete"), (41.65, -4.72, "Valladolid")),
    "PL": _a("PL", (51.76, 19.46, "Lodz"), (52.23, 21.01, "Warsaw"), (51.11, 17.03, "Wroclaw")),
    "NL": _a("NL", (52.16, 5.39, "Amersfoort"), (52.25, 5.60, "Veluwe")),
    "CZ": _a("CZ", (50.08, 14.44, "Prague")),
    "US": _a(
        "US",
        (39.10, -94.58, "Kansas City"),
        (39.74, -104.99, "Denver"),
        (36.16, -86.78, "Nashville"),
        (39.96, -83.00, "Columbus"),
    ),
    "BR": _a(
        "BR", (-15.79, -47.88, "Brasilia"), (-16.68, -49.25, "Goiania"), (-19.92, -43.94, "Belo Horizonte")
    ),
    "JP": _a("JP", (36.40, 138.25, "Ueda"), (35.95, 138.10, "Ina"), (36.24, 137.97, "Matsumoto")),
    "AU": _a("AU", (-23.70, 133.88, "Alice Springs"), (-32.25, 148.60, "Dubbo")),
    "IN": _a("IN", (21.15, 79.09, "Nagpur"), (23.26, 77.41, "Bhopal"), (28.61, 77.21, "Delhi")),
    "RU": _a("RU", (55.76, 37.62, "Moscow"), (56.84, 60.61, "Yekaterinburg"), (55.03, 82.92, "Novosibirsk")),
    "CA": _a("CA", (52.13, -106.67, "Saskatoon"), (51.05, -114.07, "Calgary")),
    "CH": _a("CH", (46.90, 7.80, "Emmental"), (47.05, 8.31, "Lucerne")),
    "AT": _a("AT", (47.40, 14.60, "Upper Styria"), (47.57, 14.24, "Liezen")),
    "BE": _a("BE", (50.70, 4.55, "Walloon Brabant")),
    "SE": _a("SE", (59.27, 15.21, "Orebro"), (63.18, 14.64, "Ostersund")),
    "NO": _a("NO", (61.12, 10.47, "Lillehammer")),
    "FI": _a("FI", (62.24, 25.75, "Jyvaskyla"), (61.50, 23.76, "Tampere")),
    "UA": _a("UA", (49.23, 28.47, "Vinnytsia"), (50.45, 30.52, "Kyiv")),
    "RO": _a("RO", (45.79, 24.15, "Sibiu"), (45.65, 25.61, "Brasov")),
    "HU": _a("HU", (46.91, 19.69, "Kecskemet")),
    "PT": _a("PT", (40.40, -7.80, "Serra da Estrela")),
    "IE": _a("IE", (53.42, -7.94, "Athlone")),
    "TR": _a("TR", (39.93, 32.86, "Ankara"), (38.68, 35.48, "Kayseri")),
    "ZA": _a("ZA", (-29.12, 26.21, "Bloemfontein"), (-26.20, 28.05, "Johannesburg")),
    "AR": _a("AR", (-31.42, -64.18, "Cordoba")),
    "MX": _a("MX", (21.88, -102.29, "Aguascalientes"), (19.43, -99.13, "Mexico City")),
    "CN": _a("CN", (34.34, 108.94, "Xi'an"), (30.59, 114.31, "Wuhan")),
    "KR": _a("KR", (36.80, 127.90, "Chungju")),
    "NG": _a("NG", (9.08, 7.40, "Abuja")),
    "KE": _a("KE", (-0.30, 36.07, "Nakuru")),
    "IR": _a("IR", (32.65, 51.67, "Isfahan")),
    "KZ": _a("KZ", (49.81, 73.09, "Karaganda")),
    "CO": _a("CO", (4.71, -74.07, "Bogota")),
    "SA": _a("SA", (24.71, 46.68, "Riyadh")),
    "SK": _a("SK", (48.74, 19.15, "Banska Bystrica")),
    "GR": _a("GR", (39.35, 21.95, "Karditsa")),
}

#: rough shape of the real Atlas population (many probes in Europe and North America)
DEFAULT_COUNTRY_WEIGHTS: Final[Mapping[str, float]] = {
    "DE": 12.0, "US": 11.0, "FR": 7.0, "GB": 6.0, "NL": 5.0, "RU": 4.0, "IT": 3.0, "CZ": 2.5,
    "PL": 2.5, "CH": 2.5, "ES": 2.0, "SE": 2.0, "AT": 2.0, "BE": 2.0, "CA": 2.0, "UA": 2.0,
    "FI": 1.5, "JP": 1.5, "BR": 1.5, "AU": 1.5, "IN": 1.5, "NO": 1.0, "RO": 1.0, "HU": 1.0,
    "PT": 1.0, "IE": 1.0, "TR": 1.0, "ZA": 1.0, "AR": 0.5, "MX": 0.5, "CN": 0.5, "KR": 0.5,
    "NG": 0.5, "KE": 0.5, "IR": 0.5, "KZ": 0.5, "CO": 0.5, "SA": 0.5, "SK": 0.5, "GR": 0.5,
}  # fmt: skip

#: cloud provider -> (ASN, IPv4 prefixes taken from the provider's published ranges of 2022-12-31)
CLOUD_PROVIDERS: Final[Mapping[str, tuple[int, tuple[str, ...]]]] = {
    "amazon": (16509, ("44.192.0.0/11", "3.224.0.0/12", "52.208.0.0/13", "18.208.0.0/13")),
    "google": (15169, ("34.76.0.0/14", "35.192.0.0/15", "34.80.0.0/15")),
    "microsoft": (8075, ("13.80.0.0/15", "4.152.0.0/15", "108.142.0.0/15")),
    "digitalocean": (14061, ("46.101.0.0/18", "46.101.128.0/18", "46.101.192.0/18")),
}

_MAX_JITTER: Final = 0.05
#: a probe city must lie at least this far from every other country's polygon (Natural Earth 1:10m)
BORDER_CLEARANCE_KM: Final = 15.0
_KM_PER_DEG: Final = 111.195
_ABSENT: Final = object()  # marks a key left out of the record
_ARCHIVE_STATUS_INT: Final = {
    "Connected": 1,
    "Disconnected": 2,
    "Abandoned": 3,
    "Never Connected": 0,
    "Written Off": 4,
}
_NON_CONNECTED: Final = ("Disconnected", "Abandoned", "Never Connected", "Written Off")
_NON_CONNECTED_P: Final = (0.7, 0.15, 0.1, 0.05)

_AddressRanges = Callable[[str], tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]]


# ---------------------------------------------------------------------------------------------
# address space


@functools.cache
def _country_number() -> dict[str, int]:
    return {c.alpha2: i for i, c in enumerate(all_countries())}


def _cloud_ranges(provider: str) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    nets = sorted(ipaddress.IPv4Network(p) for p in CLOUD_PROVIDERS[provider][1])
    return (
        np.array([int(n.network_address) for n in nets], np.uint32),
        np.array([int(n.broadcast_address) for n in nets], np.uint32),
    )


def _draw(
    rng: np.random.Generator, ranges: tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]], k: int, what: str
) -> npt.NDArray[np.uint32]:
    starts = np.asarray(ranges[0], np.int64)
    ends = np.asarray(ranges[1], np.int64)
    if starts.size == 0 or starts.shape != ends.shape or np.any(ends < starts):
        raise ValueError(
            f"address ranges for {what}: need equal-length sorted (starts, ends) with ends >= starts"
        )
    sizes = (ends - starts + 1).astype(np.float64)
    out = np.zeros(k, np.uint32)
    todo = np.arange(k)
    for _ in range(20):
        if todo.size == 0:
            return out
        idx = rng.choice(starts.size, size=todo.size, p=sizes / sizes.sum())
        off = np.floor(rng.random(todo.size) * sizes[idx]).astype(np.int64)
        vals = (starts[idx] + off).astype(np.uint32)
        out[todo] = vals
        todo = todo[~global_mask_v4(vals)]
    raise ValueError(f"address ranges for {what} give no globally routable addresses")


# ---------------------------------------------------------------------------------------------
# probe locations and networks


@attrs.frozen(eq=False)
class EligibleCities:
    """The gazetteer cities a country's probes may sit in (see :func:`eligible_cities`)."""

    country: str
    latitude: npt.NDArray[np.float64]
    longitude: npt.NDArray[np.float64]
    population: npt.NDArray[np.int64]
    #: cities of the country in the gazetteer before the checks
    candidates: int

    def __len__(self) -> int:
        return int(self.latitude.shape[0])


@functools.cache
def _parts_tree() -> tuple[Any, npt.NDArray[np.object_], npt.NDArray[np.bytes_]]:
    import shapely

    from ..geography import Borders

    b = Borders.load("10m")
    parts = np.array([b.part(i) for i in range(len(b))], dtype=object)
    return shapely.STRtree(parts), parts, b.part_code


def _inside_main(country: str, lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64]) -> Any:
    """Points strictly inside a polygon of ``country``'s main territory (1:10m)."""
    from ..geography import Borders, BorderStatus

    b = Borders.load("10m")
    code = np.full(lat.shape[0], country, dtype="S2")
    chk = b.check(code, lat, lon, tolerance_km=0.0, main_territory=(country,))
    return (chk.status == BorderStatus.INSIDE) & (b.locate(lat, lon) == code)


@functools.cache
def eligible_cities(country: str) -> EligibleCities:
    """``country``'s GeoNames cities (the shipped gazetteer, :func:`ipevidence.coverage.load_gazetteer`)
    that can host a probe: the point (rounded to 4 decimals, as Atlas publishes) lies inside the
    country's main territory in Natural Earth 1:10m (status ``INSIDE``, not an overseas part), and no
    polygon of another country lies within :data:`BORDER_CLEARANCE_KM` (checked conservatively: the
    distance is measured in degrees scaled by the cosine of the highest latitude involved, which never
    overstates it). Cached per process."""
    import shapely

    from ..coverage import load_gazetteer

    gaz = load_gazetteer()
    idx = gaz.of(country)
    lat = np.round(gaz.latitude[idx], 4)
    lon = np.round(gaz.longitude[idx], 4)
    pop = gaz.population[idx]
    n = int(idx.shape[0])
    if n:
        ok = _inside_main(country, lat, lon)
        sel = np.flatnonzero(ok)
        if sel.size:
            tree, parts, codes = _parts_tree()
            cos_hi = np.cos(
                np.radians(np.minimum(np.abs(lat[sel]) + BORDER_CLEARANCE_KM / _KM_PER_DEG, 89.0))
            )
            dy = BORDER_CLEARANCE_KM / _KM_PER_DEG
            dx = dy / cos_hi
            pts = shapely.points(lon[sel], lat[sel])
            boxes = shapely.box(lon[sel] - dx, lat[sel] - dy, lon[sel] + dx, lat[sel] + dy)
            qi, ti = tree.query(boxes)
            other = codes[ti] != country.encode("ascii")
            qi, ti = qi[other], ti[other]
            near = shapely.dwithin(parts[ti], pts[qi], dx[qi])
            ok[sel[np.unique(qi[near])]] = False
        lat, lon, pop = lat[ok], lon[ok], pop[ok]
    return EligibleCities(country, lat, lon, pop.astype(np.int64), n)


def asn_pool(country: str) -> npt.NDArray[np.uint32]:
    """The ASNs of ``country``'s access networks: a deterministic pool whose size grows with the
    country's city population (``20 * log10(population) - 115``, clipped to 10..60: about 10 for
    Iceland, 40 for Germany, 50 for the USA), numbered ``200000 + 100 * country number + k`` (never a
    cloud ASN). Probes pick from it with Zipf weights ``1 / (k + 1)`` (a few large ISPs)."""
    from ..coverage import load_gazetteer

    gaz = load_gazetteer()
    pop = float(gaz.population[gaz.of(country)].sum())
    size = int(np.clip(round(20.0 * np.log10(max(pop, 1.0)) - 115.0), 10, 60))
    base = 200_000 + 100 * _country_number()[country]
    return np.arange(base, base + size, dtype=np.uint32)


def _locations(
    rng: np.random.Generator, cfg: SyntheticArchiveConfig, country: str, k: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """``k`` probe locations in ``country``: gazetteer cities drawn with weight population **
    ``population_exponent``, moved up to ``jitter_km`` (uniform in a disc) and kept only if the moved
    point is still inside the country (else the city point); the anchors when no city is eligible or
    ``locations="anchors"``."""
    if k == 0:
        return np.zeros(0), np.zeros(0)
    cities = eligible_cities(country) if cfg.locations == "gazetteer" else None
    if cities is None or len(cities) == 0:
        if country not in ANCHORS:
            raise ValueError(f"no eligible gazetteer city and no anchor for country {country}")
        lat_a, lon_a = _jittered(rng, ANCHORS[country], k)
        return np.asarray(lat_a, np.float64), np.asarray(lon_a, np.float64)
    w = cities.population.astype(np.float64) ** cfg.population_exponent
    pick = rng.choice(len(cities), size=k, p=w / w.sum())
    clat, clon = cities.latitude[pick], cities.longitude[pick]
    r = cfg.jitter_km * np.sqrt(rng.random(k))
    theta = rng.uniform(0.0, 2.0 * np.pi, k)
    lat = np.round(clat + r * np.cos(theta) / _KM_PER_DEG, 4)
    lon = np.round(clon + r * np.sin(theta) / (_KM_PER_DEG * np.cos(np.radians(clat))), 4)
    if cfg.jitter_km > 0:
        ok = _inside_main(country, lat, lon)
        lat = np.where(ok, lat, clat)
        lon = np.where(ok, lon, clon)
    else:
        lat, lon = clat.copy(), clon.copy()
    return lat, lon


# ---------------------------------------------------------------------------------------------
# configuration


def _rate(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be within [0, 1], got {value}")


def _str_tuple(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


def _default_countries() -> tuple[str, ...]:
    return tuple(DEFAULT_COUNTRY_WEIGHTS)


@attrs.frozen
class SyntheticArchiveConfig:
    """Everything the generator draws from. Probe-level shares pick disjoint groups (cloud,
    country-changing and planted-outside-border probes never overlap); per-record rates act
    independently on each record."""

    seed: int = 0
    start: dt.date = dt.date(2022, 1, 1)
    end: dt.date = dt.date(2022, 1, 31)
    n_probes: int = 300
    record_shape: Literal["flat", "nested", "mixed"] = "flat"
    layout: Literal["tree", "flat"] = "tree"
    top_level: Literal["objects", "list", "mixed"] = "objects"
    countries: tuple[str, ...] = attrs.field(factory=_default_countries, converter=_str_tuple)
    weights: tuple[float, ...] | None = None
    address_ranges: _AddressRanges | None = attrs.field(default=None, eq=False)
    first_probe_id: int = 1
    #: where probes sit: ``gazetteer`` (population-weighted cities, see :func:`eligible_cities`) or
    #: ``anchors`` (the built-in :data:`ANCHORS`, the fallback for countries without an eligible city)
    locations: Literal["gazetteer", "anchors"] = "gazetteer"
    population_exponent: float = 0.7
    jitter_km: float = 3.0
    # probe-level shares
    ipv6_share: float = attrs.field(default=0.4, validator=_rate)
    cloud_share: float = attrs.field(default=0.03, validator=_rate)
    country_change_share: float = attrs.field(default=0.03, validator=_rate)
    same_address_change_share: float = attrs.field(default=0.5, validator=_rate)
    outside_border_share: float = attrs.field(default=0.02, validator=_rate)
    churn_share: float = attrs.field(default=0.1, validator=_rate)
    # per probe and day
    dhcp_rate: float = attrs.field(default=0.03, validator=_rate)
    cloud_move_rate: float = attrs.field(default=0.3, validator=_rate)
    return_rate: float = attrs.field(default=0.3, validator=_rate)
    #: per address change (new run) of a home probe: the probe also changes ISP (a new ASN)
    isp_switch_rate: float = attrs.field(default=0.05, validator=_rate)
    # per record
    non_connected_rate: float = attrs.field(default=0.08, validator=_rate)
    bad_coordinates_rate: float = attrs.field(default=0.01, validator=_rate)
    bad_country_rate: float = attrs.field(default=0.005, validator=_rate)
    lowercase_country_rate: float = attrs.field(default=0.01, validator=_rate)
    bad_address_rate: float = attrs.field(default=0.01, validator=_rate)
    missing_asn_rate: float = attrs.field(default=0.01, validator=_rate)
    wrong_type_rate: float = attrs.field(default=0.003, validator=_rate)
    # days
    missing_day_rate: float = attrs.field(default=0.02, validator=_rate)
    missing_days: tuple[dt.date, ...] | None = None
    corrupt_days: int = 1
    compresslevel: int = 9
    #: also write description, first/last_connected, type and the full tag list, like the real
    #: archive (about 640 bytes a record instead of 250; bzip2 then takes over twice as long)
    verbose_records: bool = False

    def __attrs_post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("end must not be before start")
        if self.n_probes < 1:
            raise ValueError("n_probes must be >= 1")
        unknown = [
            c for c in self.countries if c not in ANCHORS and not (c.isupper() and is_known_country(c))
        ]
        if unknown or not self.countries:
            raise ValueError(f"countries must be non-empty ISO 3166-1 alpha-2 codes; unknown: {unknown}")
        if self.locations not in ("gazetteer", "anchors"):
            raise ValueError(f"locations {self.locations!r}")
        if not 0.0 <= self.population_exponent <= 2.0:
            raise ValueError("population_exponent must be within [0, 2]")
        if not 0.0 <= self.jitter_km <= 20.0:
            raise ValueError("jitter_km must be within [0, 20] (cities keep 15 km from other countries)")
        if self.weights is not None and (
            len(self.weights) != len(self.countries) or min(self.weights) < 0 or sum(self.weights) <= 0
        ):
            raise ValueError("weights must match countries, be >= 0 and not all zero")
        if self.record_shape not in ("flat", "nested", "mixed"):
            raise ValueError(f"record_shape {self.record_shape!r}")
        if self.layout not in ("tree", "flat"):
            raise ValueError(f"layout {self.layout!r}")
        if self.top_level not in ("objects", "list", "mixed"):
            raise ValueError(f"top_level {self.top_level!r}")
        if self.corrupt_days < 0:
            raise ValueError("corrupt_days must be >= 0")

    def country_weights(self) -> npt.NDArray[np.float64]:
        if self.weights is not None:
            w = np.array(self.weights, np.float64)
        else:
            w = np.array([DEFAULT_COUNTRY_WEIGHTS.get(c, 1.0) for c in self.countries], np.float64)
        return np.asarray(w / w.sum(), dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# truth


@attrs.frozen(eq=False)
class TruthRecords:
    """Every record of every readable day (ok days; the corrupt days' records are not here), in
    file order (day, then probe id), with the values the archive reader must produce.

    ``first_failure_v4``/``_v6``: the first daily-filter rule the record fails, one of
    :data:`FILTER_RULES_V4`/``_V6``, or ``""`` when it passes every rule. ``shape`` is ``flat`` or
    ``nested``; ``wrong_type`` names the field written with a wrong type (``""`` if none);
    ``defect`` names the planted record-level defect(s), ``;``-separated.
    """

    day: npt.NDArray[np.datetime64]
    probe_id: npt.NDArray[np.int32]
    status: npt.NDArray[np.uint8]
    status_name: npt.NDArray[np.str_]
    country: npt.NDArray[np.bytes_]
    latitude: npt.NDArray[np.float64]
    longitude: npt.NDArray[np.float64]
    ipv4: npt.NDArray[np.uint32]
    ipv4_valid: npt.NDArray[np.bool_]
    asn_v4: npt.NDArray[np.uint32]
    ipv6: npt.NDArray[np.bytes_]
    ipv6_valid: npt.NDArray[np.bool_]
    asn_v6: npt.NDArray[np.uint32]
    cloud: npt.NDArray[np.bool_]
    shape: npt.NDArray[np.str_]
    wrong_type: npt.NDArray[np.str_]
    defect: npt.NDArray[np.str_]
    first_failure_v4: npt.NDArray[np.str_]
    first_failure_v6: npt.NDArray[np.str_]

    def __len__(self) -> int:
        return int(self.probe_id.shape[0])

    @property
    def passes_v4(self) -> npt.NDArray[np.bool_]:
        return np.asarray(self.first_failure_v4 == "", dtype=np.bool_)

    @property
    def passes_v6(self) -> npt.NDArray[np.bool_]:
        return np.asarray(self.first_failure_v6 == "", dtype=np.bool_)

    def first_failure(self, i: int, family: int = 4) -> str | None:
        """The first rule record ``i`` fails, or None when it passes the daily filter."""
        v = str((self.first_failure_v4 if family == 4 else self.first_failure_v6)[i])
        return v or None

    def select(self, mask: npt.NDArray[np.bool_]) -> TruthRecords:
        return TruthRecords(**{f.name: getattr(self, f.name)[mask] for f in attrs.fields(TruthRecords)})

    def ipv4_text(self) -> list[str]:
        """Dotted quads of ``ipv4`` ("" where not valid)."""
        txt = format_ipv4(self.ipv4)
        return [t if ok else "" for t, ok in zip(txt, self.ipv4_valid.tolist(), strict=True)]

    def funnel_v4(self) -> dict[str, int]:
        """How many records each rule removes (first failure), plus ``kept``."""
        out = {r: int((self.first_failure_v4 == r).sum()) for r in FILTER_RULES_V4}
        out["kept"] = int(self.passes_v4.sum())
        return out


@attrs.frozen(eq=False)
class TruthProbes:
    """One row per probe (sorted by ``probe_id``).

    ``home_country``: declared country on its first day; ``final_country``: on its last day;
    ``country_changed`` with ``change_day`` (NaT if none) and ``change_keeps_address`` (the
    address is NOT reassigned on the change day); ``planted_outside_border``: its coordinates are
    in a place of ``coordinate_country`` (another country) on every day; ``cloud`` with
    ``cloud_asn`` (0 if not cloud) and ``cloud_provider``; ``has_ipv6``; ``first_day``/``last_day``:
    the interval in which it has records on the written days (churning probes exist only on part of
    the period; missing days have no records at all).
    """

    probe_id: npt.NDArray[np.int32]
    home_country: npt.NDArray[np.bytes_]
    final_country: npt.NDArray[np.bytes_]
    country_changed: npt.NDArray[np.bool_]
    change_day: npt.NDArray[np.datetime64]
    change_keeps_address: npt.NDArray[np.bool_]
    planted_outside_border: npt.NDArray[np.bool_]
    coordinate_country: npt.NDArray[np.bytes_]
    cloud: npt.NDArray[np.bool_]
    cloud_asn: npt.NDArray[np.uint32]
    cloud_provider: npt.NDArray[np.str_]
    has_ipv6: npt.NDArray[np.bool_]
    first_day: npt.NDArray[np.datetime64]
    last_day: npt.NDArray[np.datetime64]

    def __len__(self) -> int:
        return int(self.probe_id.shape[0])


@attrs.frozen(eq=False)
class SyntheticTruth:
    """What :func:`generate_archive` wrote and why."""

    config: SyntheticArchiveConfig
    directory: Path | None
    days: tuple[dt.date, ...]
    missing_days: tuple[dt.date, ...]
    corrupt_days: tuple[dt.date, ...]
    files: Mapping[dt.date, str]
    records: TruthRecords
    probes: TruthProbes

    @property
    def ok_days(self) -> tuple[dt.date, ...]:
        bad = set(self.missing_days) | set(self.corrupt_days)
        return tuple(d for d in self.days if d not in bad)

    def day_mask(self, day: dt.date) -> npt.NDArray[np.bool_]:
        return np.asarray(self.records.day == np.datetime64(day, "D"), dtype=np.bool_)

    def expected_snapshot(self, day: dt.date) -> DaySnapshot:
        """The columns the archive reader must produce for an ok day (counts and source empty)."""
        r = self.records.select(self.day_mask(day))
        return DaySnapshot(
            day=day,
            probe_id=r.probe_id,
            status=r.status,
            country=r.country,
            latitude=r.latitude,
            longitude=r.longitude,
            ipv4=r.ipv4,
            ipv4_valid=r.ipv4_valid,
            asn_v4=r.asn_v4,
            ipv6=r.ipv6,
            ipv6_valid=r.ipv6_valid,
            asn_v6=r.asn_v6,
        )

    def __str__(self) -> str:
        p = self.probes
        return (
            f"synthetic archive {self.days[0]}..{self.days[-1]}: {len(self.days)} days "
            f"({len(self.missing_days)} missing, {len(self.corrupt_days)} corrupt), {len(p)} probes "
            f"({int(p.cloud.sum())} cloud, {int(p.country_changed.sum())} country changes, "
            f"{int(p.planted_outside_border.sum())} outside border, {int(p.has_ipv6.sum())} IPv6), "
            f"{len(self.records)} records, {int(self.records.passes_v4.sum())} pass the IPv4 daily filter"
        )


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


def _jittered(rng: np.random.Generator, anchors: tuple[Anchor, ...], k: int) -> tuple[Any, Any]:
    pick = rng.integers(0, len(anchors), k)
    lat = np.array([anchors[i].latitude for i in pick]) + rng.uniform(-_MAX_JITTER, _MAX_JITTER, k)
    lon = np.array([anchors[i].longitude for i in pick]) + rng.uniform(-_MAX_JITTER, _MAX_JITTER, k)
    return np.round(lat, 4), np.round(lon, 4)


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


# ---------------------------------------------------------------------------------------------
# writing


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
