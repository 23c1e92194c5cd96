"""Times of log lines: from a log's time text to an aware datetime (used by every reader, and by
the ``ipevidence triage`` case lists, :mod:`ipevidence.triage.read`).

:func:`make_time_parser` (ISO 8601 with ``Z`` and up to 7 fraction digits, Unix seconds or
milliseconds, or a strptime format; a time without an offset is in the given zone), the zone
lookup ``_zone`` and the resolution a time format can express (``_format_resolution``).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["make_time_parser"]


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
