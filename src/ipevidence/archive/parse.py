"""One RIPE Atlas archive file (bzip2 JSON, or plain JSON) to a :class:`DaySnapshot`.

The whole file is decoded in one msgspec pass into small structs that name only the fields the
method needs (``tags``, ``description`` and other unknown fields are skipped without being built)
and leave their values untyped; each column is then built with one comprehension that checks
types (a JSON string latitude, a list where an object is expected, a boolean ASN: that field is
missing for that record and counted as ``wrongtype_<field>``) and vectorised numpy checks. Only
when an element of the record list is not an object at all is the file decoded again record by
record (``dropped_not_object``).

A bzip2 file of several blocks is decompressed on two threads by default
(:mod:`ipevidence.archive.bz2par`), with exactly the output and errors of the sequential path.

A file that cannot be read whole (truncated bzip2, not JSON, an HTML page, no ``objects``) raises
:class:`~ipevidence.errors.ArchiveCorruptError` carrying the file's SHA-256.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime as dt
import gc
import hashlib
import math
import os
import re
import socket
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final

import msgspec
import numpy as np
import numpy.typing as npt

from ..errors import ArchiveCorruptError
from ..provenance import ArchiveDay, sha256_file
from . import bz2par
from .bz2par import DEFAULT_MAX_DECOMPRESSED, bunzip, default_threads
from .snapshot import SNAPSHOT_COLUMNS, DaySnapshot, ProbeStatus

__all__ = [
    "COUNT_KEYS",
    "DEFAULT_MAX_DECODE_MEMORY",
    "DEFAULT_MAX_DECOMPRESSED",
    "DEFAULT_MAX_RECORDS",
    "PARSER_VERSION",
    "STATUS_NAMES",
    "bunzip",
    "day_from_name",
    "parse_day",
    "read_day_file",
    "status_code",
]

#: bump whenever the columns produced for the same file could change (invalidates the parsed cache)
PARSER_VERSION: Final = 1

_BZ_MAGIC: Final = b"BZh"

#: records (elements of the ``objects`` list) accepted in one day; a real day has about 30,000
#: (2024), so a million leaves more than thirty times the room
DEFAULT_MAX_RECORDS: Final = 1_000_000
#: memory that decoding one day's text as a whole may take (estimated before decoding; see
#: :func:`_check_budget`); a real day takes a few tens of megabytes
DEFAULT_MAX_DECODE_MEMORY: Final = 512 * 2**20
#: bytes that one JSON value may cost once decoded (a record struct is 112 bytes with its list
#: slot, an empty dict 72, an empty list 64; a string costs its length, counted separately)
_BYTES_PER_VALUE: Final = 128

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

_DAY_RE: Final = re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})(?!\d)")
_INT32_MAX: Final = 2**31 - 1
_ASN_MAX: Final = 2**32 - 1


def status_code(name: object) -> int:
    """The :class:`ProbeStatus` code of a status name (``"Connected"`` -> 1); MISSING for a
    non-string or empty name, OTHER for an unknown one."""
    if not isinstance(name, str) or not name.strip():
        return int(ProbeStatus.MISSING)
    return int(STATUS_NAMES.get(" ".join(name.lower().split()), ProbeStatus.OTHER))


def day_from_name(name: str) -> dt.date:
    """The day of an archive file name such as ``20220121.json.bz2`` (last YYYYMMDD in the name)."""
    found = _DAY_RE.findall(os.path.basename(name))
    for y, m, d in reversed(found):
        try:
            return dt.date(int(y), int(m), int(d))
        except ValueError:
            continue
    raise ValueError(f"no YYYYMMDD date in file name {name!r}: pass day= explicitly")


# ---------------------------------------------------------------------------------------------
# decoding: one msgspec pass into small structs whose fields are untyped (Any), so that a field
# of the wrong type never fails the file; then one cheap, type-checked pass per column


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


class _Top(msgspec.Struct, gc=False):
    objects: list[_Rec]


class _RawTop(msgspec.Struct, gc=False):
    objects: list[msgspec.Raw]


_DECODER: Final = msgspec.json.Decoder(_Top | list[_Rec])
_RAW_DECODER: Final = msgspec.json.Decoder(_RawTop | list[msgspec.Raw])
_REC_DECODER: Final = msgspec.json.Decoder(_Rec)
#: numbers beyond the float range become infinities (only where a record failed because of one)
_REC_LOOSE_DECODER: Final = msgspec.json.Decoder(_Rec, float_hook=float)

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


def _decode(
    text: bytes,
    day: dt.date,
    source: ArchiveDay | None,
    fail: Callable[[str], Exception],
    max_records: int = DEFAULT_MAX_RECORDS,
    max_decode_memory: int = DEFAULT_MAX_DECODE_MEMORY,
) -> DaySnapshot:
    """The snapshot of a day's JSON text, within the stated bounds (see :func:`parse_day`).

    A text that the JSON reader rejects only because of lone UTF-16 surrogate escapes or bytes
    that are not UTF-8 is repaired (same length: ``\\ufffd`` and ``?``) and decoded again, the
    repairs counted (``repaired_surrogate_escape``, ``repaired_invalid_utf8``): such a defect then
    costs at most the field it is in (a field the method never reads costs nothing)."""
    try:
        return _decode_text(text, day, source, fail, max_records, max_decode_memory, _Counts())
    except _Malformed as exc:
        repaired, notes = _repair_text(text)
        if repaired is None:
            raise fail(exc.reason) from None
    try:
        return _decode_text(repaired, day, source, fail, max_records, max_decode_memory, notes)
    except _Malformed as exc:
        raise fail(exc.reason) from None


class _Malformed(Exception):
    """The text is not JSON (before any repair is tried)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _decode_text(
    text: bytes,
    day: dt.date,
    source: ArchiveDay | None,
    fail: Callable[[str], Exception],
    max_records: int,
    max_decode_memory: int,
    notes: _Counts,
) -> DaySnapshot:
    try:
        snap = _decode_in_pieces(text, day, source, None, max_records, notes, max_decode_memory)
    except ArchiveCorruptError as exc:  # the record cap, found piece by piece
        raise fail(exc.reason) from None
    if snap is not None:
        return snap
    counts = _Counts()
    counts.c.update(notes.c)
    _check_budget(text, max_decode_memory, fail)
    try:
        top = _DECODER.decode(text)
    except RecursionError:
        raise fail(_TOO_DEEP) from None
    except msgspec.ValidationError:
        pass  # some element is not an object (or the top level is wrong): go record by record
    except msgspec.DecodeError as exc:
        raise _Malformed(_describe_bad_json(text, exc)) from None
    else:
        recs = top.objects if isinstance(top, _Top) else top
        _check_records(len(recs), max_records, fail)
        counts.add("records", len(recs))
        return _columns(recs, counts, day, source)
    try:
        loose = _RAW_DECODER.decode(text)
    except RecursionError:  # deep nesting after an element that is not an object
        raise fail(_TOO_DEEP) from None
    except msgspec.ValidationError as exc:
        raise fail(
            f"not an archive day: expected {{'objects': [...]}} or a list of records ({exc})"
        ) from None
    except msgspec.DecodeError as exc:  # pragma: no cover - the first decoder saw the same bytes
        raise _Malformed(_describe_bad_json(text, exc)) from None
    raws = loose.objects if isinstance(loose, _RawTop) else loose
    del loose
    _check_records(len(raws), max_records, fail)
    counts.add("records", len(raws))
    recs = []
    for raw in raws:
        try:
            recs.append(_REC_DECODER.decode(raw))
        except msgspec.ValidationError:
            rec = _loose_record(raw)
            if rec is None:
                counts.add("dropped_not_object")
            else:
                counts.add("out_of_range_number")
                recs.append(rec)
    del raws
    return _columns(recs, counts, day, source)


