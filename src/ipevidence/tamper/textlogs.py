"""Readers of line-oriented server logs: :func:`read_auth_log` (OpenSSH logins in a syslog
``auth.log``) and :func:`read_access_log` (Apache or Nginx access logs, combined or common format).

What every reader shares is :mod:`.reading`; :mod:`.readers` re-exports every name.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final

from ..errors import LogFormatError
from .reading import MAX_LINE_CHARS, LogRead, LogSource, _Collector, _open, _parse_time, _text_lines
from .times import _parse_iso, _zone

__all__ = [
    "read_access_log",
    "read_auth_log",
]

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
