"""ipevidence: the evidential value of IP-to-country geolocation (Komosny 2023 method).

The public face of the library; everything not named in ``__all__`` is internal. The stages are
imported on first use (PEP 562), so ``import ipevidence`` stays fast and a command that only reads
an archive never loads scipy or matplotlib::

    from ipevidence import assess
    verdict = assess("147.229.1.1", "2022-06-01", ground_truth="gt.npz")

The data's way through the library: ``archive`` (days) -> ``history`` (:class:`GroundTruth`) ->
``backends`` (:func:`open_database`) -> ``accuracy`` -> ``assessment`` (:class:`Verdict`);
``tamper`` analyses service logs; ``report`` and the ``ipevidence`` command present the results.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import (
    ArchiveCorruptError,
    ArchiveDownloadError,
    ArchiveError,
    ArchiveMissingError,
    DatabaseError,
    DatabaseFormatError,
    DatabaseSelectionError,
    FamilyMismatchError,
    GroundTruthFormatError,
    InvalidAddressError,
    InvalidEvidenceDateError,
    InvalidParameterError,
    IpEvidenceError,
    LogFormatError,
    OutputPathError,
    OutsideGroundTruthError,
    RangeFileError,
    ReservedAddressError,
    UnknownCountryError,
)
from .groundtruth import Funnel, FunnelStep, GroundTruth

if TYPE_CHECKING:
    from .accuracy import ConfusionMatrix, CountryAccuracy, LocatedGroundTruth, YearAccuracy
    from .archive import (
        DaySnapshot,
        HttpArchive,
        LocalArchive,
        ParsedDayCache,
        ProbeStatus,
        date_range,
        fetch_days,
        iter_days,
        parse_day,
    )
    from .assessment import Criterion, EvidentialAssessor, Outcome, Policy, Verdict, assess
    from .backends import (
        CsvRangeBackend,
        DatabaseComparison,
        GeoBackend,
        IP2LocationBackend,
        MMDBBackend,
        RangeTable,
        compare_databases,
        open_database,
    )
    from .catalog import DatabaseCatalog
    from .coverage import CoverageResult, population_coverage
    from .defaults import DATABASE_ATTRIBUTION, attribution_for, default_database_path
    from .demo import DemoConfig, run_demo
    from .geography import BorderCheck, Borders, BorderStatus, country_distance_km, haversine_km
    from .history import GroundTruthParams, build_ground_truth, build_ground_truths
    from .likelihood import EvidenceLR
    from .networks import (
        DEFAULT_CLOUD_ASNS,
        EXTENDED_HOSTING_ASNS,
        AsnTable,
        CloudRanges,
        NetworkClass,
        ProviderRanges,
        asn_table_for,
        classify_address,
        classify_for_evidence,
        shipped_cloud_ranges,
    )
    from .report import Report
    from .stats import Interval, LikelihoodRatio, likelihood_ratio, proportion_interval, verbal_scale
    from .tamper import LogEntry, LogTable, TamperReport, analyse
    from .triage import TriageResult, assess_many

# public name -> submodule that defines it (imported on first access)
_LAZY: dict[str, str] = {
    **dict.fromkeys(["ConfusionMatrix", "CountryAccuracy", "LocatedGroundTruth", "YearAccuracy"], "accuracy"),
    **dict.fromkeys(
        [
            "DaySnapshot",
            "HttpArchive",
            "LocalArchive",
            "ParsedDayCache",
            "ProbeStatus",
            "date_range",
            "fetch_days",
            "iter_days",
            "parse_day",
        ],
        "archive",
    ),
    **dict.fromkeys(
        ["Criterion", "EvidentialAssessor", "Outcome", "Policy", "Verdict", "assess"], "assessment"
    ),
    **dict.fromkeys(
        [
            "CsvRangeBackend",
            "DatabaseComparison",
            "GeoBackend",
            "IP2LocationBackend",
            "MMDBBackend",
            "RangeTable",
            "compare_databases",
            "open_database",
        ],
        "backends",
    ),
    "DatabaseCatalog": "catalog",
    **dict.fromkeys(["CoverageResult", "population_coverage"], "coverage"),
    **dict.fromkeys(["DATABASE_ATTRIBUTION", "attribution_for", "default_database_path"], "defaults"),
    **dict.fromkeys(["DemoConfig", "run_demo"], "demo"),
    **dict.fromkeys(
        ["BorderCheck", "BorderStatus", "Borders", "country_distance_km", "haversine_km"], "geography"
    ),
    **dict.fromkeys(["GroundTruthParams", "build_ground_truth", "build_ground_truths"], "history"),
    **dict.fromkeys(
        [
            "DEFAULT_CLOUD_ASNS",
            "EXTENDED_HOSTING_ASNS",
            "AsnTable",
            "CloudRanges",
            "NetworkClass",
            "ProviderRanges",
            "asn_table_for",
            "classify_address",
            "classify_for_evidence",
            "shipped_cloud_ranges",
        ],
        "networks",
    ),
    "EvidenceLR": "likelihood",
    "Report": "report",
    **dict.fromkeys(
        ["Interval", "LikelihoodRatio", "likelihood_ratio", "proportion_interval", "verbal_scale"], "stats"
    ),
    **dict.fromkeys(["LogEntry", "LogTable", "TamperReport", "analyse"], "tamper"),
    **dict.fromkeys(["TriageResult", "assess_many"], "triage"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ipevidence' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "DATABASE_ATTRIBUTION",
    "DEFAULT_CLOUD_ASNS",
    "EXTENDED_HOSTING_ASNS",
    "ArchiveCorruptError",
    "ArchiveDownloadError",
    "ArchiveError",
    "ArchiveMissingError",
    "AsnTable",
    "BorderCheck",
    "BorderStatus",
    "Borders",
    "CloudRanges",
    "ConfusionMatrix",
    "CountryAccuracy",
    "CoverageResult",
    "Criterion",
    "CsvRangeBackend",
    "DatabaseCatalog",
    "DatabaseComparison",
    "DatabaseError",
    "DatabaseFormatError",
    "DatabaseSelectionError",
    "DaySnapshot",
    "DemoConfig",
    "EvidenceLR",
    "EvidentialAssessor",
    "FamilyMismatchError",
    "Funnel",
    "FunnelStep",
    "GeoBackend",
    "GroundTruth",
    "GroundTruthFormatError",
    "GroundTruthParams",
    "HttpArchive",
    "IP2LocationBackend",
    "Interval",
    "InvalidAddressError",
    "InvalidEvidenceDateError",
    "InvalidParameterError",
    "IpEvidenceError",
    "LikelihoodRatio",
    "LocalArchive",
    "LocatedGroundTruth",
    "LogEntry",
    "LogFormatError",
    "LogTable",
    "MMDBBackend",
    "NetworkClass",
    "Outcome",
    "OutputPathError",
    "OutsideGroundTruthError",
    "ParsedDayCache",
    "Policy",
    "ProbeStatus",
    "ProviderRanges",
    "RangeFileError",
    "RangeTable",
    "Report",
    "ReservedAddressError",
    "TamperReport",
    "TriageResult",
    "UnknownCountryError",
    "Verdict",
    "YearAccuracy",
    "__version__",
    "analyse",
    "asn_table_for",
    "assess",
    "assess_many",
    "attribution_for",
    "build_ground_truth",
    "build_ground_truths",
    "classify_address",
    "classify_for_evidence",
    "compare_databases",
    "country_distance_km",
    "date_range",
    "default_database_path",
    "fetch_days",
    "haversine_km",
    "iter_days",
    "likelihood_ratio",
    "open_database",
    "parse_day",
    "population_coverage",
    "proportion_interval",
    "run_demo",
    "shipped_cloud_ranges",
    "verbal_scale",
]
