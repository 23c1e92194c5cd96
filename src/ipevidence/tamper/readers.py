"""Streaming readers of the logs an investigator receives, into a :class:`~.model.LogTable`.

Every reader reads its source line by line (a path or an open text stream), never the whole file at
once (an Entra ID export written as one JSON array is read record by record), holding at most
``max_line_chars`` characters of a line or record, and returns a :class:`LogRead`: the table, how
many lines were read, every malformed line counted with its line number (the first ``max_problems``
also with the reason and the text), and the lines that are not entries by design (another program's
syslog line, an anonymous web request, a failed sign-in) counted by reason. Nothing is dropped
silently; a malformed line is fatal only with ``strict=True``, which raises
:class:`~ipevidence.errors.LogFormatError` naming the line.

Readers: :func:`read_csv` and :func:`read_jsonl` (generic, with a :class:`ColumnMapping`) and the
presets :func:`read_moodle`, :func:`read_auth_log`, :func:`read_access_log` and
:func:`read_entra_signins`.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import functools
import json
import os
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs
import numpy as np
import numpy.typing as npt

from .._safetext import plain
from ..errors import InvalidAddressError, LogFormatError
from ..jsonutil import canonical_json
from .model import LogTable, LogTableBuilder

__all__ = [
    "MAX_LINE_CHARS",
    "MOODLE_COLUMNS",
    "MOODLE_TIME_FORMAT",
    "ColumnMapping",
    "LogProblem",
    "LogRead",
    "LogSource",
    "make_time_parser",
    "read_access_log",
    "read_auth_log",
    "read_csv",
    "read_entra_signins",
    "read_jsonl",
    "read_moodle",
]

LogSource = str | os.PathLike[str] | IO[str]

MOODLE_COLUMNS: Final[tuple[str, ...]] = (
    "Time",
    "User full name",
    "Affected user",
    "Event context",
    "Component",
    "Event name",
    "Description",
    "Origin",
    "IP address",
)
#: Moodle's English ``strftimedatetimeshort``, which its log download uses (e.g. ``25/03/23, 14:05``).
MOODLE_TIME_FORMAT: Final = "%d/%m/%y, %H:%M"

_MAX_TEXT: Final = 200

#: default cap on one line (or one JSON-lines record) in characters, after decoding, line end
#: excluded. A longer line is read no further: it is one malformed line, counted with its number,
#: and the reader holds at most this many characters of it in memory (``max_line_chars=`` changes it).
MAX_LINE_CHARS: Final = 1 << 20
#: stands for an over-long line in the stream of lines (a noncharacter: no log line is made of it)
_OVERLONG: Final = "\ufffeipevidence-overlong-line\ufffe"
_SKIP_CHUNK: Final = 1 << 16
_ERRORS: Final = "ipevidence-count-replace"
_decoding = threading.local()


def _count_replace(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: replace undecodable bytes by U+FFFD, counting them for the reader."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    counter: list[int] | None = getattr(_decoding, "counter", None)
    if counter is not None:
        counter[0] += exc.end - exc.start
    return "\ufffd", exc.end


codecs.register_error(_ERRORS, _count_replace)


@attrs.frozen
class LogProblem:
    """A malformed line: where, why, and (shortened) what it said."""

    line: int
    reason: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "reason": self.reason, "text": self.text}

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}: {self.text!r}"


@attrs.frozen(eq=False)
class LogRead:
    """What a reader got from one source.

    ``lines`` is the number of lines (records for a JSON array) read; ``problem_count`` and
    ``problem_lines`` cover every malformed line, ``problems`` the first ``max_problems`` of them
    with reason and text; ``ignored`` counts, by reason, the lines that are not entries by design.
    """

    table: LogTable
    format: str
    source: str
    lines: int
    problem_count: int
    problem_lines: npt.NDArray[np.int64]
    problems: tuple[LogProblem, ...]
    problem_reasons: Mapping[str, int]
    ignored: Mapping[str, int]
    #: bytes that were not valid in ``encoding`` and became U+FFFD (0 for a text stream given by the
    #: caller, which arrives decoded); see the ``encoding=`` argument of every reader
    replaced_bytes: int = 0
    encoding: str = ""

    @property
    def entries(self) -> int:
        return len(self.table)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "source": self.source,
            "lines": self.lines,
            "entries": self.entries,
            "problem_count": self.problem_count,
            "problem_lines": [int(x) for x in self.problem_lines],
            "problems": [p.to_dict() for p in self.problems],
            "problem_reasons": dict(self.problem_reasons),
            "ignored": dict(self.ignored),
            "encoding": self.encoding,
            "replaced_bytes": self.replaced_bytes,
        }

    def to_json(self) -> str:
        return canonical_json(self.to_dict())

    def __str__(self) -> str:
        ign = sum(self.ignored.values())
        text = (
            f"{plain(self.source)} ({self.format}): {self.lines} lines, {self.entries} entries, "
            f"{self.problem_count} malformed, {ign} not entries"
        )
        if self.replaced_bytes:
            text += f", {self.replaced_bytes} bytes not valid {self.encoding} replaced by U+FFFD"
        if self.problem_count:
            shown = ", ".join(str(int(x)) for x in self.problem_lines[:10])
            more = " ..." if self.problem_count > 10 else ""
            text += f" (malformed lines: {shown}{more})"
        return text


@attrs.frozen
class ColumnMapping:
    """Which column (CSV header name) or key (JSON; dotted for nested objects) holds what.

    ``service`` and ``event`` are optional; without them the reader's ``service`` argument names
    the service of every entry and the event is empty.
    """

    time: str
    account: str
    address: str
    service: str | None = None
    event: str | None = None


# ------------------------------------------------------------------------------------------- time
def _zone(tz: str | dt.tzinfo) -> dt.tzinfo:
    if isinstance(tz, dt.tzinfo):
        return tz
    if tz.upper() in ("UTC", "Z"):
        return dt.timezone.utc
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {tz!r}: use an IANA name such as 'Europe/Prague'") from None


_ISO_FRACTION = re.compile(r"(\d{2}:\d{2}:\d{2})\.(\d+)")


def _parse_iso(text: str, zone: dt.tzinfo) -> dt.datetime:
    s = text.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    m = _ISO_FRACTION.search(s)
    if m:  # Python 3.10 takes 3 or 6 fraction digits only; Entra writes up to 7
        s = s[: m.start(2)] + (m.group(2) + "000000")[:6] + s[m.end(2) :]
    value = dt.datetime.fromisoformat(s)
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def make_time_parser(time_format: str | None, tz: str | dt.tzinfo = "UTC") -> Callable[[str], dt.datetime]:
    """A function from a log's time text to an aware datetime.

    ``time_format``: None or ``"iso"`` (ISO 8601, ``Z`` and up to 7 fraction digits accepted),
    ``"epoch"`` / ``"epoch_ms"`` (Unix seconds / milliseconds), or a :func:`time.strptime` format.
    A time without its own offset is read in ``tz`` (an IANA zone name or a tzinfo; at a daylight
    saving change an ambiguous local time is taken as the first of the two, ``fold=0``). Results
    are cached, since logs repeat the same time text (a minute-resolution export does so often).
    """
    return functools.lru_cache(maxsize=1 << 16)(_time_parser(time_format, _zone(tz)))


def _time_parser(time_format: str | None, zone: dt.tzinfo) -> Callable[[str], dt.datetime]:
    if time_format is None or time_format == "iso":
        return lambda text: _parse_iso(text, zone)
    if time_format in ("epoch", "epoch_ms"):
        div = 1000.0 if time_format == "epoch_ms" else 1.0

        def epoch(text: str) -> dt.datetime:
            return dt.datetime.fromtimestamp(float(text) / div, dt.timezone.utc).astimezone(zone)

        return epoch
    fmt = time_format

    def strp(text: str) -> dt.datetime:
        value = dt.datetime.strptime(text.strip(), fmt)
        return value if value.tzinfo is not None else value.replace(tzinfo=zone)

    return strp


def _format_resolution(time_format: str | None) -> int:
    if time_format is None or time_format in ("iso", "epoch", "epoch_ms"):
        return 1
    if "%S" in time_format or "%T" in time_format or "%c" in time_format or "%X" in time_format:
        return 1
    if "%M" in time_format or "%R" in time_format:
        return 60
    if "%H" in time_format or "%I" in time_format:
        return 3600
    return 86400


# --------------------------------------------------------------------------------------- plumbing
@contextmanager
def _open(source: LogSource, encoding: str) -> Iterator[tuple[IO[str], str]]:
    """The text stream of a source and its name; while it is open, bytes that are not valid in
    ``encoding`` become U+FFFD and are counted (:func:`_replaced_bytes`)."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise LogFormatError(
            f"unknown encoding {encoding!r}: use a Python codec name such as 'cp1252'"
        ) from None
    previous = getattr(_decoding, "counter", None)
    _decoding.counter = [0]
    try:
        if isinstance(source, str | os.PathLike):
            # a file name with bytes that are not UTF-8 comes back with lone surrogates: not printable
            name = _unicode(os.path.basename(os.fspath(source)))
            with open(source, encoding=encoding, errors=_ERRORS, newline="") as f:
                yield f, name
        else:
            yield source, str(getattr(source, "name", "<stream>"))
    finally:
        _decoding.counter = previous


