"""Country borders, the section-5 border check and country distances, on the shipped Natural Earth
data (converted from ../shared/data/naturalearth by tools/build_geography.py)."""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import shared_file
from ipevidence.countries import all_countries
from ipevidence.errors import UnknownCountryError
from ipevidence.geography import (
    EARTH_RADIUS_KM,
    BorderCheck,
    Borders,
    BorderStatus,
    CountryDistances,
    country_distance_km,
    country_distance_matrix,
    country_distances,
    haversine_km,
    neighbours,
)

S = BorderStatus


def check1(b: Borders, code: str, lat: float, lon: float, **kw: object) -> tuple[BorderStatus, str, bool]:
    r = b.check(np.array([code.encode()], "S2"), np.array([lat]), np.array([lon]), **kw)  # type: ignore[arg-type]
    return BorderStatus(int(r.status[0])), r.located[0].decode(), bool(r.accepted[0])


@pytest.fixture(scope="module")
def b10() -> Borders:
    return Borders.load("10m")


# ------------------------------------------------------------------------------ haversine


def test_haversine_known_distances() -> None:
    # Paris - London about 343.5 km; a quarter meridian; antipodes
    assert haversine_km(48.8566, 2.3522, 51.5074, -0.1278) == pytest.approx(343.5, abs=1.0)
    assert haversine_km(0, 0, 90, 0) == pytest.approx(np.pi / 2 * EARTH_RADIUS_KM)
    assert haversine_km(0, 0, 0, 180) == pytest.approx(np.pi * EARTH_RADIUS_KM)
    assert haversine_km(10, 179.9, 10, -179.9) == pytest.approx(21.9, abs=0.1)


def test_haversine_broadcasts_and_nan() -> None:
    lat = np.array([[0.0], [10.0]])
    out = haversine_km(lat, np.array([0.0, 1.0, 2.0]), 0.0, 0.0)
    assert out.shape == (2, 3)
    assert out[0, 0] == 0.0
    assert np.isnan(haversine_km(np.nan, 0, 0, 0))


@settings(max_examples=60, deadline=None)
@given(
    st.floats(-90, 90),
    st.floats(-180, 180),
    st.floats(-90, 90),
    st.floats(-180, 180),
)
def test_haversine_symmetric_and_bounded(a: float, b: float, c: float, d: float) -> None:
    x = float(haversine_km(a, b, c, d))
    assert x == pytest.approx(float(haversine_km(c, d, a, b)), abs=1e-6)
    assert 0.0 <= x <= np.pi * EARTH_RADIUS_KM + 1e-6


# ------------------------------------------------------------------------------ loading


def test_load_is_fast_cached_and_complete() -> None:
    t0 = time.perf_counter()
    b = Borders.load("10m")
    assert time.perf_counter() - t0 < 2.0  # "well under a second" unloaded; generous on a shared box
    assert Borders.load("10m") is b
    assert len(b.countries) >= 235
    # every known code is checkable at 1:10m: a polygon, a territory part, or Vatican City
    missing = [c.alpha2 for c in all_countries() if not b.has_borders(c.alpha2)]
    assert missing == []
    assert {"RE", "GF", "SJ"} <= b.territories
    for scale in ("50m", "110m"):
        assert len(Borders.load(scale).countries) > 150
    with pytest.raises(ValueError, match="scale"):
        Borders.load("5m")
    d = b.describe()
    assert d["scale"] == "10m"
    assert d["uncoded"]["Kosovo"] == "XK"
    json.dumps(d)


def test_package_data_matches_the_topojson_source(b10: Borders) -> None:
    """The shipped polygons are the world-atlas ones: Czechia's area agrees with the TopoJSON."""
    src = json.loads(shared_file("naturalearth/countries-110m.json").read_text("utf-8"))
    ids = {g.get("id") for g in src["objects"]["countries"]["geometries"]}
    assert "203" in ids  # Czechia at 110m
    # Czechia is about 78,870 km²
    assert b10.area_km2("CZ") == pytest.approx(78_870, rel=0.02)
    assert b10.area_km2("FR", main_territory=True) == pytest.approx(551_500, rel=0.03)


