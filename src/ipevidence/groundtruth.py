"""The ground truth: de-duplicated, cleaned probe addresses with their declared country.

A :class:`GroundTruth` holds one address family (4 or 6) as columns of equal length. The
address column is ``uint32`` for IPv4 and ``S16`` (16 bytes, network order) for IPv6, as
everywhere in the library (see :mod:`ipevidence.addresses`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from .provenance import ArchiveProvenance

__all__ = ["GROUND_TRUTH_COLUMNS", "Funnel", "FunnelStep", "GroundTruth"]

GROUND_TRUTH_COLUMNS: tuple[str, ...] = (
    "probe_id",
    "address",
    "country",
    "latitude",
    "longitude",
    "asn",
    "date",
    "first_seen",
    "last_seen",
)


@attrs.frozen
class FunnelStep:
    """One rule of the filter funnel: how many rows reached it and how many it removed."""

    name: str
    description: str
    rows_in: int
    removed: int

    @property
    def rows_out(self) -> int:
        return self.rows_in - self.removed

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "rows_in": self.rows_in,
            "removed": self.removed,
            "rows_out": self.rows_out,
        }


@attrs.frozen
class Funnel:
    """The ordered rules of one family's pipeline, from raw daily records to the ground truth."""

    family: int
    steps: tuple[FunnelStep, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "steps": [s.to_dict() for s in self.steps]}


@attrs.frozen(eq=False)
class GroundTruth:
    """Ground-truth rows of one address family, as columns.

    * ``probe_id`` int32; ``address`` uint32 (IPv4) or ``S16`` (IPv6);
    * ``country`` ``S2`` declared country (known ISO alpha-2 codes only);
    * ``latitude``/``longitude`` float64; ``asn`` uint32 (0 unknown);
    * ``date`` ``datetime64[D]``: the row's date under the de-duplication policy;
    * ``first_seen``/``last_seen`` ``datetime64[D]``: first and last day of the run or pair
      (NaT where the policy does not know them).

    ``funnel`` counts every rule's removals, ``provenance`` names the archive days, and
    ``parameters`` records every parameter of the build (policy, tolerances, ASN sets, ...).
    """

    family: int
    probe_id: npt.NDArray[np.int32]
    address: npt.NDArray[Any]
    country: npt.NDArray[np.bytes_]
    latitude: npt.NDArray[np.float64]
    longitude: npt.NDArray[np.float64]
    asn: npt.NDArray[np.uint32]
    date: npt.NDArray[np.datetime64]
    first_seen: npt.NDArray[np.datetime64]
    last_seen: npt.NDArray[np.datetime64]
    funnel: Funnel = attrs.field(factory=lambda: Funnel(family=4))
    provenance: ArchiveProvenance | None = None
    parameters: Mapping[str, Any] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        if self.family not in (4, 6):
            raise ValueError(f"family must be 4 or 6, not {self.family!r}")
        n = self.probe_id.shape[0]
        for name in GROUND_TRUTH_COLUMNS:
            col = getattr(self, name)
            if col.shape != (n,):
                raise ValueError(f"column {name} has shape {col.shape}, expected ({n},)")

    def __len__(self) -> int:
        return int(self.probe_id.shape[0])

    @property
    def years(self) -> npt.NDArray[np.int64]:
        """The calendar year of every row's date."""
        return self.date.astype("datetime64[Y]").astype(np.int64) + 1970

    def select(self, mask: npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> GroundTruth:
        """A ground truth holding only the rows picked by a boolean mask or index array."""
        return attrs.evolve(self, **{name: getattr(self, name)[mask] for name in GROUND_TRUTH_COLUMNS})
