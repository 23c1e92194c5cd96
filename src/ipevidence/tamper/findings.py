"""The records an analysis produces: located entries, findings, evidence windows."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, Literal

import attrs

from .._safetext import plain
from ..countries import country_name
from ..errors import UnknownCountryError
from .model import LogEntry

__all__ = [
    "AccountWindow",
    "CrossServiceInconsistency",
    "Finding",
    "HostingAddress",
    "ImpossibleTravel",
    "LocatedEntry",
    "NonPublicAddress",
    "WindowStatus",
]

WindowStatus = Literal["stands", "void", "no evidence"]


def _name(code: str | None) -> str:
    if code is None:
        return "not located"
    try:
        return f"{country_name(code)} ({code})"
    except UnknownCountryError:
        return code


def _hours(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


@attrs.frozen
class LocatedEntry:
    """A log entry with where the database put it.

    ``country`` is None when not located; ``database`` is the database's file name (None when no
    database covers the address family or the address is not public); ``database_after`` is True
    when the database was built AFTER the entry because none was built before it (flagged);
    ``asn`` is the origin AS (None unknown); ``network`` names the cloud, hosting, VPN or private
    network the address is in (None when none).
    """

    entry: LogEntry
    country: str | None
    database: str | None = None
    database_after: bool = False
    asn: int | None = None
    network: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = self.entry.to_dict()
        d.update(
            country=self.country,
            database=self.database,
            database_after=self.database_after,
            asn=self.asn,
            network=self.network,
        )
        return d

    def __str__(self) -> str:
        extra = []
        if self.network:
            extra.append(self.network)
        if self.database_after:
            extra.append("database built after the entry")
        tail = f" [{'; '.join(extra)}]" if extra else ""
        return plain(f"{self.entry} -> {_name(self.country)}{tail}")


@attrs.frozen
class Finding:
    """Base of every finding: an id (``F1``...), the account and the entries involved."""

    kind: ClassVar[str] = "finding"

    id: str
    account: str
    entries: tuple[LocatedEntry, ...]

    @property
    def start(self) -> dt.datetime:
        return min(e.entry.timestamp for e in self.entries)

    @property
    def end(self) -> dt.datetime:
        return max(e.entry.timestamp for e in self.entries)

    @property
    def lines(self) -> tuple[int, ...]:
        return tuple(e.entry.line for e in self.entries)

    @property
    def _entry_count(self) -> str:
        """``"1 entry"`` or ``"N entries"``, for explanations."""
        n = len(self.entries)
        return f"{n} {'entry' if n == 1 else 'entries'}"

    @property
    def explanation(self) -> str:
        raise NotImplementedError

    def _figures(self) -> dict[str, Any]:
        return {}

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "account": self.account,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "figures": self._figures(),
            "explanation": self.explanation,
            "entries": [e.to_dict() for e in self.entries],
        }

    def __str__(self) -> str:
        return plain(f"{self.id} {self.kind} ({self.account}): {self.explanation}")


@attrs.frozen
class ImpossibleTravel(Finding):
    """Two consecutive located entries of one account too far apart for the time between them."""

    kind: ClassVar[str] = "impossible_travel"

    distance_km: float
    elapsed_s: int
    max_speed_kmh: float
    distance_margin_km: float = 0.0
    distance_territory: str = "all"
    """``"main"`` when ``distance_km`` is measured between main territories (overseas parts left out)."""
    whole_country_km: float | None = None
    """With ``distance_territory="main"``: the distance between the whole countries, overseas parts
    included (0 for France and Brazil, neighbours through French Guiana)."""

    @property
    def required_speed_kmh(self) -> float:
        return float("inf") if self.elapsed_s <= 0 else self.distance_km / (self.elapsed_s / 3600.0)

    @property
    def explanation(self) -> str:
        a, b = self.entries[0], self.entries[-1]
        reach = self.max_speed_kmh * self.elapsed_s / 3600.0
        margin = (
            f" (at least {self.distance_km - self.distance_margin_km:,.0f} km after allowing "
            f"{self.distance_margin_km:g} km for the distance table's error)"
            if self.distance_margin_km
            else ""
        )
        return (
            f"Account {self.account!r} was placed in {_name(a.country)} at {a.entry.timestamp.isoformat()} "
            f"(line {a.entry.line}) and in {_name(b.country)} at {b.entry.timestamp.isoformat()} "
            f"(line {b.entry.line}), at most {_hours(self.elapsed_s)} later. The shortest border-to-border "
            f"distance between the two countries is {self.distance_km:,.0f} km{margin}, but at "
            f"{self.max_speed_kmh:,.0f} km/h only {reach:,.0f} km can be covered in that time. One device "
            f"cannot have been in both places: at least one location is not where the account holder was "
            f"(VPN or proxy, or the credentials used by someone else).{self._territory_note()}"
        )

    def _territory_note(self) -> str:
        if self.distance_territory != "main":
            return ""
        note = (
            " The distance is measured between the two countries' main territories (distance territory "
            "'main'): overseas parts and distant exclaves are left out."
        )
        if self.whole_country_km is None:
            return note
        note += (
            f" Between the whole countries, overseas parts included, the distance is "
            f"{self.whole_country_km:,.0f} km"
        )
        reach = self.max_speed_kmh * self.elapsed_s / 3600.0
        if self.whole_country_km - self.distance_margin_km <= reach:
            return note + (
                ": this finding rests on leaving the overseas parts out; had either entry been in an "
                "overseas part or exclave (coded with its sovereign's code), the travel would be possible."
            )
        return note + "."

    def _figures(self) -> dict[str, Any]:
        return {
            "countries": [self.entries[0].country, self.entries[-1].country],
            "distance_km": round(self.distance_km, 3),
            "distance_margin_km": self.distance_margin_km,
            "distance_territory": self.distance_territory,
            "elapsed_s": self.elapsed_s,
            "max_speed_kmh": self.max_speed_kmh,
            "reachable_km": round(self.max_speed_kmh * self.elapsed_s / 3600.0, 3),
            "required_speed_kmh": None if self.elapsed_s <= 0 else round(self.required_speed_kmh, 3),
            "whole_country_km": None if self.whole_country_km is None else round(self.whole_country_km, 3),
        }


@attrs.frozen
class CrossServiceInconsistency(Finding):
    """One account seen in different countries on different services within the window."""

    kind: ClassVar[str] = "cross_service"

    window_s: int

    @property
    def countries(self) -> tuple[str, ...]:
        return tuple(sorted({e.country for e in self.entries if e.country}))

    @property
    def services(self) -> tuple[str, ...]:
        return tuple(sorted({e.entry.service for e in self.entries}))

    @property
    def explanation(self) -> str:
        parts = ", ".join(
            f"{e.entry.service or '(no service)'} from {e.country} at {e.entry.timestamp.isoformat()} "
            f"(line {e.entry.line})"
            for e in self.entries
        )
        span = (self.end - self.start).total_seconds()
        return (
            f"Account {self.account!r} was used on different services from different countries "
            f"({', '.join(_name(c) for c in self.countries)}) within {_hours(span)} "
            f"(window {_hours(self.window_s)}): {parts}. The same credentials were in use in two places "
            f"at once: shared credentials, or one of the services was reached through a relay."
        )

    def _figures(self) -> dict[str, Any]:
        return {
            "countries": list(self.countries),
            "services": list(self.services),
            "span_s": int((self.end - self.start).total_seconds()),
            "window_s": self.window_s,
        }


@attrs.frozen
class HostingAddress(Finding):
    """Entries from an address in a cloud, hosting or VPN network."""

    kind: ClassVar[str] = "hosting_address"

    address: str
    network: str

    @property
    def explanation(self) -> str:
        first = self.entries[0]
        return (
            f"Account {self.account!r} used address {self.address} ({self.network}) in "
            f"{self._entry_count} from "
            f"{self.start.isoformat()} to {self.end.isoformat()} (first at line {first.entry.line}). "
            f"A cloud, hosting or VPN address is located where the server stands, not where the user "
            f"is: its country ({_name(first.country)}) is no evidence of the user's location."
        )

    def _figures(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "network": self.network,
            "asn": self.entries[0].asn,
            "country": self.entries[0].country,
            "entries": len(self.entries),
        }


@attrs.frozen
class NonPublicAddress(Finding):
    """Entries whose address is private or reserved where the log should hold public addresses."""

    kind: ClassVar[str] = "non_public_address"

    address: str
    reason: str

    @property
    def explanation(self) -> str:
        return (
            f"Account {self.account!r} has {self._entry_count} "
            f"from {self.address}, a {self.reason} address that is not globally routable (first at line "
            f"{self.entries[0].entry.line}). A public service should log the public address of its "
            f"client: an internal address means a proxy, a NAT inside the service, or an edited log, and "
            f"it cannot be geolocated."
        )

    def _figures(self) -> dict[str, Any]:
        return {"address": self.address, "reason": self.reason, "entries": len(self.entries)}


@attrs.frozen
class AccountWindow:
    """One evidence window of one account: does its country location evidence stand?

    ``status`` is ``stands`` (located entries and no finding), ``void`` (a finding touches an
    entry of the window; ``findings`` names them and ``reasons`` says why), or ``no evidence`` (no
    entry of the window could be located).
    """

    account: str
    start: dt.datetime
    end: dt.datetime
    entries: int
    located: int
    countries: tuple[str, ...]
    status: WindowStatus
    findings: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "entries": self.entries,
            "located": self.located,
            "countries": list(self.countries),
            "status": self.status,
            "findings": list(self.findings),
            "reasons": list(self.reasons),
            "notes": list(self.notes),
        }

    def __str__(self) -> str:
        where = ", ".join(self.countries) or "-"
        text = (
            f"{plain(self.account)} {self.start.isoformat()} to {self.end.isoformat()}: {self.status} "
            f"({self.entries} entries, {self.located} located; {where})"
        )
        if self.reasons:
            text += ": " + plain("; ".join(self.reasons))
        return text
