"""Geolocation databases: IP2Location BIN, MaxMind DB (mmdb), CSV range tables.

Every backend answers a whole address column at once (``lookup``: ``uint32`` IPv4 or ``S16``
IPv6 in, ``S2`` countries out, ``b""`` = not located) from numpy range tables, and describes
itself for provenance (file name, SHA-256, build date read from the file). Use
:func:`open_database` to pick the backend from the file's content, and
:func:`compare_databases` to tabulate several databases' agreement on the same addresses.

The MaxMind backend (and with it ``maxminddb``) is imported on first use of its names, so that
opening an IP2Location file does not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import GeoBackend
from .compare import CountryPairCount, DatabaseComparison, PairAgreement, compare_databases
from .csvranges import CsvRangeBackend
from .ip2location import IP2LocationBackend
from .opening import detect_kind, open_database
from .ranges import FamilyRanges, RangeTable, TableBackend

if TYPE_CHECKING:
    from .mmdb import CountryField, MMDBBackend, country_of_record

__all__ = [
    "CountryField",
    "CountryPairCount",
    "CsvRangeBackend",
    "DatabaseComparison",
    "FamilyRanges",
    "GeoBackend",
    "IP2LocationBackend",
    "MMDBBackend",
    "PairAgreement",
    "RangeTable",
    "TableBackend",
    "compare_databases",
    "country_of_record",
    "detect_kind",
    "open_database",
]


def __getattr__(name: str) -> Any:
    """``CountryField``, ``MMDBBackend`` and ``country_of_record`` load the MaxMind backend."""
    if name in ("CountryField", "MMDBBackend", "country_of_record"):
        from . import mmdb

        return getattr(mmdb, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
