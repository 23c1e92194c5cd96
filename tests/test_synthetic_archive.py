"""The synthetic archive generator: deterministic, complete truth, planted phenomena, realistic probe
places (population-weighted gazetteer cities clear of other countries) and networks."""

from __future__ import annotations

import csv
import datetime as dt
import ipaddress
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon

from conftest import assert_same_columns, shared_file
from ipevidence.addresses import format_ipv6, non_global_reason
from ipevidence.archive import LocalArchive, ProbeStatus, iter_days, parse_day, relative_path
from ipevidence.countries import is_known_country, numeric_to_alpha2
from ipevidence.synthetic.archive import (
    ANCHORS,
    BORDER_CLEARANCE_KM,
    CLOUD_PROVIDERS,
    FILTER_RULES_V4,
    SyntheticArchiveConfig,
    SyntheticTruth,
    asn_pool,
    day_payload,
    default_address_ranges,
    eligible_cities,
    generate_archive,
)

CLOUD_ASNS = {16509, 14618, 15169, 396982, 8075, 14061}


@pytest.fixture(scope="module")
def rich(tmp_path_factory: pytest.TempPathFactory) -> SyntheticTruth:
    """Many probes, high defect rates, every shape and top level mixed, flat layout."""
    cfg = SyntheticArchiveConfig(
        seed=5,
        start=dt.date(2021, 12, 20),
        end=dt.date(2022, 1, 19),
        n_probes=400,
        record_shape="mixed",
        layout="flat",
        top_level="mixed",
        cloud_share=0.05,
        country_change_share=0.08,
        outside_border_share=0.05,
        dhcp_rate=0.1,
        return_rate=0.5,
        bad_coordinates_rate=0.03,
        bad_country_rate=0.03,
        bad_address_rate=0.03,
        missing_asn_rate=0.03,
        wrong_type_rate=0.03,
        missing_day_rate=0.1,
        corrupt_days=2,
    )
    return generate_archive(tmp_path_factory.mktemp("rich"), cfg)


def test_reader_reproduces_the_truth_exactly(rich: SyntheticTruth) -> None:
    assert rich.directory is not None
    assert len(rich.missing_days) >= 1
    assert len(rich.corrupt_days) == 2
    seen = set()
    for rec, snap in iter_days(LocalArchive(rich.directory), rich.days, workers=1, cache=None):
        if snap is None:
            assert rec.day in set(rich.missing_days) | set(rich.corrupt_days)
            assert rec.status == ("missing" if rec.day in rich.missing_days else "corrupt")
            continue
        seen.add(rec.day)
        exp = rich.expected_snapshot(rec.day)
        assert_same_columns(exp, snap)
        wrongly_typed = sum(v for k, v in snap.counts.items() if k.startswith("wrongtype_"))
        n_wrong = int((rich.records.wrong_type[rich.day_mask(rec.day)] != "").sum())
        assert wrongly_typed >= n_wrong
    assert seen == set(rich.ok_days)
    for day in rich.missing_days:
        assert not (rich.directory / relative_path(day, "flat")).exists()


def test_shapes_layouts_and_phenomena_are_all_present(rich: SyntheticTruth) -> None:
    r = rich.records
    p = rich.probes
    assert set(r.shape.tolist()) == {"flat", "nested"}
    assert set(r.first_failure_v4.tolist()) == {"", *FILTER_RULES_V4}
    assert set(r.first_failure_v6.tolist()) >= {"", "status", "coordinates", "ipv6_address", "ipv6_asn"}
    assert {"latitude", "longitude", "geometry", "asn_v4", "address_v4", "country_code", "status"} <= set(
        r.wrong_type.tolist()
    )
    names = set(r.status_name.tolist())
    assert {"Connected", "Disconnected", "Abandoned", ""} <= names
    assert p.cloud.any()
    assert p.country_changed.any()
    assert p.change_keeps_address.any()
    assert p.planted_outside_border.any()
    assert p.has_ipv6.any()
    assert not (p.cloud & p.country_changed).any()
    assert not (p.planted_outside_border & p.country_changed).any()
    assert (p.coordinate_country[p.planted_outside_border] != p.home_country[p.planted_outside_border]).all()
    assert (
        p.coordinate_country[~p.planted_outside_border] == p.home_country[~p.planted_outside_border]
    ).all()
    assert (p.first_day <= p.last_day).all()
    assert (p.first_day > np.datetime64(rich.days[0])).any()  # churn: probes join late
    assert str(rich).startswith("synthetic archive 2021-12-20..2022-01-19")


