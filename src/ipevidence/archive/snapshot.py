"""One parsed RIPE Atlas archive day as numpy columns."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping

import attrs
import numpy as np
import numpy.typing as npt

from ..provenance import ArchiveDay

__all__ = ["SNAPSHOT_COLUMNS", "DaySnapshot", "ProbeStatus"]


class ProbeStatus(enum.IntEnum):
    """The library's own status codes, derived from the status NAME (``status_name`` in the flat
    archive shape, ``status.name`` in the API shape), never from the archive's integers, which
    published examples disagree on."""

    MISSING = 0
    CONNECTED = 1
    DISCONNECTED = 2
    ABANDONED = 3
    NEVER_CONNECTED = 4
    WRITTEN_OFF = 5
    OTHER = 255


#: column name -> dtype, in a fixed order (the cache file format relies on it)
SNAPSHOT_COLUMNS: Mapping[str, np.dtype[np.generic]] = {
    "probe_id": np.dtype(np.int32),
    "status": np.dtype(np.uint8),
    "country": np.dtype("S2"),
    "latitude": np.dtype(np.float64),
    "longitude": np.dtype(np.float64),
    "ipv4": np.dtype(np.uint32),
    "ipv4_valid": np.dtype(np.bool_),
    "asn_v4": np.dtype(np.uint32),
    "ipv6": np.dtype("S16"),
    "ipv6_valid": np.dtype(np.bool_),
    "asn_v6": np.dtype(np.uint32),
}


@attrs.frozen(eq=False)
class DaySnapshot:
    """Every probe record of one archive day, as columns of equal length.

    * ``probe_id`` int32; ``status`` uint8 :class:`ProbeStatus` codes;
    * ``country`` ``S2``: upper-cased code as declared, ``b""`` when missing or not two letters
      (unvalidated here: the daily filter checks it against ISO 3166-1);
    * ``latitude``/``longitude`` float64, NaN when missing or of the wrong type;
    * ``ipv4`` uint32 with ``ipv4_valid``; ``ipv6`` 16 bytes in network order (``S16``) with
      ``ipv6_valid``; ``asn_v4``/``asn_v6`` uint32 with 0 for missing (AS0 is reserved);
    * ``counts``: records in the file and per-field tallies of missing and invalid values
      (keys such as ``"records"``, ``"missing_latitude"``, ``"invalid_latitude"``);
    * ``source``: the file it came from (name and SHA-256), for provenance.
    """

    day: dt.date
    probe_id: npt.NDArray[np.int32]
    status: npt.NDArray[np.uint8]
    country: npt.NDArray[np.bytes_]
    latitude: npt.NDArray[np.float64]
    longitude: npt.NDArray[np.float64]
    ipv4: npt.NDArray[np.uint32]
    ipv4_valid: npt.NDArray[np.bool_]
    asn_v4: npt.NDArray[np.uint32]
    ipv6: npt.NDArray[np.bytes_]
    ipv6_valid: npt.NDArray[np.bool_]
    asn_v6: npt.NDArray[np.uint32]
    counts: Mapping[str, int] = attrs.field(factory=dict)
    source: ArchiveDay | None = None

    def __len__(self) -> int:
        return int(self.probe_id.shape[0])

    def columns(self) -> dict[str, npt.NDArray[np.generic]]:
        """The columns by name, in :data:`SNAPSHOT_COLUMNS` order."""
        return {name: getattr(self, name) for name in SNAPSHOT_COLUMNS}
