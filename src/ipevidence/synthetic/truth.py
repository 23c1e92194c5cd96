"""The truth the synthetic archive generator (:mod:`ipevidence.synthetic.archive`) returns with
an archive: every record as the archive reader must see it (:class:`TruthRecords`, columns like a
DaySnapshot) with the FIRST daily filter rule it must fail (:data:`FILTER_RULES_V4`/``_V6``,
METHOD.md section 2) or none, probe-level labels (:class:`TruthProbes`), and what was written
(:class:`SyntheticTruth`: the days, missing and corrupt ones included).

Every name here is also importable from :mod:`ipevidence.synthetic.archive`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import attrs
import numpy as np
import numpy.typing as npt

from ..addresses import format_ipv4
from ..archive.snapshot import DaySnapshot
from .population import SyntheticArchiveConfig

__all__ = [
    "FILTER_RULES_V4",
    "FILTER_RULES_V6",
    "SyntheticTruth",
    "TruthProbes",
    "TruthRecords",
]


#: daily filter rules in the order they are applied (METHOD.md section 2)
FILTER_RULES_V4: Final = ("status", "coordinates", "country", "ipv4_address", "ipv4_asn")
FILTER_RULES_V6: Final = ("status", "coordinates", "country", "ipv6_address", "ipv6_asn")


@attrs.frozen(eq=False)
class TruthRecords:
    """Every record of every readable day (ok days; the corrupt days' records are not here), in
    file order (day, then probe id), with the values the archive reader must produce.

    ``first_failure_v4``/``_v6``: the first daily-filter rule the record fails, one of
    :data:`FILTER_RULES_V4`/``_V6``, or ``""`` when it passes every rule. ``shape`` is ``flat`` or
    ``nested``; ``wrong_type`` names the field written with a wrong type (``""`` if none);
    ``defect`` names the planted record-level defect(s), ``;``-separated.
    """

    day: npt.NDArray[np.datetime64]
    probe_id: npt.NDArray[np.int32]
    status: npt.NDArray[np.uint8]
    status_name: npt.NDArray[np.str_]
    country: npt.NDArray[np.bytes_]
    latitude: npt.NDArray[np.float64]
    longitude: npt.NDArray[np.float64]
    ipv4: npt.NDArray[np.uint32]
    ipv4_valid: npt.NDArray[np.bool_]
    asn_v4: npt.NDArray[np.uint32]
    ipv6: npt.NDArray[np.bytes_]
    ipv6_valid: npt.NDArray[np.bool_]
    asn_v6: npt.NDArray[np.uint32]
    cloud: npt.NDArray[np.bool_]
    shape: npt.NDArray[np.str_]
    wrong_type: npt.NDArray[np.str_]
    defect: npt.NDArray[np.str_]
    first_failure_v4: npt.NDArray[np.str_]
    first_failure_v6: npt.NDArray[np.str_]

    def __len__(self) -> int:
        return int(self.probe_id.shape[0])

    @property
    def passes_v4(self) -> npt.NDArray[np.bool_]:
        return np.asarray(self.first_failure_v4 == "", dtype=np.bool_)

    @property
    def passes_v6(self) -> npt.NDArray[np.bool_]:
        return np.asarray(self.first_failure_v6 == "", dtype=np.bool_)

    def first_failure(self, i: int, family: int = 4) -> str | None:
        """The first rule record ``i`` fails, or None when it passes the daily filter."""
        v = str((self.first_failure_v4 if family == 4 else self.first_failure_v6)[i])
        return v or None

    def select(self, mask: npt.NDArray[np.bool_]) -> TruthRecords:
        return TruthRecords(**{f.name: getattr(self, f.name)[mask] for f in attrs.fields(TruthRecords)})

    def ipv4_text(self) -> list[str]:
        """Dotted quads of ``ipv4`` ("" where not valid)."""
        txt = format_ipv4(self.ipv4)
        return [t if ok else "" for t, ok in zip(txt, self.ipv4_valid.tolist(), strict=True)]

    def funnel_v4(self) -> dict[str, int]:
        """How many records each rule removes (first failure), plus ``kept``."""
        out = {r: int((self.first_failure_v4 == r).sum()) for r in FILTER_RULES_V4}
        out["kept"] = int(self.passes_v4.sum())
        return out


@attrs.frozen(eq=False)
class TruthProbes:
    """One row per probe (sorted by ``probe_id``).

    ``home_country``: declared country on its first day; ``final_country``: on its last day;
    ``country_changed`` with ``change_day`` (NaT if none) and ``change_keeps_address`` (the
    address is NOT reassigned on the change day); ``planted_outside_border``: its coordinates are
    in a place of ``coordinate_country`` (another country) on every day; ``cloud`` with
    ``cloud_asn`` (0 if not cloud) and ``cloud_provider``; ``has_ipv6``; ``first_day``/``last_day``:
    the interval in which it has records on the written days (churning probes exist only on part of
    the period; missing days have no records at all).
    """

    probe_id: npt.NDArray[np.int32]
    home_country: npt.NDArray[np.bytes_]
    final_country: npt.NDArray[np.bytes_]
    country_changed: npt.NDArray[np.bool_]
    change_day: npt.NDArray[np.datetime64]
    change_keeps_address: npt.NDArray[np.bool_]
    planted_outside_border: npt.NDArray[np.bool_]
    coordinate_country: npt.NDArray[np.bytes_]
    cloud: npt.NDArray[np.bool_]
    cloud_asn: npt.NDArray[np.uint32]
    cloud_provider: npt.NDArray[np.str_]
    has_ipv6: npt.NDArray[np.bool_]
    first_day: npt.NDArray[np.datetime64]
    last_day: npt.NDArray[np.datetime64]

    def __len__(self) -> int:
        return int(self.probe_id.shape[0])


@attrs.frozen(eq=False)
class SyntheticTruth:
    """What :func:`generate_archive` wrote and why."""

    config: SyntheticArchiveConfig
    directory: Path | None
    days: tuple[dt.date, ...]
    missing_days: tuple[dt.date, ...]
    corrupt_days: tuple[dt.date, ...]
    files: Mapping[dt.date, str]
    records: TruthRecords
    probes: TruthProbes

    @property
    def ok_days(self) -> tuple[dt.date, ...]:
        bad = set(self.missing_days) | set(self.corrupt_days)
        return tuple(d for d in self.days if d not in bad)

    def day_mask(self, day: dt.date) -> npt.NDArray[np.bool_]:
        return np.asarray(self.records.day == np.datetime64(day, "D"), dtype=np.bool_)

    def expected_snapshot(self, day: dt.date) -> DaySnapshot:
        """The columns the archive reader must produce for an ok day (counts and source empty)."""
        r = self.records.select(self.day_mask(day))
        return DaySnapshot(
            day=day,
            probe_id=r.probe_id,
            status=r.status,
            country=r.country,
            latitude=r.latitude,
            longitude=r.longitude,
            ipv4=r.ipv4,
            ipv4_valid=r.ipv4_valid,
            asn_v4=r.asn_v4,
            ipv6=r.ipv6,
            ipv6_valid=r.ipv6_valid,
            asn_v6=r.asn_v6,
        )

    def __str__(self) -> str:
        p = self.probes
        return (
            f"synthetic archive {self.days[0]}..{self.days[-1]}: {len(self.days)} days "
            f"({len(self.missing_days)} missing, {len(self.corrupt_days)} corrupt), {len(p)} probes "
            f"({int(p.cloud.sum())} cloud, {int(p.country_changed.sum())} country changes, "
            f"{int(p.planted_outside_border.sum())} outside border, {int(p.has_ipv6.sum())} IPv6), "
            f"{len(self.records)} records, {int(self.records.passes_v4.sum())} pass the IPv4 daily filter"
        )
