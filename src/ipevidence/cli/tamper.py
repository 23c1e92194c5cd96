"""The ``tamper`` command: read a log and look for impossible travel, cross-service conflicts and
hosting addresses."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import errors
from ..defaults import attribution_for
from .common import Context, ExitCode, UsageError, network_files, require


def read_log(ctx: Context) -> Any:
    """Read the log file in the format asked for (malformed lines are counted, not fatal)."""
    a = ctx.args
    tamper = require("ipevidence.tamper")
    path = Path(a.logfile)
    if not path.is_file():
        raise errors.LogFormatError(f"{path}: no such log file")
    fmt = a.format
    tz = a.tz
    reading: dict[str, Any] = {}  # --encoding and --max-line-length, for every format
    if getattr(a, "encoding", None):
        reading["encoding"] = a.encoding
    if getattr(a, "max_line_length", None):
        reading["max_line_chars"] = a.max_line_length
    if fmt == "moodle":
        kwargs: dict[str, Any] = {"tz": tz, **reading}
        if a.time_format:
            kwargs["time_format"] = a.time_format
        return tamper.read_moodle(path, **kwargs)
    if fmt == "ssh":
        return tamper.read_auth_log(path, tz=tz, **_year_kwargs(a), **reading)
    if fmt == "apache":
        return tamper.read_access_log(path, **reading)
    if fmt == "entra":
        return tamper.read_entra_signins(path, **reading)
    mapping = tamper.ColumnMapping(
        time=a.time_column,
        account=a.account_column,
        address=a.address_column,
        service=a.service_column,
        event=a.event_column,
    )
    reader = tamper.read_csv if fmt == "csv" else tamper.read_jsonl
    return reader(path, mapping, time_format=a.time_format, tz=tz, service=a.service or fmt, **reading)


def _year_kwargs(a: argparse.Namespace) -> dict[str, Any]:
    return {"year": a.year} if a.year else {}


def cmd_tamper(ctx: Context) -> int:
    """Analyse a log for tampering: exit 1 when findings leave the country evidence void."""
    a = ctx.args
    if a.max_speed <= 0:
        raise UsageError("--max-speed must be positive")
    read = read_log(ctx)
    if read.entries == 0 and read.problem_count:
        # every line malformed: the wrong --format (or --time-format), not a log without findings
        first = read.problems[0].reason if read.problems else "malformed"
        raise errors.LogFormatError(
            f"{a.logfile}: no entry could be read as --format {a.format} ({read.problem_count:,} "
            f"malformed lines; first: {first}): check --format and --time-format"
        )
    analysis = require("ipevidence.tamper.analysis")
    extra: dict[str, Any] = {}
    if ctx.uses_catalog:
        # every entry is geolocated with the build nearest before its own day (METHOD.md section
        # 11), else the earliest build, flagged; the report names the build of every entry
        catalog = ctx.open_catalog()
        if getattr(a, "database_rule", "nearest-before") != "nearest-before":
            raise UsageError(
                "tamper geolocates each entry with the build nearest before its day: omit --database-rule"
            )
        dated = [entry.backend for entry in catalog.entries]
        extra["backends"] = dated
        backend = dated[-1]
        credits_from = [entry.info for entry in catalog.entries]
    else:
        backend = ctx.open_database()
        extra["backend"] = backend
        credits_from = [backend.describe()]
    asn_table, cloud_ranges = network_files(ctx)
    if asn_table is not None:
        extra["asn_table"] = asn_table
    if cloud_ranges is not None:
        extra["networks"] = {f"{r.provider} ({r.name})": r for r in cloud_ranges.providers}
    report = analysis.analyse(
        read,
        max_speed_kmh=a.max_speed,
        distance_territory=a.distance_territory,
        **extra,
    )
    if getattr(read, "replaced_bytes", 0):
        ctx.console.warn(
            f"{read.replaced_bytes} bytes in {a.logfile} are not valid {read.encoding} and were read as "
            f"U+FFFD (an account name may be split in two): pass --encoding with the file's encoding"
        )
    if read.problem_count:
        lines = ", ".join(str(int(x)) for x in read.problem_lines[:10])
        more = " ..." if read.problem_count > 10 else ""
        ctx.console.warn(f"{read.problem_count} malformed lines in {a.logfile} (lines {lines}{more})")
    if a.json:
        import json

        from ..jsonutil import canonical_json

        # the database's licence requires its attribution wherever its data is used: in the JSON too
        data = json.loads(report.to_json())
        data["attribution"] = _credits(credits_from)
        ctx.console.result(canonical_json(data).rstrip("\n"))
    else:
        if a.markdown:
            ctx.console.result(report.to_markdown().rstrip("\n"))
            # a Markdown report is a document of its own: it carries the attribution, as reports do
            credits = _credits(credits_from)
            if credits:
                ctx.console.result("")
                ctx.console.result("## Data attribution")
                ctx.console.result("")
                for credit in credits:
                    ctx.console.result(f"- {credit}")
        else:
            ctx.console.result(str(report))
            for finding in report.findings:
                ctx.console.result("")
                ctx.console.result(str(finding))
        ctx.console.attribution(_credits(credits_from))
    return ExitCode.NOT_VALID if report.findings else ExitCode.OK


def _credits(infos: Sequence[Any]) -> list[str]:
    """The attribution lines of every database used, once each, in order."""
    return list(dict.fromkeys(line for info in infos for line in attribution_for(info)))
