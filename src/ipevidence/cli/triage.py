"""The ``triage`` command: judge a list of cases at once (its options are in :mod:`.parser`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import errors
from ..defaults import attribution_for
from .common import Context, ExitCode, FeatureUnavailableError, UsageError, network_files, require


def cmd_triage(ctx: Context) -> int:
    """Triage a case list: per-case results sorted by located country, and the summary."""
    a = ctx.args
    formats = [f.strip().lower() for f in a.results.split(",") if f.strip()]
    bad = [f for f in formats if f not in ("csv", "jsonl", "parquet")]
    if not formats or bad:
        raise UsageError(f"--results: {', '.join(bad) or 'nothing'} is not csv, jsonl or parquet")
    if a.chunk_size < 1:
        raise UsageError("--chunk-size must be at least 1")
    from .._io import check_output_dir

    check_output_dir(a.output)
    if "parquet" in formats:
        try:
            import pyarrow  # noqa: F401
        except ImportError as exc:
            raise FeatureUnavailableError(
                "Parquet results need pyarrow, which is not installed (install the optional extra: "
                "pip install 'ipevidence[arrow]')"
            ) from exc
    from ..tamper.readers import _zone

    for option, zone in (("--tz", a.tz), ("--date-zone", a.date_zone)):
        try:
            _zone(zone)
        except ValueError as exc:
            raise UsageError(f"{option}: {exc}") from None
    cases = Path(a.cases)
    if not cases.is_file():
        raise errors.LogFormatError(f"{cases}: no such case file")
    triage = require("ipevidence.triage")
    triage_io = require("ipevidence.triage.files")
    ground_truths = [ctx.load_ground_truth()]
    if a.ground_truth_v6:
        from ..groundtruth import GroundTruth

        ground_truths.append(GroundTruth.load(a.ground_truth_v6))
    asn_table, cloud_ranges = network_files(ctx)
    if ctx.uses_catalog:
        database: Any = ctx.open_catalog()
        rule = getattr(a, "database_rule", "nearest-before")
        if rule not in ("nearest-before", "nearest") and not Path(rule).is_file():
            raise UsageError(f"--database-rule: unknown rule {rule!r}: use nearest-before, nearest or a file")
    else:
        database = require("ipevidence.backends").open_database(ctx.database_path)
        rule = "nearest-before"
    changes = getattr(a, "alternatives", None) or {}
    policy = require("ipevidence.assessment").Policy.preset(a.preset, **changes)
    engine = triage.Triage(
        ground_truths, database, policy, asn_table=asn_table, cloud_ranges=cloud_ranges, database_rule=rule
    )
    mapping = triage_io.CaseMapping(
        address=a.address_column,
        time=a.time_column,
        case_id=a.case_id_column,
        country=a.country_column,
        asn=a.asn_column,
    )
    size = cases.stat().st_size
    bar = None
    if not a.quiet:
        from tqdm import tqdm

        bar = tqdm(total=size, unit="B", unit_scale=True, desc="triage", disable=None, leave=False)
    done = [0]

    def progress(read: int) -> None:
        if bar is not None and read > done[0]:
            bar.update(read - done[0])
            done[0] = read

    try:
        files = triage_io.triage_file(
            cases,
            engine,
            a.output,
            mapping,
            results=formats,
            format=a.format,
            time_format=a.time_format,
            tz=a.tz,
            date_zone=a.date_zone,
            chunk_size=a.chunk_size,
            encoding=a.encoding,
            max_line_chars=a.max_line_length,
            figures=a.figures,
            progress=progress,
        )
    finally:
        if bar is not None:
            bar.close()
    reading = files.reading
    if reading.replaced_bytes:
        ctx.console.warn(
            f"{reading.replaced_bytes} bytes in {cases.name} are not valid {reading.encoding} and were read "
            "as U+FFFD: pass --encoding with the file's encoding"
        )
    if reading.malformed_lines:
        shown = ", ".join(str(x) for x in reading.malformed_lines[:10])
        more = " ..." if len(reading.malformed_lines) > 10 else ""
        ctx.console.warn(
            f"{len(reading.malformed_lines):,} malformed lines in {cases.name} were not cases "
            f"(lines {shown}{more}; all in summary.json)"
        )
    if a.figures and not any(p.suffix == ".png" for p in files.summary):
        ctx.console.warn("no bar chart: matplotlib is missing (pip install 'ipevidence[plots]')")
    ctx.console.result(str(files.summary_data))
    ctx.console.result("")
    ctx.console.result(str(files))
    ctx.console.attribution(sorted({line for info in engine.databases for line in attribution_for(info)}))
    return ExitCode.OK
