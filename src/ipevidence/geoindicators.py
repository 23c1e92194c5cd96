"""The valid-geography indicators of a country's ground truth (METHOD.md section 9).

What the assessor's geography criteria measure, apart from population coverage
(:mod:`ipevidence.coverage`): distinct probes, distinct known ASNs and distinct locations of a
country's window (:class:`GeoIndicators`, per (country, year), cached), the polygon parts outside
the main territory (:func:`overseas_parts`, from the shipped table, no borders loaded) and the
share of records the border step removed (:func:`border_removed_share`, from the funnel).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .countries import normalize_country, overseas_part_counts
from .coverage import point_keys, unique_points

if TYPE_CHECKING:
    from .accuracy import LocatedGroundTruth
    from .groundtruth import GroundTruth

__all__ = ["GeoIndicators", "border_removed_share", "overseas_parts"]


def overseas_parts(country: str) -> int:
    """Polygon parts of ``country`` outside its main territory (Natural Earth 1:10m), 0 for none
    (:func:`ipevidence.countries.overseas_part_counts`: the borders need not be loaded)."""
    return overseas_part_counts().get(normalize_country(country), 0)


def border_removed_share(gt: GroundTruth) -> float | None:
    """Share of the rows entering the border step that it removed (from the funnel); None when
    the ground truth had no border step."""
    for step in gt.funnel.steps:
        if "border" in step.name.lower() or "border" in step.description.lower():
            return step.removed / step.rows_in if step.rows_in else None
    return None


class GeoIndicators:
    """The valid-geography indicators of a country's window: distinct probes, distinct known ASNs
    and distinct locations. Each (country, year) is reduced once, on its own rows, to its distinct
    probes, ASNs and location keys (cached); a window is the union of its years. So a verdict never
    sorts the whole ground truth (a million rows cost 0.1-0.3 s to index), and many windows (triage)
    reduce every row once."""

    def __init__(self, gt: GroundTruth, located: LocatedGroundTruth) -> None:
        self.gt = gt
        self.located = located
        self._years: dict[tuple[str, int], tuple[npt.NDArray[Any], ...]] = {}

    def _year(self, code: str, year: int) -> tuple[npt.NDArray[Any], ...]:
        got = self._years.get((code, year))
        if got is None:
            rows = self.located.rows_of(code, year, year)
            key, ok = point_keys(self.gt.latitude[rows], self.gt.longitude[rows])
            keys = np.unique(key[ok])
            got = (np.unique(self.gt.probe_id[rows]), np.unique(self.gt.asn[rows]), keys)
            self._years[(code, year)] = got
        return got

    def indicators(self, code: str, first: int, last: int) -> tuple[int, int, int]:
        """Distinct probes, distinct known ASNs and distinct locations of ``code``'s rows in the
        years ``first``..``last``."""
        parts = [self._year(code, y) for y in range(first, last + 1)]
        probes, asns, keys = (np.unique(np.concatenate([p[i] for p in parts])) for i in range(3))
        return int(probes.shape[0]), int(np.count_nonzero(asns != 0)), int(keys.shape[0])

    def locations(self, code: str, year: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """The distinct locations of ``code``'s rows in ``year``."""
        rows = self.located.rows_of(code, year, year)
        lat, lon, _ = unique_points(self.gt.latitude[rows], self.gt.longitude[rows])
        return lat, lon
