"""RIPE Atlas probe archive: where days come from, how a day is read, the parsed-day cache."""

from .cache import ParsedDayCache, load_snapshot, save_snapshot
from .days import iter_days, parse_file
from .parse import COUNT_KEYS, DEFAULT_MAX_DECOMPRESSED, PARSER_VERSION, day_from_name, parse_day, status_code
from .snapshot import SNAPSHOT_COLUMNS, DaySnapshot, ProbeStatus
from .source import (
    DEFAULT_BASE_URL,
    ArchiveSource,
    HttpArchive,
    LocalArchive,
    date_range,
    default_cache_dir,
    fetch_days,
    relative_path,
    resolve_day,
    verify_bzip2,
)

__all__ = [
    "COUNT_KEYS",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_DECOMPRESSED",
    "PARSER_VERSION",
    "SNAPSHOT_COLUMNS",
    "ArchiveSource",
    "DaySnapshot",
    "HttpArchive",
    "LocalArchive",
    "ParsedDayCache",
    "ProbeStatus",
    "date_range",
    "day_from_name",
    "default_cache_dir",
    "fetch_days",
    "iter_days",
    "load_snapshot",
    "parse_day",
    "parse_file",
    "relative_path",
    "resolve_day",
    "save_snapshot",
    "status_code",
    "verify_bzip2",
]
