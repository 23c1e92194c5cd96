"""Country borders, point-in-country checks and country distances (METHOD.md sections 5 and 11).

Borders are Natural Earth 4.1.0 admin-0 countries (public domain) from world-atlas TopoJSON,
converted by ``tools/build_geography.py`` into compact package data (quantised coordinates plus
ragged offsets, one polygon per country part): ``data/borders-{10m,50m,110m}.npz``. The package
never reads the original TopoJSON at run time.

* :func:`haversine_km` - vectorised great-circle distance.
* :class:`Borders` - ``Borders.load("10m")`` (cached per process), ``check`` (the section 5
  decision for whole columns), ``locate``, ``geometry``, ``overseas_parts``, ``area_km2``.
* :func:`country_distance_km`, :func:`neighbours`, :func:`country_distances` (vectorised over two
  ``S2`` columns), :class:`CountryDistances` - minimum border-to-border distances precomputed once,
  between whole countries (``territory="all"``, the default: ``data/country-distances.npz``) or
  between main territories (``territory="main"``: ``data/country-distances-main.npz``).

Coordinates are WGS 84 degrees: latitude first in every signature, longitude second.
See docs/geography.md for every decision (uncoded Natural Earth entries, main territory, coasts).
"""

from __future__ import annotations

import enum
import functools
import io
import json
import threading
from collections.abc import Collection, Mapping
from importlib import resources
from typing import Any, Final, Literal

import attrs
import numpy as np
import numpy.typing as npt
import shapely

from .countries import COUNTRY_DTYPE, NOT_LOCATED, known_mask, normalize_country, overseas_part_counts
from .geodesy import EARTH_RADIUS_KM, haversine_km
from .jsonutil import canonical_json

__all__ = [
    "EARTH_RADIUS_KM",
    "BorderCheck",
    "BorderStatus",
    "Borders",
    "CountryDistances",
    "Scale",
    "Territory",
    "country_distance_km",
    "country_distance_matrix",
    "country_distances",
    "haversine_km",
    "neighbours",
    "overseas_part_counts",
]

_KM_PER_DEG: Final = np.pi / 180.0 * EARTH_RADIUS_KM

Scale = Literal["10m", "50m", "110m"]
_SCALES: Final = ("10m", "50m", "110m")

#: Which parts of a country the distance tables measure: ``"all"`` (whole countries, overseas parts
#: included: France borders Brazil through French Guiana) or ``"main"`` (main territories only).
Territory = Literal["all", "main"]
_TERRITORIES: Final = ("all", "main")
_DISTANCE_FILES: Final = {"all": "country-distances.npz", "main": "country-distances-main.npz"}

# ISO codes that Natural Earth draws as part of another country: the territory code is accepted
# for a point inside the sovereign's polygon when the polygon part is that territory. Assigned by
# the part's representative point (a bounding box per territory, lon_min, lat_min, lon_max, lat_max).
_TERRITORY_BOXES: Final[dict[str, tuple[str, tuple[tuple[float, float, float, float], ...]]]] = {
    "GF": ("FR", ((-55.0, 1.5, -51.0, 6.5),)),  # French Guiana
    "GP": ("FR", ((-62.0, 15.8, -60.9, 16.6),)),  # Guadeloupe
    "MQ": ("FR", ((-61.3, 14.3, -60.7, 15.0),)),  # Martinique
    "RE": ("FR", ((55.1, -21.5, 56.0, -20.8),)),  # Réunion
    "YT": ("FR", ((44.9, -13.1, 45.4, -12.5),)),  # Mayotte
    # Svalbard (with Bear Island) and Jan Mayen; not the Finnmark islands north of 70.5° N
    "SJ": ("NO", ((10.0, 74.0, 35.0, 81.0), (-9.5, 70.7, -7.5, 71.3))),
    "BQ": ("NL", ((-69.0, 11.9, -62.8, 17.8),)),  # Bonaire, Sint Eustatius and Saba
    "BV": ("NO", ((3.2, -54.6, 3.6, -54.3),)),  # Bouvet Island
    "TK": ("NZ", ((-172.6, -9.5, -171.1, -8.4),)),  # Tokelau
}
# Territories contained in another country's polygon entirely (Vatican City inside Rome).
_ENCLOSED_BY: Final[dict[str, str]] = {"VA": "IT"}


