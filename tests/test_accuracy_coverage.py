"""Population coverage and the shipped GeoNames gazetteer."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipevidence.coverage import load_gazetteer, population_coverage
from ipevidence.errors import UnknownCountryError
from ipevidence.geography import haversine_km

ROOT = Path(__file__).resolve().parent.parent


def test_gazetteer_is_sane() -> None:
    gaz = load_gazetteer()
    assert len(gaz) > 30_000
    assert gaz.country.dtype == np.dtype("S2")
    assert np.all(np.abs(gaz.latitude) <= 90)
    assert np.all(np.abs(gaz.longitude) <= 180)
    # cities15000: 15,000 people or more, except a few dozen seats of government GeoNames keeps anyway.
    assert np.mean(gaz.population >= 15_000) > 0.99
    de = gaz.of("de")
    assert 500 < de.size < 5000
    assert np.all(gaz.country[de] == b"DE")


def brute_force(country: str, lat: np.ndarray, lon: np.ndarray, km: float) -> tuple[int, int]:
    gaz = load_gazetteer()
    idx = gaz.of(country)
    d = haversine_km(gaz.latitude[idx][:, None], gaz.longitude[idx][:, None], lat[None, :], lon[None, :])
    covered = (d <= km).any(axis=1)
    return int(covered.sum()), int(gaz.population[idx][covered].sum())


def test_coverage_matches_brute_force_haversine() -> None:
    rng = np.random.default_rng(5)
    lat = rng.uniform(47.5, 54.5, 60)
    lon = rng.uniform(6.0, 15.0, 60)
    res = population_coverage("DE", lat, lon, 40.0)
    cities, pop = brute_force("DE", lat, lon, 40.0)
    assert (res.cities_covered, res.population_covered) == (cities, pop)
    assert res.points == 60
    assert res.share == pytest.approx(pop / res.population)
    assert "DE:" in str(res)


@settings(max_examples=15, deadline=None)
@given(
    st.lists(st.tuples(st.floats(45.8, 47.8), st.floats(5.9, 10.5)), min_size=1, max_size=15),
    st.floats(1.0, 120.0),
)
def test_coverage_property(points: list[tuple[float, float]], km: float) -> None:
    lat = np.array([p[0] for p in points])
    lon = np.array([p[1] for p in points])
    res = population_coverage("CH", lat, lon, km)
    assert (res.cities_covered, res.population_covered) == brute_force("CH", lat, lon, km)


def test_coverage_edges() -> None:
    empty = population_coverage("NL", [], [])
    assert empty.share == 0.0
    assert empty.points == 0
    nan = population_coverage("NL", [np.nan], [4.9])
    assert nan.points == 0
    berlin = population_coverage("DE", [52.52, 52.52], [13.405, 13.405], 5.0)
    assert berlin.points == 1  # duplicates count once
    assert berlin.cities_covered >= 1
    # A country without gazetteer cities: coverage unknown, not a crash.
    aq = population_coverage("AQ", [-75.0], [0.0])
    assert aq.share is None
    assert "unknown" in str(aq)
    with pytest.raises(UnknownCountryError):
        population_coverage("QQ", [0.0], [0.0])
    with pytest.raises(ValueError, match="positive"):
        population_coverage("DE", [0.0], [0.0], 0)


def test_shipped_gazetteer_is_reproducible_from_the_script(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("build_cities", ROOT / "tools" / "build_cities.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "cities.npz"
    module.build(out)
    shipped = ROOT / "src" / "ipevidence" / "data" / "cities.npz"
    assert hashlib.sha256(out.read_bytes()).hexdigest() == hashlib.sha256(shipped.read_bytes()).hexdigest()


def test_grid_search_equals_a_kd_tree() -> None:
    """The coverage test's cube grid (numpy only) finds exactly the cities a k-d tree finds
    (scipy.spatial.cKDTree, the reference the library used before), on clustered and spread
    points, at distances from 10 m to half the globe."""
    import math

    from scipy.spatial import cKDTree

    from ipevidence.coverage import _unit, _within_chord

    rng = np.random.default_rng(20261206)
    gaz = load_gazetteer()
    for km in (0.01, 1.0, 10.0, 50.0, 50.0, 200.0, 2000.0, 20000.0):
        for n in (1, 7, 400, 3000):
            ci = rng.integers(0, gaz.latitude.size, n)
            lat = np.clip(gaz.latitude[ci] + rng.normal(0, 0.4, n), -90, 90)
            lon = (gaz.longitude[ci] + rng.normal(0, 0.4, n) + 180) % 360 - 180
            qi = rng.integers(0, gaz.latitude.size, 4000)
            pts, qs = _unit(lat, lon), _unit(gaz.latitude[qi], gaz.longitude[qi])
            chord = 2.0 * math.sin(min(km / 6371.0088, math.pi) / 2.0)
            dist, _ = cKDTree(pts).query(qs, k=1)
            expected = dist <= chord * (1.0 + 1e-12)
            got = _within_chord(pts, qs, chord)
            assert np.array_equal(got, expected), (km, n, int((got != expected).sum()))
    assert not _within_chord(np.zeros((0, 3)), _unit(np.array([1.0]), np.array([2.0])), 0.1).any()
