"""Build ipevidence's shipped geography data from Natural Earth TopoJSON (a developer tool).

Reads ``../shared/data/naturalearth/countries-{10m,50m,110m}.json`` (Natural Earth 4.1.0 admin-0
countries as packaged by world-atlas 2.0.2) and writes, into ``src/ipevidence/data/``:

* ``borders-<scale>.npz``: one polygon per country part, as quantised int32 coordinates plus the
  TopoJSON transform, ring and polygon offsets for :func:`shapely.from_ragged_array`, the alpha-2
  code of every part, its approximate area in km² and whether it belongs to the country's main
  territory (see docs/geography.md);
* ``country-distances.npz``: the matrix of minimum border-to-border distances in km between every
  pair of countries of the 1:10m borders (whole countries, overseas parts included), and the
  land-neighbour matrix;
* ``country-distances-main.npz``: the same on main territories (the ``part_main`` flags of
  ``borders-10m.npz``, read back through ``ipevidence.geography.Borders``), with rows of their own
  for the territories drawn inside another country (GF, GP, MQ, RE, YT, SJ, BQ, BV, TK);
* ``overseas-parts.json``: per country (and territory) code, the number of polygon parts of the
  1:10m borders outside its main territory (``Borders.overseas_parts``, read back through the
  package's reader), so that a verdict's overseas-parts criterion does not load the borders.

The installed package reads only these files, never ../shared. Run from the project root::

    python tools/build_geography.py [--source ../shared/data/naturalearth] [--distances-only]
                                    [--overseas-only]

The output is deterministic (same input, same bytes apart from the zip timestamps numpy writes).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from scipy.spatial import cKDTree

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from ipevidence._io import atomic_binary  # noqa: E402
from ipevidence.countries import numeric_to_alpha2  # noqa: E402

EARTH_RADIUS_KM = 6371.0088
MAIN_TERRITORY_KM = 300.0
#: interior grid: cells of this size (degrees) lying entirely inside one valid polygon part
CELL_DEG = 0.25

# Natural Earth entries without an ISO numeric id: where each goes (None = left out) and why.
# See docs/geography.md for the reasoning.
UNCODED: dict[str, str | None] = {
    "Kosovo": "XK",  # user-assigned code used by RIPE Atlas and the geolocation vendors
    "Somaliland": "SO",  # internationally recognised as part of Somalia (ISO 3166 SO)
    "N. Cyprus": "CY",  # internationally recognised as part of Cyprus
    "Cyprus U.N. Buffer Zone": "CY",
    "Akrotiri": "CY",  # UK Sovereign Base Areas on Cyprus: Cypriot networks, Cypriot hosts
    "Dhekelia": "CY",
    "Baikonur": "KZ",  # leased to Russia, Kazakh territory
    "Siachen Glacier": "IN",  # disputed, administered by India
    "USNB Guantanamo Bay": "CU",  # Cuban territory leased to the US
    "Coral Sea Is.": "AU",
    "Clipperton I.": "FR",  # French overseas island (ISO has no code of its own)
    "Bajo Nuevo Bank": "CO",  # disputed, administered by Colombia
    "Serranilla Bank": "CO",
    "Indian Ocean Ter.": "*split",  # Christmas Island (CX) and the Cocos (Keeling) Islands (CC)
    "Spratly Is.": None,  # disputed by six states, no civilian hosts: left out
    "Scarborough Reef": None,  # disputed (CN, PH), uninhabited: left out
}


def decode_arcs(topo: dict[str, Any]) -> list[npt.NDArray[np.int64]]:
    """Absolute quantised coordinates of every arc (delta decoding)."""
    return [np.cumsum(np.asarray(arc, dtype=np.int64).reshape(-1, 2), axis=0) for arc in topo["arcs"]]


def ring_coords(ring: list[int], arcs: list[npt.NDArray[np.int64]]) -> npt.NDArray[np.int64]:
    parts: list[npt.NDArray[np.int64]] = []
    for i, a in enumerate(ring):
        pts = arcs[a] if a >= 0 else arcs[~a][::-1]
        parts.append(pts if i == 0 else pts[1:])
    out = np.concatenate(parts)
    if not np.array_equal(out[0], out[-1]):
        out = np.vstack([out, out[:1]])
    return out


def _unwrap(lon: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    d = (np.diff(lon) + 180.0) % 360.0 - 180.0
    return np.concatenate([[lon[0]], lon[0] + np.cumsum(d)])


def cut_antimeridian(rings: list[npt.NDArray[np.float64]]) -> list[list[npt.NDArray[np.float64]]]:
    """Cut a polygon stitched across the antimeridian (or around a pole) into planar pieces."""
    shell = rings[0].copy()
    shell[:, 0] = _unwrap(shell[:, 0])
    shift = shell[-1, 0] - shell[0, 0]
    if abs(shift) > 180.0:  # the ring goes round a pole: close it along the pole
        pole = -90.0 if shell[:, 1].mean() < 0 else 90.0
        shell = np.vstack([shell, [[shell[-1, 0], pole], [shell[0, 0], pole]], shell[:1]])
    lo, hi = shell[:, 0].min(), shell[:, 0].max()
    holes = []
    for h in rings[1:]:
        h = h.copy()
        h[:, 0] = _unwrap(h[:, 0])
        k = np.round((0.5 * (lo + hi) - h[:, 0].mean()) / 360.0)
        h[:, 0] += 360.0 * k
        holes.append(h)
    poly = shapely.make_valid(shapely.Polygon(shell, holes))
    out: list[list[npt.NDArray[np.float64]]] = []
    for k in (-2, -1, 0, 1, 2):
        piece = shapely.intersection(poly, shapely.box(-180.0 + 360.0 * k, -90.0, 180.0 + 360.0 * k, 90.0))
        for part in shapely.get_parts(piece):
            if not isinstance(part, shapely.Polygon) or part.is_empty or part.area <= 0:
                continue
            part = shapely.transform(part, lambda c, k=k: c - np.array([360.0 * k, 0.0]))
            out.append([np.asarray(part.exterior.coords)] + [np.asarray(i.coords) for i in part.interiors])
    return out


def requantise(
    ring: npt.NDArray[np.float64], sx: float, sy: float, tx: float, ty: float
) -> npt.NDArray[np.int64]:
    q = np.column_stack([np.round((ring[:, 0] - tx) / sx), np.round((ring[:, 1] - ty) / sy)]).astype(np.int64)
    keep = np.ones(len(q), dtype=np.bool_)
    keep[1:] = (q[1:] != q[:-1]).any(axis=1)
    q = q[keep]
    if not np.array_equal(q[0], q[-1]):
        q = np.vstack([q, q[:1]])
    return q


def approx_area_km2(poly: shapely.Polygon) -> float:
    lat = poly.centroid.y
    k = (np.pi / 180.0 * EARTH_RADIUS_KM) ** 2 * float(np.cos(np.radians(lat)))
    return float(poly.area * k)


def unit_vectors(lonlat: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    lon = np.radians(lonlat[:, 0])
    lat = np.radians(lonlat[:, 1])
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def chord_to_km(chord: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0))


def km_to_chord(km: float) -> float:
    return float(2.0 * np.sin(km / EARTH_RADIUS_KM / 2.0))


def boundary_points(geoms: list[shapely.Geometry], densify_deg: float) -> npt.NDArray[np.float64]:
    parts = np.concatenate([shapely.get_parts(g) for g in geoms])
    rings = shapely.get_rings(parts)
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    if len(xy) < 2:
        return np.asarray(xy, dtype=np.float64)
    a, b = xy[:-1], xy[1:]
    same = ring[:-1] == ring[1:]
    seg = np.hypot(*(b - a).T)
    n = np.where(same, np.ceil(seg / densify_deg).astype(np.int64), 1)
    n = np.maximum(n, 1)
    start = np.repeat(a, n, axis=0)
    step = np.repeat(np.where(same[:, None], (b - a) / n[:, None], 0.0), n, axis=0)
    k = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    out = start + step * k[:, None]
    return np.asarray(np.vstack([out, xy[-1:]]), dtype=np.float64)


def main_flags(polys: list[shapely.Polygon], areas: list[float]) -> list[bool]:
    """Largest part plus, transitively, every part within MAIN_TERRITORY_KM of a main part."""
    n = len(polys)
    if n == 1:
        return [True]
    pts = [unit_vectors(boundary_points([p], 0.05)) for p in polys]
    main = [False] * n
    main[int(np.argmax(areas))] = True
    limit = km_to_chord(MAIN_TERRITORY_KM)
    changed = True
    while changed:
        changed = False
        tree = cKDTree(np.concatenate([pts[i] for i in range(n) if main[i]]))
        for i in range(n):
            if main[i]:
                continue
            d, _ = tree.query(pts[i], k=1, distance_upper_bound=limit)
            if np.isfinite(d).any():
                main[i] = True
                changed = True
    return main


def load_scale(
    path: Path,
) -> tuple[list[str], list[shapely.Polygon], list[list[npt.NDArray[np.int64]]], dict[str, Any]]:
    topo = json.loads(path.read_text("utf-8"))
    arcs = decode_arcs(topo)
    codes: list[str] = []
    polys: list[shapely.Polygon] = []
    quant: list[list[npt.NDArray[np.int64]]] = []
    sx, sy = topo["transform"]["scale"]
    tx, ty = topo["transform"]["translate"]
    decisions: dict[str, Any] = {}
    for g in topo["objects"]["countries"]["geometries"]:
        name = g["properties"]["name"]
        if g.get("id") is not None:
            code: str | None = numeric_to_alpha2(int(g["id"]))
            if code is None:
                raise SystemExit(f"{path.name}: {name} has unknown ISO numeric id {g['id']}")
        else:
            if name not in UNCODED:
                raise SystemExit(f"{path.name}: {name} has no id and no decision in UNCODED")
            code = UNCODED[name]
            decisions[name] = code
            if code is None:
                continue
        if g["type"] == "Polygon":
            plist = [g["arcs"]]
        elif g["type"] == "MultiPolygon":
            plist = g["arcs"]
        else:
            continue
        for rings in plist:
            qrings = [ring_coords(r, arcs) for r in rings]
            # quantisation collapses a few tiny islands and lakes into degenerate rings: drop them
            if len(qrings[0]) < 4:
                decisions["_degenerate_parts"] = decisions.get("_degenerate_parts", 0) + 1
                continue
            dropped_holes = sum(1 for q in qrings[1:] if len(q) < 4)
            if dropped_holes:
                decisions["_degenerate_holes"] = decisions.get("_degenerate_holes", 0) + dropped_holes
            qrings = [qrings[0]] + [q for q in qrings[1:] if len(q) >= 4]
            frings = [np.column_stack([q[:, 0] * sx + tx, q[:, 1] * sy + ty]) for q in qrings]
            if any((np.abs(np.diff(f[:, 0])) > 180.0).any() for f in frings):
                # world-atlas stitches polygons across the antimeridian (Russia, Fiji) and around
                # the South Pole (Antarctica): cut them back into planar pieces
                pieces = cut_antimeridian(frings)
                decisions["_antimeridian_cut"] = [*decisions.get("_antimeridian_cut", []), name]
                qpieces = [[requantise(r, sx, sy, tx, ty) for r in pc] for pc in pieces]
            else:
                qpieces = [qrings]
            for qp in qpieces:
                fr = [np.column_stack([q[:, 0] * sx + tx, q[:, 1] * sy + ty]) for q in qp]
                poly = shapely.Polygon(fr[0], fr[1:])
                part_code = code
                if code == "*split":
                    # Christmas Island lies east of 100°E, the Cocos (Keeling) Islands west of it
                    part_code = "CX" if poly.centroid.x > 100.0 else "CC"
                codes.append(part_code)
                polys.append(poly)
                quant.append(qp)
    meta = {"transform": topo["transform"], "uncoded": decisions}
    return codes, polys, quant, meta


def interior_cells(polys: list[shapely.Polygon]) -> npt.NDArray[np.int16]:
    """Grid cells (CELL_DEG, row-major from -90/-180) that no polygon edge touches, with the part
    containing them (-1: the cell is in no part, open sea). No edge crosses such a cell, so every
    point in it has the same point-in-polygon answer as the cell's centre: the package skips the
    polygon test for it. Conservative: a cell counts as touched when it meets an edge's bounding
    box."""
    ncol, nrow = round(360.0 / CELL_DEG), round(180.0 / CELL_DEG)
    parts = np.asarray(polys, dtype=object)
    rings = shapely.get_rings(parts)
    xy, ring_of = shapely.get_coordinates(rings, return_index=True)
    same = ring_of[:-1] == ring_of[1:]
    a, b = xy[:-1][same], xy[1:][same]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    c0 = np.clip(np.floor((lo[:, 0] + 180.0) / CELL_DEG).astype(np.int64), 0, ncol - 1)
    c1 = np.clip(np.floor((hi[:, 0] + 180.0) / CELL_DEG).astype(np.int64), 0, ncol - 1)
    r0 = np.clip(np.floor((lo[:, 1] + 90.0) / CELL_DEG).astype(np.int64), 0, nrow - 1)
    r1 = np.clip(np.floor((hi[:, 1] + 90.0) / CELL_DEG).astype(np.int64), 0, nrow - 1)
    touched = np.zeros(nrow * ncol, dtype=np.bool_)
    # a point exactly on a cell edge may be put in the neighbouring cell: widen by one cell
    c0, r0 = np.maximum(c0 - 1, 0), np.maximum(r0 - 1, 0)
    c1, r1 = np.minimum(c1 + 1, ncol - 1), np.minimum(r1 + 1, nrow - 1)
    w, h = c1 - c0 + 1, r1 - r0 + 1
    cnt = w * h
    seg = np.repeat(np.arange(cnt.size), cnt)
    k = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    rows = r0[seg] + k // w[seg]
    cols = c0[seg] + k % w[seg]
    touched[rows * ncol + cols] = True
    free = np.flatnonzero(~touched)
    cy = (free // ncol + 0.5) * CELL_DEG - 90.0
    cx = (free % ncol + 0.5) * CELL_DEG - 180.0
    tree = shapely.STRtree(parts)
    pi, ti = tree.query(shapely.points(cx, cy))
    hit = shapely.intersects_xy(parts[ti], cx[pi], cy[pi])
    owner = np.full(free.size, -1, dtype=np.int64)
    pi, ti = pi[hit], ti[hit]
    if pi.size and np.unique(pi).size != pi.size:
        raise SystemExit("an untouched grid cell lies inside two parts: overlapping polygons?")
    owner[pi] = ti
    grid = np.full(nrow * ncol, -2, dtype=np.int16)  # -2: an edge may cross the cell
    grid[free] = owner
    return grid.reshape(nrow, ncol)


def atomic_savez(path: Path, **arrays: Any) -> None:
    with atomic_binary(path, suffix=".tmp.npz") as f:
        np.savez_compressed(f, **arrays)


def build_borders(src: Path, scale: str, out_dir: Path) -> tuple[list[str], list[shapely.Polygon]]:
    t0 = time.perf_counter()
    path = src / f"countries-{scale}.json"
    codes, polys, quant, meta = load_scale(path)
    # order parts by code so each country's parts are contiguous (deterministic output)
    order = sorted(range(len(codes)), key=lambda i: (codes[i], i))
    codes = [codes[i] for i in order]
    polys = [polys[i] for i in order]
    quant = [quant[i] for i in order]
    areas = [approx_area_km2(p) for p in polys]
    main = [False] * len(polys)
    start = 0
    while start < len(codes):
        end = start
        while end < len(codes) and codes[end] == codes[start]:
            end += 1
        flags = main_flags(polys[start:end], areas[start:end])
        main[start:end] = flags
        start = end
    if len(polys) >= 2**15:
        raise SystemExit("too many parts for the int16 cell grid")
    cell_grid = interior_cells(polys)
    ring_sizes: list[int] = []
    rings_per_poly: list[int] = []
    coords: list[npt.NDArray[np.int64]] = []
    for rings in quant:
        rings_per_poly.append(len(rings))
        for r in rings:
            ring_sizes.append(len(r))
            coords.append(r)
    q = np.concatenate(coords)
    ring_offsets = np.concatenate([[0], np.cumsum(ring_sizes)]).astype(np.int64)
    poly_offsets = np.concatenate([[0], np.cumsum(rings_per_poly)]).astype(np.int64)
    info = {
        "source": f"Natural Earth 4.1.0 admin-0 countries {scale} via world-atlas 2.0.2 ({path.name})",
        "scale": scale,
        "main_territory_km": MAIN_TERRITORY_KM,
        "uncoded": meta["uncoded"],
    }
    atomic_savez(
        out_dir / f"borders-{scale}.npz",
        coords=q.astype(np.int32),
        scale=np.asarray(meta["transform"]["scale"], dtype=np.float64),
        translate=np.asarray(meta["transform"]["translate"], dtype=np.float64),
        ring_offsets=ring_offsets,
        poly_offsets=poly_offsets,
        part_code=np.asarray(codes, dtype="S2"),
        part_area_km2=np.asarray(areas, dtype=np.float64),
        part_main=np.asarray(main, dtype=np.bool_),
        cell_deg=np.asarray(CELL_DEG, dtype=np.float64),
        cell_part=cell_grid,
        info=np.asarray(json.dumps(info, sort_keys=True)),
    )
    print(
        f"borders-{scale}: {len(set(codes))} countries, {len(polys)} parts, {len(q)} points, "
        f"{int((cell_grid >= -1).sum())} cells without edges, "
        f"{time.perf_counter() - t0:.1f} s"
    )
    return codes, polys


# chunk sizes of the distance search (points per chunk at each level; the last level is the points)
_LEVELS: tuple[int, ...] = (64, 8, 1)
_EPS = 1e-12


def boundary_unit_points(geom: shapely.Geometry) -> npt.NDArray[np.float64]:
    """Unit vectors of ``geom``'s boundary simplified to 0.01° and densified to 0.05° (the points the
    distance table measures between)."""
    simple = shapely.simplify(geom, 0.01, preserve_topology=True)
    p = boundary_points([simple], 0.05)
    if len(p) == 0:  # a tiny island that simplification removed: keep its exact shape
        p = boundary_points([geom], 0.05)
    return unit_vectors(p)


Levels = list[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]]


def chunk_levels(pts: npt.NDArray[np.float64]) -> Levels:
    """Consecutive boundary points grouped into chunks of ``_LEVELS`` sizes: (centre, radius) per chunk
    (the radius slightly enlarged, so float rounding never makes a bound too tight). The points are
    padded with copies of the last one (which changes no minimum)."""
    top = _LEVELS[0]
    m = len(pts)
    k = -(-m // top)
    pad = np.concatenate([pts, np.repeat(pts[-1:], k * top - m, axis=0)])
    out: Levels = []
    for size in _LEVELS:
        g = pad.reshape(-1, size, 3)
        if size == 1:
            out.append((g[:, 0, :], np.zeros(len(g))))
            continue
        c = g.mean(axis=1)
        r = np.sqrt(((g - c[:, None, :]) ** 2).sum(-1)).max(axis=1)
        out.append((c, r * (1.0 + 1e-9) + _EPS))
    return out


def min_chord(levels: Levels, tree: cKDTree) -> float:
    """Exact minimum chord distance between the points of ``levels`` and the points in ``tree``.

    Branch and bound over the chunks: a greedy descent gives an upper bound (a real point distance);
    a chunk whose centre is farther than the bound plus its radius cannot hold a nearer point and is
    skipped. The k-d tree queries are exact, so the result equals querying every point."""
    fan = [1] + [_LEVELS[k - 1] // _LEVELS[k] for k in range(1, len(_LEVELS))]
    c0, r0 = levels[0]
    d0, _ = tree.query(c0, k=1)
    best = int(np.argmin(d0))
    dk = d0
    for k in range(1, len(levels)):
        kids = best * fan[k] + np.arange(fan[k])
        dk, _ = tree.query(levels[k][0][kids], k=1)
        best = int(kids[np.argmin(dk)])
    up = float(dk.min())
    cand = np.flatnonzero(d0 - r0 <= up + _EPS)
    for k in range(1, len(levels)):
        kids = (cand[:, None] * fan[k] + np.arange(fan[k])).ravel()
        ck, rk = levels[k]
        dk, _ = tree.query(ck[kids], k=1, distance_upper_bound=up + float(rk[kids].max()) + 2 * _EPS)
        cand = kids[dk - rk[kids] <= up + _EPS]
    return min(float(dk.min()), up)


def distance_table(
    geoms: list[shapely.Geometry],
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """Minimum border-to-border distances (km, rounded to 0.1, float32) and the land-neighbour matrix
    between the given geometries (one per country, in code order)."""
    n = len(geoms)
    # land neighbours: the exact 1:10m shapes share a border (TopoJSON shared arcs)
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    neigh = np.zeros((n, n), dtype=np.bool_)
    neigh[a, b] = True
    np.fill_diagonal(neigh, False)
    # distances: nearest vertices of the simplified, densified boundaries on the unit sphere
    pts = [boundary_unit_points(g) for g in geoms]
    trees = [cKDTree(p) for p in pts]
    levels = [chunk_levels(p) for p in pts]
    dist = np.zeros((n, n), dtype=np.float64)
    for i in range(n):
        for j in range(i + 1, n):
            if neigh[i, j]:
                continue
            # chunk the smaller set, query the other's tree
            s, o = (i, j) if len(pts[i]) <= len(pts[j]) else (j, i)
            dist[i, j] = dist[j, i] = float(chord_to_km(np.asarray([min_chord(levels[s], trees[o])]))[0])
    return np.round(dist, 1).astype(np.float32), neigh


def territory_geometries(borders: Any, territory: str) -> tuple[list[str], list[shapely.Geometry]]:
    """The codes and shapes a distance table is built on, from a :class:`ipevidence.geography.Borders`.

    ``"all"``: every country with all its parts (the sovereign's overseas parts included).
    ``"main"``: every country's main territory (``Borders.part_main``: the definition the border
    check uses), plus one row of its own for every territory drawn inside another country
    (``Borders.territories``: GF, GP, MQ, RE, YT, SJ, BQ, BV, TK), made of that territory's parts."""
    codes = list(borders.countries)
    if territory == "all":
        return codes, [borders.geometry(c) for c in codes]
    if territory != "main":
        raise ValueError(f"territory must be 'all' or 'main', not {territory!r}")
    rows = sorted(set(codes) | set(borders.territories))
    geoms = [borders.geometry(c, main_territory=c not in borders.territories) for c in rows]
    missing = [c for c, g in zip(rows, geoms, strict=True) if g is None]
    if missing:
        raise SystemExit(f"no main-territory shape for {missing}")
    return rows, geoms


