"""The database shipped with ipevidence, its attribution, and the date-gap warning.

ipevidence ships the real IP2Location LITE DB1 (IPv4 country, CC BY-SA 4.0) so that ``assess``
and ``demo`` work offline out of the box. Every command also takes ``--database`` for a user's own
(newer, commercial, or other vendor's) file. The shipped file is one build: when evidence is dated
far from that build, a newer database of the right vintage should be used, and
:func:`database_date_warning` says so.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import DatabaseFormatError

__all__ = [
    "DATABASE_ATTRIBUTION",
    "DATABASE_LICENCE",
    "DBIP_ATTRIBUTION",
    "MAX_DATABASE_GAP_DAYS",
    "SHIPPED_DATABASE_NAME",
    "attribution_for",
    "database_date_warning",
    "default_database_path",
    "ip2location_bin_build_date",
    "is_shipped_database",
    "shipped_database_build_date",
]

#: file name of the shipped database inside the package's ``data/`` folder
SHIPPED_DATABASE_NAME = "IP2LOCATION-LITE-DB1-2024-10-01.BIN"

#: the attribution the IP2Location LITE licence requires, printed in every report and by the CLI
DATABASE_ATTRIBUTION = (
    "This product includes IP2Location LITE data available from https://lite.ip2location.com"
)

DATABASE_LICENCE = "CC BY-SA 4.0"

#: the attribution DB-IP's free databases require (CC BY 4.0)
DBIP_ATTRIBUTION = "IP Geolocation by DB-IP (https://db-ip.com), CC BY 4.0"

#: a database build date further than this from the evidence date draws a warning
MAX_DATABASE_GAP_DAYS = 365


def default_database_path() -> Path:
    """Path of the shipped IP2Location LITE DB1 BIN file (IPv4 country)."""
    path = Path(str(resources.files("ipevidence").joinpath("data").joinpath(SHIPPED_DATABASE_NAME)))
    if not path.is_file():
        raise DatabaseFormatError(
            f"the shipped database {SHIPPED_DATABASE_NAME} is missing from the installed package "
            f"({path}); reinstall ipevidence or pass --database"
        )
    return path


def is_shipped_database(path: str | Path) -> bool:
    """Whether ``path`` is the shipped database file (same resolved location)."""
    try:
        return Path(path).resolve() == default_database_path().resolve()
    except (OSError, DatabaseFormatError):
        return False


def ip2location_bin_build_date(path: str | Path) -> dt.date:
    """Build date of an IP2Location BIN file, from its header (bytes 2-4: year - 2000, month, day).

    The file is opened by :class:`~ipevidence.backends.IP2LocationBackend` (memory-mapped, so only
    the header is read), so the one header parser of the library validates it; a file that is not
    a readable BIN raises :class:`~ipevidence.errors.DatabaseFormatError`.
    """
    from .backends.ip2location import IP2LocationBackend

    return IP2LocationBackend(path).build_date


def shipped_database_build_date() -> dt.date:
    """Build date of the shipped database, read from its header."""
    return ip2location_bin_build_date(default_database_path())


def database_date_warning(
    build_date: dt.date,
    evidence_date: dt.date,
    *,
    shipped: bool = True,
    max_gap_days: int = MAX_DATABASE_GAP_DAYS,
) -> str | None:
    """A warning when the database's build date is more than ``max_gap_days`` from the evidence date.

    Returns None when the gap is acceptable. The text names the gap and what to do about it.
    """
    gap = (evidence_date - build_date).days
    if abs(gap) <= max_gap_days:
        return None
    which = "the shipped database" if shipped else "the database"
    when = "before" if gap > 0 else "after"
    advice = (
        "pass --database with a build from near the evidence date"
        if shipped
        else "use a database built near the evidence date"
    )
    return (
        f"{which} was built on {build_date.isoformat()}, {abs(gap):,} days {when} the evidence date "
        f"{evidence_date.isoformat()}: addresses may have moved since; {advice}"
    )


def attribution_for(info: Any) -> tuple[str, ...]:
    """The attribution lines a database's licence requires wherever its answers are shown.

    ``info`` is a :class:`~ipevidence.provenance.DatabaseInfo` (or anything with ``kind``, ``name``
    and ``description``). IP2Location LITE data (the shipped file or any LITE BIN or CSV) needs
    :data:`DATABASE_ATTRIBUTION`; DB-IP's free databases need :data:`DBIP_ATTRIBUTION`; for other
    files (commercial IP2Location, GeoLite2/GeoIP2 under MaxMind's EULA, your own) nothing is
    known here and the user follows their own licence.
    """
    name = str(getattr(info, "name", "")).lower()
    kind = str(getattr(info, "kind", "")).lower()
    text = f"{name} {getattr(info, 'description', '')}".lower()
    out: list[str] = []
    if name == SHIPPED_DATABASE_NAME.lower() or (
        "lite" in text and ("ip2location" in text or "ip2location" in kind)
    ):
        out.append(DATABASE_ATTRIBUTION)
    if "dbip" in text or "db-ip" in text:
        out.append(DBIP_ATTRIBUTION)
    return tuple(out)
