"""What the synthetic archive generator (:mod:`ipevidence.synthetic.archive`) draws from: its
configuration (:class:`SyntheticArchiveConfig`) and the probe population's world.

Probes sit in real places: GeoNames cities of the shipped gazetteer drawn by population ** 0.7,
each at least 15 km inside its country's 1:10m border (:func:`eligible_cities`), with a few km of
jitter; each country has a pool of 10-60 access-network ASNs (:func:`asn_pool`). The built-in
:data:`ANCHORS` remain as the fallback for countries without an eligible city. Cloud-hosted probes
take their ASNs and addresses from :data:`CLOUD_PROVIDERS`; home probes' addresses are drawn from
the address plan (:mod:`ipevidence.synthetic.addressplan`) or the config's ``address_ranges``.

Every name here is also importable from :mod:`ipevidence.synthetic.archive`.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, Literal

import attrs
import numpy as np
import numpy.typing as npt

from ..addresses import global_mask_v4
from ..countries import all_countries, is_known_country

__all__ = [
    "ANCHORS",
    "BORDER_CLEARANCE_KM",
    "CLOUD_PROVIDERS",
    "DEFAULT_COUNTRY_WEIGHTS",
    "Anchor",
    "EligibleCities",
    "SyntheticArchiveConfig",
    "asn_pool",
    "eligible_cities",
]


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


def _jittered(rng: np.random.Generator, anchors: tuple[Anchor, ...], k: int) -> tuple[Any, Any]:
    pick = rng.integers(0, len(anchors), k)
    lat = np.array([anchors[i].latitude for i in pick]) + rng.uniform(-_MAX_JITTER, _MAX_JITTER, k)
    lon = np.array([anchors[i].longitude for i in pick]) + rng.uniform(-_MAX_JITTER, _MAX_JITTER, k)
    return np.round(lat, 4), np.round(lon, 4)


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