# ------------------------------------------------------------------------------ known points


def test_prague_in_czechia(b10: Borders) -> None:
    assert check1(b10, "CZ", 50.0755, 14.4378) == (S.INSIDE, "CZ", True)
    assert b10.locate(50.0755, 14.4378)[0] == b"CZ"


def test_lisbon_coast_point_tolerance(b10: Borders) -> None:
    # a published, rounded coordinate off Cascais, in the Atlantic about 1.7 km from the coast
    lat, lon = 38.69, -9.45
    assert b10.locate(lat, lon)[0] == b""
    assert check1(b10, "PT", lat, lon) == (S.COAST_ACCEPTED, "", True)
    assert check1(b10, "PT", lat, lon, tolerance_km=0.0) == (S.OUTSIDE_FAR, "", False)
    assert check1(b10, "PT", lat, lon, tolerance_km=1.0)[0] is S.OUTSIDE_FAR
    # declared Spain: Spain is not the nearest country
    assert check1(b10, "ES", lat, lon)[0] is S.OUTSIDE_FAR


def test_shipped_overseas_counts_equal_the_borders(b10: Borders) -> None:
    """overseas-parts.json (what a verdict reads) holds Borders.overseas_parts for every code."""
    from ipevidence.assessment import overseas_parts
    from ipevidence.geography import overseas_part_counts

    table = overseas_part_counts()
    codes = set(b10.countries) | set(b10.territories) | {c.alpha2 for c in all_countries()}
    for code in sorted(codes):
        assert table.get(code, 0) == b10.overseas_parts(code), code
        assert overseas_parts(code) == b10.overseas_parts(code)
    assert table["FR"] > 5
    assert "CZ" not in table


def test_point_in_germany_declared_france(b10: Borders) -> None:
    assert check1(b10, "FR", 48.5, 9.0) == (S.OTHER_COUNTRY, "DE", False)


def test_french_guiana_overseas(b10: Borders) -> None:
    cayenne = (4.93, -52.33)
    assert check1(b10, "FR", *cayenne) == (S.OVERSEAS, "GF", False)
    assert check1(b10, "FR", *cayenne, main_territory=()) == (S.INSIDE, "GF", True)
    assert check1(b10, "GF", *cayenne) == (S.INSIDE, "GF", True)
    # Corsica is European France
    assert check1(b10, "FR", 42.31, 9.15)[0] is S.INSIDE  # Corte
    # Réunion: accepted as RE, overseas as restricted FR
    assert check1(b10, "RE", -21.11, 55.53)[0] is S.INSIDE
    assert check1(b10, "FR", -21.11, 55.53)[0] is S.OVERSEAS
    assert b10.overseas_parts("FR") > 5
    assert b10.overseas_parts("CZ") == 0
    main = b10.geometry("FR", main_territory=True)
    full = b10.geometry("FR")
    assert main is not None
    assert full is not None
    assert not shapely.intersects_xy(main, cayenne[1], cayenne[0])
    assert shapely.intersects_xy(full, cayenne[1], cayenne[0])
    assert b10.geometry("FR", main_territory=True) is not None


def test_restrict_any_country(b10: Borders) -> None:
    honolulu = (21.31, -157.86)
    assert check1(b10, "US", *honolulu)[0] is S.INSIDE
    assert check1(b10, "US", *honolulu, main_territory=("US",))[0] is S.OVERSEAS
    assert check1(b10, "US", 39.74, -104.99, main_territory=("US",))[0] is S.INSIDE


def test_kosovo_and_uncoded_entries(b10: Borders) -> None:
    pristina = (42.66, 21.17)
    assert check1(b10, "XK", *pristina) == (S.INSIDE, "XK", True)
    assert check1(b10, "RS", *pristina) == (S.OTHER_COUNTRY, "XK", False)
    assert b10.locate(9.56, 44.06)[0] == b"SO"  # Hargeisa, Somaliland
    assert b10.locate(35.19, 33.36)[0] == b"CY"  # north Nicosia
    assert b10.locate(45.63, 63.31)[0] == b"KZ"  # Baikonur
    # Svalbard is SJ inside Norway's polygon; the Finnmark islands north of 70.5° N stay NO
    assert b10.locate([78.0, 70.98], [16.5, 25.97]).tolist() == [b"SJ", b"NO"]
    assert check1(b10, "NO", 78.0, 16.5)[0] is S.INSIDE
    assert check1(b10, "SJ", 78.0, 16.5)[0] is S.INSIDE