def _loose_record(raw: msgspec.Raw) -> _Rec | None:
    """A record object that failed only because a number is beyond the float range (``1e400``):
    decoded again with such numbers as infinities, so only the fields that hold them are lost
    (an infinite coordinate is removed by the daily filter's coordinates rule). None when the
    element is not an object at all."""
    try:
        return _REC_LOOSE_DECODER.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------
# stated bounds: records per day, memory of decoding, repairs of a text the reader rejects


def _check_records(n: int, max_records: int, fail: Callable[[str], Exception]) -> None:
    if n > max_records:
        raise fail(f"more than {max_records:,} records in one day (limit max_records)")


def _decode_cost(text: bytes) -> int:
    """An upper bound on the memory the JSON reader needs for ``text``: every value it can build
    is the first in its container or follows a comma, so values <= commas + containers + 1; each
    costs at most ``_BYTES_PER_VALUE`` plus its bytes of text (strings)."""
    values = text.count(b",") + text.count(b"{") + text.count(b"[") + 1
    return len(text) + _BYTES_PER_VALUE * values


def _check_budget(text: bytes, max_decode_memory: int, fail: Callable[[str], Exception]) -> None:
    """Refuse a text whose whole decode could take more than ``max_decode_memory`` (tiny
    elements such as ``[{},{},...]`` cost about 40 times their size once decoded)."""
    if len(text) + _BYTES_PER_VALUE * (len(text) // 2 + 1) <= max_decode_memory:
        return  # even a text made only of two-byte values fits (no scan needed)
    cost = _decode_cost(text)
    if cost > max_decode_memory:
        raise fail(
            f"decoding could take up to {cost / 2**20:,.0f} MiB ({len(text):,} bytes of JSON made of "
            f"very many small values), more than {max_decode_memory / 2**20:,.0f} MiB "
            "(limit max_decode_memory)"
        )


_ESCAPE_RE: Final = re.compile(
    rb"\\(u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|u[dD][89a-fA-F][0-9a-fA-F]{2}|.)",
    re.DOTALL,
)
_REPLACEMENT_ESCAPE: Final = rb"\ufffd"
_ESCAPED_BYTE_RE: Final = re.compile("[\udc80-\udcff]")


def _repair_text(text: bytes) -> tuple[bytes | None, _Counts]:
    """``text`` with every lone UTF-16 surrogate escape (``\\ud83d`` not followed by a low
    surrogate, or a low one alone) replaced by ``\\ufffd`` and every byte that is not UTF-8 by
    ``?``, both keeping the length; None when there is nothing to repair. Escapes are scanned left
    to right, so an escaped backslash (``\\\\ud83d``) is never taken for an escape."""
    notes = _Counts()
    lone = 0

    def fix(m: re.Match[bytes]) -> bytes:
        nonlocal lone
        body = m.group(1)
        if len(body) == 5 and body[:1] in b"u":
            lone += 1
            return _REPLACEMENT_ESCAPE
        return m.group(0)

    out = _ESCAPE_RE.sub(fix, text) if b"\\u" in text else text
    notes.add("repaired_surrogate_escape", lone)
    try:
        out.decode("utf-8")
    except UnicodeDecodeError:
        out, bad = _repair_utf8(out)
        notes.add("repaired_invalid_utf8", bad)
    if not notes.c:
        return None, notes
    return out, notes


_REPAIR_STEP: Final = 8 * 2**20


def _repair_utf8(text: bytes) -> tuple[bytes, int]:
    """``text`` with every byte that is not part of valid UTF-8 replaced by ``?`` (same length),
    and how many; done in steps of 8 MiB, so it needs the output plus one step of memory."""
    decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
    parts: list[bytes] = []
    bad = 0
    for i in range(0, len(text), _REPAIR_STEP):
        chunk = decoder.decode(text[i : i + _REPAIR_STEP], final=i + _REPAIR_STEP >= len(text))
        bad += len(_ESCAPED_BYTE_RE.findall(chunk))
        parts.append(chunk.encode("utf-8", "replace"))
    return b"".join(parts), bad


# ---------------------------------------------------------------------------------------------
# a large file decoded in pieces of about a megabyte: the same records and columns, built while
# each piece's objects are still in the processor's cache (about 1.5x faster than one pass over
# the whole day's objects)

_JSON_WS: Final = b" \t\n\r"  # JSON's whitespace (regex \s would also take \f and \v)
_HEAD_RE: Final = re.compile(rb'[ \t\n\r]*(\{[ \t\n\r]*"objects"[ \t\n\r]*:[ \t\n\r]*)?\[[ \t\n\r]*')
_FIRST_KEY_RE: Final = re.compile(rb'\{[ \t\n\r]*"[A-Za-z0-9_]{1,64}"[ \t\n\r]*:')
_LIST_DECODER: Final = msgspec.json.Decoder(list[_Rec])
_HEAD_LIMIT: Final = 4096  # leading whitespace beyond this: decoded whole
_CUT_TRIES: Final = 16
#: target size of a piece (bytes of JSON); a file smaller than two pieces is decoded whole
PIECE_BYTES: Final = 1 << 19


def _last_non_ws(text: bytes, i: int) -> int:
    """Index of the last byte at or before ``i`` that is not JSON whitespace (-1 if none)."""
    while i >= 0 and text[i] in _JSON_WS:
        i -= 1
    return i


def _cut_after(text: bytes, key: bytes, frm: int, stop: int) -> tuple[int, int] | None:
    """(end of a piece, start of the next) at the first plausible record boundary at or after
    ``frm``: a ``}``, JSON whitespace, ``,``, whitespace, then ``key`` (the bytes the first record
    starts with, such as ``{"address_v4":``). Plausible only: the decoder proves it (see
    :func:`_decode_in_pieces`)."""
    for _ in range(_CUT_TRIES):
        j = text.find(key, frm, stop)
        if j < 0:
            return None
        comma = _last_non_ws(text, j - 1)
        if comma >= 0 and text[comma] == 0x2C:  # ","
            brace = _last_non_ws(text, comma - 1)
            if brace >= 0 and text[brace] == 0x7D:  # "}"
                return brace + 1, j
        frm = j + 1
    return None


def _decode_in_pieces(
    text: bytes,
    day: dt.date,
    source: ArchiveDay | None,
    piece_bytes: int | None = None,
    max_records: int | None = None,
    notes: _Counts | None = None,
    max_decode_memory: int | None = None,
) -> DaySnapshot | None:
    """The snapshot of ``text`` decoded in pieces, or None when the whole text must be decoded.

    Only a text that is exactly ``{"objects": [records]}`` or ``[records]`` (JSON whitespace
    allowed) is cut. It is cut after a ``}`` that is followed by ``,`` and the bytes with which
    the first record starts, and ``[`` + piece + ``]`` is decoded as a list of records. A
    successful decode proves each cut: the piece starts where a record starts, so ``[`` + piece
    is read exactly as the real array is, and the closing ``]`` only parses where the array is at
    its own level between two complete elements (a cut inside a string, a nested object or a
    tags list does not parse). The last piece runs to the document's last ``]``, after which only
    the object's ``}`` may follow, so no key precedes or follows ``objects``. Any failure at all
    answers None, and the caller's whole-text decode gives the result or the error, so the
    outcome is always exactly that of decoding the whole text.

    Bounds: more than ``max_records`` records raises :class:`ArchiveCorruptError` (the caller
    adds the file's identity); a piece much larger than ``piece_bytes`` (no cut found) that could
    take more than ``max_decode_memory`` to decode answers None, so the whole-text path refuses
    it. ``notes`` are counts to start from (repairs made to the text).
    """
    if piece_bytes is None:
        piece_bytes = PIECE_BYTES
    if max_records is None:
        max_records = DEFAULT_MAX_RECORDS
    if max_decode_memory is None:
        max_decode_memory = DEFAULT_MAX_DECODE_MEMORY
    if len(text) < 2 * piece_bytes:
        return None
    head = _HEAD_RE.match(text, 0, _HEAD_LIMIT)
    if head is None:
        return None
    last = _last_non_ws(text, len(text) - 1)
    if head.group(1) is not None:  # {"objects": [...]}: only the closing brace after the array
        if last < 0 or text[last] != 0x7D:
            return None
        last = _last_non_ws(text, last - 1)
    if last < head.end() or text[last] != 0x5D:  # "]"
        return None
    end = last + 1
    first = _FIRST_KEY_RE.match(text, head.end())
    if first is None:
        return None
    key = first.group(0)
    counts = _Counts()
    if notes is not None:
        counts.c.update(notes.c)
    pieces: list[_Columns] = []
    pos = head.end()
    while True:
        cut = _cut_after(text, key, pos + piece_bytes, end) if pos + piece_bytes < end else None
        stop = end if cut is None else cut[0]
        if stop - pos > 4 * piece_bytes and _decode_cost(text[pos:stop]) > max_decode_memory:
            return None  # one huge piece of tiny values: the whole-text path refuses it
        piece = b"".join((b"[", text[pos:stop], b"" if cut is None else b"]"))
        try:
            recs = _LIST_DECODER.decode(piece)
        except (msgspec.DecodeError, RecursionError):  # ValidationError too: the whole text sorts it out
            return None
        del piece
        counts.add("records", len(recs))
        if counts.c["records"] > max_records:
            raise ArchiveCorruptError(f"more than {max_records:,} records in one day (limit max_records)")
        pieces.append(_column_arrays(recs, counts))
        if cut is None:
            return _snapshot(pieces, counts, day, source)
        pos = cut[1]


_TOO_DEEP: Final = "JSON nested deeper than the JSON reader follows (not an archive day)"


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a day's objects are built: they hold no cycles, and
    its generation scans over the hundreds of thousands of new objects cost as much as building
    them. Left as found (a caller that disabled it keeps it disabled)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _describe_bad_json(text: bytes, exc: Exception) -> str:
    head = text[:200].lstrip().lower()
    if head.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")):
        return "an HTML/XML page, not archive JSON (an error page saved as the day's file?)"
    if not text.strip():
        return "empty file"
    return f"invalid JSON ({exc})"


def read_day_file(path: str | os.PathLike[str], max_decompressed: int = DEFAULT_MAX_DECOMPRESSED) -> bytes:
    """The bytes of an archive file, refusing (:class:`ArchiveCorruptError`, with the file's
    SHA-256) before reading it whole a file larger than any day within the caps could be: a plain
    JSON file larger than ``max_decompressed``, a bzip2 file larger than ``max_decompressed``
    plus 1 % (bzip2 never expands its input by more than about 0.5 %)."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        head = fh.read(3)
        limit = max_decompressed + max_decompressed // 100 + 1024 if head == _BZ_MAGIC else max_decompressed
        if size > limit:
            name = Path(os.fspath(path)).name
            raise ArchiveCorruptError(
                f"{size:,} bytes, larger than any day within max_decompressed={max_decompressed:,} "
                "(limit max_decompressed)",
                path=name,
                day=_day_or_none(name),
                sha256=sha256_file(path),
            )
        fh.seek(0)
        raw = fh.read(limit + 1)  # never more, even if the file grows while it is read
    if len(raw) > limit:
        name = Path(os.fspath(path)).name
        raise ArchiveCorruptError(
            f"grew past {limit:,} bytes while it was read (limit max_decompressed)",
            path=name,
            day=_day_or_none(name),
        )
    return raw


def _day_or_none(name: str) -> dt.date | None:
    try:
        return day_from_name(name)
    except ValueError:
        return None


def parse_day(
    data: bytes | str | os.PathLike[str],
    day: dt.date | None = None,
    *,
    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
    max_records: int = DEFAULT_MAX_RECORDS,
    max_decode_memory: int = DEFAULT_MAX_DECODE_MEMORY,
    threads: int | None = None,
) -> DaySnapshot:
    """Read one archive day (bzip2 JSON, or plain JSON when the bytes are not bzip2).

    ``data`` is the file's path or its raw bytes. The day defaults to the YYYYMMDD in the file
    name (required for bytes). Raises :class:`ArchiveCorruptError` (with the SHA-256 of the raw
    file) for anything that cannot be read whole; bad individual fields are counted instead.
    ``threads`` (default: 2 where the machine has 2 cores, else 1) decompress a file of several
    bzip2 blocks block by block in parallel (:mod:`ipevidence.archive.bz2par`; same output and
    errors as the sequential path, which is used for 1 thread, single-block files and anything
    irregular). Multi-day runs (:func:`~ipevidence.archive.iter_days`) pass ``threads=1``: their
    parallelism is one process per day.

    Bounds (each exceeded one makes the day corrupt, with the limit named in the reason): at
    most ``max_decompressed`` bytes of JSON (default 256 MiB; checked as the output grows), at
    most ``max_records`` records (default 1,000,000), and a whole-text decode only when it cannot
    take more than ``max_decode_memory`` (default 512 MiB, estimated from the text before
    decoding). A real day (2024) is about 1 MB of bzip2, 20 MB of JSON and 30,000 records.
    """
    name: str | None = None
    path: str | None = None
    if isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
    else:
        path = os.fspath(data)
        name = Path(path).name
        raw = read_day_file(path, max_decompressed)
    if day is None:
        if name is None:
            raise ValueError("parse_day(bytes) needs day=")
        day = day_from_name(name)
    sha = hashlib.sha256(raw).hexdigest()

    def fail(reason: str) -> ArchiveCorruptError:
        return ArchiveCorruptError(reason, path=path, day=day, sha256=sha)

    if raw.startswith(_BZ_MAGIC):
        n_threads = default_threads() if threads is None else max(1, int(threads))
        try:
            if n_threads > 1:
                text = bz2par.decompress(raw, threads=n_threads, max_decompressed=max_decompressed)
            else:
                text = bunzip(raw, max_decompressed)
        except ValueError as exc:
            raise fail(str(exc)) from None
        except MemoryError:
            raise fail(_OUT_OF_MEMORY) from None
        del raw
    else:
        text = raw
        if len(text) > max_decompressed:
            raise fail(f"larger than {max_decompressed} bytes (limit max_decompressed)")
    source = ArchiveDay(day=day, status="ok", name=name, sha256=sha)
    try:
        with _gc_paused():
            return _decode(text, day, source, fail, max_records, max_decode_memory)
    except MemoryError:
        # a last resort below the stated bounds (a process limit lower than they assume): the
        # day is corrupt for this run, and the verdict is not cached (it names a limit)
        raise fail(_OUT_OF_MEMORY) from None


_OUT_OF_MEMORY: Final = (
    "ran out of memory while reading this day, within the stated bounds (limit of this process's "
    "memory: lower max_decompressed, max_records or max_decode_memory, or allow more memory)"
)
