"""Log entries: one frozen :class:`LogEntry` for people, a columnar :class:`LogTable` for bulk work.

A :class:`LogTable` holds N entries as numpy columns of equal length:

* ``time`` ``int64``: seconds since the Unix epoch, UTC (sub-second parts are truncated);
* ``utc_offset`` ``int32``: the entry's own UTC offset in seconds, so the local time the log showed
  can be given back;
* ``account``, ``service``, ``event``, ``source`` ``int32``: codes into the tuples ``accounts``,
  ``services``, ``events`` and ``sources`` (file names);
* ``family`` ``uint8`` (4 or 6); ``ipv4`` ``uint32`` (0 where the entry is IPv6); ``ipv6`` ``S16``
  (zeros where the entry is IPv4), the library's address columns (:mod:`ipevidence.addresses`);
* ``line`` ``int64``: the 1-based line (or record) number in the source.

``resolution`` is the precision of the source's timestamps in seconds (60 for a log that writes
minutes only, such as the Moodle export): the analysis adds it to every elapsed time, so that a
coarse clock can never make travel look faster than it was.

IPv4-mapped IPv6 addresses (``::ffff:192.0.2.1``, common in logs of dual-stack servers) are stored
as the IPv4 address they map.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final

import attrs
import numpy as np
import numpy.typing as npt

from .._safetext import plain
from ..addresses import IPV4_DTYPE, IPV6_DTYPE, format_ipv4, format_ipv6
from ..errors import InvalidAddressError

__all__ = ["LogEntry", "LogTable", "LogTableBuilder", "parse_log_address"]

_V4_MAPPED_PREFIX: Final = bytes(10) + b"\xff\xff"
_ZERO16: Final = bytes(16)


def parse_log_address(text: str) -> tuple[int, int, bytes]:
    """Parse an address as logs write it: ``(family, ipv4 value, 16 IPv6 bytes)``.

    Accepts surrounding blanks, ``[brackets]`` around IPv6, an IPv6 zone (``%eth0``, dropped) and
    IPv4-mapped IPv6 (returned as IPv4). Raises :class:`InvalidAddressError` for anything else.
    """
    s = text.strip()
    if s.startswith("[") and s.endswith("]"):
        s = s[1:-1]
    try:
        return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, s), "big"), _ZERO16
    except OSError:
        pass
    if "%" in s:
        s = s.split("%", 1)[0]
    try:
        raw = socket.inet_pton(socket.AF_INET6, s)
    except (OSError, ValueError):
        raise InvalidAddressError(text) from None
    if raw.startswith(_V4_MAPPED_PREFIX):
        return 4, int.from_bytes(raw[12:], "big"), _ZERO16
    return 6, 0, raw


def _utc_offset_seconds(value: dt.datetime) -> int:
    off = value.utcoffset()
    if off is None:
        raise ValueError("a log timestamp must carry a time zone")
    return int(off.total_seconds())


def _aware(value: dt.datetime) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"a log timestamp must be a time-zone-aware datetime, not {value!r}")
    return value


def _canonical_address(value: str) -> str:
    fam, v4, v6 = parse_log_address(value)
    if fam == 4:
        return str(ipaddress.IPv4Address(v4))
    return str(ipaddress.IPv6Address(v6))


@attrs.frozen
class LogEntry:
    """One log entry: when (time-zone aware), who (account), from where (address), on what.

    ``address`` is normalised to its canonical text on construction (an invalid one raises
    :class:`~ipevidence.errors.InvalidAddressError`); ``line`` is the 1-based line or record number
    in ``source`` (0 when the entry was made by hand).
    """

    timestamp: dt.datetime = attrs.field(converter=_aware)
    account: str
    address: str = attrs.field(converter=_canonical_address)
    service: str = ""
    event: str = ""
    line: int = 0
    source: str = ""

    @property
    def family(self) -> int:
        return 6 if ":" in self.address else 4

    def to_dict(self) -> dict[str, Any]:
        return {
            "timestamp": self.timestamp.isoformat(),
            "account": self.account,
            "address": self.address,
            "service": self.service,
            "event": self.event,
            "line": self.line,
            "source": self.source,
        }

    def __str__(self) -> str:
        where = (
            f" ({self.source}:{self.line})" if self.source else (f" (line {self.line})" if self.line else "")
        )
        what = " ".join(x for x in (self.service, self.event) if x)
        return plain(
            f"{self.timestamp.isoformat()} {self.account} from {self.address}"
            + (f" [{what}]" if what else "")
            + where
        )


def _codes(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(values)


#: the per-row columns of a :class:`LogTable` (the code tables and resolution are per table)
_ROW_COLUMNS: Final[tuple[str, ...]] = (
    "time",
    "utc_offset",
    "account",
    "family",
    "ipv4",
    "ipv6",
    "service",
    "event",
    "line",
    "source",
)


@attrs.frozen(eq=False)
class LogTable:
    """N log entries as numpy columns (see the module documentation for the layout)."""

    time: npt.NDArray[np.int64]
    utc_offset: npt.NDArray[np.int32]
    account: npt.NDArray[np.int32]
    family: npt.NDArray[np.uint8]
    ipv4: npt.NDArray[np.uint32]
    ipv6: npt.NDArray[np.bytes_]
    service: npt.NDArray[np.int32]
    event: npt.NDArray[np.int32]
    line: npt.NDArray[np.int64]
    source: npt.NDArray[np.int32]
    accounts: tuple[str, ...] = attrs.field(converter=_codes)
    services: tuple[str, ...] = attrs.field(converter=_codes)
    events: tuple[str, ...] = attrs.field(converter=_codes)
    sources: tuple[str, ...] = attrs.field(converter=_codes)
    resolution: int = 1

    def __attrs_post_init__(self) -> None:
        n = len(self.time)
        for name in _ROW_COLUMNS:
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"LogTable column {name!r} has {len(getattr(self, name))} rows, expected {n}"
                )
        if self.ipv6.dtype != IPV6_DTYPE or self.ipv4.dtype != IPV4_DTYPE:
            raise ValueError("LogTable address columns must be uint32 (IPv4) and S16 (IPv6)")
        for col, names, label in (
            (self.account, self.accounts, "account"),
            (self.service, self.services, "service"),
            (self.event, self.events, "event"),
            (self.source, self.sources, "source"),
        ):
            if n and (int(col.min()) < 0 or int(col.max()) >= len(names)):
                raise ValueError(f"LogTable {label} codes outside 0..{len(names) - 1}")
        if self.resolution < 1:
            raise ValueError("LogTable resolution must be at least 1 second")
        if n and not np.all((self.family == 4) | (self.family == 6)):
            raise ValueError("LogTable family must be 4 or 6 on every row")

    # ----------------------------------------------------------------------------------- building
    @classmethod
    def empty(cls) -> LogTable:
        return LogTableBuilder().build()

    @classmethod
    def from_entries(cls, entries: Iterable[LogEntry]) -> LogTable:
        """A table of :class:`LogEntry` objects (for small, hand-made logs)."""
        b = LogTableBuilder()
        for e in entries:
            b.add(
                int(e.timestamp.timestamp() // 1),
                _utc_offset_seconds(e.timestamp),
                e.account,
                e.address,
                e.service,
                e.event,
                e.line,
                e.source,
            )
        return b.build()

    @classmethod
    def concat(cls, tables: Sequence[LogTable]) -> LogTable:
        """One table of several (code tables merged; rows in the order given)."""
        if not tables:
            return cls.empty()

        def merge(attr: str, names_attr: str) -> tuple[npt.NDArray[np.int32], tuple[str, ...]]:
            names: dict[str, int] = {}
            parts = []
            for t in tables:
                own: tuple[str, ...] = getattr(t, names_attr)
                remap = np.array([names.setdefault(x, len(names)) for x in own], dtype=np.int32)
                col = getattr(t, attr)
                parts.append(remap[col] if len(own) else np.zeros(0, np.int32))
            return np.concatenate(parts).astype(np.int32), tuple(names)

        acc, accounts = merge("account", "accounts")
        svc, services = merge("service", "services")
        evt, events = merge("event", "events")
        src, sources = merge("source", "sources")
        return cls(
            resolution=max(t.resolution for t in tables),
            time=np.concatenate([t.time for t in tables]),
            utc_offset=np.concatenate([t.utc_offset for t in tables]),
            account=acc,
            family=np.concatenate([t.family for t in tables]),
            ipv4=np.concatenate([t.ipv4 for t in tables]),
            ipv6=np.concatenate([t.ipv6 for t in tables]),
            service=svc,
            event=evt,
            line=np.concatenate([t.line for t in tables]),
            source=src,
            accounts=accounts,
            services=services,
            events=events,
            sources=sources,
        )

    def take(self, index: npt.ArrayLike) -> LogTable:
        """The rows at ``index`` (an integer or boolean array), code tables kept."""
        idx = np.asarray(index)
        return attrs.evolve(self, **{name: getattr(self, name)[idx] for name in _ROW_COLUMNS})

    # ----------------------------------------------------------------------------------- reading
    def __len__(self) -> int:
        return len(self.time)

    @property
    def times(self) -> npt.NDArray[np.datetime64]:
        """``time`` as ``datetime64[s]`` (UTC)."""
        return self.time.astype("datetime64[s]")

    def account_code(self, account: str) -> int:
        """The code of an account name; KeyError if the table has no such account."""
        try:
            return self.accounts.index(account)
        except ValueError:
            raise KeyError(account) from None

    def address_text(self, i: int) -> str:
        if int(self.family[i]) == 4:
            return format_ipv4(self.ipv4[i : i + 1])[0]
        return format_ipv6(self.ipv6[i : i + 1])[0]

    def entry(self, i: int) -> LogEntry:
        """Row ``i`` as a :class:`LogEntry` (in the entry's own UTC offset)."""
        tz = dt.timezone(dt.timedelta(seconds=int(self.utc_offset[i])))
        ts = dt.datetime.fromtimestamp(int(self.time[i]), tz)
        return LogEntry(
            timestamp=ts,
            account=self.accounts[int(self.account[i])],
            address=self.address_text(i),
            service=self.services[int(self.service[i])],
            event=self.events[int(self.event[i])],
            line=int(self.line[i]),
            source=self.sources[int(self.source[i])],
        )

    def __iter__(self) -> Iterator[LogEntry]:
        for i in range(len(self)):
            yield self.entry(i)

    def __repr__(self) -> str:
        return (
            f"LogTable({len(self)} entries, {len(self.accounts)} accounts, "
            f"{len(self.services)} services, sources={list(self.sources)!r})"
        )


class LogTableBuilder:
    """Collects entries row by row (readers use it) and builds a :class:`LogTable` at the end."""

    def __init__(self) -> None:
        self._time: list[int] = []
        self._offset: list[int] = []
        self._account: list[int] = []
        self._family: list[int] = []
        self._v4: list[int] = []
        self._v6 = bytearray()
        self._service: list[int] = []
        self._event: list[int] = []
        self._line: list[int] = []
        self._source: list[int] = []
        self._accounts: dict[str, int] = {}
        self._services: dict[str, int] = {}
        self._events: dict[str, int] = {}
        self._sources: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._time)

    def add(
        self,
        epoch: int,
        utc_offset: int,
        account: str,
        address: str,
        service: str = "",
        event: str = "",
        line: int = 0,
        source: str = "",
    ) -> None:
        """Add one row. Raises :class:`InvalidAddressError` (and adds nothing) for a bad address."""
        fam, v4, v6 = parse_log_address(address)
        self._time.append(int(epoch))
        self._offset.append(int(utc_offset))
        self._account.append(self._accounts.setdefault(account, len(self._accounts)))
        self._family.append(fam)
        self._v4.append(v4)
        self._v6 += v6
        self._service.append(self._services.setdefault(service, len(self._services)))
        self._event.append(self._events.setdefault(event, len(self._events)))
        self._line.append(int(line))
        self._source.append(self._sources.setdefault(source, len(self._sources)))

    def build(self, *, resolution: int = 1) -> LogTable:
        return LogTable(
            resolution=resolution,
            time=np.array(self._time, dtype=np.int64),
            utc_offset=np.array(self._offset, dtype=np.int32),
            account=np.array(self._account, dtype=np.int32),
            family=np.array(self._family, dtype=np.uint8),
            ipv4=np.array(self._v4, dtype=IPV4_DTYPE),
            ipv6=np.frombuffer(bytes(self._v6), dtype=IPV6_DTYPE).copy(),
            service=np.array(self._service, dtype=np.int32),
            event=np.array(self._event, dtype=np.int32),
            line=np.array(self._line, dtype=np.int64),
            source=np.array(self._source, dtype=np.int32),
            accounts=tuple(self._accounts),
            services=tuple(self._services),
            events=tuple(self._events),
            sources=tuple(self._sources),
        )
