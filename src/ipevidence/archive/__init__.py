"""RIPE Atlas probe archive: where days come from, how a day is read, the parsed-day cache."""

from .snapshot import SNAPSHOT_COLUMNS, DaySnapshot, ProbeStatus

__all__ = ["SNAPSHOT_COLUMNS", "DaySnapshot", "ProbeStatus"]