_DISTANCE_INFO = {
    "all": (
        "country-distances.npz",
        "0 for countries sharing a border; otherwise the great-circle distance between the "
        "nearest vertices of the boundaries simplified to 0.01 degrees and densified to "
        "0.05 degrees (error within about 6 km)",
    ),
    "main": (
        "country-distances-main.npz",
        "main territories only (each country's largest part plus, transitively, every part within "
        "300 km of a main part; territories drawn inside another country, such as GF, RE, SJ, "
        "their own rows): 0 for main territories sharing a border; otherwise the great-circle "
        "distance between the nearest vertices of the boundaries simplified to 0.01 degrees and "
        "densified to 0.05 degrees (error within about 6 km)",
    ),
}


def build_distances(borders: Any, out_dir: Path, territory: str = "all") -> None:
    """Write ``country-distances.npz`` (``territory="all"``) or ``country-distances-main.npz``."""
    t0 = time.perf_counter()
    codes, geoms = territory_geometries(borders, territory)
    dist, neigh = distance_table(geoms)
    name, method = _DISTANCE_INFO[territory]
    info: dict[str, Any] = {
        "source": "Natural Earth 4.1.0 admin-0 countries 10m via world-atlas 2.0.2",
        "method": method,
    }
    if territory == "main":
        info["territory"] = "main"
        info["main_territory_km"] = borders.info.get("main_territory_km")
    atomic_savez(
        out_dir / name,
        codes=np.asarray(codes, dtype="S2"),
        distance_km=dist,
        neighbours=neigh,
        info=np.asarray(json.dumps(info, sort_keys=True)),
    )
    print(
        f"{name}: {len(codes)} countries, {int(neigh.sum()) // 2} neighbour pairs, "
        f"{time.perf_counter() - t0:.1f} s"
    )


