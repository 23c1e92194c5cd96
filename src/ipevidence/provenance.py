"""Where a result came from (METHOD.md section 12): archive days, databases, parameters."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from ._version import __version__

__all__ = [
    "LIBRARY_VERSION",
    "ArchiveDay",
    "ArchiveProvenance",
    "DatabaseInfo",
    "DayStatus",
    "sha256_file",
]

LIBRARY_VERSION = __version__

DayStatus = Literal["ok", "missing", "corrupt"]


def sha256_file(path: str | os.PathLike[str], *, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@attrs.frozen
class ArchiveDay:
    """One archive day as used by a run: read (``ok``), ``missing`` on the source, or ``corrupt``."""

    day: dt.date
    status: DayStatus
    name: str | None = None
    sha256: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "status": self.status,
            "name": self.name,
            "sha256": self.sha256,
            "reason": self.reason,
        }


@attrs.frozen
class ArchiveProvenance:
    """The archive days behind a ground truth, each with its status and file hash."""

    source: str
    start: dt.date
    end: dt.date
    days: tuple[ArchiveDay, ...] = ()

    @property
    def used(self) -> tuple[ArchiveDay, ...]:
        return tuple(d for d in self.days if d.status == "ok")

    @property
    def missing(self) -> tuple[ArchiveDay, ...]:
        return tuple(d for d in self.days if d.status == "missing")

    @property
    def corrupt(self) -> tuple[ArchiveDay, ...]:
        return tuple(d for d in self.days if d.status == "corrupt")

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "days_used": len(self.used),
            "days_missing": [d.day.isoformat() for d in self.missing],
            "days_corrupt": [d.to_dict() for d in self.corrupt],
            "days": [d.to_dict() for d in self.days],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ArchiveProvenance:
        days = tuple(
            ArchiveDay(
                day=dt.date.fromisoformat(d["day"]),
                status=d["status"],
                name=d.get("name"),
                sha256=d.get("sha256"),
                reason=d.get("reason"),
            )
            for d in data.get("days", [])
        )
        return cls(
            source=str(data["source"]),
            start=dt.date.fromisoformat(data["start"]),
            end=dt.date.fromisoformat(data["end"]),
            days=days,
        )


@attrs.frozen
class DatabaseInfo:
    """What a geolocation database is, for provenance: never a path or mtime, always content.

    ``name`` is the file's base name (no directory, so results are byte-identical across
    machines); ``build_date`` is read from the file's own header or metadata.
    """

    kind: str
    name: str
    sha256: str
    build_date: dt.date
    ranges: int
    families: frozenset[int]
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "sha256": self.sha256,
            "build_date": self.build_date.isoformat(),
            "ranges": self.ranges,
            "families": sorted(self.families),
            "description": self.description,
        }