def test_vatican_and_antimeridian(b10: Borders) -> None:
    assert check1(b10, "VA", 41.9029, 12.4534)[0] is S.INSIDE
    assert check1(b10, "VA", 45.46, 9.19)[0] is S.OTHER_COUNTRY  # Milan
    # world-atlas stitches Russia and Fiji across 180°: the shipped data is cut back
    assert b10.locate([67.0, 66.5, -80.0], [172.0, -178.0, 0.0]).tolist() == [b"RU", b"RU", b"AQ"]
    assert b10.locate(10.0, -179.0)[0] == b""  # the mid-Pacific is no country


def test_no_border_data_and_invalid_coordinates() -> None:
    b110 = Borders.load("110m")
    assert not b110.has_borders("AD")  # Andorra is too small for 1:110m
    dec = np.array([b"AD", b"ZZ", b"DE", b"DE"], "S2")
    lat = np.array([42.5, 0.0, np.nan, 95.0])
    lon = np.array([1.5, 0.0, 10.0, 10.0])
    keep = b110.check(dec, lat, lon)
    assert [S(int(s)) for s in keep.status] == [
        S.NO_BORDER_DATA,
        S.NO_BORDER_DATA,
        S.INVALID_COORDINATES,
        S.INVALID_COORDINATES,
    ]
    assert keep.accepted.tolist() == [True, False, False, False]  # an unknown code is never kept
    drop = b110.check(dec, lat, lon, keep_no_border_data=False)
    assert drop.accepted.tolist() == [False, False, False, False]
    assert drop.counts()["NO_BORDER_DATA"] == 2


def test_check_validates_input(b10: Borders) -> None:
    with pytest.raises(ValueError, match="tolerance"):
        b10.check(np.array([b"DE"]), np.array([50.0]), np.array([10.0]), tolerance_km=-1)
    with pytest.raises(ValueError, match="one length"):
        b10.check(np.array([b"DE"]), np.array([50.0, 1.0]), np.array([10.0]))
    with pytest.raises(UnknownCountryError):
        b10.check(np.array([b"DE"]), np.array([50.0]), np.array([10.0]), main_territory=("XX",))
    empty = b10.check(np.zeros(0, "S2"), np.zeros(0), np.zeros(0))
    assert len(empty) == 0
    assert sum(empty.counts().values()) == 0


def test_border_check_result_api(b10: Borders) -> None:
    dec = np.array([b"CZ", b"FR", b"PT"], "S2")
    r = b10.check(dec, np.array([50.08, 48.5, 38.69]), np.array([14.42, 9.0, -9.45]))
    assert isinstance(r, BorderCheck)
    c = r.counts()
    assert set(c) == {s.name for s in BorderStatus}
    assert sum(c.values()) == 3
    assert r.to_dict()["accepted"] == 2
    assert r.to_json() == r.to_json()
    assert "3 points" in str(r)
    assert "2 accepted" in str(r)
    assert r.status.dtype == np.uint8
    assert r.located.dtype == np.dtype("S2")
    # unicode codes are accepted as input too
    r2 = b10.check(
        np.array(["cz", "FR", "PT"]), np.array([50.08, 48.5, 38.69]), np.array([14.42, 9.0, -9.45])
    )
    assert r2.status.tolist() == r.status.tolist()


# ------------------------------------------------------------------------------ reference


