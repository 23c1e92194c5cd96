"""Readers of JSON logs: :func:`read_jsonl` (generic JSON lines, with a
:class:`~.reading.ColumnMapping`) and :func:`read_entra_signins` (Microsoft Entra ID sign-ins: a
JSON array, a Graph response or JSON lines, streamed record by record by ``_JsonStream``).

What every reader shares is :mod:`.reading`; :mod:`.readers` re-exports every name.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from typing import IO, Any, Final

import attrs

from ..errors import LogFormatError
from .reading import (
    _MAX_TEXT,
    _OVERLONG,
    _SKIP_CHUNK,
    MAX_LINE_CHARS,
    ColumnMapping,
    LogRead,
    LogSource,
    _capped,
    _Collector,
    _open,
    _overlong,
    _parse_time,
)
from .times import _format_resolution, make_time_parser

__all__ = [
    "read_entra_signins",
    "read_jsonl",
]


def _dig(record: Any, path: str) -> Any:
    value = record
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _json_records(f: IO[str], limit: int) -> Iterator[tuple[int, str, Any]]:
    """(line, raw text, decoded record or an Exception) per JSON line (``_OVERLONG`` lines too)."""
    for n, raw in enumerate(_capped(f, limit), start=1):
        if raw is _OVERLONG:
            yield n, raw, ValueError("over-long line")
            continue
        if not raw.strip():
            yield n, raw, None
            continue
        try:
            yield n, raw, json.loads(raw)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than Python goes
            yield n, raw, exc


def _json_lines(col: _Collector, f: IO[str], first: int = 0) -> Iterator[tuple[int, str, Any]]:
    """(line number, raw text, record) per decodable JSON line, numbered after ``first`` lines.

    Counts lines and blank lines; a line that is not JSON is a problem.
    """
    for m, raw, record in _json_records(f, col.limit):
        n = first + m
        col.lines = n
        if record is None:
            col.ignore("blank line")
        elif raw is _OVERLONG:
            col.problem(n, _overlong(col.limit), "")
        elif isinstance(record, RecursionError):
            col.problem(n, "JSON nested too deeply", raw)
        elif isinstance(record, Exception):
            col.problem(n, "not valid JSON", raw)
        else:
            yield n, raw, record


def _from_record(
    col: _Collector,
    record: Any,
    n: int,
    raw: str,
    mapping: ColumnMapping,
    parse: Callable[[str], dt.datetime],
    service: str,
) -> None:
    if not isinstance(record, dict):
        col.problem(n, "not a JSON object", raw)
        return
    t = _dig(record, mapping.time)
    account = _dig(record, mapping.account)
    address = _dig(record, mapping.address)
    if t is None or isinstance(t, bool) or not isinstance(t, str | int | float):
        col.problem(n, f"no time ({mapping.time!r})", raw)
        return
    if not isinstance(account, str | int) or isinstance(account, bool):
        col.problem(n, f"no account ({mapping.account!r})", raw)
        return
    if not isinstance(address, str):
        col.problem(n, f"no address ({mapping.address!r})", raw)
        return
    when = _parse_time(col, parse, str(t), n, raw)
    if when is None:
        return
    svc = _dig(record, mapping.service) if mapping.service else None
    evt = _dig(record, mapping.event) if mapping.event else None
    col.add(
        when,
        str(account).strip(),
        address,
        str(svc).strip() if svc is not None else service,
        str(evt).strip() if evt is not None else "",
        n,
        raw,
    )


def read_jsonl(
    source: LogSource,
    mapping: ColumnMapping,
    *,
    time_format: str | None = None,
    tz: str | dt.tzinfo = "UTC",
    service: str = "",
    encoding: str = "utf-8",
    strict: bool = False,
    max_problems: int = 1000,
    resolution: int | None = None,
    max_line_chars: int = MAX_LINE_CHARS,
) -> LogRead:
    """Read JSON lines (one object per line); ``mapping`` names keys, dotted for nested objects.

    A time may be a string (``time_format``) or a number (then give ``time_format="epoch"``). A line
    that is not JSON, is nested deeper than Python's JSON decoder goes, or is longer than
    ``max_line_chars`` is one malformed line.
    """
    parse = make_time_parser(time_format, tz)
    with _open(source, encoding) as (f, name):
        col = _Collector("jsonl", name, strict, max_problems, encoding, max_line_chars)
        for n, raw, record in _json_lines(col, f):
            _from_record(col, record, n, raw, mapping, parse, service)
    return col.result(resolution if resolution is not None else _format_resolution(time_format))


_JSON_WS: Final = re.compile(r"[ \t\n\r]*")
#: a JSON string or a bracket: what the depth scan of a value too deep to decode looks at
_JSON_TOKEN: Final = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]|"')  # a lone quote: a string cut off
_DECODER: Final = json.JSONDecoder()


class _RecordTooLong(Exception):
    pass


class _JsonStream:
    """One JSON document read value by value from a text stream: the buffer holds the unread part
    of the current value only, at most ``limit`` characters (a longer value raises _RecordTooLong)."""

    def __init__(self, f: IO[str], head: str, limit: int) -> None:
        self.f = f
        self.buf = head
        self.pos = 0
        self.eof = False
        self.limit = limit

    def _more(self) -> bool:
        if self.eof:
            return False
        chunk = self.f.read(_SKIP_CHUNK)
        if not chunk:
            self.eof = True
            return False
        self.buf = self.buf[self.pos :] + chunk
        self.pos = 0
        return True

    def peek(self) -> str:
        """The next character that is not white space ("" at the end)."""
        while True:
            m = _JSON_WS.match(self.buf, self.pos)
            self.pos = m.end() if m else self.pos
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more():
                return ""

    def take(self, ch: str) -> None:
        if self.peek() != ch:
            raise ValueError(f"expected {ch!r}, found {self.peek()[:1]!r}")
        self.pos += 1

    def _check_length(self) -> None:
        if len(self.buf) - self.pos > self.limit:
            raise _RecordTooLong

    def value(self) -> tuple[str, Any]:
        """(raw text, decoded value) of the next value; the value is a RecursionError when it is
        nested deeper than the decoder goes (the value is skipped by a bracket count)."""
        self.peek()
        while True:
            try:
                obj, end = _DECODER.raw_decode(self.buf, self.pos)
            except RecursionError as exc:
                return self._skip(), exc
            except ValueError:
                self._check_length()
                if self._more():
                    continue
                raise
            if end == len(self.buf) and self.buf[self.pos] not in '{["' and self._more():
                continue  # a number or literal that may go on in the next piece
            raw = self.buf[self.pos : end]
            self.pos = end
            if len(raw) > self.limit:  # decoded whole because it came in one piece: still too long
                return raw[:_MAX_TEXT], _RecordTooLong()
            return raw, obj

    def _skip(self) -> str:
        while True:
            depth = 0
            for m in _JSON_TOKEN.finditer(self.buf, self.pos):
                tok = m.group()
                if tok == '"':  # a string that goes on in the next piece: read more, count again
                    break
                if tok in "[{":
                    depth += 1
                elif tok in "]}":
                    depth -= 1
                    if depth == 0:
                        raw = self.buf[self.pos : m.end()]
                        self.pos = m.end()
                        return raw
            self._check_length()
            if not self._more():
                raise ValueError("the document ends inside a value")


def read_entra_signins(
    source: LogSource,
    *,
    successful_only: bool = True,
    encoding: str = "utf-8-sig",
    strict: bool = False,
    max_problems: int = 1000,
    max_line_chars: int = MAX_LINE_CHARS,
) -> LogRead:
    """Read Microsoft Entra ID (Azure AD) sign-in logs exported as JSON.

    Accepts the portal's download (a JSON array), a Microsoft Graph response (``{"value": [...]}``)
    and JSON lines. Fields: ``createdDateTime`` (UTC), ``userPrincipalName`` (the account),
    ``ipAddress``, ``appDisplayName`` (the service); the event is ``sign-in success`` or
    ``sign-in failure <errorCode>`` from ``status.errorCode``. By default failed sign-ins are
    counted as not entries (``successful_only``): a failed attempt does not show where the account
    holder was. For an array, record numbers (1-based) stand in for line numbers.

    Both shapes stream: JSON lines line by line, an array or Graph response record by record
    (never the whole document in memory). A line or record longer than ``max_line_chars``
    characters, or nested deeper than Python's JSON decoder goes, is one malformed line or record
    (a record over the cap that does not arrive in one 64 KiB piece cannot be skipped safely:
    LogFormatError naming it).
    """
    mapping = ColumnMapping(
        time="createdDateTime", account="userPrincipalName", address="ipAddress", service="appDisplayName"
    )
    parse = make_time_parser(None, "UTC")

    def one(col: _Collector, record: Any, n: int, raw: str) -> None:
        if isinstance(record, dict):
            code = _dig(record, "status.errorCode")
            ok = code in (None, 0, "0")
            if successful_only and not ok:
                col.ignore("failed sign-in")
                return
            record = dict(record)
            record["__event"] = "sign-in success" if ok else f"sign-in failure {code}"
        _from_record(col, record, n, raw, attrs.evolve(mapping, event="__event"), parse, "entra")

    def records(col: _Collector, doc: _JsonStream) -> None:
        doc.take("[")
        if doc.peek() == "]":
            doc.take("]")
            return
        n = 0
        while True:
            n += 1
            col.lines = n
            try:
                raw, record = doc.value()
            except _RecordTooLong:
                raise LogFormatError(
                    f"{col.source}: record {n} is longer than {max_line_chars:,} characters (max_line_chars)"
                ) from None
            if isinstance(record, RecursionError):
                col.problem(n, "JSON nested too deeply", raw[:_MAX_TEXT])
            elif isinstance(record, _RecordTooLong):
                col.problem(n, _overlong(max_line_chars).replace("line", "record", 1), "")
            else:
                one(col, record, n, raw)
            if doc.peek() == ",":
                doc.take(",")
                continue
            doc.take("]")
            return

    def whole_document(col: _Collector, f: IO[str], head: str, *, rewind: int | None = None) -> LogRead:
        if rewind is not None:  # read again from the start: count replaced bytes once
            f.seek(rewind)
            col.counter[0] = 0
        col.ignored.clear()
        doc = _JsonStream(f, head, max_line_chars)
        try:
            if doc.peek() == "[":
                records(col, doc)
            elif doc.peek() == "{":
                doc.take("{")
                found = False
                while doc.peek() != "}":
                    _, key = doc.value()
                    if not isinstance(key, str):
                        raise ValueError("an object key is not a string")
                    doc.take(":")
                    if key == "value" and doc.peek() == "[":
                        records(col, doc)
                        found = True
                    else:
                        doc.value()
                    if doc.peek() == ",":
                        doc.take(",")
                doc.take("}")
                if not found:
                    raise ValueError("no 'value' array of sign-ins")
            else:
                raise ValueError("not a JSON array or object")
            if doc.peek() != "":
                raise ValueError("data after the end of the document")
        except LogFormatError:
            raise
        except _RecordTooLong:
            raise LogFormatError(
                f"{col.source}: a value longer than {max_line_chars:,} characters (max_line_chars)"
            ) from None
        except ValueError as exc:
            raise LogFormatError(
                f"{col.source}: not a readable JSON export of sign-ins (expected a JSON array of "
                f"sign-ins or {{'value': [...]}}): {str(exc)[:200]}"
            ) from None
        return col.result()

    with _open(source, encoding) as (f, name):
        col = _Collector("entra", name, strict, max_problems, encoding, max_line_chars)
        seekable = f.seekable()
        start = f.tell() if seekable else 0
        lines = _capped(f, max_line_chars)
        n = 0
        first = ""
        for first in lines:
            n += 1
            if first is _OVERLONG or first.strip():
                break
            col.ignore("blank line")
        if not first.strip():
            return col.result()
        if first is _OVERLONG:
            # one long line: a portal download is often a single-line array
            if not seekable:
                raise LogFormatError(f"{name}: line {n} is longer than {max_line_chars:,} characters")
            return whole_document(col, f, "", rewind=start)
        try:
            head: Any = json.loads(first)
        except (ValueError, RecursionError):
            head = None
        if not isinstance(head, dict) or "value" in head:
            # a JSON array (portal download) or one object spanning lines (Graph response)
            if seekable:
                return whole_document(col, f, "", rewind=start)
            return whole_document(col, f, first)
        col.lines = n
        one(col, head, n, first)
        for line, raw, record in _json_lines(col, f, first=n):
            one(col, record, line, raw)
        return col.result()
