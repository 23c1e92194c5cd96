"""What fetching and building a ground truth from RIPE's real archive will cost, said before it
starts (issue 15, finding 9; docs/realdata.md).

The figures are averages measured on generated days of real size (30,000 records a day, the size of
a recent real archive day) for 2015-2022: a day is about 0.92 MB of bzip2 archive (2.7 GB for 8
years) and 1.44 MB of parsed cache (4.2 GB), and parsing it costs about 0.37 CPU seconds (0.21 s
wall on 2 idle cores: 8 years in about 10 minutes cold, 18 CPU-minutes); with the parsed cache warm
the same build takes under a minute. Early years are smaller than recent ones, so a range of early
days costs less than estimated. Download time depends on the connection and on RIPE's server; it is
shown at an assumed rate, named.
"""

from __future__ import annotations

import os

import attrs

__all__ = ["ARCHIVE_BYTES_PER_DAY", "ArchiveEstimate", "estimate_archive"]

#: average bzip2 archive day, 2015-2022 (2.7 GB / 2,922 days)
ARCHIVE_BYTES_PER_DAY = 924_000
#: average parsed-cache day (4.2 GB / 2,922 days)
PARSED_BYTES_PER_DAY = 1_437_000
#: CPU seconds to decompress and parse one day (18 CPU-minutes / 2,922 days)
CPU_SECONDS_PER_DAY = 0.37
#: seconds per day to build from a warm parsed cache (under a minute for 8 years)
WARM_SECONDS_PER_DAY = 0.02
#: the download rate the estimate assumes (said in the text)
ASSUMED_DOWNLOAD_RATE = 10_000_000


def _size(n: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@attrs.frozen
class ArchiveEstimate:
    """The cost of a range of archive days: what to download, the disk, and the build time."""

    days: int
    cached: int
    cores: int

    @property
    def to_download(self) -> int:
        return max(0, self.days - self.cached)

    @property
    def download_bytes(self) -> int:
        return self.to_download * ARCHIVE_BYTES_PER_DAY

    @property
    def archive_bytes(self) -> int:
        return self.days * ARCHIVE_BYTES_PER_DAY

    @property
    def parsed_bytes(self) -> int:
        return self.days * PARSED_BYTES_PER_DAY

    @property
    def download_seconds(self) -> float:
        return self.download_bytes / ASSUMED_DOWNLOAD_RATE

    @property
    def cold_seconds(self) -> float:
        """Wall time to parse every day on ``cores`` cores (the first build)."""
        return self.days * CPU_SECONDS_PER_DAY / max(1, min(self.cores, 8))

    @property
    def warm_seconds(self) -> float:
        return self.days * WARM_SECONDS_PER_DAY

    def fetch_text(self) -> str:
        return (
            f"estimate: {self.days:,} days ({self.cached:,} already in the cache), about "
            f"{_size(self.download_bytes)} to download (about {_duration(self.download_seconds)} at "
            f"{_size(ASSUMED_DOWNLOAD_RATE)}/s), {_size(self.archive_bytes)} of archive on disk. "
            "Interrupted? Run the same command again: finished days are kept."
        )

    def build_text(self) -> str:
        return (
            f"estimate: {self.days:,} days ({self.cached:,} already downloaded, "
            f"{_size(self.download_bytes)} still to download); parsing about "
            f"{_duration(self.cold_seconds)} on {self.cores} cores the first time, "
            f"{_size(self.parsed_bytes)} of parsed cache, about {_duration(self.warm_seconds)} again "
            "once parsed. Interrupted? Run the same command again: downloaded and parsed days are kept."
        )

    def to_dict(self) -> dict[str, int | float]:
        return {
            "days": self.days,
            "cached": self.cached,
            "cores": self.cores,
            "download_bytes": self.download_bytes,
            "archive_bytes": self.archive_bytes,
            "parsed_bytes": self.parsed_bytes,
            "cold_seconds": round(self.cold_seconds, 1),
            "warm_seconds": round(self.warm_seconds, 1),
        }


def estimate_archive(days: int, *, cached: int = 0, cores: int | None = None) -> ArchiveEstimate:
    """The estimate for ``days`` archive days of which ``cached`` are already downloaded, built on
    ``cores`` cores (default: this machine's, at most 8 counted)."""
    if days < 0 or cached < 0:
        raise ValueError("days and cached must not be negative")
    return ArchiveEstimate(days=days, cached=min(cached, days), cores=cores or os.cpu_count() or 1)
