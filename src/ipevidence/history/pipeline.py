"""The build pipeline: days (from an archive source or in memory) through the daily filter and
the linker into finished, counted ground truths."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import attrs
import numpy as np

from ..archive.snapshot import DaySnapshot
from ..groundtruth import Funnel, FunnelStep, GroundTruth, Removals
from ..provenance import ArchiveDay, ArchiveProvenance
from .daily import daily_filter
from .linking import History, Linker, select_most_distant, unreliable_probes, unreliable_probes_after_dedup
from .params import (
    _DAILY_DESCRIPTIONS,
    _DAY,
    DAILY_RULES,
    AsnLookup,
    BorderChecker,
    GroundTruthParams,
    _resolve_params,
)
from .steps import check_borders, remove_cloud, remove_probes

if TYPE_CHECKING:
    from ..networks import CloudRanges


# ---------------------------------------------------------------------------------------- build


def _describe(obj: object) -> Any:
    if obj is None:
        return None
    for attr in ("describe", "to_dict"):
        fn = getattr(obj, attr, None)
        if callable(fn):
            try:
                value = fn()
            except TypeError:
                continue
            if hasattr(value, "to_dict"):
                return value.to_dict()
            return value
    return type(obj).__name__


def _finish(
    history: History,
    params: GroundTruthParams,
    *,
    daily_days: list[np.datetime64],
    daily_counts: list[list[int]],
    provenance: ArchiveProvenance | None,
    extra: Mapping[str, Any],
    borders: BorderChecker | None,
    cloud_ranges: CloudRanges | None,
) -> GroundTruth:
    fam = history.family
    steps: list[FunnelStep] = []
    counts = np.asarray(daily_counts, dtype=np.int64).reshape(len(daily_counts), len(DAILY_RULES) + 2)
    totals = counts.sum(axis=0)
    rows_in = int(totals[0])
    for i, rule in enumerate(DAILY_RULES):
        removed = int(totals[i + 1])
        desc = _DAILY_DESCRIPTIONS[rule]
        if rule == "asn" and int(totals[-1]):
            desc += f" ({int(totals[-1]):,} missing ASNs filled from the IP-to-ASN table first)"
        steps.append(FunnelStep(rule, desc, rows_in, removed))
        rows_in -= removed
    rows = select_most_distant(history, params.dedup)
    steps.append(
        FunnelStep(
            "most_distant",
            f"repeated addresses removed: most distant address selection '{params.dedup}'",
            history.records,
            history.records - len(rows),
        )
    )
    removed_parts: list[Removals] = []
    if params.country_change == "daily":
        bad = unreliable_probes(history)
        desc = "probes whose declared country differs between any two kept daily records"
    else:
        bad = unreliable_probes_after_dedup(rows)
        desc = "probes with several declared countries among de-duplicated rows (reference)"
    res = remove_probes(rows, bad, name="unreliable_probes", reason="unreliable_probe", description=desc)
    steps.append(res.step)
    removed_parts.append(res.removed)
    rows = res.kept
    res = remove_probes(
        rows,
        np.asarray(params.exclude_probes, dtype=np.int32),
        name="excluded_probes",
        reason="excluded_probe",
        description=f"probe ids on the exclusion list ({len(params.exclude_probes)} ids)",
    )
    steps.append(res.step)
    removed_parts.append(res.removed)
    rows = res.kept
    if params.border_check:
        if borders is None:
            from ..geography import Borders as _Borders

            borders = _Borders.load(params.border_scale)
        res = check_borders(
            rows, borders, tolerance_km=params.border_tolerance_km, main_territory=params.main_territory
        )
        steps.append(res.step)
        removed_parts.append(res.removed)
        rows = res.kept
    if params.cloud_filter or cloud_ranges is not None:
        for res in remove_cloud(rows, params.cloud_asns if params.cloud_filter else (), ranges=cloud_ranges):
            steps.append(res.step)
            removed_parts.append(res.removed)
            rows = res.kept
    removals = Removals(
        family=fam,
        probe_id=np.concatenate([r.probe_id for r in removed_parts]),
        address=np.concatenate([r.address for r in removed_parts]),
        date=np.concatenate([r.date for r in removed_parts]),
        reason=np.concatenate([r.reason.astype(str) for r in removed_parts])
        if removed_parts
        else np.zeros(0, "U1"),
        daily_rules=("records", *DAILY_RULES, "asn_filled"),
        daily_days=np.asarray(daily_days, dtype=_DAY),
        daily_counts=counts,
    )
    parameters = {**params.to_dict(), **extra, "family": fam}
    if borders is not None and params.border_check:
        parameters["borders"] = _describe(borders)
    parameters["cloud_ranges"] = _describe(cloud_ranges)
    return attrs.evolve(
        rows,
        funnel=Funnel(family=fam, steps=tuple(steps)),
        provenance=provenance,
        parameters=parameters,
        removals=removals,
    )


def _families(families: Iterable[int]) -> tuple[int, ...]:
    fams = tuple(sorted({int(f) for f in families}))
    if not fams or any(f not in (4, 6) for f in fams):
        raise ValueError(f"families must be a non-empty subset of (4, 6), not {families!r}")
    return fams


class _Run(NamedTuple):
    """What one pass over the days gives :func:`_finish_all`."""

    histories: dict[int, History]
    counts: dict[int, list[list[int]]]  # per family, per day: records, removals per rule, ASNs filled
    days: list[np.datetime64]
    seen: list[ArchiveDay]


def _run(
    items: Iterable[tuple[ArchiveDay | None, DaySnapshot | None]],
    fams: tuple[int, ...],
    params: GroundTruthParams,
    *,
    asn_table: AsnLookup | None,
    chunk_rows: int,
) -> _Run:
    linkers = {f: Linker(f, chunk_rows=chunk_rows) for f in fams}
    counts: dict[int, list[list[int]]] = {f: [] for f in fams}
    days: list[np.datetime64] = []
    seen: list[ArchiveDay] = []
    for archive_day, snap in items:
        if archive_day is not None:
            seen.append(archive_day)
        if snap is None:
            continue
        days.append(np.datetime64(snap.day, "D"))
        for f in fams:
            res = daily_filter(snap, f, require_asn=params.require_asn, asn_table=asn_table)
            counts[f].append(
                [res.counts["records"], *(res.counts[r] for r in DAILY_RULES), res.counts["asn_filled"]]
            )
            linkers[f].add(res.kept)
        del snap
    return _Run({f: linkers[f].finish() for f in fams}, counts, days, seen)


def _finish_all(
    run: _Run,
    params: GroundTruthParams,
    provenance: ArchiveProvenance | None,
    extra: Mapping[str, Any],
    borders: BorderChecker | None,
    cloud_ranges: CloudRanges | None,
) -> dict[int, GroundTruth]:
    """:func:`_finish` each family of one :func:`_run` (same days, provenance and parameters)."""
    return {
        f: _finish(
            history,
            params,
            daily_days=run.days,
            daily_counts=run.counts[f],
            provenance=provenance,
            extra=extra,
            borders=borders,
            cloud_ranges=cloud_ranges,
        )
        for f, history in run.histories.items()
    }


def _extra_parameters(
    params: GroundTruthParams, asn_table: AsnLookup | None, fams: tuple[int, ...]
) -> dict[str, Any]:
    return {"families": list(fams), "asn_table": _describe(asn_table)}


def ground_truths_from_snapshots(
    snapshots: Iterable[DaySnapshot],
    *,
    families: Iterable[int] = (4, 6),
    preset: str | GroundTruthParams = "default",
    borders: BorderChecker | None = None,
    cloud_ranges: CloudRanges | None = None,
    asn_table: AsnLookup | None = None,
    provenance: ArchiveProvenance | None = None,
    chunk_rows: int = 1 << 22,
    **overrides: Any,
) -> dict[int, GroundTruth]:
    """The whole pipeline over snapshots already in memory (any order; sorted by day here).

    ``overrides`` are :class:`GroundTruthParams` fields (``dedup=...``, ``border_tolerance_km=...``);
    ``every`` is not applied here (the caller chose the snapshots). Without ``provenance``, one is
    made from the snapshots (source ``"in-memory snapshots"``, each day's ``source`` record).
    """
    fams = _families(families)
    params = _resolve_params(preset, overrides)
    snaps = sorted(snapshots, key=lambda s: s.day)
    run = _run(((s.source, s) for s in snaps), fams, params, asn_table=asn_table, chunk_rows=chunk_rows)
    if provenance is None and snaps:
        provenance = ArchiveProvenance(
            source="in-memory snapshots",
            start=snaps[0].day,
            end=snaps[-1].day,
            days=tuple(s.source if s.source is not None else ArchiveDay(s.day, "ok") for s in snaps),
        )
    extra = _extra_parameters(params, asn_table, fams)
    return _finish_all(run, params, provenance, extra, borders, cloud_ranges)


def _source_name(source: object) -> str:
    describe = getattr(source, "describe", None)
    if callable(describe):
        return str(describe())
    for attr in ("url", "base_url", "root", "directory", "path", "name"):
        value = getattr(source, attr, None)
        if value is not None and not callable(value):
            return str(value)
    return type(source).__name__


def build_ground_truths(
    source: Any,
    start: dt.date,
    end: dt.date,
    *,
    families: Iterable[int] = (4, 6),
    preset: str | GroundTruthParams = "default",
    every: int | None = None,
    executor: Any = None,
    progress: Any = None,
    cache: Any = "default",
    borders: BorderChecker | None = None,
    cloud_ranges: CloudRanges | None = None,
    asn_table: AsnLookup | None = None,
    chunk_rows: int = 1 << 22,
    workers: int | None = None,
    max_decompressed: int | None = None,
    max_records: int | None = None,
    max_decode_memory: int | None = None,
    fetch_on_workers: bool = False,
    cache_hits: Literal["local", "executor"] = "local",
    **overrides: Any,
) -> dict[int, GroundTruth]:
    """Build the ground truth of several families from ONE pass over an archive source.

    Days ``start`` to ``end`` (inclusive), every ``every``-th day, are read with
    :func:`ipevidence.archive.iter_days` (in date order, parsed in ``executor`` if given) and
    filtered one by one as they arrive; raw snapshots are dropped at once. ``preset`` is
    ``"default"``, ``"reference"`` or a :class:`GroundTruthParams`; ``overrides`` are its fields
    (``dedup="per-run"``, ``border_tolerance_km=0``, ``exclude_probes=[...]``,
    ``cloud_asns=[...]``, ...). The provenance lists every day with its status and SHA-256.

    ``workers`` (default: every usable core, bounded by available memory), the per-day limits
    ``max_decompressed``, ``max_records`` and ``max_decode_memory`` (defaults: those of
    :func:`~ipevidence.archive.parse_day`), ``fetch_on_workers`` and ``cache_hits`` are passed
    to :func:`~ipevidence.archive.iter_days`. The result is byte-identical whatever the executor
    (in-process, threads, a process pool, a Dask cluster).
    """
    from ..archive import date_range, iter_days
    from ..archive.parse import DEFAULT_MAX_DECODE_MEMORY, DEFAULT_MAX_DECOMPRESSED, DEFAULT_MAX_RECORDS

    fams = _families(families)
    params = _resolve_params(preset, {**overrides, "every": every})
    day_list = list(date_range(start, end, params.every))
    stream: Iterator[tuple[ArchiveDay, DaySnapshot | None]] = iter(
        iter_days(
            source,
            day_list,
            executor=executor,
            cache=cache,
            progress=progress,
            workers=workers,
            max_decompressed=DEFAULT_MAX_DECOMPRESSED if max_decompressed is None else max_decompressed,
            max_records=DEFAULT_MAX_RECORDS if max_records is None else max_records,
            max_decode_memory=DEFAULT_MAX_DECODE_MEMORY if max_decode_memory is None else max_decode_memory,
            fetch_on_workers=fetch_on_workers,
            cache_hits=cache_hits,
        )
    )
    run = _run(stream, fams, params, asn_table=asn_table, chunk_rows=chunk_rows)
    provenance = ArchiveProvenance(source=_source_name(source), start=start, end=end, days=tuple(run.seen))
    extra = {**_extra_parameters(params, asn_table, fams), "start": start.isoformat(), "end": end.isoformat()}
    return _finish_all(run, params, provenance, extra, borders, cloud_ranges)


def build_ground_truth(
    source: Any,
    start: dt.date,
    end: dt.date,
    *,
    family: int = 4,
    preset: str | GroundTruthParams = "default",
    dedup: str | None = None,
    every: int | None = None,
    executor: Any = None,
    progress: Any = None,
    cache: Any = "default",
    borders: BorderChecker | None = None,
    cloud_asns: Iterable[int] | None = None,
    cloud_ranges: CloudRanges | None = None,
    asn_table: AsnLookup | None = None,
    exclude_probes: Iterable[int] | None = None,
    workers: int | None = None,
    max_decompressed: int | None = None,
    max_records: int | None = None,
    max_decode_memory: int | None = None,
    fetch_on_workers: bool = False,
    cache_hits: Literal["local", "executor"] = "local",
    **overrides: Any,
) -> GroundTruth:
    """Build one family's ground truth from an archive source (see :func:`build_ground_truths`)."""
    return build_ground_truths(
        source,
        start,
        end,
        families=(family,),
        preset=preset,
        every=every,
        executor=executor,
        progress=progress,
        cache=cache,
        borders=borders,
        cloud_ranges=cloud_ranges,
        asn_table=asn_table,
        dedup=dedup,
        cloud_asns=cloud_asns,
        exclude_probes=exclude_probes,
        workers=workers,
        max_decompressed=max_decompressed,
        max_records=max_records,
        max_decode_memory=max_decode_memory,
        fetch_on_workers=fetch_on_workers,
        cache_hits=cache_hits,
        **overrides,
    )[family]