def _capped(f: IO[str], limit: int) -> Iterator[str]:
    """The lines of ``f`` (with their line ends); a line longer than ``limit`` characters is read no
    further than ``limit + 1`` characters, skipped to its end in small pieces, and given as
    ``_OVERLONG``: memory holds at most ``limit`` characters of any line."""
    if limit < 1:
        raise ValueError(f"max_line_chars must be at least 1, not {limit!r}")
    while True:
        line = f.readline(limit + 1)
        if not line:
            return
        if len(line) > limit and not line.endswith(("\n", "\r")):
            while True:
                rest = f.readline(_SKIP_CHUNK)
                if not rest or rest.endswith(("\n", "\r")):
                    break
            yield _OVERLONG
            continue
        yield line


def _overlong(limit: int) -> str:
    return f"line longer than {limit:,} characters (not read; see max_line_chars)"


_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def _is_unicode(text: str) -> bool:
    """Can ``text`` be written as UTF-8 (no lone surrogate from a JSON ``\\udXXX`` escape)?"""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _unicode(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (a field the method does not use)."""
    return _SURROGATE.sub("\ufffd", text)


class _Collector:
    def __init__(
        self, fmt: str, source: str, strict: bool, max_problems: int, encoding: str = "", limit: int = 0
    ) -> None:
        self.fmt = fmt
        self.source = source
        self.encoding = encoding
        self.limit = limit or MAX_LINE_CHARS
        # the replaced-byte counter of the source being read (made by _open, which opens it first)
        self.counter: list[int] = getattr(_decoding, "counter", None) or [0]
        self.strict = strict
        self.max_problems = max_problems
        self.builder = LogTableBuilder()
        self.problem_lines: list[int] = []
        self.problems: list[LogProblem] = []
        self.reasons: Counter[str] = Counter()
        self.ignored: Counter[str] = Counter()
        self.lines = 0

    def problem(self, line: int, reason: str, text: str) -> None:
        short = text.rstrip("\r\n")
        short = short if len(short) <= _MAX_TEXT else short[: _MAX_TEXT - 3] + "..."
        if self.strict:
            raise LogFormatError(f"{self.source}, line {line}: {reason}: {short!r}")
        self.problem_lines.append(line)
        self.reasons[reason] += 1
        if len(self.problems) < self.max_problems:
            self.problems.append(LogProblem(line, reason, short))

    def ignore(self, reason: str) -> None:
        self.ignored[reason] += 1

    def add(
        self, when: dt.datetime, account: str, address: str, service: str, event: str, line: int, text: str
    ) -> None:
        if not account:
            self.problem(line, "empty account", text)
            return
        if not address.strip():
            self.problem(line, "empty address", text)
            return
        if not _is_unicode(account):
            # a JSON escape of half a surrogate pair ("\ud83d"): no account has that name, and
            # replacing it could merge two accounts; the line is malformed, the file goes on
            self.problem(line, "account is not valid Unicode (a lone surrogate escape)", text)
            return
        if not _is_unicode(service):
            service = _unicode(service)
        if not _is_unicode(event):
            event = _unicode(event)
        off = when.utcoffset()
        try:
            self.builder.add(
                int(when.timestamp() // 1),
                int(off.total_seconds()) if off is not None else 0,
                account,
                address,
                service,
                event,
                line,
                self.source,
            )
        except InvalidAddressError:
            self.problem(line, f"invalid IP address {address.strip()[:60]!r}", text)

    def result(self, resolution: int = 1) -> LogRead:
        replaced = self.counter[0]
        if replaced and self.strict:
            raise LogFormatError(
                f"{self.source}: {replaced} bytes are not valid {self.encoding}: give the file's encoding"
            )
        return LogRead(
            table=self.builder.build(resolution=resolution),
            format=self.fmt,
            source=self.source,
            lines=self.lines,
            problem_count=len(self.problem_lines),
            problem_lines=np.array(self.problem_lines, dtype=np.int64),
            problems=tuple(self.problems),
            problem_reasons=dict(sorted(self.reasons.items())),
            ignored=dict(sorted(self.ignored.items())),
            replaced_bytes=replaced,
            encoding=self.encoding,
        )


def _text_lines(col: _Collector, f: IO[str]) -> Iterator[tuple[int, str]]:
    """(line number, text without its line end) per non-blank line; counts lines and blank lines."""
    for n, raw in enumerate(_capped(f, col.limit), start=1):
        col.lines = n
        if raw is _OVERLONG:
            col.problem(n, _overlong(col.limit), "")
            continue
        text = raw.rstrip("\r\n")
        if not text.strip():
            col.ignore("blank line")
            continue
        yield n, text


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


def _parse_time(col: _Collector, parse: Callable[[str], dt.datetime], text: str, line: int, raw: str) -> Any:
    try:
        return parse(text)
    except (ValueError, OverflowError, OSError):
        col.problem(line, f"unreadable time {text.strip()[:40]!r}", raw)
        return None


# -------------------------------------------------------------------------------------------- CSV
def read_csv(
    source: LogSource,
    mapping: ColumnMapping,
    *,
    time_format: str | None = None,
    tz: str | dt.tzinfo = "UTC",
    service: str = "",
    delimiter: str = ",",
    encoding: str = "utf-8-sig",
    strict: bool = False,
    max_problems: int = 1000,
    resolution: int | None = None,
    max_line_chars: int = MAX_LINE_CHARS,
    _format: str = "csv",
    _skip: Callable[[dict[str, int], list[str]], str | None] | None = None,
) -> LogRead:
    """Read a CSV log with a header row; ``mapping`` names the header's columns.

    A row with the wrong number of fields, an unreadable time, an empty account or address, an
    address that is not an IP address, or a line longer than ``max_line_chars`` is a malformed
    line. ``resolution`` (seconds) defaults to what ``time_format`` can express (60 for a format
    without seconds). Bytes not valid in ``encoding`` become U+FFFD and are counted
    (``LogRead.replaced_bytes``; fatal with ``strict``).
    """
    zone_parse = make_time_parser(time_format, tz)
    with _open(source, encoding) as (f, name):
        col = _Collector(_format, name, strict, max_problems, encoding, max_line_chars)
        reader = csv.reader(_capped(f, max_line_chars), delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            return col.result()
        except csv.Error as exc:
            raise LogFormatError(f"{name}: unreadable CSV header: {exc}") from None
        if header == [_OVERLONG]:
            raise LogFormatError(f"{name}: the CSV header is longer than {max_line_chars:,} characters")
        col.lines = reader.line_num
        index = {h.strip().lstrip("\ufeff").strip(): i for i, h in enumerate(header)}
        wanted = {
            "time": mapping.time,
            "account": mapping.account,
            "address": mapping.address,
            "service": mapping.service,
            "event": mapping.event,
        }
        missing = [v for v in wanted.values() if v is not None and v not in index]
        if missing:
            raise LogFormatError(
                f"{name}: the header has no column {', '.join(map(repr, missing))} "
                f"(it has {', '.join(map(repr, index))})"
            )
        it, ia, iaddr = index[mapping.time], index[mapping.account], index[mapping.address]
        isvc = index[mapping.service] if mapping.service is not None else None
        ievt = index[mapping.event] if mapping.event is not None else None
        width = len(header)
        prev = reader.line_num
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                line = prev + 1
                prev = reader.line_num
                col.lines = reader.line_num
                col.problem(line, f"unreadable CSV ({exc})", "")
                continue
            line = prev + 1
            prev = reader.line_num
            col.lines = reader.line_num
            if row == [_OVERLONG]:
                col.problem(line, _overlong(max_line_chars), "")
                continue
            if not row or (len(row) == 1 and not row[0].strip()):
                col.ignore("blank line")
                continue
            raw = delimiter.join(row)
            if len(row) != width:
                col.problem(line, f"expected {width} fields, found {len(row)}", raw)
                continue
            if _skip is not None:
                why = _skip(index, row)
                if why is not None:
                    col.ignore(why)
                    continue
            when = _parse_time(col, zone_parse, row[it], line, raw)
            if when is None:
                continue
            col.add(
                when,
                row[ia].strip(),
                row[iaddr],
                row[isvc].strip() if isvc is not None else service,
                row[ievt].strip() if ievt is not None else "",
                line,
                raw,
            )
    return col.result(resolution if resolution is not None else _format_resolution(time_format))


def read_moodle(
    source: LogSource,
    *,
    time_format: str = MOODLE_TIME_FORMAT,
    tz: str | dt.tzinfo = "UTC",
    service: str = "moodle",
    account_column: str = "User full name",
    encoding: str = "utf-8-sig",
    strict: bool = False,
    max_problems: int = 1000,
    max_line_chars: int = MAX_LINE_CHARS,
) -> LogRead:
    """Read a Moodle log export (Site administration > Reports > Logs > Download, CSV).

    Header ``Time, User full name, Affected user, Event context, Component, Event name,
    Description, Origin, IP address``. The time is written in the site's locale
    (``time_format``, default English ``%d/%m/%y, %H:%M``) and in the time zone of the user who
    downloaded it (``tz``, default UTC: give the real one). The account is the user's full name
    (``account_column``), the event is the event name. Entries without an IP address whose origin
    is ``cli`` or ``restore`` (scheduled tasks, course restores) are counted as not entries; an
    empty address on a web or web-service entry is a malformed line.
    """

    def skip(index: dict[str, int], row: list[str]) -> str | None:
        origin = row[index["Origin"]].strip().lower() if "Origin" in index else ""
        if not row[index["IP address"]].strip() and origin in ("cli", "restore"):
            return f"no IP address (origin {origin})"
        return None

    return read_csv(
        source,
        ColumnMapping(time="Time", account=account_column, address="IP address", event="Event name"),
        time_format=time_format,
        tz=tz,
        service=service,
        encoding=encoding,
        strict=strict,
        max_problems=max_problems,
        max_line_chars=max_line_chars,
        _format="moodle",
        _skip=skip,
    )


# ------------------------------------------------------------------------------------------- JSON
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


# --------------------------------------------------------------------------------------- auth.log
_MONTHS: Final = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}
_SYSLOG = re.compile(
    r"^(?:(?P<bsd>(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<hms>\d{2}:\d{2}:\d{2}))"
    r"|(?P<iso>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?))"
    r"\s+(?P<host>\S+)\s+(?P<prog>[^:\[\s]+)(?:\[\d+\])?:\s?(?P<msg>.*)$"
)
_ACCEPTED = re.compile(
    r"^Accepted (?P<method>[\w-]+(?:/[\w-]+)?) for (?P<user>.+?) from (?P<addr>\S+) port (?P<port>\d+)\b"
)


def read_auth_log(
    source: LogSource,
    *,
    year: int | None = None,
    tz: str | dt.tzinfo = "UTC",
    service: str = "ssh",
    encoding: str = "utf-8",
    strict: bool = False,
    max_problems: int = 1000,
    max_line_chars: int = MAX_LINE_CHARS,
) -> LogRead:
    """Read OpenSSH logins from a syslog ``auth.log`` (or ``secure``).

    An entry is an ``sshd`` line "Accepted password|publickey|... for USER from ADDRESS port N".
    Other programs' lines and other sshd messages are counted as not entries; a line that is not
    syslog at all, or an sshd "Accepted" line that does not parse, is malformed. Traditional syslog
    timestamps (``Mar  5 14:02:11``) carry neither year nor zone: ``year`` is the year of the first
    line (required for such logs; the year advances when the month goes back, December to
    January) and ``tz`` the server's zone. RFC 3339 timestamps (rsyslog's high-precision format)
    carry both and need neither.
    """
    zone = _zone(tz)
    with _open(source, encoding) as (f, name):
        col = _Collector("auth.log", name, strict, max_problems, encoding, max_line_chars)
        cur_year = year
        last_month = 0
        for n, text in _text_lines(col, f):
            m = _SYSLOG.match(text)
            if m is None:
                col.problem(n, "not a syslog line", text)
                continue
            msg = m.group("msg")
            if m.group("prog") != "sshd" or not msg.startswith("Accepted "):
                col.ignore("not an sshd login")
                continue
            a = _ACCEPTED.match(msg)
            if a is None:
                col.problem(n, "unreadable sshd Accepted line", text)
                continue
            if m.group("iso"):
                when = _parse_time(col, lambda s: _parse_iso(s, zone), m.group("iso"), n, text)
            else:
                if cur_year is None:
                    raise LogFormatError(
                        f"{name}, line {n}: syslog timestamps have no year: give read_auth_log(year=...)"
                    )
                month = _MONTHS.get(m.group("mon"), 0)
                if month == 0:
                    col.problem(n, f"unknown month {m.group('mon')!r}", text)
                    continue
                if last_month and month < last_month - 6:
                    cur_year += 1
                last_month = month
                try:
                    h, mi, s = (int(x) for x in m.group("hms").split(":"))
                    when = dt.datetime(cur_year, month, int(m.group("day")), h, mi, s, tzinfo=zone)
                except ValueError:
                    col.problem(n, "impossible date", text)
                    continue
            if when is None:
                continue
            col.add(when, a.group("user"), a.group("addr"), service, f"accepted {a.group('method')}", n, text)
    return col.result()


# ------------------------------------------------------------------------------------ access logs
_COMBINED = re.compile(
    r'^(?P<host>\S+) (?P<ident>\S+) (?P<user>\S+|"[^"]*") \[(?P<time>[^\]]+)\] '
    r'"(?P<request>(?:[^"\\]|\\.)*)" (?P<status>\d{3}|-) (?P<size>\d+|-)'
    r'(?: "(?P<referer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)")?'
)
_CLF_TIME = re.compile(
    r"^(?P<d>\d{2})/(?P<mon>[A-Z][a-z]{2})/(?P<y>\d{4}):(?P<h>\d{2}):(?P<mi>\d{2}):(?P<s>\d{2}) "
    r"(?P<sign>[+-])(?P<oh>\d{2})(?P<om>\d{2})$"
)


def _clf_time(text: str) -> dt.datetime:
    m = _CLF_TIME.match(text)
    if m is None or m.group("mon") not in _MONTHS:
        raise ValueError(text)
    off = dt.timedelta(hours=int(m.group("oh")), minutes=int(m.group("om")))
    tz = dt.timezone(-off if m.group("sign") == "-" else off)
    return dt.datetime(
        int(m.group("y")),
        _MONTHS[m.group("mon")],
        int(m.group("d")),
        int(m.group("h")),
        int(m.group("mi")),
        int(m.group("s")),
        tzinfo=tz,
    )


def read_access_log(
    source: LogSource,
    *,
    service: str = "web",
    encoding: str = "utf-8",
    strict: bool = False,
    max_problems: int = 1000,
    max_line_chars: int = MAX_LINE_CHARS,
) -> LogRead:
    """Read an Apache or Nginx access log in the combined (or common) log format.

    ``%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"``: the account is the authenticated
    user ``%u``; requests without one (``-``) are counted as not entries, since an anonymous request
    belongs to no account. The event is the request's method and path (query dropped) and status.
    """
    with _open(source, encoding) as (f, name):
        col = _Collector("access.log", name, strict, max_problems, encoding, max_line_chars)
        for n, text in _text_lines(col, f):
            m = _COMBINED.match(text)
            if m is None:
                col.problem(n, "not a combined/common log line", text)
                continue
            user = m.group("user").strip('"')
            if user in ("-", ""):
                col.ignore("anonymous request (no authenticated user)")
                continue
            when = _parse_time(col, _clf_time, m.group("time"), n, text)
            if when is None:
                continue
            parts = m.group("request").split(" ")
            if len(parts) >= 2:
                event = f"{parts[0]} {parts[1].split('?', 1)[0]} {m.group('status')}"
            else:
                event = f"{m.group('request')[:40]} {m.group('status')}"
            col.add(when, user, m.group("host"), service, event, n, text)
    return col.result()
