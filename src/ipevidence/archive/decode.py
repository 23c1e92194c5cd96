"""A day's JSON text to a :class:`~ipevidence.archive.snapshot.DaySnapshot`, within stated bounds.

The whole text is decoded in one msgspec pass into the record structs of
:mod:`ipevidence.archive.columns` (``tags``, ``description`` and other unknown fields are skipped
without being built), whose columns that module builds. Only when an element of the record list
is not an object at all is the text decoded again record by record (``dropped_not_object``). A
large text is decoded in pieces of about half a megabyte (:func:`_decode_in_pieces`), with
exactly the outcome of decoding it whole. Bounds: at most ``max_records`` records, and a
whole-text decode only when it cannot take more than ``max_decode_memory``. A text that the
JSON reader rejects only because of lone UTF-16 surrogate escapes or bytes that are not UTF-8 is
repaired (:func:`_repair_text`) and decoded again. :mod:`ipevidence.archive.parse` (reading the
file, :func:`~ipevidence.archive.parse_day`) re-exports every name.
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
from collections.abc import Callable
from typing import Final

import msgspec

from ..errors import ArchiveCorruptError
from ..provenance import ArchiveDay
from .columns import _column_arrays, _Columns, _columns, _Counts, _Rec, _snapshot
from .snapshot import DaySnapshot

__all__ = ["DEFAULT_MAX_DECODE_MEMORY", "DEFAULT_MAX_RECORDS", "PIECE_BYTES"]

#: records (elements of the ``objects`` list) accepted in one day; a real day has about 30,000
#: (2024), so a million leaves more than thirty times the room
DEFAULT_MAX_RECORDS: Final = 1_000_000
#: memory that decoding one day's text as a whole may take (estimated before decoding; see
#: :func:`_check_budget`); a real day takes a few tens of megabytes
DEFAULT_MAX_DECODE_MEMORY: Final = 512 * 2**20
#: bytes that one JSON value may cost once decoded (a record struct is 112 bytes with its list
#: slot, an empty dict 72, an empty list 64; a string costs its length, counted separately)
_BYTES_PER_VALUE: Final = 128

# ---------------------------------------------------------------------------------------------
# decoding: one msgspec pass into small structs whose fields are untyped (Any), so that a field
# of the wrong type never fails the file; then one cheap, type-checked pass per column


class _Top(msgspec.Struct, gc=False):
    objects: list[_Rec]


class _RawTop(msgspec.Struct, gc=False):
    objects: list[msgspec.Raw]


_DECODER: Final = msgspec.json.Decoder(_Top | list[_Rec])
_RAW_DECODER: Final = msgspec.json.Decoder(_RawTop | list[msgspec.Raw])
_REC_DECODER: Final = msgspec.json.Decoder(_Rec)
#: numbers beyond the float range become infinities (only where a record failed because of one)
_REC_LOOSE_DECODER: Final = msgspec.json.Decoder(_Rec, float_hook=float)


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


def _describe_bad_json(text: bytes, exc: Exception) -> str:
    head = text[:200].lstrip().lower()
    if head.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")):
        return "an HTML/XML page, not archive JSON (an error page saved as the day's file?)"
    if not text.strip():
        return "empty file"
    return f"invalid JSON ({exc})"
