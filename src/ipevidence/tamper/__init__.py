"""Tampered evidence (METHOD.md section 11): read service logs, geolocate every entry with the
database nearest its date, and find impossible travel, the same account in different countries
across services, and addresses in cloud, hosting, VPN or private networks."""

from __future__ import annotations

from .analysis import (
    AddressSet,
    AsnLookup,
    DistanceFunction,
    DistanceTerritory,
    TamperParameters,
    TamperReport,
    analyse,
    distance_matrix,
)
from .findings import (
    AccountWindow,
    CrossServiceInconsistency,
    Finding,
    HostingAddress,
    ImpossibleTravel,
    LocatedEntry,
    NonPublicAddress,
)
from .model import LogEntry, LogTable, LogTableBuilder, parse_log_address
from .readers import (
    MOODLE_COLUMNS,
    MOODLE_TIME_FORMAT,
    ColumnMapping,
    LogProblem,
    LogRead,
    make_time_parser,
    read_access_log,
    read_auth_log,
    read_csv,
    read_entra_signins,
    read_jsonl,
    read_moodle,
)

__all__ = [
    "MOODLE_COLUMNS",
    "MOODLE_TIME_FORMAT",
    "AccountWindow",
    "AddressSet",
    "AsnLookup",
    "ColumnMapping",
    "CrossServiceInconsistency",
    "DistanceFunction",
    "DistanceTerritory",
    "Finding",
    "HostingAddress",
    "ImpossibleTravel",
    "LocatedEntry",
    "LogEntry",
    "LogProblem",
    "LogRead",
    "LogTable",
    "LogTableBuilder",
    "NonPublicAddress",
    "TamperParameters",
    "TamperReport",
    "analyse",
    "distance_matrix",
    "make_time_parser",
    "parse_log_address",
    "read_access_log",
    "read_auth_log",
    "read_csv",
    "read_entra_signins",
    "read_jsonl",
    "read_moodle",
]
