"""A synthetic geolocation database with a KNOWN error model, and the ground truth it misplaces.

For tests, the demo and benchmarks: every (country, year) cell of the ground truth has an exact
number of addresses, of which an exact number is placed by the database in named wrong countries
and an exact number is not located. Accuracies, intervals, confusion matrices and likelihood
ratios computed by the library can therefore be checked against values worked out by hand.

>>> case = build_case([Cell("IT", 2016, 1000, {"FR": 72}, not_located=3)])
>>> len(case.ground_truth), case.backend.build_date.isoformat()
(1000, '2022-12-31')

The addresses are consecutive global unicast addresses (IPv4 from 11.0.0.0, IPv6 from 2a00::),
shuffled with the seed; coordinates are drawn around the country's GeoNames cities weighted by
population, one location per probe rounded to 4 decimals as RIPE Atlas publishes them (so the
population-coverage indicator behaves realistically); each probe holds ``addresses_per_probe``
addresses of one country-year (3 by default); ASNs are 32-bit numbers from 200,000 up, a pool per
country (never a cloud ASN).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from .._util import address_dtype
from ..addresses import IPV6_DTYPE
from ..backends.ranges import RangeTable, TableBackend
from ..countries import COUNTRY_DTYPE, NOT_LOCATED, normalize_country
from ..coverage import load_gazetteer
from ..groundtruth import Funnel, FunnelStep, GroundTruth
from ..provenance import DatabaseInfo

__all__ = [
    "Cell",
    "ErrorModelBackend",
    "ErrorModelCase",
    "benchmark_cells",
    "build_case",
    "cells_from_accuracy",
    "paper_cells",
]

_V4_BASE = 0x0B000000  # 11.0.0.0, globally routable
_V6_PREFIX = bytes.fromhex("2a000000000000aa")  # 2a00:0:0:aa::/64, globally routable


def _misplaced(value: Mapping[str, int] | Iterable[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    return tuple(sorted((normalize_country(k), int(v)) for k, v in items))


@attrs.frozen
class Cell:
    """One country-year of the error model: ``addresses`` rows declared in ``country`` in ``year``;
    ``misplaced`` maps a wrong country to how many of them the database places there;
    ``not_located`` of them the database cannot place; the rest it places correctly."""

    country: str = attrs.field(converter=normalize_country)
    year: int
    addresses: int
    misplaced: tuple[tuple[str, int], ...] = attrs.field(default=(), converter=_misplaced)
    not_located: int = 0

    def __attrs_post_init__(self) -> None:
        if self.addresses < 0 or self.not_located < 0 or any(n < 0 for _, n in self.misplaced):
            raise ValueError("counts must be non-negative")
        if any(c == self.country for c, _ in self.misplaced):
            raise ValueError("a country cannot be misplaced into itself")
        if self.correct < 0:
            raise ValueError(f"{self.country} {self.year}: more misplaced and not located than addresses")

    @property
    def wrong(self) -> int:
        return sum(n for _, n in self.misplaced)

    @property
    def correct(self) -> int:
        return self.addresses - self.wrong - self.not_located


class ErrorModelBackend(TableBackend):
    """A GeoBackend answering from an explicit address -> country table (others: not located).

    Each address is a one-address range of a :class:`~ipevidence.backends.ranges.RangeTable`; an
    address given twice keeps its first country.
    """

    def __init__(
        self,
        addresses: npt.NDArray[Any],
        countries: npt.NDArray[np.bytes_],
        *,
        family: int,
        build_date: dt.date = dt.date(2022, 12, 31),
        name: str = "synthetic-error-model",
    ) -> None:
        if family not in (4, 6):
            raise ValueError("family must be 4 or 6")
        order = np.argsort(addresses, kind="stable")
        sorted_addresses = np.ascontiguousarray(addresses[order])
        sorted_countries = np.asarray(countries, dtype=COUNTRY_DTYPE)[order]
        column = sorted_addresses.astype(address_dtype(family), copy=False)
        first = np.ones(column.shape[0], dtype=np.bool_)
        first[1:] = column[1:] != column[:-1]
        single = (column[first], column[first], sorted_countries[first])
        self._table = RangeTable(v4=single) if family == 4 else RangeTable(v6=single)
        self._build_date = build_date
        self.nonstandard_codes = {}
        h = hashlib.sha256()
        h.update(sorted_addresses.tobytes())
        h.update(np.ascontiguousarray(sorted_countries).tobytes())
        self._info = DatabaseInfo(
            kind="synthetic",
            name=name,
            sha256=h.hexdigest(),
            build_date=build_date,
            ranges=int(sorted_addresses.shape[0]),
            families=frozenset({family}),
            description="synthetic database with a known error model (ipevidence.synthetic.errormodel)",
        )


@attrs.frozen(eq=False)
class ErrorModelCase:
    """A generated ground truth, the synthetic backend that misplaces it, and the cells behind them."""

    ground_truth: GroundTruth
    backend: ErrorModelBackend
    cells: tuple[Cell, ...]

    def cell(self, country: str, year: int) -> Cell:
        for c in self.cells:
            if c.country == country and c.year == year:
                return c
        raise KeyError((country, year))

    def write_bin(
        self,
        path: str | os.PathLike[str],
        *,
        located: npt.NDArray[np.bytes_] | None = None,
        build_date: dt.date | None = None,
    ) -> Path:
        """The database as an IPv4 IP2Location BIN file (for the command line and catalogues):
        every ground-truth address a one-address range with the backend's answer, or with
        ``located`` (a column as long as the ground truth) for a changed build."""
        from ..backends.writers import write_ip2location_bin

        gt = self.ground_truth
        if gt.family != 4:
            raise ValueError("write_bin writes IPv4 cases only")
        answers = self.backend.lookup(gt.address) if located is None else np.asarray(located, dtype="S2")
        order = np.argsort(gt.address, kind="stable")
        v4 = [
            (a, a, loc.decode() or "-")
            for a, loc in zip(gt.address[order].tolist(), answers[order].tolist(), strict=True)
        ]
        write_ip2location_bin(path, v4=v4, build_date=build_date or self.backend.build_date)
        return Path(path)


def build_case(
    cells: Sequence[Cell],
    *,
    family: int = 4,
    seed: int = 0,
    build_date: dt.date = dt.date(2022, 12, 31),
    addresses_per_probe: int = 3,
    asns_per_country: int = 25,
    jitter_deg: float = 0.05,
    funnel: Funnel | None = None,
) -> ErrorModelCase:
    """Generate the ground truth and the database of an exact error model (vectorised, seeded)."""
    if family not in (4, 6):
        raise ValueError("family must be 4 or 6")
    cells = tuple(cells)
    keys = [(c.country, c.year) for c in cells]
    if len(set(keys)) != len(keys):
        raise ValueError("each (country, year) may appear once")
    rng = np.random.default_rng(seed)
    sizes = np.array([c.addresses for c in cells], dtype=np.int64)
    n = int(sizes.sum())
    if family == 4 and n > (1 << 24):
        raise ValueError("at most 16,777,216 IPv4 rows")
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1])) if cells else np.zeros(0, np.int64)
    country = np.repeat(np.array([c.country for c in cells], dtype=COUNTRY_DTYPE), sizes)
    year = np.repeat(np.array([c.year for c in cells], dtype=np.int64), sizes)
    # Located: per cell, `correct` rows in the country, then each misplaced block, then not located.
    seg_codes: list[bytes] = []
    seg_sizes: list[int] = []
    for c in cells:
        seg_codes.append(c.country.encode())
        seg_sizes.append(c.correct)
        for dest, k in c.misplaced:
            seg_codes.append(dest.encode())
            seg_sizes.append(k)
        seg_codes.append(NOT_LOCATED)
        seg_sizes.append(c.not_located)
    located = np.repeat(np.array(seg_codes, dtype=COUNTRY_DTYPE), np.array(seg_sizes, dtype=np.int64))
    # Probes: consecutive rows of one cell share a probe.
    in_cell = np.arange(n, dtype=np.int64) - np.repeat(starts, sizes)
    probes_per_cell = -(-sizes // addresses_per_probe)
    probe_base = np.concatenate(([0], np.cumsum(probes_per_cell)[:-1])) if cells else np.zeros(0, np.int64)
    probe_id = (np.repeat(probe_base, sizes) + in_cell // addresses_per_probe + 1).astype(np.int32)
    # Dates: a seeded day within the row's year.
    first = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    days_in = ((year + 1 - 1970).astype("datetime64[Y]").astype("datetime64[D]") - first).astype(np.int64)
    date = first + (rng.random(n) * days_in).astype(np.int64).astype("timedelta64[D]")
    # Countries as small ints for ASN pools and coordinates.
    uniq, cidx = np.unique(country, return_inverse=True)
    asn = (200_000 + cidx.astype(np.int64) * 1000 + rng.integers(0, asns_per_country, n)).astype(np.uint32)
    # Coordinates: one location per probe, near a city of its country drawn by population.
    n_probes = int(probe_id.max()) if n else 0
    probe_country = np.zeros(n_probes + 1, dtype=np.int64)
    probe_country[probe_id] = cidx
    plat = np.zeros(n_probes + 1, np.float64)
    plon = np.zeros(n_probes + 1, np.float64)
    gaz = load_gazetteer()
    for i, code in enumerate(uniq):
        probes = np.flatnonzero(probe_country == i)
        probes = probes[probes > 0]
        cities = gaz.of(bytes(code).decode())
        if cities.shape[0] and probes.shape[0]:
            w = gaz.population[cities].astype(np.float64)
            pick = cities[rng.choice(cities.shape[0], size=probes.shape[0], p=w / w.sum())]
            plat[probes] = gaz.latitude[pick]
            plon[probes] = gaz.longitude[pick]
    plat = np.round(np.clip(plat + rng.normal(0.0, jitter_deg, n_probes + 1), -90.0, 90.0), 4).astype(
        np.float64
    )
    plon = np.round(((plon + rng.normal(0.0, jitter_deg, n_probes + 1) + 180.0) % 360.0) - 180.0, 4).astype(
        np.float64
    )
    lat = plat[probe_id]
    lon = plon[probe_id]
    # Addresses: consecutive global unicast addresses in a seeded order.
    perm = rng.permutation(n)
    if family == 4:
        address: npt.NDArray[Any] = (np.uint32(_V4_BASE) + perm.astype(np.uint32)).astype(np.uint32)
    else:
        raw = np.zeros((n, 16), dtype=np.uint8)
        raw[:, :8] = np.frombuffer(_V6_PREFIX, dtype=np.uint8)
        raw[:, 8:] = perm.astype(">u8").view(np.uint8).reshape(n, 8)
        address = raw.view(IPV6_DTYPE).reshape(n)
    gt = GroundTruth(
        family=family,
        probe_id=probe_id,
        address=address,
        country=country,
        latitude=lat,
        longitude=lon,
        asn=asn,
        date=date.astype("datetime64[D]"),
        first_seen=date.astype("datetime64[D]"),
        last_seen=date.astype("datetime64[D]"),
        funnel=funnel
        if funnel is not None
        else Funnel(family=family, steps=(FunnelStep("synthetic", "generated by the error model", n, 0),)),
        provenance=None,
        parameters={"generator": "ipevidence.synthetic.errormodel", "seed": seed},
    )
    backend = ErrorModelBackend(address, located, family=family, build_date=build_date)
    return ErrorModelCase(ground_truth=gt, backend=backend, cells=cells)


def cells_from_accuracy(
    counts: Mapping[tuple[str, int], int],
    accuracy: Mapping[tuple[str, int], float],
    wrong_to: str | Mapping[str, str] = "US",
    not_located_share: float = 0.0,
) -> list[Cell]:
    """Cells from addresses per country-year and a target accuracy per country-year.

    The wrong count is ``round(addresses * (1 - accuracy))`` (placed in ``wrong_to``, a country or a
    per-country mapping); not located ``round(addresses * not_located_share)``. Exact counts are in
    the returned cells.
    """
    out: list[Cell] = []
    for (country, year), n in sorted(counts.items()):
        acc = accuracy.get((country, year), 1.0)
        nl = round(n * not_located_share)
        wrong = round((n - nl) * (1.0 - acc))
        dest = wrong_to if isinstance(wrong_to, str) else wrong_to[country]
        out.append(Cell(country, year, n, {dest: wrong} if wrong else {}, not_located=nl))
    return out


# The paper's Tables 5 and 6 (addresses per country and year, 2015-2022).
_PAPER_COUNTS: dict[str, tuple[int, ...]] = {
    "IR": (1457, 2159, 2918, 5337, 5650, 5561, 5539, 4504),
    "UA": (1740, 1526, 1344, 1518, 1815, 1726, 739, 937),
    "DE": (51752, 57376, 80010, 79136, 74314, 78636, 78169, 66181),
    "FR": (10567, 6349, 7114, 5763, 5922, 7222, 5100, 5073),
    "IT": (4273, 4204, 6061, 5052, 3723, 4182, 5678, 6371),
    "AT": (4228, 6905, 6674, 4156, 1615, 1434, 1841, 1941),
    "US": (4866, 3727, 3624, 3520, 3364, 3144, 3458, 4627),
    "GB": (5056, 3788, 3668, 2843, 2332, 2869, 2850, 2518),
    "IN": (653, 2214, 2177, 2800, 2497, 5340, 5987, 4796),
}
# Yearly accuracies shaped after the paper's Table 8 and Figure 5 (Hist min, Hist all).
_PAPER_ACCURACY: dict[str, tuple[float, ...]] = {
    "IR": (0.93, 0.865, 0.92, 0.889, 0.96, 0.965, 0.96, 0.965),
    "UA": (0.921, 0.893, 0.93, 0.945, 0.982, 0.975, 0.96, 0.95),
    "DE": (0.990, 0.995, 0.996, 0.996, 0.997, 0.997, 0.997, 0.997),
    "FR": (0.973, 0.985, 0.99, 0.99, 0.99, 0.99, 0.99, 0.99),
    "IT": (0.98, 0.928, 0.98, 0.98, 0.98, 0.98, 0.98, 0.98),
    "AT": (0.992, 0.996, 0.996, 0.996, 0.996, 0.996, 0.996, 0.996),
    "US": (0.991, 0.994, 0.994, 0.994, 0.994, 0.994, 0.994, 0.995),
    "GB": (0.979, 0.995, 0.995, 0.995, 0.995, 0.995, 0.995, 0.995),
    "IN": (0.991, 0.998, 0.998, 0.998, 0.998, 0.998, 0.998, 0.998),
}
_NEIGHBOUR = {"IR": "AE", "UA": "RU", "DE": "NL", "FR": "BE", "IT": "FR", "AT": "DE", "US": "CA", "GB": "IE"}


def paper_cells(years: Sequence[int] = range(2015, 2023)) -> list[Cell]:
    """Cells shaped after the paper (Tables 5, 6 and 8): nine countries, 814,210 rows, 2015-2022.

    Italy's 2016 accuracy is 92.8 % while its eight-year accuracy is about 98 %, the case the
    paper's decision logic rejects. Misplaced addresses go to a neighbour (IN to US).
    """
    years = list(years)
    counts = {(c, y): v[i] for c, v in _PAPER_COUNTS.items() for i, y in enumerate(years) if i < len(v)}
    acc = {(c, y): v[i] for c, v in _PAPER_ACCURACY.items() for i, y in enumerate(years) if i < len(v)}
    wrong_to = {c: _NEIGHBOUR.get(c, "US") for c in _PAPER_COUNTS}
    return cells_from_accuracy(counts, acc, wrong_to, not_located_share=0.001)


def benchmark_cells(total: int = 1_240_000) -> list[Cell]:
    """The paper's cells plus filler countries (99 % accurate) up to ``total`` rows."""
    cells = paper_cells()
    have = sum(c.addresses for c in cells)
    fillers = ("NL", "CH", "BE", "CZ", "PL", "SE", "ES", "RU", "JP", "BR", "CA", "AU")
    rest = max(0, total - have)
    per = rest // (len(fillers) * 8)
    extra: dict[tuple[str, int], int] = {}
    for i, c in enumerate(fillers):
        for j, y in enumerate(range(2015, 2023)):
            extra[(c, y)] = per + (rest - per * len(fillers) * 8 if i == 0 and j == 0 else 0)
    return cells + cells_from_accuracy(extra, dict.fromkeys(extra, 0.99), "US", 0.001)