def _runs(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if not out or out[-1] != v:
            out.append(v)
    return out


def test_dhcp_runs_returns_and_country_changes(rich: SyntheticTruth) -> None:
    r = rich.records
    p = rich.probes
    clean = (r.defect == "") & r.ipv4_valid
    returns = 0
    multi = 0
    for pid in p.probe_id[~p.cloud].tolist():
        addr = r.ipv4[clean & (r.probe_id == pid)].tolist()
        runs = _runs(addr)
        multi += len(runs) > 1
        returns += len(runs) > len(set(runs))  # an address came back after another one
    assert multi > 50
    assert returns > 5
    # a country change: two countries over the records; with change_keeps_address the address on the
    # last day before and the first day after the change is the same
    kept_seen = 0
    for i in np.flatnonzero(p.country_changed).tolist():
        pid = int(p.probe_id[i])
        mine = (r.probe_id == pid) & (r.defect == "")
        change = p.change_day[i]
        before = mine & (r.day < change)
        after = mine & (r.day >= change)
        assert set(r.country[before].tolist()) <= {p.home_country[i]}
        assert set(r.country[after].tolist()) <= {p.final_country[i]}
        assert p.home_country[i] != p.final_country[i]
        assert rich.probes.first_day[i] < change <= rich.probes.last_day[i]
        if before.any() and after.any():
            last_before = r.ipv4[before][-1]
            first_after = r.ipv4[after][0]
            adjacent = r.day[after][0] - r.day[before][-1] == np.timedelta64(1, "D")
            if p.change_keeps_address[i] and adjacent:
                assert last_before == first_after
                kept_seen += 1
            elif not p.change_keeps_address[i]:
                assert last_before != first_after
    assert kept_seen >= 1


def _global(value: int) -> bool:
    a = ipaddress.IPv4Address(value)
    return a.is_global and not a.is_multicast  # METHOD.md: is_global, and no multicast


def test_first_failure_matches_a_reference_filter(rich: SyntheticTruth) -> None:
    """The truth's first failure equals the METHOD.md section 2 rules applied the slow way."""
    r = rich.records
    idx = np.flatnonzero((r.defect != "") | (r.first_failure_v4 != ""))[:3000]
    idx = np.concatenate([idx, np.arange(min(500, len(r)))])
    for i in idx.tolist():
        if r.status[i] != ProbeStatus.CONNECTED:
            expected = "status"
        elif not (
            math.isfinite(r.latitude[i])
            and math.isfinite(r.longitude[i])
            and abs(r.latitude[i]) <= 90
            and abs(r.longitude[i]) <= 180
        ):
            expected = "coordinates"
        elif not is_known_country(r.country[i].decode()) or not r.country[i]:
            expected = "country"
        elif not r.ipv4_valid[i] or not _global(int(r.ipv4[i])):
            expected = "ipv4_address"
        elif r.asn_v4[i] == 0:
            expected = "ipv4_asn"
        else:
            expected = ""
        assert r.first_failure_v4[i] == expected, (i, r.defect[i])
        assert r.first_failure(i) == (expected or None)
    assert sum(rich.records.funnel_v4().values()) == len(r)


def test_cloud_probes_use_cloud_asns_and_published_ranges(rich: SyntheticTruth) -> None:
    r = rich.records
    cloud = r.cloud & (r.defect == "")
    assert cloud.any()
    assert set(r.asn_v4[cloud].tolist()) <= CLOUD_ASNS
    assert not (set(r.asn_v4[~r.cloud].tolist()) & CLOUD_ASNS)
    # cloud addresses move often: more distinct addresses per probe than home probes
    per_probe = [
        len(set(r.ipv4[cloud & (r.probe_id == pid)].tolist())) for pid in np.unique(r.probe_id[cloud])
    ]
    assert np.mean(per_probe) > 3
    # the built-in provider prefixes lie inside what the providers published
    published: dict[str, list[ipaddress.IPv4Network]] = {
        "amazon": [
            ipaddress.IPv4Network(x["ip_prefix"])
            for x in json.loads(shared_file("cloud-ranges-2022-12-31/aws-ip-ranges.json").read_text())[
                "prefixes"
            ]
        ],
        "google": [
            ipaddress.IPv4Network(x["ipv4Prefix"])
            for x in json.loads(
                shared_file("cloud-ranges-2022-12-31/google-cloud-ip-ranges.json").read_text()
            )["prefixes"]
            if "ipv4Prefix" in x
        ],
        "digitalocean": [
            ipaddress.IPv4Network(row[0])
            for row in csv.reader(
                shared_file("cloud-ranges-2022-12-31/digitalocean.csv").read_text().splitlines()
            )
            if row and ":" not in row[0]
        ],
        "microsoft": [
            ipaddress.IPv4Network(pfx)
            for v in json.loads(
                shared_file("cloud-ranges-2025-07-22/microsoft-azure-ip-ranges.json").read_text()
            )["values"]
            if v["name"] == "AzureCloud"
            for pfx in v["properties"]["addressPrefixes"]
            if ":" not in pfx
        ],
    }
    for provider, (_asn, prefixes) in CLOUD_PROVIDERS.items():
        for pfx in prefixes:
            net = ipaddress.IPv4Network(pfx)
            assert any(net.subnet_of(pub) for pub in published[provider]), (provider, pfx)
    # and the default per-country blocks never overlap a cloud prefix
    cloud_nets = [ipaddress.IPv4Network(x) for _, pfx in CLOUD_PROVIDERS.values() for x in pfx]
    for cc in ANCHORS:
        starts, ends = default_address_ranges(cc)
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            block = ipaddress.IPv4Network(f"{ipaddress.IPv4Address(s)}/16")
            assert int(block.broadcast_address) == e
            assert non_global_reason(block.network_address) is None
            assert not any(block.overlaps(c) for c in cloud_nets)


def test_ipv6_addresses(rich: SyntheticTruth) -> None:
    r = rich.records
    ok = r.ipv6_valid & (r.first_failure_v6 == "")
    assert ok.any()
    texts = format_ipv6(r.ipv6[ok][:50])
    assert all(ipaddress.IPv6Address(t).is_global for t in texts)
    v6_probes = set(rich.probes.probe_id[rich.probes.has_ipv6].tolist())
    assert set(r.probe_id[r.ipv6_valid].tolist()) <= v6_probes


def test_deterministic(tmp_path: Path) -> None:
    cfg = SyntheticArchiveConfig(seed=3, start=dt.date(2020, 2, 27), end=dt.date(2020, 3, 2), n_probes=60)
    a = generate_archive(tmp_path / "a", cfg)
    b = generate_archive(tmp_path / "b", cfg)
    assert a.files == b.files
    for day, rel in a.files.items():
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), day
    for f in ("probe_id", "ipv4", "latitude", "first_failure_v4", "defect"):
        assert np.array_equal(getattr(a.records, f), getattr(b.records, f), equal_nan=f == "latitude")
    assert "2020/02/20200229.json.bz2" in set(a.files.values()) | {relative_path(d) for d in a.missing_days}
    c = generate_archive(
        tmp_path / "c", SyntheticArchiveConfig(seed=4, start=cfg.start, end=cfg.end, n_probes=60)
    )
    assert not np.array_equal(a.records.ipv4[:50], c.records.ipv4[:50])