class BorderStatus(enum.IntEnum):
    """Outcome of a border check for one point (``BorderCheck.status`` holds these codes)."""

    INSIDE = 0
    """Inside a polygon of the declared country (main territory where restricted)."""
    COAST_ACCEPTED = 1
    """Inside no polygon; the declared country is the nearest one, within the tolerance."""
    OTHER_COUNTRY = 2
    """Inside a polygon of another country: a mismatch."""
    OUTSIDE_FAR = 3
    """Inside no polygon, and the declared country is not the nearest within the tolerance."""
    OVERSEAS = 4
    """In (or, at sea, nearest to) a part of the declared country outside its main territory,
    for a country restricted to its main territory."""
    NO_BORDER_DATA = 5
    """The declared country has no polygon at this scale (or is not a known code)."""
    INVALID_COORDINATES = 6
    """Latitude or longitude missing (NaN) or out of range."""


_ACCEPTED_ALWAYS: Final = (BorderStatus.INSIDE, BorderStatus.COAST_ACCEPTED)


@attrs.frozen(eq=False)
class BorderCheck:
    """The border decision for a column of points (METHOD.md section 5).

    ``status`` holds :class:`BorderStatus` codes (uint8); ``located`` the code of the polygon
    containing the point (the territory code for parts such as Réunion inside France;
    ``b""`` at sea); ``nearest`` and ``distance_km`` the nearest country and its distance for
    points inside no polygon (``b""``/NaN beyond the search radius, 0 for points inside);
    ``accepted`` the rows that pass.
    """

    status: npt.NDArray[np.uint8]
    located: npt.NDArray[np.bytes_]
    nearest: npt.NDArray[np.bytes_]
    distance_km: npt.NDArray[np.float64]
    accepted: npt.NDArray[np.bool_]
    tolerance_km: float
    main_territory: tuple[str, ...]
    scale: str
    keep_no_border_data: bool

    def __len__(self) -> int:
        return int(self.status.shape[0])

    def counts(self) -> dict[str, int]:
        """Number of points per status name (every status listed, zeros included)."""
        bc = np.bincount(self.status, minlength=len(BorderStatus))
        return {s.name: int(bc[s.value]) for s in BorderStatus}

    def parameters(self) -> dict[str, Any]:
        return {
            "tolerance_km": self.tolerance_km,
            "main_territory": list(self.main_territory),
            "scale": self.scale,
            "keep_no_border_data": self.keep_no_border_data,
        }

    def to_dict(self) -> dict[str, Any]:
        """Summary (counts and parameters) as plain JSON types; the columns are not included."""
        return {
            "points": len(self),
            "accepted": int(np.count_nonzero(self.accepted)),
            "counts": self.counts(),
            "parameters": self.parameters(),
        }

    def to_json(self) -> str:
        return canonical_json(self.to_dict())

    def __str__(self) -> str:
        c = {k: v for k, v in self.counts().items() if v}
        parts = ", ".join(f"{k.lower()} {v}" for k, v in c.items()) or "no points"
        return (
            f"Border check of {len(self)} points at 1:{self.scale} (tolerance {self.tolerance_km:g} km, "
            f"main territory {','.join(self.main_territory) or '-'}): "
            f"{int(np.count_nonzero(self.accepted))} accepted; {parts}"
        )


