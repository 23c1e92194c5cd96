"""The assessment commands: ``table`` (the evidential table), ``assess`` (one address's verdict,
exit code by outcome) and ``report`` (HTML, Markdown and JSON), and the assessor they share."""

from __future__ import annotations

from typing import Any

from ..defaults import attribution_for
from .common import Context, ExitCode, network_files, parse_countries, require


def assessor_for(ctx: Context) -> tuple[Any, Any]:
    """(EvidentialAssessor, backend) for the global --database / --ground-truth, --preset and, where
    the command has them, --asn-file and --ranges."""
    if not ctx.uses_catalog:
        ctx.database_path  # noqa: B018 - fail early on a missing database file
    ctx.ground_truth_path()
    assessment = require("ipevidence.assessment")
    asn_table, cloud_ranges = network_files(ctx)
    backend = ctx.open_database(getattr(ctx.args, "date", None))
    ground_truth = ctx.load_ground_truth()
    changes = getattr(ctx.args, "alternatives", None) or {}
    policy = assessment.Policy.preset(ctx.args.preset, **changes)
    assessor = assessment.EvidentialAssessor(
        ground_truth,
        backend,
        policy=policy,
        asn_table=asn_table,
        cloud_ranges=cloud_ranges,
        catalog=ctx.open_catalog() if ctx.uses_catalog else None,
    )
    return assessor, backend


def cmd_table(ctx: Context) -> int:
    """Print the evidential table (Table 8) for countries at an evidence date."""
    a = ctx.args
    countries = parse_countries(a.countries)
    assessor, backend = assessor_for(ctx)
    if not countries:
        from ..report.build import top_countries

        first, last = assessor.located.window(a.date.year, assessor.policy.window_years)
        countries = top_countries(assessor.located, first, last, n=10)
    table = assessor.table(countries, a.date)
    warning = ctx.warn_database_date(backend, a.date)
    if a.json:
        from ..jsonutil import canonical_json

        data = {
            "table": table.to_dict(),
            "provenance": assessor.provenance(),
            "attribution": list(attribution_for(backend.describe())),
            "warnings": [warning] if warning else [],
        }
        ctx.console.result(canonical_json(data).rstrip("\n"))
    else:
        ctx.console.result(str(table))
        from ..report.build import outcome_reasons_table

        first, last = assessor.located.window(a.date.year, assessor.policy.window_years)
        why = outcome_reasons_table([assessor.evaluate_country(c, first, last) for c in countries])
        if why is not None:  # the reasons behind every "not valid" and every "Valid geography: no"
            ctx.console.result("")
            ctx.console.result(str(why))
        info = backend.describe()
        ctx.console.result(
            f"Database: {info.name} (built {info.build_date.isoformat()}, SHA-256 {info.sha256})"
        )
        ctx.console.attribution(attribution_for(info))
    return ExitCode.OK


def cmd_assess(ctx: Context) -> int:
    """Assess one address: the verdict as text (or JSON), exit code by outcome."""
    a = ctx.args
    claimed = parse_countries([a.country])[0] if a.country else None
    assessor, backend = assessor_for(ctx)
    verdict = assessor.assess(a.ip, a.date, claimed_country=claimed, asn=a.asn)
    warning = ctx.warn_database_date(backend, a.date)
    if a.json:
        from ..jsonutil import canonical_json

        data = verdict.to_dict()
        data["attribution"] = [*attribution_for(backend.describe()), *verdict.data_attribution()]
        if warning:
            data["warnings"] = [warning]
        ctx.console.result(canonical_json(data).rstrip("\n"))
    else:
        ctx.console.result(str(verdict))
        ctx.console.attribution((*attribution_for(backend.describe()), *verdict.data_attribution()))
    return outcome_exit_code(verdict)


def outcome_exit_code(verdict: Any) -> int:
    """0 valid, 1 not valid, 5 insufficient data (from the verdict's outcome)."""
    outcome = str(getattr(verdict, "outcome", "")).lower()
    if outcome == "valid":
        return ExitCode.OK
    if outcome.startswith("insufficient"):
        return ExitCode.INSUFFICIENT_DATA
    return ExitCode.NOT_VALID


def cmd_report(ctx: Context) -> int:
    """Write the self-contained HTML report, the Markdown one and JSON."""
    from .._io import check_output_dir
    from ..report.build import assessor_report

    a = ctx.args
    check_output_dir(a.output)  # before the work: an output that is a file, FIFO, ... is refused
    countries = parse_countries(a.countries)
    assessor, backend = assessor_for(ctx)
    warning = ctx.warn_database_date(backend, a.date)
    report = assessor_report(
        assessor,
        a.date,
        countries=countries or None,
        addresses=list(a.assess),
        notes=[warning] if warning else [],
        figures=a.figures,
        case_id=a.case_id or None,
        examiner=a.examiner or None,
    )
    files = report.write(a.output)
    ctx.console.result(str(files))
    ctx.console.attribution(report.attribution)
    return ExitCode.OK
