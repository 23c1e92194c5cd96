"""Decoded archive records to the columns of a :class:`~ipevidence.archive.snapshot.DaySnapshot`.

The record struct :class:`_Rec` names only the fields the method needs and leaves their values
untyped (``Any``), so that a field of the wrong type never fails the file. Each column is then
built with one comprehension that checks types (a JSON string latitude, a list where an object is
expected, a boolean ASN: that field is missing for that record and counted as
``wrongtype_<field>``) and vectorised numpy checks (:func:`_column_arrays`); the tallies are
additive, so the columns of consecutive pieces of a file concatenate to those of the whole file
(:func:`_snapshot`). The decoding of the JSON text into these records is
:mod:`ipevidence.archive.decode`; :mod:`ipevidence.archive.parse` re-exports every name.
"""

from __future__ import annotations

import datetime as dt
import math
import socket
from collections.abc import Sequence
from typing import Any, Final

import msgspec
import numpy as np
import numpy.typing as npt

from ..provenance import ArchiveDay
from .snapshot import SNAPSHOT_COLUMNS, DaySnapshot, ProbeStatus

__all__ = ["COUNT_KEYS", "STATUS_NAMES", "status_code"]

#: status name (lower case, blanks squeezed) -> library code
STATUS_NAMES: Final[dict[str, ProbeStatus]] = {
    "connected": ProbeStatus.CONNECTED,
    "disconnected": ProbeStatus.DISCONNECTED,
    "abandoned": ProbeStatus.ABANDONED,
    "never connected": ProbeStatus.NEVER_CONNECTED,
    "written off": ProbeStatus.WRITTEN_OFF,
}

#: keys always present in ``DaySnapshot.counts`` (other keys, such as ``wrongtype_latitude`` or
#: ``dropped_not_object``, appear only when they are non-zero)
COUNT_KEYS: Final = (
    "records",
    "rows",
    "missing_status",
    "other_status",
    "missing_country",
    "invalid_country",
    "missing_latitude",
    "missing_longitude",
    "missing_address_v4",
    "invalid_address_v4",
    "missing_asn_v4",
    "invalid_asn_v4",
    "missing_address_v6",
    "invalid_address_v6",
    "missing_asn_v6",
    "invalid_asn_v6",
)

_INT32_MAX: Final = 2**31 - 1
_ASN_MAX: Final = 2**32 - 1


def status_code(name: object) -> int:
    """The :class:`ProbeStatus` code of a status name (``"Connected"`` -> 1); MISSING for a
    non-string or empty name, OTHER for an unknown one."""
    if not isinstance(name, str) or not name.strip():
        return int(ProbeStatus.MISSING)
    return int(STATUS_NAMES.get(" ".join(name.lower().split()), ProbeStatus.OTHER))


class _Rec(msgspec.Struct, gc=False):  # no cycles: not tracked by the garbage collector
    id: Any = None
    status: Any = None
    status_name: Any = None
    country_code: Any = None
    latitude: Any = None
    longitude: Any = None
    geometry: Any = None
    address_v4: Any = None
    address_v6: Any = None
    asn_v4: Any = None
    asn_v6: Any = None


_NAN: Final = math.nan
_ZERO4: Final = bytes(4)
_ZERO16: Final = bytes(16)
_STATUS_EXACT: Final[dict[str, int]] = {
    "Connected": 1,
    "Disconnected": 2,
    "Abandoned": 3,
    "Never Connected": 4,
    "Written Off": 5,
}


class _Counts:
    def __init__(self) -> None:
        self.c: dict[str, int] = {}

    def add(self, key: str, n: int = 1) -> None:
        if n:
            self.c[key] = self.c.get(key, 0) + int(n)


def _ids(recs: list[_Rec], counts: _Counts) -> tuple[list[_Rec], npt.NDArray[np.int32]]:
    """Probe ids; a record without a usable id (missing, not an integer, outside int32) cannot be
    linked to any probe: it is dropped and counted (``dropped_missing_id``/``dropped_invalid_id``)."""
    ids = [r.id for r in recs]
    if all(type(v) is int and 0 <= v <= _INT32_MAX for v in ids):
        return recs, np.array(ids, dtype=np.int32)
    keep: list[_Rec] = []
    for r in recs:
        v = r.id
        if type(v) is int and 0 <= v <= _INT32_MAX:
            keep.append(r)
        elif v is None:
            counts.add("dropped_missing_id")
        else:
            counts.add("dropped_invalid_id")
    return keep, np.array([r.id for r in keep], dtype=np.int32)


