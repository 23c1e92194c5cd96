"""The archive commands: ``fetch`` (download days into the cache) and ``build`` (compile a ground
truth), with their helpers (archive source, day range, cost estimate, probe exclusions)."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
from collections.abc import Sequence
from typing import Any

from .. import errors
from .common import Context, ExitCode, UsageError, require


def open_source(ctx: Context, source: str | None) -> Any:
    """An archive source: a local folder, or an HTTP(S) base URL (default RIPE's archive) with the cache."""
    src = require("ipevidence.archive.source")
    if source and not source.startswith(("http://", "https://")):
        return src.LocalArchive(source)
    archive = src.HttpArchive(source or src.DEFAULT_BASE_URL, ctx.cache_dir)
    max_download = getattr(ctx.args, "max_download", None)
    deadline = getattr(ctx.args, "deadline", None)
    if max_download is not None:
        if max_download < 1:
            raise UsageError("--max-download must be at least 1 (MiB)")
        archive.max_download = max_download * 2**20
    if deadline is not None:
        if deadline <= 0:
            raise UsageError("--deadline must be positive")
        archive.deadline = float(deadline)
    return archive


def build_options(a: argparse.Namespace) -> dict[str, Any]:
    """``build``'s --workers and per-day limits as :func:`~ipevidence.history.build_ground_truth`
    keywords (None: the library's default)."""
    out: dict[str, Any] = {}
    if a.workers is not None:
        if a.workers < 1:
            raise UsageError("--workers must be at least 1")
        out["workers"] = a.workers
    if a.max_records is not None:
        if a.max_records < 1:
            raise UsageError("--max-records must be at least 1")
        out["max_records"] = a.max_records
    for name in ("max_decompressed", "max_decode_memory"):
        value = getattr(a, name)
        if value is not None:
            if value < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be at least 1 (MiB)")
            out[name] = value * 2**20
    if a.fetch_on_workers and not a.scheduler:
        raise UsageError("--fetch-on-workers needs --scheduler")
    return out


def archive_estimate(source: Any, days: Sequence[dt.date], cores: int | None = None) -> Any:
    """The cost of ``days`` from ``source`` (:mod:`ipevidence.estimate`): days already in the
    download cache (or, for a local folder, every day) need no download; ``cores`` parse (default:
    this machine's)."""
    from ..estimate import estimate_archive

    cached_path = getattr(source, "cached_path", None)
    cached = sum(1 for d in days if cached_path(d).is_file()) if cached_path is not None else len(days)
    return estimate_archive(len(days), cached=cached, cores=cores)


def check_day_range(a: argparse.Namespace) -> None:
    """The ``start end [--every K]`` arguments of ``fetch`` and ``build`` must make sense."""
    if a.end < a.start:
        raise UsageError(f"end {a.end} is before start {a.start}")
    if a.every < 1:
        raise UsageError("--every must be at least 1")


def cmd_fetch(ctx: Context) -> int:
    """Download archive days into the cache and summarise what is missing or corrupt."""
    a = ctx.args
    check_day_range(a)
    src_mod = require("ipevidence.archive.source")
    source = open_source(ctx, a.source)
    if hasattr(source, "workers"):
        source.workers = max(1, a.workers)
    days = src_mod.date_range(a.start, a.end, a.every)
    if hasattr(source, "cached_path"):  # a download: say what it will cost before it starts
        ctx.console.info(archive_estimate(source, days).fetch_text())
    ctx.console.info(f"fetching {len(days)} days from {source.describe()}")
    records = src_mod.fetch_days(source, days, progress=None if not a.quiet else False, workers=a.workers)
    ok = [r for r in records if r.status == "ok"]
    missing = [r for r in records if r.status == "missing"]
    corrupt = [r for r in records if r.status == "corrupt"]
    ctx.console.result(f"days requested: {len(records)}")
    ctx.console.result(f"days available: {len(ok)}")
    ctx.console.result(f"days missing:   {len(missing)}" + _day_list(missing))
    if isinstance(source, src_mod.LocalArchive) and not corrupt:
        # a local folder is not downloaded, so nothing checked its bzip2 streams: do not claim 0
        ctx.console.result("days corrupt:   not checked (a local folder: 'build' checks each file it reads)")
    else:
        ctx.console.result(f"days corrupt:   {len(corrupt)}" + _day_list(corrupt))
    cache = getattr(source, "cache_dir", None)
    if cache is not None:
        ctx.console.result(f"cache: {cache}")
    if not ok:
        raise errors.ArchiveError(
            f"none of the {len(records)} days from {a.start} to {a.end} is available from {source.describe()}"
        )
    return ExitCode.OK


def _day_list(records: Sequence[Any], limit: int = 10) -> str:
    if not records:
        return ""
    days = [r.day.isoformat() for r in records[:limit]]
    more = f" and {len(records) - limit} more" if len(records) > limit else ""
    return " (" + ", ".join(days) + more + ")"


def parsed_cache(ctx: Context) -> Any:
    """The parsed-day cache under ``--cache-dir`` (or the library's default)."""
    if ctx.cache_dir is None:
        return "default"
    archive = require("ipevidence.archive")
    return archive.ParsedDayCache(ctx.cache_dir / "parsed")


def funnel_table(ground_truth: Any) -> str:
    """The filter funnel of a ground truth as aligned text."""
    from ..report import Table

    rows = [(s.name, s.rows_in, s.removed, s.rows_out, s.description) for s in ground_truth.funnel.steps]
    table = Table(f"Filter funnel (IPv{ground_truth.family})", ("step", "in", "removed", "out", "rule"), rows)
    return str(table)


def cmd_build(ctx: Context) -> int:
    """Compile a ground truth and save it; print the filter funnel."""
    from .._io import check_output_path

    a = ctx.args
    check_day_range(a)
    check_output_path(a.output)  # before hours of work: -o onto a FIFO, device or symlink is refused
    if a.csv:
        check_output_path(a.csv)
    history = require("ipevidence.history")
    source = open_source(ctx, a.source)
    src_mod = require("ipevidence.archive.source")
    days = src_mod.date_range(a.start, a.end, a.every)
    ctx.console.info(archive_estimate(source, days, getattr(a, "workers", None)).build_text())
    options = build_options(a)
    ctx.console.info(
        f"building the IPv{a.family} ground truth from {source.describe()}, {a.start} to {a.end}"
    )
    with contextlib.ExitStack() as stack:
        if a.scheduler:
            distributed = require("distributed")
            client = stack.enter_context(distributed.Client(a.scheduler))
            options["executor"] = client.get_executor()
            if a.workers is None:  # keep every worker thread of the cluster busy (the look-ahead)
                info = client.scheduler_info().get("workers", {})
                options["workers"] = max(1, sum(int(w.get("nthreads", 1)) for w in info.values()))
            options["fetch_on_workers"] = bool(a.fetch_on_workers)
            if a.fetch_on_workers:
                options["cache"] = parsed_cache(ctx) if ctx.cache_dir is not None else None
        gt = history.build_ground_truth(
            source,
            a.start,
            a.end,
            family=a.family,
            preset=a.preset,
            dedup=a.policy,
            every=a.every,
            cache=options.pop("cache", parsed_cache(ctx)),
            progress=None if not a.quiet else False,
            exclude_probes=exclusions(ctx) or None,
            **options,
        )
    ctx.console.result(funnel_table(gt))
    prov = gt.provenance
    if prov is not None:
        ctx.console.result(
            f"archive days: {len(prov.used)} used, {len(prov.missing)} missing, {len(prov.corrupt)} corrupt"
            + _day_list(prov.corrupt)
        )
    if prov is not None and not prov.used:
        raise errors.ArchiveError(
            f"no usable archive day from {a.start} to {a.end} ({len(prov.missing)} missing, "
            f"{len(prov.corrupt)} corrupt): nothing written to {a.output}"
        )
    if len(gt) == 0:
        raise errors.ArchiveError(
            f"the ground truth is empty: no archive day gave a usable record (see the funnel above); "
            f"nothing written to {a.output}"
        )
    path = gt.save(a.output)
    ctx.console.result(f"ground truth: {len(gt):,} rows written to {path}")
    if a.csv:
        csv_path = gt.to_csv(a.csv, style="reference")
        ctx.console.result(f"CSV (reference columns): {csv_path}")
    return ExitCode.OK


def exclusions(ctx: Context) -> tuple[int, ...]:
    """The probe ids of every ``--exclude-probes`` list (each named with its date and SHA-256)."""
    files = list(getattr(ctx.args, "exclude_probes", None) or [])
    if not files:
        return ()
    mod = require("ipevidence.probe_exclusions")
    lists = [mod.read_probe_exclusions(f) for f in files]
    for lst in lists:
        ctx.console.result(f"{lst} (sha256 {lst.sha256})")
    return tuple(mod.merge_exclusions(lists))
