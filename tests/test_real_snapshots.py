"""The whole pipeline on REAL RIPE Atlas probes: the four 2023 snapshots written as archive days
(both record shapes), linked, de-duplicated and border-checked, checked against plain-Python
computations from the CSV and an independent shapely border test on the Natural Earth TopoJSON."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import ipaddress
import json
import math
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from shapely.ops import nearest_points

import ipevidence
from conftest import assert_same_columns, shared_file
from ipevidence.archive.parse import parse_day
from ipevidence.archive.snapshot import DaySnapshot
from ipevidence.archive.source import LocalArchive
from ipevidence.cli import main
from ipevidence.errors import RangeFileError
from ipevidence.groundtruth import GroundTruth
from ipevidence.history import (
    build_ground_truth,
    daily_filter,
    ground_truths_from_snapshots,
    link_days,
)
from ipevidence.probe_exclusions import merge_exclusions, read_probe_exclusions
from ipevidence.synthetic.snapshots import (
    FILL_ASN,
    ProbeSnapshots,
    read_probe_snapshots,
    write_snapshot_days,
)

CSV = "atlas-snapshots-2023/probe-snapshots-2023-04-18-to-05-12.csv.gz"
START, END = dt.date(2023, 4, 18), dt.date(2023, 5, 12)
DAYS = [dt.date(2023, 4, 18), dt.date(2023, 4, 25), dt.date(2023, 4, 28), dt.date(2023, 5, 12)]

Row = dict[str, str]


# ---------------------------------------------------------------- plain-Python reference


@pytest.fixture(scope="module")
def csv_rows() -> list[Row]:
    with gzip.open(shared_file(CSV), "rt", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def kept_rows(csv_rows: list[Row]) -> list[Row]:
    """The daily filter in plain Python: every snapshot row is a Connected probe with coordinates
    and a country; only the address can fail (globally routable unicast, ``is_global``)."""
    return [r for r in csv_rows if r["address_v4"] and ipaddress.ip_address(r["address_v4"]).is_global]


def by_probe(rows: list[Row]) -> dict[int, list[Row]]:
    out: dict[int, list[Row]] = defaultdict(list)
    for r in sorted(rows, key=lambda r: (int(r["probe_id"]), r["snapshot_date"])):
        out[int(r["probe_id"])].append(r)
    return out


def plain_dedup(rows: list[Row], policy: str) -> set[tuple[int, str, str]]:
    """(probe, address, date) rows of a de-duplication policy, computed in plain Python."""
    out: set[tuple[int, str, str]] = set()
    for pid, obs in by_probe(rows).items():
        if policy == "per-run":
            prev = None
            for r in obs:
                if r["address_v4"] != prev:
                    out.add((pid, r["address_v4"], r["snapshot_date"]))
                prev = r["address_v4"]
            continue
        seen: dict[str, str] = {}
        for r in obs:
            if policy == "first-seen":
                seen.setdefault(r["address_v4"], r["snapshot_date"])
            else:
                seen[r["address_v4"]] = r["snapshot_date"]
        out.update((pid, a, d) for a, d in seen.items())
    return out


def gt_rows(gt: GroundTruth) -> set[tuple[int, str, str]]:
    return set(
        zip(gt.probe_id.tolist(), gt.addresses_text(), [str(d) for d in gt.date.tolist()], strict=True)
    )


# ---------------------------------------------------------------- the archive days


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("snapshot-days")
    files = write_snapshot_days(shared_file(CSV), root, shape="mixed")
    assert sorted(files) == DAYS
    return root


@pytest.fixture(scope="module")
def snapshots(archive: Path) -> list[DaySnapshot]:
    return [parse_day(LocalArchive(archive).local_file(d), d) for d in DAYS]


@pytest.fixture(scope="module")
def default_gt(archive: Path) -> GroundTruth:
    return build_ground_truth(LocalArchive(archive), START, END, cache=None, progress=False)


def test_both_record_shapes_read_alike(tmp_path: Path, snapshots: list[DaySnapshot]) -> None:
    snaps = read_probe_snapshots(shared_file(CSV))
    assert len(snaps) == 42_746
    for shape in ("flat", "nested"):
        files = write_snapshot_days(
            snaps.select(snaps.day == np.datetime64(DAYS[0])), tmp_path / shape, shape=shape
        )
        assert_same_columns(snapshots[0], parse_day(files[DAYS[0]], DAYS[0]))
    raw = json.loads(
        __import__("bz2").decompress((tmp_path / "flat" / "2023/04/20230418.json.bz2").read_bytes())
    )
    rec = raw["objects"][0]
    assert rec["status_name"] == "Connected"
    assert rec["asn_v4"] == FILL_ASN
    assert "latitude" in rec


def test_daily_filter_and_fill_decide_nothing(
    archive: Path, default_gt: GroundTruth, snapshots: list[DaySnapshot], kept_rows: list[Row]
) -> None:
    funnel = default_gt.funnel.removed_by_step()
    # the filled status and ASN remove nothing; the one non-global address is the only daily loss
    assert funnel["status"] == 0
    assert funnel["asn"] == 0
    assert funnel["address"] == 1
    assert default_gt.funnel.step("status").rows_in == 42_746
    assert default_gt.funnel.step("most_distant").rows_in == len(kept_rows) == 42_745
    assert funnel["cloud_asn"] == 0
    # without the filled ASN: the ASN rule and the cloud filter off give the same rows
    bare = ground_truths_from_snapshots(
        snapshots, families=(4,), require_asn=False, cloud_filter=False, border_tolerance_km=10.0
    )[4]
    assert gt_rows(bare) == gt_rows(default_gt)
    assert set(np.unique(default_gt.asn).tolist()) == {FILL_ASN}


@pytest.mark.parametrize("policy", ["first-seen", "per-run", "last-seen"])
def test_dedup_counts_on_real_address_changes(
    policy: str, snapshots: list[DaySnapshot], kept_rows: list[Row]
) -> None:
    gt = ground_truths_from_snapshots(snapshots, families=(4,), dedup=policy, border_check=False)[4]
    want = plain_dedup(kept_rows, policy)
    assert gt_rows(gt) == want
    assert gt.funnel.step("most_distant").rows_out == len(want)
    counts = {"first-seen": 13_007, "last-seen": 13_007}
    if policy in counts:
        assert len(want) == counts[policy]
    else:  # addresses that return (A B A) count again under per-run
        assert len(want) > 13_007


def test_real_address_changes_and_moves(snapshots: list[DaySnapshot], csv_rows: list[Row]) -> None:
    probes = by_probe(csv_rows)
    assert len(probes) == 11_188
    changing = {p for p, obs in probes.items() if len({r["address_v4"] for r in obs}) > 1}
    moving = {p for p, obs in probes.items() if len({(r["latitude"], r["longitude"]) for r in obs}) > 1}
    assert len(changing) == 1_283
    assert len(moving) == 45
    assert all(len({r["country_code"] for r in obs}) == 1 for obs in probes.values())
    # the linker: a probe's history has one segment per run of identical content
    history = link_days([daily_filter(s, 4).kept for s in snapshots], 4)
    seg_probes, seg_counts = np.unique(history.probe_id, return_counts=True)
    kept = by_probe([r for r in csv_rows if ipaddress.ip_address(r["address_v4"]).is_global])
    want_segments = {}
    for pid, obs in kept.items():
        runs, prev = 0, None
        for r in obs:
            content = (r["address_v4"], r["latitude"], r["longitude"])
            runs += content != prev
            prev = content
        want_segments[pid] = runs
    assert dict(zip(seg_probes.tolist(), seg_counts.tolist(), strict=True)) == want_segments
    assert int(history.n_obs.sum()) == 42_745


# ---------------------------------------------------------------- borders (shapely, independent)


def _alpha2_by_numeric() -> dict[str, str]:
    table = Path(str(ipevidence.__file__)).parent / "data" / "countries.csv"
    with open(table, encoding="utf-8") as f:
        return {str(int(r["numeric"])): r["alpha2"] for r in csv.DictReader(f) if r["numeric"]}


def topojson_countries() -> tuple[list[tuple[str, Any]], dict[str, Any]]:
    """Natural Earth 1:10m countries decoded from the TopoJSON in plain Python + shapely:
    (list of (alpha-2 or "?name", polygon part), alpha-2 -> union of its parts)."""
    topo = json.loads(shared_file("naturalearth/countries-10m.json").read_text())
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        q = np.cumsum(np.asarray(arc, dtype=float), axis=0)
        arcs.append(np.column_stack([q[:, 0] * sx + tx, q[:, 1] * sy + ty]))

    def ring(indices: list[int]) -> np.ndarray:
        pts: list[np.ndarray] = []
        for i in indices:
            a = arcs[i] if i >= 0 else arcs[~i][::-1]
            pts.append(a if not pts else a[1:])
        return np.concatenate(pts)

    codes = _alpha2_by_numeric()
    parts: list[tuple[str, Any]] = []
    for g in topo["objects"]["countries"]["geometries"]:
        code = codes.get(str(int(g["id"])), f"?{g['id']}") if g.get("id") else f"?{g['properties']['name']}"
        polys = [g["arcs"]] if g["type"] == "Polygon" else g["arcs"]
        for poly in polys:
            # quantisation can collapse a tiny ring to fewer than 4 points: such a ring is no area
            shell, *holes = (ring(r) for r in poly)
            if len(shell) < 4:
                continue
            holes = [h for h in holes if len(h) >= 4]
            parts.append((code, shapely.make_valid(shapely.Polygon(shell, holes))))
    union: dict[str, list[Any]] = defaultdict(list)
    for code, p in parts:
        union[code].append(p)
    return parts, {c: shapely.union_all(ps) for c, ps in union.items()}


def km_lower_bound(geom: Any, lat: float, lon: float) -> float:
    """A lower bound of the distance (km) from a point to a geometry: planar degrees, a degree
    of longitude counted at its shortest (cos of the highest latitude of the pair)."""
    pt = shapely.Point(lon, lat)
    near = nearest_points(geom, pt)[0]
    dlat = abs(near.y - lat) * 111.19
    dlon = abs(near.x - lon) * 111.19 * math.cos(math.radians(min(89.9, max(abs(lat), abs(near.y)))))
    return math.hypot(dlat, dlon) * 0.99


def test_border_check_on_real_coordinates(default_gt: GroundTruth) -> None:
    parts, countries = topojson_countries()
    removals = default_gt.removals
    assert removals is not None
    assert removals.by_reason() == {"border:other_country": 37, "border:outside_far": 3, "border:overseas": 1}
    # coordinates of every removed row, from the ground truth's source rows (the CSV)
    with gzip.open(shared_file(CSV), "rt", encoding="utf-8") as f:
        src = {(int(r["probe_id"]), r["address_v4"]): r for r in csv.DictReader(f)}
    tree = shapely.STRtree([p for _, p in parts])
    reasons = dict(
        zip(
            zip(removals.probe_id.tolist(), removals.addresses_text(), strict=True),
            removals.reason.tolist(),
            strict=True,
        )
    )
    for (pid, addr), why in sorted(reasons.items()):
        r = src[(int(pid), addr)]
        lat, lon, cc = float(r["latitude"]), float(r["longitude"]), r["country_code"]
        pt = shapely.Point(lon, lat)
        holders = {parts[i][0] for i in tree.query(pt, predicate="intersects")}
        if why == "border:other_country":
            assert holders, (pid, cc, lat, lon)
            assert cc not in holders, (pid, cc, lat, lon, holders)
        elif why == "border:outside_far":
            assert not holders
            assert km_lower_bound(countries[cc], lat, lon) > 9.0 or cc not in countries
        else:  # overseas: declared FR, in a French part far from European France
            assert cc == "FR"
            assert "FR" in holders
            assert not (-6 < lon < 10 and 41 < lat < 52)
    # every kept row of the five largest countries lies in, or within 10 km of, its country
    for cc in ("DE", "US", "FR", "GB", "NL"):
        rows = np.flatnonzero(default_gt.country == cc.encode())
        assert rows.size > 300
        for i in rows.tolist():
            lat, lon = float(default_gt.latitude[i]), float(default_gt.longitude[i])
            if countries[cc].covers(shapely.Point(lon, lat)):
                continue
            assert km_lower_bound(countries[cc], lat, lon) <= 10.0, (cc, lat, lon)


# ---------------------------------------------------------------- derived: a country change


def relabel(probe: int, country: str, since: dt.date) -> Callable[[ProbeSnapshots], ProbeSnapshots]:
    def transform(s: ProbeSnapshots) -> ProbeSnapshots:
        cc = s.country_code.copy()
        cc[(s.probe_id == probe) & (s.day >= np.datetime64(since))] = country
        return s.replace(country_code=cc)

    return transform


def test_derived_country_change(tmp_path: Path, csv_rows: list[Row], default_gt: GroundTruth) -> None:
    probes = by_probe(csv_rows)
    in_gt = set(default_gt.probe_id.tolist())
    # real NL probes seen on all four days: one that keeps its address, one that changes it
    steady = min(
        p
        for p, o in probes.items()
        if len(o) == 4
        and o[0]["country_code"] == "NL"
        and len({r["address_v4"] for r in o}) == 1
        and p in in_gt
    )
    mover = min(
        p
        for p, o in probes.items()
        if len(o) == 4
        and o[0]["country_code"] == "NL"
        and o[0]["address_v4"] != o[-1]["address_v4"]
        and p in in_gt
    )

    def both(probe: int, since: dt.date) -> tuple[GroundTruth, GroundTruth]:
        root = tmp_path / str(probe)
        write_snapshot_days(shared_file(CSV), root, transform=relabel(probe, "BE", since))
        snaps = [parse_day(LocalArchive(root).local_file(d), d) for d in DAYS]
        return (
            ground_truths_from_snapshots(snaps, families=(4,), preset="default")[4],
            ground_truths_from_snapshots(snaps, families=(4,), preset="reference")[4],
        )

    default, reference = both(steady, DAYS[2])
    assert steady not in set(default.probe_id.tolist())  # removed: its country changed on a daily record
    assert default.funnel.step("unreliable_probes").removed == 1
    # the reference tests after de-duplication: one address, one row, the change goes unnoticed
    kept = reference.probe_id == steady
    assert int(kept.sum()) == 1
    assert reference.country[kept][0] == b"NL"
    assert reference.funnel.step("unreliable_probes").removed == 0

    # the mover's rows are relabelled from the day its last address first appears
    since = dt.date.fromisoformat(
        next(r["snapshot_date"] for r in probes[mover] if r["address_v4"] == probes[mover][-1]["address_v4"])
    )
    default, reference = both(mover, since)
    n_rows = len({r["address_v4"] for r in probes[mover]})
    assert mover not in set(default.probe_id.tolist())
    assert mover not in set(reference.probe_id.tolist())  # a new address shows the change to both
    assert default.funnel.step("unreliable_probes").removed == n_rows
    assert reference.funnel.step("unreliable_probes").removed == n_rows


# ---------------------------------------------------------------- probe exclusion lists


def test_exclusion_lists_read() -> None:
    plain = read_probe_exclusions(shared_file("probe-exclusions/probe_ids_20240911.txt"))
    lines = shared_file("probe-exclusions/probe_ids_20240911.txt").read_text().split()
    assert plain.format == "ids"
    assert plain.date == dt.date(2024, 9, 11)
    assert plain.ids == tuple(sorted({int(x) for x in lines}))
    undated = read_probe_exclusions(shared_file("probe-exclusions/probe_ids.txt"))
    assert undated.date is None
    assert read_probe_exclusions(
        shared_file("probe-exclusions/probe_ids.txt"), date=dt.date(2024, 9, 1)
    ).date == (dt.date(2024, 9, 1))
    path = shared_file("probe-exclusions/probe_ids_20260815.txt")
    with open(path, encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    both = read_probe_exclusions(path)
    ark = read_probe_exclusions(path, methods=("ark",))
    assert both.format == "csv"
    assert both.date == dt.date(2026, 8, 15)
    flagged = {int(r["probe_id"]) for r in table if "True" in (r["violates_ark"], r["violates_rootdns"])}
    assert set(both.ids) == flagged
    assert set(ark.ids) == {int(r["probe_id"]) for r in table if r["violates_ark"] == "True"}
    assert ark.not_flagged == sum(r["violates_ark"] != "True" for r in table)
    assert merge_exclusions([plain, ark]) == tuple(sorted(set(plain.ids) | set(ark.ids)))
    bad = Path(str(path) + ".bad")  # never written: a missing file is a typed error
    with pytest.raises(RangeFileError):
        read_probe_exclusions(bad)


def test_exclusion_list_in_the_build(
    snapshots: list[DaySnapshot], default_gt: GroundTruth, archive: Path, tmp_path: Path
) -> None:
    lst = read_probe_exclusions(shared_file("probe-exclusions/probe_ids_20251115.txt"))
    gt = ground_truths_from_snapshots(snapshots, families=(4,), exclude_probes=lst.ids)[4]
    ids = set(lst.ids)
    before = default_gt.funnel.step("excluded_probes").rows_in
    # plain Python: the rows reaching the step whose probe is on the list
    assert gt.funnel.step("excluded_probes").rows_in == before
    hit = [p for p in default_gt.probe_id.tolist() if p in ids]
    assert hit  # real 2023 probes are on the 2025 list
    assert set(gt.probe_id.tolist()) == set(default_gt.probe_id.tolist()) - ids
    assert len(gt) == len(default_gt) - len(hit)
    # the command line: --exclude-probes FILE, the list named with its date and SHA-256
    out = tmp_path / "gt.npz"
    args = ["build", "2023-04-18", "2023-05-12", "--source", str(archive), "-o", str(out)]
    code = main([*args, "--cache-dir", str(tmp_path / "cache"), "-q", "--exclude-probes", str(lst_path())])
    assert code == 0
    saved = GroundTruth.load(out)
    assert saved.parameters["exclude_probes"] == list(lst.ids)
    assert np.array_equal(saved.probe_id, gt.probe_id)


def lst_path() -> Path:
    return shared_file("probe-exclusions/probe_ids_20251115.txt")