def _statuses(names: Sequence[Any], statuses: Sequence[Any], counts: _Counts) -> npt.NDArray[np.uint8]:
    """status_name (flat) when it is a string, else the nested status object's name."""
    exact = _STATUS_EXACT
    codes: list[int | None] = [exact.get(v) if type(v) is str else None for v in names]
    wrong_name = wrong_status = 0
    for i in [i for i, code in enumerate(codes) if code is None]:
        sn = names[i]
        if type(sn) is str:
            codes[i] = status_code(sn)
            continue
        if sn is not None:
            wrong_name += 1
        st = statuses[i]
        if type(st) is dict:
            nm = st.get("name")
            if type(nm) is str:
                code = exact.get(nm)
                codes[i] = code if code is not None else status_code(nm)
                continue
            if nm is not None:
                wrong_status += 1
        elif st is not None and type(st) is not int:
            wrong_status += 1
        codes[i] = 0
    counts.add("wrongtype_status_name", wrong_name)
    counts.add("wrongtype_status", wrong_status)
    arr = np.array(codes, dtype=np.uint8)
    counts.add("missing_status", int((arr == ProbeStatus.MISSING).sum()))
    counts.add("other_status", int((arr == ProbeStatus.OTHER).sum()))
    return arr


def _country_slow(v: object, counts: _Counts) -> bytes:
    if v is None:
        counts.add("missing_country")
        return b""
    if type(v) is not str:
        counts.add("wrongtype_country_code")
        counts.add("missing_country")
        return b""
    s = v.strip().upper()
    if not s:
        counts.add("missing_country")
        return b""
    if len(s) == 2 and s.isascii() and s.isalpha():
        return s.encode("ascii")
    counts.add("invalid_country")
    return b""


def _countries(given: Sequence[Any], counts: _Counts) -> npt.NDArray[np.bytes_]:
    """Upper-cased two-letter codes; anything else is missing or invalid (``b""``)."""
    vals = list(given)
    n = len(vals)
    odd = [i for i, v in enumerate(vals) if type(v) is not str or len(v) != 2]
    for i in odd:
        vals[i] = "AA"  # placeholder, replaced below
    raw = "".join(vals).encode("ascii", "replace")  # one "?" per non-ASCII character
    u = np.frombuffer(raw, dtype=np.uint8).copy()
    u -= np.uint8(32) * ((u >= 97) & (u <= 122)).astype(np.uint8)
    letters = ((u >= 65) & (u <= 90)).reshape(n, 2).all(axis=1)
    out = u.view("S2").copy()
    out[~letters] = b""
    counts.add("invalid_country", int((~letters).sum()))
    for i in odd:
        out[i] = _country_slow(given[i], counts)
    return np.asarray(out, dtype="S2")


def _floats(vals: list[Any], counts: _Counts, field: str) -> npt.NDArray[np.float64]:
    wrong = 0

    def conv(v: object) -> float:
        nonlocal wrong
        if v is None:
            return _NAN
        if type(v) is int:
            try:
                return float(v)
            except OverflowError:
                return math.copysign(math.inf, v)
        if type(v) is not float:
            wrong += 1
            return _NAN
        return v

    arr = np.array([v if type(v) is float else conv(v) for v in vals], dtype=np.float64)
    counts.add(f"wrongtype_{field}", wrong)
    counts.add(f"missing_{field}", int(np.isnan(arr).sum()))
    return arr