def test_address_ranges_callable_is_used(tmp_path: Path) -> None:
    base = {cc: i for i, cc in enumerate(sorted(ANCHORS))}

    def ranges(cc: str) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
        start = int(ipaddress.IPv4Address(f"85.{base[cc]}.0.0"))
        starts = np.array([start, start + 512], np.uint32)
        return starts, starts + np.uint32(255)

    cfg = SyntheticArchiveConfig(
        seed=9,
        start=dt.date(2022, 5, 1),
        end=dt.date(2022, 5, 10),
        n_probes=150,
        address_ranges=ranges,
        dhcp_rate=0.2,
    )
    truth = generate_archive(tmp_path, cfg)
    r = truth.records
    home = (~r.cloud) & (r.defect == "")
    changers = set(truth.probes.probe_id[truth.probes.country_changed].tolist())
    home &= ~np.isin(r.probe_id, list(changers))
    for v, cc in zip(r.ipv4[home].tolist(), r.country[home].tolist(), strict=True):
        s, e = ranges(cc.decode())
        assert any(a <= v <= b for a, b in zip(s.tolist(), e.tolist(), strict=True))
    with pytest.raises(ValueError, match="no globally routable"):
        generate_archive(
            tmp_path / "bad",
            SyntheticArchiveConfig(
                n_probes=5,
                end=dt.date(2022, 1, 2),
                address_ranges=lambda cc: (
                    np.array([167772160], np.uint32),
                    np.array([167772415], np.uint32),
                ),
            ),
        )