def _reference(
    b: Borders,
    dec: npt.NDArray[np.bytes_],
    lat: npt.NDArray[np.float64],
    lon: npt.NDArray[np.float64],
    tol: float,
) -> list[BorderStatus]:
    """Slow per-point shapely reference of the section-5 decision (France restricted)."""
    geoms = {c: b.geometry(c) for c in b.countries}
    gb = {c: shapely.bounds(g) for c, g in geoms.items()}
    main_fr = b.geometry("FR", main_territory=True)
    pb = np.array([shapely.bounds(b.part(i)) for i in range(len(b))])
    out = []
    for d, la, lo in zip(dec.tolist(), lat.tolist(), lon.tolist(), strict=True):
        code = d.decode()
        pt = shapely.Point(lo, la)
        inside = [
            c
            for c, g in geoms.items()
            if gb[c][0] <= lo <= gb[c][2]
            and gb[c][1] <= la <= gb[c][3]
            and g is not None
            and g.intersects(pt)
        ]
        terr = b.locate(la, lo)[0].decode()
        if inside:
            if code in inside or code == terr:
                if code == "FR" and not main_fr.intersects(pt):  # type: ignore[union-attr]
                    out.append(S.OVERSEAS)
                else:
                    out.append(S.INSIDE)
            else:
                out.append(S.OTHER_COUNTRY)
            continue
        if tol <= 0:
            out.append(S.OUTSIDE_FAR)
            continue
        k = np.pi / 180 * EARTH_RADIUS_KM
        cos = np.cos(np.radians(la))
        dy, dx = tol / k, tol / k / cos
        best, best_terr, best_d, best_main = "", "", np.inf, True
        near = (pb[:, 0] <= lo + dx) & (pb[:, 2] >= lo - dx) & (pb[:, 1] <= la + dy) & (pb[:, 3] >= la - dy)
        for i in np.flatnonzero(near).tolist():
            g = b.part(i)
            clip = shapely.clip_by_rect(g, lo - dx, la - dy, lo + dx, la + dy)
            if clip.is_empty:
                continue
            local = shapely.transform(
                clip, lambda xy, la=la, lo=lo, cos=cos, k=k: (xy - [lo, la]) * [cos * k, k]
            )
            dist = float(shapely.distance(local, shapely.Point(0, 0)))
            if dist < best_d:
                best = b.part_code[i].decode()
                best_terr = b.part_territory[i].decode()
                best_d, best_main = dist, bool(b.part_main[i])
        if best_d <= tol and code in (best, best_terr):
            out.append(S.OVERSEAS if code == "FR" and not best_main else S.COAST_ACCEPTED)
        else:
            out.append(S.OUTSIDE_FAR)
    return out


def test_vectorised_check_equals_per_point_reference(b10: Borders) -> None:
    rng = np.random.default_rng(20231305)
    # coastal Europe (Portugal, Brittany, the Channel, Denmark, Norway) and the Caribbean
    boxes = [
        (36.5, -10.0, 44.0, -6.0),
        (47.0, -5.5, 51.5, 3.0),
        (54.0, 7.5, 58.0, 13.0),
        (58.0, 4.0, 63.0, 8.0),
    ]
    boxes.append((14.0, -62.0, 17.0, -60.5))
    lat_l, lon_l = [], []
    for la0, lo0, la1, lo1 in boxes:
        lat_l.append(rng.uniform(la0, la1, 60))
        lon_l.append(rng.uniform(lo0, lo1, 60))
    lat, lon = np.concatenate(lat_l), np.concatenate(lon_l)
    located = b10.locate(lat, lon)
    choices = np.array([b"PT", b"ES", b"FR", b"GB", b"DK", b"DE", b"SE", b"NO", b"GP", b"MQ", b"DM"], "S2")
    dec = np.where(rng.random(lat.size) < 0.5, located, choices[rng.integers(0, choices.size, lat.size)])
    dec = np.where(dec == b"", choices[rng.integers(0, choices.size, lat.size)], dec)
    for tol in (10.0, 0.0):
        fast = b10.check(dec, lat, lon, tolerance_km=tol)
        ref = _reference(b10, dec, lat, lon, tol)
        got = [S(int(s)) for s in fast.status]
        diff = [(i, dec[i], lat[i], lon[i], got[i], ref[i]) for i in range(lat.size) if got[i] != ref[i]]
        assert diff == []
        assert len(set(got)) >= 3  # the sample exercises several outcomes


