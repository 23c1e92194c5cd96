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
from ..provenance import ArchiveDay
from . import bz2par
from .bz2par import DEFAULT_MAX_DECOMPRESSED, bunzip, default_threads
from .snapshot import SNAPSHOT_COLUMNS, DaySnapshot, ProbeStatus

__all__ = [
    "COUNT_KEYS",
    "DEFAULT_MAX_DECOMPRESSED",
    "PARSER_VERSION",
    "STATUS_NAMES",
    "bunzip",
    "day_from_name",
    "parse_day",
    "status_code",
]

#: bump whenever the columns produced for the same file could change (invalidates the parsed cache)
PARSER_VERSION: Final = 1

_BZ_MAGIC: Final = b"BZh"

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
    text: bytes, day: dt.date, source: ArchiveDay | None, fail: Callable[[str], Exception]
) -> DaySnapshot:
    snap = _decode_in_pieces(text, day, source)
    if snap is not None:
        return snap
    counts = _Counts()
    try:
        top = _DECODER.decode(text)
    except RecursionError:
        raise fail(_TOO_DEEP) from None
    except msgspec.ValidationError:
        pass  # some element is not an object (or the top level is wrong): go record by record
    except msgspec.DecodeError as exc:
        raise fail(_describe_bad_json(text, exc)) from None
    else:
        recs = top.objects if isinstance(top, _Top) else top
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
        raise fail(_describe_bad_json(text, exc)) from None
    raws = loose.objects if isinstance(loose, _RawTop) else loose
    counts.add("records", len(raws))
    recs = []
    for raw in raws:
        try:
            recs.append(_REC_DECODER.decode(raw))
        except msgspec.ValidationError:
            counts.add("dropped_not_object")
    return _columns(recs, counts, day, source)


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
    text: bytes, day: dt.date, source: ArchiveDay | None, piece_bytes: int | None = None
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
    """
    if piece_bytes is None:
        piece_bytes = PIECE_BYTES
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
    pieces: list[_Columns] = []
    pos = head.end()
    while True:
        cut = _cut_after(text, key, pos + piece_bytes, end) if pos + piece_bytes < end else None
        piece = b"".join((b"[", text[pos : end if cut is None else cut[0]], b"" if cut is None else b"]"))
        try:
            recs = _LIST_DECODER.decode(piece)
        except (msgspec.DecodeError, RecursionError):  # ValidationError too: the whole text sorts it out
            return None
        counts.add("records", len(recs))
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


def parse_day(
    data: bytes | str | os.PathLike[str],
    day: dt.date | None = None,
    *,
    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
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
    """
    name: str | None = None
    path: str | None = None
    if isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
    else:
        path = os.fspath(data)
        name = Path(path).name
        with open(path, "rb") as fh:
            raw = fh.read()
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
    else:
        text = raw
        if len(text) > max_decompressed:
            raise fail(f"larger than {max_decompressed} bytes (limit max_decompressed)")
    source = ArchiveDay(day=day, status="ok", name=name, sha256=sha)
    with _gc_paused():
        return _decode(text, day, source, fail)
