"""Real RIPE Atlas probe snapshots written as archive days, so the whole pipeline runs on real probes.

The input is a CSV of probe metadata read from the Atlas REST API on a few dates (columns
``snapshot_date, probe_id, address_v4, country_code, latitude, longitude, is_anchor``; the
shared data set holds four snapshots of April-May 2023). :func:`write_snapshot_days` writes one
archive day per snapshot date (``YYYY/MM/YYYYMMDD.json.bz2``, RIPE's layout) in the archive's own
``flat`` record shape, the REST API's ``nested`` shape, or ``mixed`` (both shapes in every day,
alternating by probe id), as METHOD.md section 1 describes, so
:class:`~ipevidence.archive.LocalArchive` and the history pipeline read them like real archive days.

What the snapshots lack, and what is filled in (nothing filled in decides a result):

* ``status``: every probe of a snapshot was Connected when the API was read (the snapshots list
  connected probes only), so ``status_name`` is ``"Connected"`` (``status`` 1 / ``{"id": 1,
  "name": "Connected"}``): the status rule then removes nothing, as it would on these probes;
* ``asn_v4``: unknown. :data:`FILL_ASN` (4200000000, the first private-use 32-bit AS number of
  RFC 6996) is written so the daily ASN rule (METHOD.md section 2) keeps the record; no cloud or
  hosting set contains a private-use AS number, so the cloud filter by ASN removes nothing. A test
  checks that a build with the ASN rule and the cloud filter switched off gives the same ground
  truth. Pass ``asn=None`` to write no ASN at all (then build with ``require_asn=False``);
* ``address_v6``/``asn_v6``: null (the snapshots hold IPv4 only); ``tags``: ``[]`` (or the
  anchor tag for anchors, from ``is_anchor``), unused by the method.

``transform`` lets a test derive a case from the real rows (for instance give a probe's later rows
another country) before the days are written.
"""

from __future__ import annotations

import bz2
import csv
import datetime as dt
import gzip
import io
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, Literal

import attrs
import msgspec
import numpy as np
import numpy.typing as npt

from .._io import atomic_write_bytes
from ..archive.source import relative_path

__all__ = [
    "FILL_ASN",
    "ProbeSnapshots",
    "RecordShape",
    "day_records",
    "read_probe_snapshots",
    "write_snapshot_days",
]

RecordShape = Literal["flat", "nested", "mixed"]

#: the AS number written for every record (RFC 6996 private use: in no cloud or hosting set)
FILL_ASN: Final = 4_200_000_000
_COLUMNS: Final = (
    "snapshot_date",
    "probe_id",
    "address_v4",
    "country_code",
    "latitude",
    "longitude",
    "is_anchor",
)


@attrs.frozen(eq=False)
class ProbeSnapshots:
    """The snapshot rows as columns (addresses and countries as text, as in the file)."""

    day: npt.NDArray[np.datetime64]
    probe_id: npt.NDArray[np.int64]
    address_v4: npt.NDArray[np.str_]
    country_code: npt.NDArray[np.str_]
    latitude: npt.NDArray[np.float64]
    longitude: npt.NDArray[np.float64]
    is_anchor: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.probe_id.shape[0])

    @property
    def days(self) -> tuple[dt.date, ...]:
        return tuple(dt.date.fromisoformat(str(d)) for d in np.unique(self.day))

    def select(self, mask: npt.NDArray[np.bool_]) -> ProbeSnapshots:
        return ProbeSnapshots(**{f.name: getattr(self, f.name)[mask] for f in attrs.fields(ProbeSnapshots)})

    def replace(self, **columns: Any) -> ProbeSnapshots:
        return attrs.evolve(self, **columns)