def _load_npz(name: str) -> dict[str, npt.NDArray[Any]]:
    raw = resources.files("ipevidence.data").joinpath(name).read_bytes()
    with np.load(io.BytesIO(raw), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _as_s2(values: npt.ArrayLike) -> npt.NDArray[np.bytes_]:
    arr = np.asarray(values)
    if arr.dtype.kind == "U":
        arr = np.char.upper(np.char.strip(arr)).astype(COUNTRY_DTYPE)
    return np.asarray(arr, dtype=COUNTRY_DTYPE)


_LOAD_LOCK = threading.Lock()


class Borders:
    """Country polygons at one Natural Earth scale, with vectorised point-in-country checks.

    Build with :meth:`load` (cached per process and scale). Every country part is one polygon in
    an STRtree; ``part_code`` is the part's country (ISO alpha-2), ``part_territory`` the ISO code
    of the territory the part is (``RE`` for Réunion inside ``FR``), ``part_main`` whether it
    belongs to the country's main territory: its largest part plus, transitively, every part
    within 300 km of a main part (European France with Corsica; not French Guiana, Réunion, ...).
    """

    def __init__(self, data: Mapping[str, npt.NDArray[Any]], scale: str) -> None:
        self.scale = scale
        coords = data["coords"].astype(np.float64) * data["scale"] + data["translate"]
        self._parts: npt.NDArray[np.object_] = shapely.from_ragged_array(
            shapely.GeometryType.POLYGON, coords, (data["ring_offsets"], data["poly_offsets"])
        )
        shapely.prepare(self._parts)
        self.part_code: npt.NDArray[np.bytes_] = np.asarray(data["part_code"], dtype=COUNTRY_DTYPE)
        self.part_area_km2: npt.NDArray[np.float64] = np.asarray(data["part_area_km2"], dtype=np.float64)
        self.part_main: npt.NDArray[np.bool_] = np.asarray(data["part_main"], dtype=np.bool_)
        self.info: dict[str, Any] = json.loads(str(data["info"]))
        self.part_territory = self.part_code.copy()
        rep = shapely.point_on_surface(self._parts)
        rx, ry = shapely.get_x(rep), shapely.get_y(rep)
        drawn = set(self.part_code.tolist())
        for terr, (sov, boxes) in _TERRITORY_BOXES.items():
            if terr.encode() in drawn:
                continue
            for x0, y0, x1, y1 in boxes:
                sel = (self.part_code == sov.encode()) & (rx >= x0) & (rx <= x1) & (ry >= y0) & (ry <= y1)
                self.part_territory[sel] = terr.encode()
        self._tree = shapely.STRtree(self._parts)
        # grid of cells no polygon edge touches: the part containing each (-1 none, -2 touched)
        self._cell_deg = float(data["cell_deg"]) if "cell_deg" in data else 0.0
        self._cell_part: npt.NDArray[np.int16] | None = (
            np.asarray(data["cell_part"], dtype=np.int16) if "cell_part" in data else None
        )
        self._codes: tuple[str, ...] = tuple(sorted({c.decode() for c in self.part_code.tolist()}))
        self._code_array = np.asarray(self._codes, dtype=COUNTRY_DTYPE)
        extra = {t for t in np.unique(self.part_territory).tolist() if t.decode() not in self._codes}
        self._territories = frozenset(t.decode() for t in extra)
        self._seg_lock = threading.Lock()
        self._seg: (
            tuple[shapely.STRtree, npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int64]]
            | None
        ) = None

    def _segments(
        self,
    ) -> tuple[shapely.STRtree, npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int64]]:
        """Every polygon edge (start, end, part) in an STRtree of their bounding boxes (built on
        first use: the nearest-border search measures point-to-edge distances with numpy)."""
        with self._seg_lock:
            if self._seg is None:
                rings = shapely.get_rings(self._parts, return_index=True)
                xy, ring_of = shapely.get_coordinates(rings[0], return_index=True)
                same = ring_of[:-1] == ring_of[1:]
                a, b = xy[:-1][same], xy[1:][same]
                part = np.asarray(rings[1], dtype=np.int64)[ring_of[:-1][same]]
                lo, hi = np.minimum(a, b), np.maximum(a, b)
                tree = shapely.STRtree(shapely.box(lo[:, 0], lo[:, 1], hi[:, 0], hi[:, 1]))
                self._seg = (tree, a, b, part)
            return self._seg

    # ------------------------------------------------------------------ construction

    @classmethod
    def load(cls, scale: Scale | str = "10m") -> Borders:
        """The shipped borders at ``scale`` ("10m" default, "50m" or "110m"), cached per process."""
        if scale not in _SCALES:
            raise ValueError(f"unknown border scale {scale!r}: expected one of {', '.join(_SCALES)}")
        with _LOAD_LOCK:
            return _cached_borders(str(scale))

    # ------------------------------------------------------------------ queries

    @property
    def countries(self) -> tuple[str, ...]:
        """Alpha-2 codes that have at least one polygon at this scale (sorted)."""
        return self._codes

    @property
    def territories(self) -> frozenset[str]:
        """Codes without a polygon of their own that are recognised as parts of another country
        (for example RE, GF, SJ); a point declared with such a code is checked against that part."""
        return self._territories

    def has_borders(self, code: str) -> bool:
        c = normalize_country(code)
        return c in self._codes or c in self._territories or c in _ENCLOSED_BY

    def __len__(self) -> int:
        return int(self._parts.shape[0])

    def __repr__(self) -> str:
        return f"Borders(scale={self.scale!r}, countries={len(self._codes)}, parts={len(self)})"

    def describe(self) -> dict[str, Any]:
        """Provenance of the borders (source, scale, decisions) as plain JSON types."""
        return {
            "source": self.info.get("source"),
            "scale": self.scale,
            "countries": len(self._codes),
            "parts": len(self),
            "main_territory_km": self.info.get("main_territory_km"),
            "uncoded": self.info.get("uncoded"),
        }

    def part(self, index: int) -> shapely.Polygon:
        """One polygon part (see ``part_code``, ``part_territory``, ``part_main``)."""
        return self._parts[int(index)]

    def _part_mask(self, code: str) -> npt.NDArray[np.bool_]:
        c = normalize_country(code).encode()
        return np.asarray((self.part_code == c) | (self.part_territory == c), dtype=np.bool_)

    def geometry(self, code: str, *, main_territory: bool = False) -> shapely.Geometry | None:
        """The country as a shapely MultiPolygon (only its main territory on request); None when
        the code has no polygon at this scale."""
        sel = self._part_mask(code)
        if main_territory:
            sel &= self.part_main
        if not sel.any():
            return None
        return shapely.multipolygons(self._parts[sel])

    def overseas_parts(self, code: str) -> int:
        """How many polygon parts of ``code`` lie outside its main territory (0: none)."""
        sel = self._part_mask(code)
        return int(np.count_nonzero(sel & ~self.part_main))

    def area_km2(self, code: str, *, main_territory: bool = False) -> float:
        """Approximate area in km² (equirectangular at each part's centroid; ~1 % error)."""
        sel = self._part_mask(code)
        if main_territory:
            sel &= self.part_main
        return float(self.part_area_km2[sel].sum())

    def _inside_parts(
        self, lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64], valid: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.int64]:
        """Index of the part containing each point (-1: none). Boundary points count as inside."""
        n = lat.shape[0]
        part = np.full(n, -1, dtype=np.int64)
        idx = np.flatnonzero(valid)
        if idx.size == 0:
            return part
        grid = self._cell_part
        if grid is not None:
            # points in a cell no edge touches share the cell centre's answer: no polygon test
            nrow, ncol = grid.shape
            r = np.clip(((lat[idx] + 90.0) / self._cell_deg).astype(np.int64), 0, nrow - 1)
            c = np.clip(((lon[idx] + 180.0) / self._cell_deg).astype(np.int64), 0, ncol - 1)
            g = grid[r, c]
            known = g >= -1
            part[idx[known]] = g[known]
            idx = idx[~known]
            if idx.size == 0:
                return part
        pts = shapely.points(lon[idx], lat[idx])
        pi, ti = self._tree.query(pts)
        if pi.size == 0:
            return part
        hit = shapely.intersects_xy(self._parts[ti], lon[idx[pi]], lat[idx[pi]])
        pi, ti = pi[hit], ti[hit]
        # a point on a shared border belongs to two parts: keep the lowest part index (deterministic)
        order = np.lexsort((ti, pi))
        pi, ti = pi[order], ti[order]
        first = np.ones(pi.size, dtype=np.bool_)
        first[1:] = pi[1:] != pi[:-1]
        part[idx[pi[first]]] = ti[first]
        return part

    def locate(self, lat: npt.ArrayLike, lon: npt.ArrayLike) -> npt.NDArray[np.bytes_]:
        """Country (territory) code of the polygon containing each point, ``b""`` for none."""
        la = np.atleast_1d(np.asarray(lat, dtype=np.float64))
        lo = np.atleast_1d(np.asarray(lon, dtype=np.float64))
        la, lo = np.broadcast_arrays(la, lo)
        valid = _valid_coords(la, lo)
        part = self._inside_parts(la, lo, valid)
        out = np.zeros(la.shape[0], dtype=COUNTRY_DTYPE)
        ok = part >= 0
        out[ok] = self.part_territory[part[ok]]
        return out

    def nearest(
        self, lat: npt.ArrayLike, lon: npt.ArrayLike, *, max_km: float = 50.0
    ) -> tuple[npt.NDArray[np.bytes_], npt.NDArray[np.float64], npt.NDArray[np.int64]]:
        """Nearest country part within ``max_km`` of each point: (code, distance km, part index).

        Distances are point-to-edge distances in a local equirectangular projection centred on
        each point (error well under 1 % within 100 km); the antimeridian is handled. ``b""``,
        NaN and -1 where no part is that close.
        Points inside a polygon get distance 0.
        """
        la = np.atleast_1d(np.asarray(lat, dtype=np.float64))
        lo = np.atleast_1d(np.asarray(lon, dtype=np.float64))
        la, lo = np.broadcast_arrays(la, lo)
        n = la.shape[0]
        code = np.zeros(n, dtype=COUNTRY_DTYPE)
        dist = np.full(n, np.nan, dtype=np.float64)
        part = np.full(n, -1, dtype=np.int64)
        all_idx = np.flatnonzero(_valid_coords(la, lo))
        if all_idx.size == 0 or max_km < 0:
            return code, dist, part
        # chunks bound the memory of the candidate (point, edge) pairs
        step = max(1000, int(2_000_000 / max(1.0, max_km) ** 1.5))
        for start in range(0, all_idx.size, step):
            self._nearest_chunk(la, lo, all_idx[start : start + step], max_km, code, dist, part)
        return code, dist, part

    def _nearest_chunk(
        self,
        la: npt.NDArray[np.float64],
        lo: npt.NDArray[np.float64],
        idx: npt.NDArray[np.int64],
        max_km: float,
        code: npt.NDArray[np.bytes_],
        dist: npt.NDArray[np.float64],
        part: npt.NDArray[np.int64],
    ) -> None:
        y0, x0 = la[idx], lo[idx]
        coslat = np.maximum(np.cos(np.radians(y0)), 1e-3)
        dy = max_km / _KM_PER_DEG
        dx = np.minimum(dy / coslat, 180.0)
        seg_tree, seg_a, seg_b, seg_part = self._segments()
        qi_parts = [np.arange(idx.size)]
        boxes_parts = [shapely.box(x0 - dx, y0 - dy, x0 + dx, y0 + dy)]
        for shift, wrap in ((360.0, x0 - dx < -180.0), (-360.0, x0 + dx > 180.0)):
            w = np.flatnonzero(wrap)  # boxes across the antimeridian: query the other side too
            if w.size:
                qi_parts.append(w)
                boxes_parts.append(
                    shapely.box(x0[w] - dx[w] + shift, y0[w] - dy, x0[w] + dx[w] + shift, y0[w] + dy)
                )
        qi = np.concatenate(qi_parts)
        bi, si = seg_tree.query(np.concatenate(boxes_parts))
        pi = qi[bi]
        k = _KM_PER_DEG * coslat[pi]
        ax = _wrap180(seg_a[si, 0] - x0[pi]) * k
        ay = (seg_a[si, 1] - y0[pi]) * _KM_PER_DEG
        bx = _wrap180(seg_b[si, 0] - x0[pi]) * k
        by = (seg_b[si, 1] - y0[pi]) * _KM_PER_DEG
        vx, vy = bx - ax, by - ay
        vv = vx * vx + vy * vy
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.where(vv > 0, np.clip(-(ax * vx + ay * vy) / vv, 0.0, 1.0), 0.0)
        d = np.hypot(ax + t * vx, ay + t * vy)
        ti = seg_part[si]
        # a point inside a part is at distance 0 from it
        inside = self._inside_parts(la[idx], lo[idx], np.ones(idx.size, dtype=np.bool_))
        ins = np.flatnonzero(inside >= 0)
        pi = np.concatenate([pi, ins])
        ti = np.concatenate([ti, inside[ins]])
        d = np.concatenate([d, np.zeros(ins.size)])
        # nearest part per point (ties: lowest part index)
        order = np.lexsort((ti, d, pi))
        pi, ti, d = pi[order], ti[order], d[order]
        first = np.ones(pi.size, dtype=np.bool_)
        first[1:] = pi[1:] != pi[:-1]
        sel = first & (d <= max_km)
        rows = idx[pi[sel]]
        part[rows] = ti[sel]
        dist[rows] = d[sel]
        code[rows] = self.part_territory[ti[sel]]

    def check(
        self,
        declared: npt.ArrayLike,
        lat: npt.ArrayLike,
        lon: npt.ArrayLike,
        *,
        tolerance_km: float = 10.0,
        main_territory: Collection[str] = ("FR",),
        keep_no_border_data: bool = True,
    ) -> BorderCheck:
        """Do the coordinates lie in the declared country? (METHOD.md section 5, vectorised.)

        * inside a polygon of the declared country -> ``INSIDE`` (accepted);
        * inside a polygon of another country -> ``OTHER_COUNTRY`` (rejected);
        * inside no polygon -> ``COAST_ACCEPTED`` when the nearest country within
          ``tolerance_km`` is the declared one, else ``OUTSIDE_FAR`` (tolerance 0: every such
          point is rejected, the reference's strict test);
        * for a country in ``main_territory`` (default France: European France), a point in or
          nearest to a part outside the main territory -> ``OVERSEAS`` (rejected);
        * declared country without polygons at this scale (or an unknown code) ->
          ``NO_BORDER_DATA``; a known country's point is accepted when ``keep_no_border_data``
          (default: the point cannot be checked, so it is not held against the record; the
          count is reported), rejected otherwise; an unknown or empty code is never accepted;
        * missing or out-of-range coordinates -> ``INVALID_COORDINATES`` (rejected).

        A territory drawn inside another country (Réunion ``RE`` inside ``FR``) is accepted for a
        point in that part; ``VA`` (Vatican City, absent from Natural Earth) for a point in Italy
        within 1 km of St Peter's.
        """
        if not np.isfinite(tolerance_km) or tolerance_km < 0:
            raise ValueError(f"tolerance_km must be a finite number >= 0, not {tolerance_km}")
        dec = _as_s2(np.atleast_1d(declared))
        la = np.atleast_1d(np.asarray(lat, dtype=np.float64))
        lo = np.atleast_1d(np.asarray(lon, dtype=np.float64))
        if not (dec.shape == la.shape == lo.shape) or dec.ndim != 1:
            raise ValueError(
                "declared, lat and lon must be 1-d columns of one length, "
                f"not {dec.shape}, {la.shape}, {lo.shape}"
            )
        restricted = np.asarray(sorted({normalize_country(c) for c in main_territory}), dtype=COUNTRY_DTYPE)
        n = dec.shape[0]
        status = np.full(n, BorderStatus.OUTSIDE_FAR, dtype=np.uint8)
        valid = _valid_coords(la, lo)
        part = self._inside_parts(la, lo, valid)
        located = np.zeros(n, dtype=COUNTRY_DTYPE)
        inside = part >= 0
        pc = np.where(inside, self.part_code[np.maximum(part, 0)], NOT_LOCATED)
        pt = np.where(inside, self.part_territory[np.maximum(part, 0)], NOT_LOCATED)
        located[inside] = pt[inside]
        pmain = np.where(inside, self.part_main[np.maximum(part, 0)], True)
        # a part matches the declaration by its sovereign code or its territory code
        match = inside & ((pc == dec) | (pt == dec))
        # Vatican City: not drawn; accept a VA point in Italy near St Peter's
        va = (dec == b"VA") & inside & (pc == b"IT")
        if va.any():
            near = haversine_km(la, lo, 41.9029, 12.4534) <= 1.0
            match |= va & near
        is_restricted = np.isin(dec, restricted) & (pc == dec)
        status[match] = BorderStatus.INSIDE
        status[match & is_restricted & ~pmain] = BorderStatus.OVERSEAS
        status[inside & ~match] = BorderStatus.OTHER_COUNTRY
        nearest = np.zeros(n, dtype=COUNTRY_DTYPE)
        distance = np.where(inside, 0.0, np.nan)
        nearest[inside] = pt[inside]
        out = np.flatnonzero(~inside & valid)
        if out.size and tolerance_km > 0:
            ncode, ndist, npart = self.nearest(la[out], lo[out], max_km=tolerance_km)
            nearest[out] = ncode
            distance[out] = ndist
            found = npart >= 0
            nsov = np.where(found, self.part_code[np.maximum(npart, 0)], NOT_LOCATED)
            nmain = np.where(found, self.part_main[np.maximum(npart, 0)], True)
            d_out = dec[out]
            ok = found & ((nsov == d_out) | (ncode == d_out))
            over = ok & np.isin(d_out, restricted) & (nsov == d_out) & ~nmain
            st = np.full(out.size, BorderStatus.OUTSIDE_FAR, dtype=np.uint8)
            st[ok] = BorderStatus.COAST_ACCEPTED
            st[over] = BorderStatus.OVERSEAS
            status[out] = st
        known = np.isin(dec, self._code_array) | np.isin(
            dec, np.asarray(sorted(self._territories | set(_ENCLOSED_BY)), dtype=COUNTRY_DTYPE)
        )
        status[~known] = BorderStatus.NO_BORDER_DATA
        status[~valid] = BorderStatus.INVALID_COORDINATES
        accepted = np.isin(status, np.asarray([int(s) for s in _ACCEPTED_ALWAYS], dtype=np.uint8))
        if keep_no_border_data:
            # a known country without polygons is kept; an unknown or empty code never is
            accepted |= (status == BorderStatus.NO_BORDER_DATA) & known_mask(dec)
        return BorderCheck(
            status=status,
            located=located,
            nearest=nearest,
            distance_km=np.asarray(distance, dtype=np.float64),
            accepted=np.asarray(accepted, dtype=np.bool_),
            tolerance_km=float(tolerance_km),
            main_territory=tuple(c.decode() for c in restricted.tolist()),
            scale=self.scale,
            keep_no_border_data=keep_no_border_data,
        )