def test_check_is_order_independent(b10: Borders) -> None:
    rng = np.random.default_rng(7)
    lat = rng.uniform(35, 60, 500)
    lon = rng.uniform(-10, 25, 500)
    dec = b10.locate(lat, lon)
    dec = np.where(dec == b"", b"DE", dec)
    r = b10.check(dec, lat, lon)
    perm = rng.permutation(lat.size)
    r2 = b10.check(dec[perm], lat[perm], lon[perm])
    assert np.array_equal(r.status[perm], r2.status)
    assert np.array_equal(r.located[perm], r2.located)


def test_nearest_measures_km(b10: Borders) -> None:
    # Dover strait: a point in mid-channel is within ~20 km of both GB and FR
    code, dist, part = b10.nearest([51.0], [1.45], max_km=30.0)
    assert code[0] in (b"GB", b"FR")
    assert 5.0 < dist[0] < 20.0
    assert part[0] >= 0
    code, dist, part = b10.nearest([0.0], [-140.0], max_km=30.0)
    assert code[0] == b""
    assert np.isnan(dist[0])
    assert part[0] == -1


# ------------------------------------------------------------------------------ distances


def test_country_distances_known_pairs() -> None:
    assert country_distance_km("DE", "AT") == 0.0
    assert country_distance_km("DE", "DE") == 0.0
    assert country_distance_km("DE", "ES") == pytest.approx(668, abs=25)  # Pyrenees-Alsace region
    assert country_distance_km("GB", "FR") == pytest.approx(33, abs=8)  # Strait of Dover
    assert 0 < country_distance_km("US", "RU") < 10  # the Diomede Islands
    assert country_distance_km("RE", "FR") == 0.0  # a territory takes its sovereign's row
    # Australia's Macquarie Island lies about 600 km from New Zealand's Auckland Islands
    assert 500 < country_distance_km("AU", "NZ") < 800
    assert country_distance_km("AU", "AR") > 5000
    assert neighbours("DE") == frozenset({"AT", "BE", "CH", "CZ", "DK", "FR", "LU", "NL", "PL"})
    assert "RU" not in neighbours("US")
    assert neighbours("IS") == frozenset()
    with pytest.raises(UnknownCountryError):
        country_distance_km("DE", "XX")


def test_country_distances_vectorised() -> None:
    a = np.array([b"DE", b"DE", b"", b"CZ", b"ZZ"], "S2")
    b = np.array([b"AT", b"ES", b"DE", b"SK", b"DE"], "S2")
    out = country_distances(a, b)
    assert out[0] == 0.0
    assert out[1] > 600
    assert out[3] == 0.0
    assert np.isnan(out[2])
    assert np.isnan(out[4])
    m = country_distance_matrix()
    assert isinstance(m, CountryDistances)
    assert m is CountryDistances.load()
    assert np.allclose(m.matrix, m.matrix.T)
    assert (np.diag(m.matrix) == 0).all()
    assert m.are_neighbours(np.array([b"FR", b"FR"]), np.array([b"BR", b"GB"])).tolist() == [True, False]
    big = np.repeat(a[:4], 250_000)
    t0 = time.perf_counter()
    country_distances(big, np.repeat(b[:4], 250_000))
    assert time.perf_counter() - t0 < 5.0  # a million pairs: a lookup, not a computation


def test_distances_agree_with_borders(b10: Borders) -> None:
    """Spot-check the shipped matrix against a direct measurement on the 1:10m borders."""
    # the mid-channel point's distance to both coasts bounds the GB-FR distance from above
    _, d_gb, _ = b10.nearest([51.0], [1.45], max_km=40.0)
    assert country_distance_km("GB", "FR") <= 2 * 20.0 + 6.0
    assert d_gb[0] > 0