def load_borders(path: Path) -> Any:
    """The :class:`ipevidence.geography.Borders` of a written ``borders-10m.npz`` (the package's own
    reader, so the main territory and the territories are exactly the border check's)."""
    from ipevidence.geography import Borders

    with np.load(path, allow_pickle=False) as z:
        data = {k: z[k] for k in z.files}
    return Borders(data, "10m")


def build_overseas(borders: Any, out_dir: Path) -> None:
    """``overseas-parts.json``: the codes with polygon parts outside their main territory."""
    from ipevidence._io import atomic_write_text

    codes = sorted(set(borders.countries) | set(borders.territories))
    counts = {c: n for c in codes if (n := borders.overseas_parts(c))}
    doc = {
        "built_by": "tools/build_geography.py",
        "format": 1,
        "borders": "borders-10m.npz",
        "note": "polygon parts outside the main territory per code (Borders.overseas_parts); "
        "codes not listed have none",
        "overseas_parts": counts,
    }
    atomic_write_text(out_dir / "overseas-parts.json", json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(f"overseas-parts.json: {len(counts)} codes with overseas parts")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--source", type=Path, default=ROOT.parent / "shared" / "data" / "naturalearth")
    ap.add_argument("--out", type=Path, default=ROOT / "src" / "ipevidence" / "data")
    ap.add_argument("--skip-distances", action="store_true")
    ap.add_argument(
        "--distances-only",
        action="store_true",
        help="rebuild only the distance tables, from the borders-10m.npz already in --out",
    )
    ap.add_argument(
        "--overseas-only",
        action="store_true",
        help="rebuild only overseas-parts.json, from the borders-10m.npz already in --out",
    )
    args = ap.parse_args(argv)
    if args.overseas_only:
        build_overseas(load_borders(args.out / "borders-10m.npz"), args.out)
        return 0
    if not args.distances_only:
        for scale in ("110m", "50m", "10m"):
            build_borders(args.source, scale, args.out)
    if not args.skip_distances:
        borders = load_borders(args.out / "borders-10m.npz")
        for territory in ("all", "main"):
            build_distances(borders, args.out, territory)
        build_overseas(borders, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