def _wrap180(dlon: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray((dlon + 180.0) % 360.0 - 180.0, dtype=np.float64)


def _valid_coords(lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    with np.errstate(invalid="ignore"):
        return np.asarray(
            np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90.0) & (np.abs(lon) <= 180.0),
            dtype=np.bool_,
        )


@functools.cache
def _cached_borders(scale: str) -> Borders:
    return Borders(_load_npz(f"borders-{scale}.npz"), scale)


# ------------------------------------------------------------------------- country distances


class CountryDistances:
    """Minimum border-to-border distances between countries, precomputed from the 1:10m borders.

    0 for countries sharing a land border (never "impossible travel"); otherwise the
    great-circle distance between the nearest points of the two borders (see docs/geography.md
    for the method and its error, within about 6 km).

    ``territory`` says what a country is: ``"all"`` (default) the whole country with its overseas
    parts (France and Brazil are neighbours through French Guiana; territories drawn inside
    another country, RE, GF, SJ, ..., and VA take their sovereign's row), ``"main"`` only its main
    territory (:attr:`Borders.part_main`: European France, the contiguous United States; the
    territories drawn inside another country have rows of their own, VA takes Italy's).
    """

    def __init__(self, data: Mapping[str, npt.NDArray[Any]]) -> None:
        self.codes: npt.NDArray[np.bytes_] = np.asarray(data["codes"], dtype=COUNTRY_DTYPE)
        self.matrix: npt.NDArray[np.float64] = np.asarray(data["distance_km"], dtype=np.float64)
        self._neigh: npt.NDArray[np.bool_] = np.asarray(data["neighbours"], dtype=np.bool_)
        self.info: dict[str, Any] = json.loads(str(data["info"]))
        self.territory: Territory = "main" if self.info.get("territory") == "main" else "all"
        alias = {t: sov for t, (sov, _) in _TERRITORY_BOXES.items()} | dict(_ENCLOSED_BY)
        base = [c.decode() for c in self.codes.tolist()]
        pos = {c: i for i, c in enumerate(base)}
        keys = list(base) + [t for t in alias if t not in pos and alias[t] in pos]
        rows = [pos[c] for c in base] + [pos[alias[t]] for t in keys[len(base) :]]
        order = np.argsort(np.asarray(keys, dtype=COUNTRY_DTYPE), kind="stable")
        self._keys = np.asarray(keys, dtype=COUNTRY_DTYPE)[order]
        self._rows = np.asarray(rows, dtype=np.int64)[order]

    @classmethod
    def load(cls, territory: Territory | str = "all") -> CountryDistances:
        """The shipped matrix for ``territory`` (``"all"`` default, or ``"main"``), cached per process."""
        with _LOAD_LOCK:
            return _cached_distances(_check_territory(territory))

    def index(self, column: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Matrix row of each code of an ``S2`` column; -1 for codes without border data."""
        col = _as_s2(np.atleast_1d(column))
        pos = np.searchsorted(self._keys, col)
        pos = np.minimum(pos, len(self._keys) - 1)
        ok = self._keys[pos] == col
        return np.where(ok, self._rows[pos], -1).astype(np.int64)

    def distances(self, a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Vectorised minimum distances in km between two ``S2`` columns (NaN: unknown code)."""
        ia, ib = self.index(a), self.index(b)
        ia, ib = np.broadcast_arrays(ia, ib)
        ok = (ia >= 0) & (ib >= 0)
        out = np.full(ia.shape, np.nan, dtype=np.float64)
        out[ok] = self.matrix[ia[ok], ib[ok]]
        return out

    def distance(self, a: str, b: str) -> float:
        """Minimum distance in km between two countries; raises :class:`UnknownCountryError` for
        unknown codes and ValueError for a known code without border data."""
        ca, cb = normalize_country(a), normalize_country(b)
        if ca == cb:
            return 0.0
        d = float(self.distances(np.asarray([ca], COUNTRY_DTYPE), np.asarray([cb], COUNTRY_DTYPE))[0])
        if np.isnan(d):
            missing = [c for c in (ca, cb) if self.index(np.asarray([c], COUNTRY_DTYPE))[0] < 0]
            raise ValueError(f"no border data for {', '.join(missing)}: distance unknown")
        return d

    def neighbours(self, code: str) -> frozenset[str]:
        """Countries sharing a land border with ``code`` at 1:10m (empty for islands, unknown)."""
        i = int(self.index(np.asarray([normalize_country(code)], COUNTRY_DTYPE))[0])
        if i < 0:
            return frozenset()
        return frozenset(c.decode() for c in self.codes[self._neigh[i]].tolist())

    def are_neighbours(self, a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        ia, ib = self.index(a), self.index(b)
        ia, ib = np.broadcast_arrays(ia, ib)
        ok = (ia >= 0) & (ib >= 0)
        out = np.zeros(ia.shape, dtype=np.bool_)
        out[ok] = self._neigh[ia[ok], ib[ok]]
        return out

    def describe(self) -> dict[str, Any]:
        return {"countries": int(self.codes.shape[0]), "territory": self.territory, **self.info}


def _check_territory(territory: str) -> Territory:
    if territory == "all":
        return "all"
    if territory == "main":
        return "main"
    raise ValueError(f"unknown territory {territory!r}: expected one of {', '.join(_TERRITORIES)}")


@functools.cache
def _cached_distances(territory: Territory) -> CountryDistances:
    return CountryDistances(_load_npz(_DISTANCE_FILES[territory]))


def country_distance_km(a: str, b: str, *, territory: Territory | str = "all") -> float:
    """Minimum border-to-border distance in km (0 for neighbours and for a == b).

    ``territory="all"`` (default) measures whole countries, overseas parts included (FR-BR is 0:
    French Guiana); ``"main"`` measures main territories (FR-BR about 6,360 km)."""
    return CountryDistances.load(territory).distance(a, b)


def neighbours(code: str, *, territory: Territory | str = "all") -> frozenset[str]:
    """Countries sharing a land border with ``code`` (1:10m Natural Earth); with
    ``territory="main"`` between main territories (France then has no BR or SR)."""
    return CountryDistances.load(territory).neighbours(code)


def country_distances(
    a: npt.ArrayLike, b: npt.ArrayLike, *, territory: Territory | str = "all"
) -> npt.NDArray[np.float64]:
    """Vectorised :func:`country_distance_km` over two ``S2`` columns; NaN for unknown codes.

    Matches ``ipevidence.tamper``'s ``DistanceFunction`` signature (with the default territory;
    bind ``territory="main"`` with :func:`functools.partial` for the other table).
    """
    return CountryDistances.load(territory).distances(a, b)


def country_distance_matrix(territory: Territory | str = "all") -> CountryDistances:
    """The shipped :class:`CountryDistances` (codes, matrix, vectorised lookups) for ``territory``."""
    return CountryDistances.load(territory)