def read_probe_snapshots(path: str | os.PathLike[str]) -> ProbeSnapshots:
    """Read the snapshot CSV (plain or ``.gz``); empty coordinates become NaN, an empty address
    an empty string (the archive reader then counts it as missing)."""
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    reader = csv.reader(io.StringIO(raw.decode("utf-8")))
    header = next(reader)
    if tuple(header[: len(_COLUMNS)]) != _COLUMNS:
        raise ValueError(
            f"{Path(path).name}: expected columns {', '.join(_COLUMNS)}, found {', '.join(header)}"
        )
    rows = list(reader)
    cols = list(zip(*rows, strict=True)) if rows else [()] * len(_COLUMNS)

    def floats(values: tuple[str, ...]) -> npt.NDArray[np.float64]:
        return np.array([float(v) if v.strip() else np.nan for v in values], dtype=np.float64)

    return ProbeSnapshots(
        day=np.array(cols[0], dtype="datetime64[D]"),
        probe_id=np.array(cols[1], dtype=np.int64),
        address_v4=np.array(cols[2], dtype=str),
        country_code=np.array(cols[3], dtype=str),
        latitude=floats(cols[4]),
        longitude=floats(cols[5]),
        is_anchor=np.array([v.strip() in ("1", "true", "True") for v in cols[6]], dtype=np.bool_),
    )


def day_records(
    snaps: ProbeSnapshots, day: dt.date, *, shape: RecordShape = "mixed", asn: int | None = FILL_ASN
) -> list[dict[str, Any]]:
    """The archive records of one snapshot date, in the chosen record shape(s)."""
    if shape not in ("flat", "nested", "mixed"):
        raise ValueError(f"shape must be 'flat', 'nested' or 'mixed', not {shape!r}")
    sel = np.flatnonzero(snaps.day == np.datetime64(day, "D"))
    since = f"{day.isoformat()}T00:00:00Z"
    out: list[dict[str, Any]] = []
    ids = snaps.probe_id[sel].tolist()
    addrs = snaps.address_v4[sel].tolist()
    ccs = snaps.country_code[sel].tolist()
    lats = snaps.latitude[sel].tolist()
    lons = snaps.longitude[sel].tolist()
    anchors = snaps.is_anchor[sel].tolist()
    for pid, addr, cc, lat, lon, anchor in zip(ids, addrs, ccs, lats, lons, anchors, strict=True):
        lat_v = None if lat != lat else lat
        lon_v = None if lon != lon else lon
        rec: dict[str, Any] = {
            "id": int(pid),
            "address_v4": addr or None,
            "address_v6": None,
            "asn_v4": asn,
            "asn_v6": None,
            "country_code": cc or None,
            "is_anchor": bool(anchor),
        }
        nested = shape == "nested" or (shape == "mixed" and pid % 2 == 1)
        if nested:
            rec["geometry"] = {"type": "Point", "coordinates": [lon_v, lat_v]}
            rec["status"] = {"id": 1, "name": "Connected", "since": since}
            rec["tags"] = [{"name": "system: anchor", "slug": "system-anchor"}] if anchor else []
        else:
            rec["latitude"] = lat_v
            rec["longitude"] = lon_v
            rec["status"] = 1
            rec["status_name"] = "Connected"
            rec["tags"] = ["system-anchor"] if anchor else []
        out.append(rec)
    return out


def write_snapshot_days(
    snapshots: ProbeSnapshots | str | os.PathLike[str],
    directory: str | os.PathLike[str],
    *,
    shape: RecordShape = "mixed",
    layout: str = "tree",
    asn: int | None = FILL_ASN,
    transform: Callable[[ProbeSnapshots], ProbeSnapshots] | None = None,
    compresslevel: int = 1,
) -> Mapping[dt.date, Path]:
    """Write every snapshot date as one archive day under ``directory`` (atomically); returns the
    files by day. ``snapshots`` is a :class:`ProbeSnapshots` or the path of the CSV."""
    snaps = snapshots if isinstance(snapshots, ProbeSnapshots) else read_probe_snapshots(snapshots)
    if transform is not None:
        snaps = transform(snaps)
    root = Path(directory)
    files: dict[dt.date, Path] = {}
    for day in snaps.days:
        payload = msgspec.json.encode({"objects": day_records(snaps, day, shape=shape, asn=asn)})
        path = root / relative_path(day, layout)
        atomic_write_bytes(path, bz2.compress(payload, compresslevel), make_parents=True)
        files[day] = path
    return files
