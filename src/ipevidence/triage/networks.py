"""Triage's network checks in bulk: each case's ASN and cloud/hosting provider as columns.

:func:`networks_in_bulk` (the method :meth:`Triage._networks <ipevidence.triage.Triage._networks>`)
finds every case's network as ``classify_for_evidence`` / ``classify_address`` would: the caller's
ASN, else an IP-to-ASN table, then the policy's hosting ASNs and the cloud range files, each
table and range file looked up once for all the cases that use it. :mod:`ipevidence.triage.parts`
turns the result into the network's criteria.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..addresses import IPV4_DTYPE

if TYPE_CHECKING:
    from ..assessment import EvidentialAssessor
    from .engine import Triage

__all__ = ["networks_in_bulk"]


def networks_in_bulk(
    engine: Triage,
    a: EvidentialAssessor,
    col: npt.NDArray[Any],
    days: npt.NDArray[np.datetime64],
    given: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(ASN, 0 for unknown; hosting label id, 0 for none) of each case: the caller's ASN wins,
    else the assessor's IP-to-ASN table, else (``network_data``) the shipped table nearest the
    case's date; a hosting ASN of the policy's set, else a cloud range file (the assessor's, or
    the shipped ones nearest the date)."""
    from ..networks import EXTENDED_HOSTING_ASNS as _HOSTING_NAMES
    from ..networks import CloudRanges, ProviderRanges, asn_table_for, shipped_cloud_ranges

    p = engine.policy
    fam = 4 if col.dtype == IPV4_DTYPE else 6
    n = col.shape[0]
    asn = given.copy()
    provider = np.zeros(n, np.int64)
    udays, dinv = np.unique(days, return_inverse=True)
    dinv = dinv.reshape(-1)
    groups: dict[tuple[int, tuple[int, ...]], list[int]] = {}
    sources: dict[tuple[int, tuple[int, ...]], tuple[Any, CloudRanges | None]] = {}
    for k, day in enumerate(udays.tolist()):
        table: Any = a.asn_table
        ranges: Any = a.cloud_ranges
        if p.network_data:
            if table is None:
                table = asn_table_for(day, fam)
            if ranges is None:
                ranges = shipped_cloud_ranges(day)
        if isinstance(ranges, ProviderRanges):
            ranges = CloudRanges((ranges,))
        key = (id(table), tuple(id(pr) for pr in ranges.providers) if ranges is not None else (-1,))
        groups.setdefault(key, []).append(k)
        sources[key] = (table, ranges)
    cloud = np.asarray(sorted(p.cloud_asns), dtype=np.int64)
    for key, day_ids in groups.items():
        table, ranges = sources[key]
        rows = np.flatnonzero(np.isin(dinv, np.asarray(day_ids)))
        need = rows[asn[rows] == 0]
        if table is not None and need.size:
            asn[need] = table.lookup(col[need]).astype(np.int64)
        in_set = np.isin(asn[rows], cloud) & (asn[rows] > 0)
        for a_num in np.unique(asn[rows][in_set]).tolist():
            label = _HOSTING_NAMES.get(int(a_num), f"AS{int(a_num)}")
            provider[rows[in_set & (asn[rows] == a_num)]] = engine._hosting_id(label)
        if ranges is not None and len(ranges.providers):
            rest = rows[~in_set]
            if rest.size:
                idx = ranges.match(col[rest]).astype(np.int64)
                for i in np.unique(idx[idx >= 0]).tolist():
                    provider[rest[idx == i]] = engine._hosting_id(ranges.providers[i].provider)
    return asn, provider