def test_cell_grid_shortcut_equals_polygon_tests() -> None:
    """The shipped grid of edge-free cells gives the same answers as the polygon tests alone,
    on random points and on points exactly on cell edges."""
    from ipevidence.geography import _load_npz

    data = _load_npz("borders-50m.npz")
    with_grid = Borders(data, "50m")
    without = Borders({k: v for k, v in data.items() if k != "cell_part"}, "50m")
    rng = np.random.default_rng(11)
    lat = rng.uniform(-90, 90, 100_000)
    lon = rng.uniform(-180, 180, 100_000)
    lat = np.concatenate([lat, np.round(lat[:20_000] * 4) / 4, [90.0, -90.0, 0.0]])
    lon = np.concatenate([lon, np.round(lon[:20_000] * 4) / 4, [180.0, -180.0, 180.0]])
    assert np.array_equal(with_grid.locate(lat, lon), without.locate(lat, lon))
    dec = with_grid.locate(lat, lon)
    dec = np.where(dec == b"", b"FR", dec)
    a = with_grid.check(dec, lat, lon)
    b = without.check(dec, lat, lon)
    assert np.array_equal(a.status, b.status)


def _tool() -> object:
    """tools/build_geography.py loaded as a module."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "tools" / "build_geography.py"
    spec = importlib.util.spec_from_file_location("_build_geography", path)
    assert spec is not None
    assert spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_build_tool_reproduces_the_shipped_110m_polygons() -> None:
    """tools/build_geography.py decodes the TopoJSON into exactly the shipped parts (1:110m)."""
    from ipevidence.geography import _load_npz

    tool: Any = _tool()
    codes, _polys, quant, _meta = tool.load_scale(shared_file("naturalearth/countries-110m.json"))
    order = sorted(range(len(codes)), key=lambda i: (codes[i], i))
    shipped = _load_npz("borders-110m.npz")
    assert [codes[i] for i in order] == [c.decode() for c in shipped["part_code"].tolist()]
    coords = np.concatenate([r for i in order for r in quant[i]])
    assert np.array_equal(coords.astype(np.int32), shipped["coords"])


# ------------------------------------------------------------------------------ main territories


def test_main_territory_distances_known_pairs() -> None:
    # French Guiana makes France a neighbour of Brazil and Suriname; only the whole-country table sees it
    assert country_distance_km("FR", "BR") == 0.0
    assert country_distance_km("FR", "BR", territory="all") == 0.0
    assert country_distance_km("FR", "BR", territory="main") > 5000
    assert country_distance_km("FR", "SR", territory="main") > 5000
    assert {"BR", "SR"} <= neighbours("FR")
    assert neighbours("FR", territory="main") == frozenset({"AD", "BE", "CH", "DE", "ES", "IT", "LU", "MC"})
    # land neighbours in Europe stay neighbours
    for a, b in (("DE", "AT"), ("CZ", "SK"), ("FR", "ES"), ("US", "CA"), ("US", "MX")):
        assert country_distance_km(a, b, territory="all") == 0.0
        assert country_distance_km(a, b, territory="main") == 0.0
    # the Caribbean Netherlands lie off Venezuela; Alaska faces Russia across the Bering Strait
    assert country_distance_km("NL", "VE") < 100
    assert country_distance_km("NL", "VE", territory="main") > 7000
    assert country_distance_km("US", "RU") < 10
    assert country_distance_km("US", "RU", territory="main") > 3000
    # a strait stays a strait
    assert country_distance_km("GB", "FR", territory="main") == country_distance_km("GB", "FR")
    # the territories drawn inside France have rows of their own in the main table
    assert country_distance_km("GF", "BR", territory="main") == 0.0
    assert country_distance_km("GF", "FR", territory="main") > 5000
    assert country_distance_km("RE", "FR", territory="main") > 8000
    assert country_distance_km("RE", "FR") == 0.0  # whole countries: Réunion takes France's row
    assert "BR" in neighbours("GF", territory="main")
    assert country_distance_km("VA", "IT", territory="main") == 0.0
    # the main-territory rule's known cost: Malaysia's largest part is on Borneo
    assert country_distance_km("MY", "TH", territory="main") > 900
    with pytest.raises(ValueError, match="territory"):
        country_distance_km("FR", "BR", territory="overseas")
    with pytest.raises(ValueError, match="territory"):
        CountryDistances.load("whole")


def test_main_territory_table_is_consistent_with_the_whole_country_table() -> None:
    whole, main = CountryDistances.load("all"), CountryDistances.load("main")
    assert whole is country_distance_matrix()
    assert main is country_distance_matrix("main")
    assert whole.territory == "all"
    assert main.territory == "main"
    assert main.describe()["territory"] == "main"
    assert main.describe()["main_territory_km"] == 300.0
    assert np.allclose(main.matrix, main.matrix.T)
    assert (np.diag(main.matrix) == 0).all()
    assert set(whole.codes.tolist()) < set(main.codes.tolist())
    assert set(main.codes.tolist()) - set(whole.codes.tolist()) == {
        c.encode() for c in ("BQ", "BV", "GF", "GP", "MQ", "RE", "SJ", "TK", "YT")
    }
    # a main territory is part of the whole country: never nearer (within the tables' 6 km error)
    codes = main.codes
    a, b = np.repeat(codes, len(codes)), np.tile(codes, len(codes))
    dw, dm = country_distances(a, b), country_distances(a, b, territory="main")
    assert not np.isnan(dw).any()
    assert not np.isnan(dm).any()
    assert (dm >= dw - 12.0).all()
    nm = main.are_neighbours(a, b)
    assert not (nm & ~whole.are_neighbours(a, b) & (a != b)).any()
    # the pairs that stop being neighbours and end up far apart: exactly these three
    far = (dw == 0) & (dm > 500) & np.isin(a, whole.codes) & np.isin(b, whole.codes) & (a < b)
    assert sorted(zip(a[far].tolist(), b[far].tolist(), strict=True)) == [
        (b"BR", b"FR"),
        (b"FR", b"SR"),
        (b"MY", b"TH"),
    ]


def test_build_tool_rebuilds_the_shipped_distance_tables(b10: Borders) -> None:
    """tools/build_geography.py is deterministic: from the shipped 1:10m borders it rebuilds the
    whole-country table exactly, and the main-territory rows of a sample of countries."""
    from ipevidence.geography import _load_npz

    tool: Any = _tool()
    codes, geoms = tool.territory_geometries(b10, "all")
    dist, neigh = tool.distance_table(geoms)
    shipped = _load_npz("country-distances.npz")
    assert codes == [c.decode() for c in shipped["codes"].tolist()]
    assert dist.dtype == shipped["distance_km"].dtype
    assert np.array_equal(dist, shipped["distance_km"])
    assert np.array_equal(neigh, shipped["neighbours"])
    # the main table: the same code, on main territories (a sample, to keep the test fast)
    mcodes, mgeoms = tool.territory_geometries(b10, "main")
    shipped_main = _load_npz("country-distances-main.npz")
    assert mcodes == [c.decode() for c in shipped_main["codes"].tolist()]
    pick = [
        mcodes.index(c)
        for c in ("AT", "BR", "DE", "FR", "GF", "MY", "NL", "RE", "RU", "SR", "TH", "US", "VE")
    ]
    sd, sn = tool.distance_table([mgeoms[i] for i in pick])
    assert np.array_equal(sd, shipped_main["distance_km"][np.ix_(pick, pick)])
    assert np.array_equal(sn, shipped_main["neighbours"][np.ix_(pick, pick)])
    # main territories are the border check's own (Borders.part_main)
    fr = mcodes.index("FR")
    assert mgeoms[fr].equals(b10.geometry("FR", main_territory=True))
    with pytest.raises(ValueError, match="territory"):
        tool.territory_geometries(b10, "both")


def test_min_chord_equals_brute_force() -> None:
    """The branch-and-bound search gives exactly the k-d tree minimum over every point."""
    from scipy.spatial import cKDTree

    tool: Any = _tool()
    rng = np.random.default_rng(5)
    for n, m in ((1, 1), (3, 200), (150, 70), (1000, 513)):
        p = rng.normal(size=(n, 3))
        q = rng.normal(size=(m, 3)) + rng.normal(size=3)
        p /= np.linalg.norm(p, axis=1)[:, None]
        q /= np.linalg.norm(q, axis=1)[:, None]
        tree = cKDTree(q)
        assert tool.min_chord(tool.chunk_levels(p), tree) == float(tree.query(p, k=1)[0].min())
