"""Distances on the sphere, with numpy only (no polygons, no shapely).

* :data:`EARTH_RADIUS_KM` - the mean Earth radius every distance in the library uses.
* :func:`haversine_km` - vectorised great-circle distance.

:mod:`ipevidence.geography` (country borders, which need shapely) re-exports both; modules that
only measure distances import them from here, so that a verdict does not load shapely.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = ["EARTH_RADIUS_KM", "haversine_km"]

#: Mean Earth radius (IUGG), km.
EARTH_RADIUS_KM: Final = 6371.0088


def haversine_km(
    lat1: npt.ArrayLike, lon1: npt.ArrayLike, lat2: npt.ArrayLike, lon2: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Great-circle distance in km between points given in degrees (vectorised, broadcasting).

    Uses a sphere of radius :data:`EARTH_RADIUS_KM` (error against the WGS 84 ellipsoid under
    0.5 %). NaN in, NaN out.
    """
    p1 = np.radians(np.asarray(lat1, dtype=np.float64))
    p2 = np.radians(np.asarray(lat2, dtype=np.float64))
    dphi = p2 - p1
    dlmb = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    a = np.sin(dphi / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2.0) ** 2
    out = 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return np.asarray(out, dtype=np.float64)
