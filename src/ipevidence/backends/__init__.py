"""Geolocation databases: IP2Location BIN, MaxMind DB (mmdb), CSV range tables.

Every backend answers a whole address column at once (``lookup``: ``uint32`` IPv4 or ``S16``
IPv6 in, ``S2`` countries out, ``b""`` = not located) from numpy range tables, and describes
itself for provenance (file name, SHA-256, build date read from the file). Use
:func:`open_database` to pick the backend from the file's content, and
:func:`compare_databases` to tabulate several databases' agreement on the same addresses.
"""

from __future__ import annotations

from .base import GeoBackend
from .compare import CountryPairCount, DatabaseComparison, PairAgreement, compare_databases
from .csvranges import CsvRangeBackend
from .ip2location import IP2LocationBackend
from .mmdb import CountryField, MMDBBackend, country_of_record
from .opening import detect_kind, open_database
from .ranges import FamilyRanges, RangeTable, TableBackend

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