def _coordinates(
    flat_lat: Sequence[Any], flat_lon: Sequence[Any], geoms: Sequence[Any], counts: _Counts
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Flat ``latitude``/``longitude`` when either is present, else GeoJSON ``geometry`` [lon, lat]."""
    lats: list[Any] = list(flat_lat)
    lons: list[Any] = list(flat_lon)
    nested = [i for i, g in enumerate(geoms) if g is not None and lats[i] is None and lons[i] is None]
    wrong = invalid = 0
    for i in nested:
        geo = geoms[i]
        if type(geo) is not dict:
            wrong += 1
            continue
        co = geo.get("coordinates")
        if type(co) is list and len(co) == 2:
            lo, la = co
            if (lo is None or type(lo) is float or type(lo) is int) and (
                la is None or type(la) is float or type(la) is int
            ):
                lats[i] = la
                lons[i] = lo
                continue
        if co is not None:
            invalid += 1
    counts.add("wrongtype_geometry", wrong)
    counts.add("invalid_geometry", invalid)
    return _floats(lats, counts, "latitude"), _floats(lons, counts, "longitude")


def _asns(vals: Sequence[Any], counts: _Counts, field: str) -> npt.NDArray[np.uint32]:
    """AS numbers; AS0 and values beyond 32 bits are invalid; all become 0 (= missing)."""
    wrong = 0
    invalid = 0

    def conv(v: object) -> int:
        nonlocal wrong, invalid
        if v is None:
            return 0
        if type(v) is int:
            invalid += 1
        else:
            wrong += 1
        return 0

    out = [v if type(v) is int and 0 < v <= _ASN_MAX else conv(v) for v in vals]
    counts.add(f"wrongtype_{field}", wrong)
    counts.add(f"invalid_{field}", invalid)
    counts.add(f"missing_{field}", out.count(0) - invalid)
    return np.array(out, dtype=np.uint32)


def _addresses(
    vals: Sequence[Any], family: int, counts: _Counts
) -> tuple[npt.NDArray[np.generic], npt.NDArray[np.bool_]]:
    field = f"address_v{family}"
    af, zero = (socket.AF_INET, _ZERO4) if family == 4 else (socket.AF_INET6, _ZERO16)
    pton = socket.inet_pton
    try:  # usual case: every value is a valid address or null
        packed = [zero if v is None else pton(af, v) for v in vals]
        ok = np.array([v is not None for v in vals], dtype=np.bool_)
        counts.add(f"missing_{field}", len(vals) - int(ok.sum()))
    except (OSError, ValueError, TypeError):
        packed = []
        append = packed.append
        bad: list[int] = []
        missing = invalid = wrong = 0
        for i, v in enumerate(vals):
            if v is None:
                append(zero)
                bad.append(i)
                missing += 1
                continue
            try:
                append(pton(af, v))
            except (OSError, ValueError):
                append(zero)
                bad.append(i)
                invalid += 1
            except TypeError:
                append(zero)
                bad.append(i)
                wrong += 1
        ok = np.ones(len(vals), dtype=np.bool_)
        if bad:
            ok[np.array(bad, dtype=np.intp)] = False
        counts.add(f"missing_{field}", missing + wrong)
        counts.add(f"invalid_{field}", invalid)
        counts.add(f"wrongtype_{field}", wrong)
    blob = b"".join(packed)
    if family == 4:
        return np.frombuffer(blob, dtype=">u4").astype(np.uint32), ok
    return np.frombuffer(blob, dtype="S16").copy(), ok


_Columns = dict[str, npt.NDArray[Any]]


def _column_arrays(recs: list[_Rec], counts: _Counts) -> _Columns:
    """The snapshot columns (:data:`SNAPSHOT_COLUMNS` names) of some records; tallies go to
    ``counts`` (all additive, so the columns of consecutive pieces of a file concatenate to those
    of the whole file)."""
    recs, ids = _ids(recs, counts)
    # one pass over the structs, then transposed into one tuple per field (C speed)
    fields: list[tuple[Any, ...]] = (
        list(
            zip(
                *[
                    (
                        r.status_name,
                        r.status,
                        r.country_code,
                        r.latitude,
                        r.longitude,
                        r.geometry,
                        r.address_v4,
                        r.address_v6,
                        r.asn_v4,
                        r.asn_v6,
                    )
                    for r in recs
                ],
                strict=True,
            )
        )
        if recs
        else [()] * 10
    )
    names, statuses, ccs, lats, lons, geoms, v4, v6, a4, a6 = fields
    lat, lon = _coordinates(lats, lons, geoms, counts)
    ip4, ok4 = _addresses(v4, 4, counts)
    ip6, ok6 = _addresses(v6, 6, counts)
    return {
        "probe_id": ids,
        "status": _statuses(names, statuses, counts),
        "country": _countries(ccs, counts),
        "latitude": lat,
        "longitude": lon,
        "ipv4": ip4,
        "ipv4_valid": ok4,
        "asn_v4": _asns(a4, counts, "asn_v4"),
        "ipv6": ip6,
        "ipv6_valid": ok6,
        "asn_v6": _asns(a6, counts, "asn_v6"),
    }


def _snapshot(
    pieces: list[_Columns], counts: _Counts, day: dt.date, source: ArchiveDay | None
) -> DaySnapshot:
    """One snapshot from the columns of consecutive pieces of a file (one piece: no copy)."""
    if len(pieces) == 1:
        cols = pieces[0]
    else:
        cols = {
            name: np.concatenate([p[name] for p in pieces]).astype(dtype, copy=False)
            for name, dtype in SNAPSHOT_COLUMNS.items()
        }
    c = counts.c
    c["rows"] = len(cols["probe_id"])
    for key in COUNT_KEYS:
        c.setdefault(key, 0)
    return DaySnapshot(day=day, counts=dict(sorted(c.items())), source=source, **cols)


def _columns(recs: list[_Rec], counts: _Counts, day: dt.date, source: ArchiveDay | None) -> DaySnapshot:
    return _snapshot([_column_arrays(recs, counts)], counts, day, source)
