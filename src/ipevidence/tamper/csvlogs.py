"""Readers of CSV logs: :func:`read_csv` (generic, with a :class:`~.reading.ColumnMapping`) and
:func:`read_moodle` (a Moodle log export, a preset of :func:`read_csv`).

What every reader shares is :mod:`.reading`; :mod:`.readers` re-exports every name.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from typing import Final

from ..errors import LogFormatError
from .reading import (
    _OVERLONG,
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
    "MOODLE_COLUMNS",
    "MOODLE_TIME_FORMAT",
    "read_csv",
    "read_moodle",
]

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