def test_day_payload_for_benchmarks() -> None:
    data, truth = day_payload(SyntheticArchiveConfig(seed=1, n_probes=2000, verbose_records=True))
    assert data.startswith(b"BZh")
    snap = parse_day(data, truth.days[0])
    assert len(snap) == 2000 == len(truth.records)
    exp = truth.expected_snapshot(truth.days[0])
    assert np.array_equal(snap.ipv4, exp.ipv4)
    assert np.array_equal(snap.latitude, exp.latitude, equal_nan=True)
    plain, _ = day_payload(SyntheticArchiveConfig(seed=1, n_probes=10), compress=False)
    assert plain.startswith(b"{")


@pytest.mark.parametrize(
    "kw",
    [
        {"n_probes": 0},
        {"countries": ("DE", "XX")},
        {"countries": ("DE",), "weights": (1.0, 2.0)},
        {"dhcp_rate": 1.5},
        {"end": dt.date(2021, 1, 1)},
        {"record_shape": "round"},
        {"corrupt_days": -1},
        {"countries": ("de",)},
        {"locations": "random"},
        {"jitter_km": -1.0},
        {"population_exponent": 3.0},
        {"isp_switch_rate": 2.0},
    ],
)
def test_config_validation(kw: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        SyntheticArchiveConfig(**kw)


# --------------------------------------------------------------------------------------------
# anchors: every anchor point is inside its country and far from its border and coast (Natural
# Earth 1:10m admin-0, decoded here from the TopoJSON in ../shared/data)


def _topojson_countries(path: Path, wanted: set[str]) -> dict[str, Any]:
    data = json.loads(path.read_text())
    (sx, sy), (tx, ty) = data["transform"]["scale"], data["transform"]["translate"]
    arcs = []
    for arc in data["arcs"]:
        a = np.cumsum(np.array(arc, dtype=np.float64), axis=0)
        arcs.append(np.column_stack([a[:, 0] * sx + tx, a[:, 1] * sy + ty]))

    def ring(idx: list[int]) -> npt.NDArray[np.float64]:
        parts = [arcs[i] if i >= 0 else arcs[~i][::-1] for i in idx]
        return np.concatenate([parts[0]] + [p[1:] for p in parts[1:]])

    out: dict[str, Any] = {}
    for g in data["objects"]["countries"]["geometries"]:
        if g["type"] not in ("Polygon", "MultiPolygon") or not str(g.get("id", "")).isdigit():
            continue
        code = numeric_to_alpha2(int(g["id"]))
        if code is None or code not in wanted:
            continue
        polys = [g["arcs"]] if g["type"] == "Polygon" else g["arcs"]
        shapes = []
        for poly in polys:
            shell = ring(poly[0])
            if len(shell) >= 4:
                shapes.append(Polygon(shell, [h for h in (ring(x) for x in poly[1:]) if len(h) >= 4]))
        geom = MultiPolygon(shapes).buffer(0)
        out[code] = shapely.union(out[code], geom) if code in out else geom  # 036 appears twice
    return out


def test_anchors_lie_well_inside_their_country() -> None:
    borders = _topojson_countries(shared_file("naturalearth/countries-10m.json"), set(ANCHORS))
    assert 30 <= len(ANCHORS) <= 45
    for cc in (
        "DE",
        "FR",
        "GB",
        "IT",
        "ES",
        "PL",
        "NL",
        "CZ",
        "US",
        "BR",
        "JP",
        "AU",
        "IN",
        "RU",
        "CA",
        "CH",
    ):
        assert cc in ANCHORS
    for cc, anchors in ANCHORS.items():
        geom = borders[cc]
        for a in anchors:
            assert a.country == cc
            p = Point(a.longitude, a.latitude)
            assert geom.contains(p), (cc, a.place)
            k = math.cos(math.radians(a.latitude))
            local = shapely.transform(
                geom.boundary,
                lambda xy, lon=a.longitude, lat=a.latitude, k=k: np.column_stack(
                    [(xy[:, 0] - lon) * k * 111.2, (xy[:, 1] - lat) * 111.2]
                ),
            )
            km = local.distance(Point(0, 0))
            assert km >= 50, (cc, a.place, km)  # the jitter (<= 0.05 deg, < 6 km) keeps points > 44 km in


def _km_to(geom: Any, lat: float, lon: float) -> float:
    """Distance in km from (lat, lon) to ``geom`` in a local equirectangular projection."""
    k = math.cos(math.radians(lat))
    local = shapely.transform(
        geom,
        lambda xy: np.column_stack([(xy[:, 0] - lon) * k * 111.2, (xy[:, 1] - lat) * 111.2]),
    )
    return float(local.distance(Point(0, 0)))


def test_generated_points_stay_inside(rich: SyntheticTruth) -> None:
    """Every point is inside its declared country (1:10m, decoded independently of the library);
    every planted point lies inside its ``coordinate_country``, well away from the declared one."""
    p = rich.probes
    codes = {c.decode() for c in p.coordinate_country.tolist()} | {
        c.decode() for c in p.home_country.tolist()
    }
    borders = _topojson_countries(shared_file("naturalearth/countries-10m.json"), codes)
    r = rich.records
    ok = np.isfinite(r.latitude) & (np.abs(r.latitude) <= 90) & (np.abs(r.longitude) <= 180)
    ok &= r.country != b""
    ok &= np.isin(r.country, np.array(sorted(codes), "S2"))
    pts = shapely.points(r.longitude[ok], r.latitude[ok])
    planted = p.probe_id[p.planted_outside_border]
    pid = r.probe_id[ok]
    country = r.country[ok]
    is_planted = np.isin(pid, planted)
    checked = 0
    for cc in sorted(set(country.tolist())):
        code = cc.decode()
        mine = (country == cc) & ~is_planted
        inside = shapely.contains(borders[code].buffer(0.001), pts[mine])  # ~100 m: decoding noise
        assert inside.all(), code
        checked += int(mine.sum())
    assert checked > 0.9 * int((~is_planted).sum())
    # planted points: in the labelled other country, at least 10 km from the declared one
    coord_of = dict(zip(p.probe_id.tolist(), p.coordinate_country.tolist(), strict=True))
    seen = set()
    for i in np.flatnonzero(is_planted).tolist():
        key = (int(pid[i]), float(pts[i].x), float(pts[i].y))
        if key in seen:
            continue
        seen.add(key)
        other = coord_of[int(pid[i])].decode()
        assert borders[other].contains(pts[i]), (key, other)
        assert _km_to(borders[country[i].decode()], pts[i].y, pts[i].x) >= 10.0, key
    assert len(seen) >= 5
    # and the library's own borders agree: another country, rejected at the default tolerance
    from ipevidence.geography import Borders, BorderStatus

    lat = np.array([k[2] for k in seen])
    lon = np.array([k[1] for k in seen])
    other = np.array([coord_of[k[0]] for k in seen], "S2")
    home = np.array([p.home_country[p.probe_id == k[0]][0] for k in seen], "S2")
    b = Borders.load("10m")
    assert (b.locate(lat, lon) == other).all()
    chk = b.check(home, lat, lon, tolerance_km=10.0)
    assert (chk.status == BorderStatus.OTHER_COUNTRY).all()


def test_probe_cities_keep_clear_of_other_countries() -> None:
    """Eligible cities of small, many-neighbour countries lie inside the country and at least
    15 km from every neighbour (independent 1:10m decoding); most candidates survive."""
    neighbours = {
        "CH": ("DE", "FR", "IT", "AT", "LI"),
        "BE": ("FR", "NL", "DE", "LU"),
        "SK": ("CZ", "PL", "UA", "HU", "AT"),
    }
    wanted = set(neighbours) | {c for v in neighbours.values() for c in v}
    borders = _topojson_countries(shared_file("naturalearth/countries-10m.json"), wanted)
    for cc, around in neighbours.items():
        cities = eligible_cities(cc)
        assert 10 <= len(cities) < cities.candidates, cc
        others = shapely.union_all([borders[o] for o in around if o in borders])
        for lat, lon in zip(cities.latitude.tolist(), cities.longitude.tolist(), strict=True):
            assert borders[cc].contains(Point(lon, lat)), (cc, lat, lon)
            assert _km_to(others, lat, lon) >= BORDER_CLEARANCE_KM, (cc, lat, lon)
    assert eligible_cities("LI").latitude.size == 0  # too small: every city is near CH or AT
    with pytest.raises(ValueError, match="no eligible gazetteer city and no anchor"):
        day_payload(SyntheticArchiveConfig(countries=("DE", "LI"), n_probes=200))


def test_probes_follow_population_and_use_many_asns() -> None:
    """Gazetteer locations: more probes in big cities, many distinct places and ASNs per country,
    and the default policy's coverage of Germany reached with a realistic probe count."""
    from ipevidence.coverage import population_coverage

    _, truth = day_payload(
        SyntheticArchiveConfig(seed=2, n_probes=3000, countries=("DE", "NL"), weights=(1.0, 1.0)),
        compress=False,
    )
    r = truth.records
    de = (r.country == b"DE") & np.isfinite(r.latitude) & (np.abs(r.latitude) <= 90) & ~r.cloud
    assert int(de.sum()) > 1000
    places = {(round(a, 4), round(b, 4)) for a, b in zip(r.latitude[de], r.longitude[de], strict=True)}
    assert len(places) > 500
    asns = set(r.asn_v4[de & (r.asn_v4 > 0)].tolist())
    assert 30 <= len(asns) <= len(asn_pool("DE")) <= 60
    assert set(asns) <= set(asn_pool("DE").tolist())
    assert not set(asn_pool("DE").tolist()) & set(asn_pool("NL").tolist())
    assert not set(asn_pool("DE").tolist()) & CLOUD_ASNS
    # the largest ASN (Zipf weights) has the most probes, but not all
    counts = np.bincount(r.asn_v4[de & (r.asn_v4 > 0)].astype(np.int64) - int(asn_pool("DE")[0]))
    assert counts[0] == counts.max()
    assert counts[0] < 0.5 * counts.sum()
    # Berlin (3.4 M) gets far more probes than a town of 20,000
    berlin = (np.abs(r.latitude[de] - 52.52) < 0.1) & (np.abs(r.longitude[de] - 13.41) < 0.15)
    assert int(berlin.sum()) > 30
    cov = population_coverage("DE", r.latitude[de][:200], r.longitude[de][:200])
    assert cov.share is not None
    assert cov.share >= 0.5, str(cov)
    # the anchors are still available (and are the fallback)
    _, anchored = day_payload(
        SyntheticArchiveConfig(seed=2, n_probes=200, locations="anchors"), compress=False
    )
    a = anchored.records
    good = np.isfinite(a.latitude) & (np.abs(a.latitude) <= 90) & (np.abs(a.longitude) <= 180)
    for lat, lon, cc in zip(a.latitude[good], a.longitude[good], a.country[good], strict=True):
        if cc.decode() in ANCHORS:
            assert any(
                abs(lat - x.latitude) <= 0.0501 and abs(lon - x.longitude) <= 0.0501
                for anchors in ANCHORS.values()
                for x in anchors
            )
