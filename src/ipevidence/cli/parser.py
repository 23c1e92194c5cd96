"""The argument parser of the ``ipevidence`` command (:func:`build_parser`).

The global options, every subcommand's options and the parsers of their values (dates, AS
numbers, line limits, ``--alternatives``). A subcommand's handler is imported from its module only
when the subcommand runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
from collections.abc import Callable
from typing import Any

from .._version import __version__
from ..defaults import DATABASE_ATTRIBUTION
from .common import Context, parse_countries


def parse_date(text: str) -> dt.date:
    """An ISO date (``YYYY-MM-DD``) from the command line."""
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (expected YYYY-MM-DD): {text!r}") from None


def parse_asn(text: str) -> int:
    """``--asn``: an AS number, 1 to 4294967295 (``AS15169`` accepted); 0 is reserved, not "none"."""
    digits = text.strip()
    if digits[:2].upper() == "AS":
        digits = digits[2:]
    if not digits.isdigit() or not digits.isascii():
        raise argparse.ArgumentTypeError(f"not an AS number: {text!r} (expected 1 to 4294967295, e.g. 15169)")
    value = int(digits[:12])
    if len(digits) > 12 or not 0 < value < 2**32:
        raise argparse.ArgumentTypeError(
            f"AS number {text.strip()[:20]!r} out of range: AS numbers are 1 to 4294967295 (0 is reserved)"
        )
    return value


def parse_line_limit(text: str) -> int:
    """``--max-line-length``: a positive number of characters."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of characters: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("--max-line-length must be at least 1")
    return value


def _command(module: str, name: str) -> Callable[[Context], int]:
    """The handler ``name`` of the command module ``module`` (:mod:`.archive`, :mod:`.assess`, ...),
    imported when the command runs: starting ``ipevidence assess`` loads no other command's module."""

    def handler(ctx: Context) -> int:
        return int(getattr(importlib.import_module(f"{__package__}.{module}"), name)(ctx))

    return handler


# --------------------------------------------------------------------------- the parser
def _global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    d: Callable[[Any], Any] = (lambda _v: argparse.SUPPRESS) if suppress else (lambda v: v)
    g = parser.add_argument_group("global options")
    g.add_argument(
        "--database",
        metavar="FILE",
        action="append",
        default=d(None),
        help="geolocation database (IP2Location BIN, .mmdb, CSV ranges); "
        "default: the shipped IP2Location LITE DB1 (2024-10-01); repeat it (or use --database-dir) "
        "for a catalogue of dated builds, from which --database-rule picks the build for the date",
    )
    g.add_argument(
        "--database-dir",
        metavar="DIR",
        action="append",
        default=d(None),
        help="a folder of dated database builds (a catalogue; each dated by its own build date)",
    )
    g.add_argument(
        "--database-rule",
        metavar="RULE",
        default=d("nearest-before"),
        help="how a catalogue picks the build for a date: nearest-before (default: what an "
        "investigator had that day), nearest, or a file of the catalogue",
    )
    g.add_argument(
        "--ground-truth",
        metavar="FILE",
        default=d(None),
        help="a ground-truth file written by 'ipevidence build' (or the demo); "
        "default: $IPEVIDENCE_GROUND_TRUTH",
    )
    g.add_argument(
        "--cache-dir",
        metavar="DIR",
        default=d(None),
        help="archive cache directory (default: $IPEVIDENCE_CACHE or the platform cache directory)",
    )
    g.add_argument("--quiet", "-q", action="store_true", default=d(False), help="no progress or notes")
    g.add_argument("--debug", action="store_true", default=d(False), help="show tracebacks on errors")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``ipevidence`` command."""
    parser = argparse.ArgumentParser(
        prog="ipevidence",
        description="How much an IP-to-country geolocation is worth as forensic evidence "
        "(Komosny 2023 method, RIPE Atlas ground truth).",
        epilog="Exit codes: 0 ok/valid, 1 not valid (or tamper findings), 2 usage, 3 data error, "
        "4 input cannot be assessed, 5 insufficient data, 6 component unavailable, 70 internal error, "
        "141 output pipe closed before the work was done. " + DATABASE_ATTRIBUTION,
    )
    parser.add_argument("--version", action="version", version=f"ipevidence {__version__}")
    _global_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, suppress=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, description=help_text, parents=[common])

    p = add("fetch", "download RIPE Atlas archive days for a date range into the cache")
    p.add_argument("start", type=parse_date, help="first day (YYYY-MM-DD)")
    p.add_argument("end", type=parse_date, help="last day (YYYY-MM-DD), inclusive")
    p.add_argument("--source", help="archive base URL or local folder (default: RIPE's public archive)")
    p.add_argument("--every", type=int, default=1, metavar="K", help="take every K-th day (default 1)")
    p.add_argument("--workers", type=int, default=4, help="parallel downloads (default 4)")
    _download_limits(p)
    p.set_defaults(handler=_command("archive", "cmd_fetch"))

    p = add("build", "compile a ground truth from archive days and save it, printing the filter funnel")
    p.add_argument("start", type=parse_date, help="first day (YYYY-MM-DD)")
    p.add_argument("end", type=parse_date, help="last day (YYYY-MM-DD), inclusive")
    p.add_argument("--source", help="archive base URL or local folder (default: RIPE's public archive)")
    p.add_argument("--output", "-o", required=True, metavar="FILE", help="ground-truth file to write")
    p.add_argument("--family", type=int, choices=(4, 6), default=4, help="address family (default 4)")
    p.add_argument(
        "--policy",
        choices=("first-seen", "per-run", "last-seen"),
        default="first-seen",
        help="de-duplication ('most distant' address selection) policy (default first-seen)",
    )
    p.add_argument("--preset", choices=("default", "reference"), default="default", help="method preset")
    p.add_argument("--every", type=int, default=1, metavar="K", help="use every K-th day (default 1)")
    p.add_argument("--csv", metavar="FILE", help="also export the ground truth as CSV (reference columns)")
    p.add_argument(
        "--exclude-probes",
        action="append",
        default=[],
        metavar="FILE",
        help="a published list of probes that misreport their location (plain ids or the CSV with "
        "probe_id,violates_ark,...; not shipped: academic licence); may be repeated",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="parsing processes (default: every usable core, bounded by available memory at 128 MiB each)",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="parse on a Dask cluster (e.g. tcp://host:8786; needs ipevidence[dask]); see docs/scaling.md",
    )
    p.add_argument(
        "--fetch-on-workers",
        action="store_true",
        help="with --scheduler: each Dask worker fetches (or reads shared storage) and parses its own days",
    )
    p.add_argument(
        "--max-records",
        type=int,
        default=None,
        metavar="N",
        help="a day with more records is corrupt (default 1,000,000; a real day has about 30,000)",
    )
    p.add_argument(
        "--max-decompressed",
        type=int,
        default=None,
        metavar="MIB",
        help="a day decompressing to more JSON is corrupt (default 256 MiB; a real day is about 20)",
    )
    p.add_argument(
        "--max-decode-memory",
        type=int,
        default=None,
        metavar="MIB",
        help="memory a whole-text decode may take before a day is refused (default 512 MiB)",
    )
    _download_limits(p)
    p.set_defaults(handler=_command("archive", "cmd_build"))

    p = add("table", "the evidential table (the paper's Table 8) for countries at an evidence date")
    p.add_argument(
        "countries",
        nargs="*",
        metavar="COUNTRY",
        help="ISO alpha-2 codes (default: the ten countries with the most ground truth in the window)",
    )
    p.add_argument("--date", type=parse_date, required=True, help="evidence date (YYYY-MM-DD)")
    p.add_argument("--preset", choices=("default", "reference"), default="default", help="method preset")
    add_alternatives_option(p)
    p.add_argument("--json", action="store_true", help="machine-readable JSON output")
    p.set_defaults(handler=_command("assess", "cmd_table"))

    p = add("assess", "the evidential value of one address's country location at a date")
    p.add_argument("ip", help="the IP address from the evidence")
    p.add_argument("--date", type=parse_date, required=True, help="date of the evidence (YYYY-MM-DD)")
    p.add_argument("--country", help="the country the evidence is claimed to show (ISO alpha-2)")
    p.add_argument(
        "--asn",
        type=parse_asn,
        help="the address's AS number, if known (e.g. from WHOIS): 1 to 4294967295",
    )
    add_network_options(p)
    p.add_argument("--preset", choices=("default", "reference"), default="default", help="method preset")
    add_alternatives_option(p)
    p.add_argument("--json", action="store_true", help="machine-readable JSON output")
    p.set_defaults(handler=_command("assess", "cmd_assess"))

    p = add("triage", "judge a list of cases (address, time) at once and sort them by located country")
    add_triage_options(p)
    p.set_defaults(handler=_command("triage", "cmd_triage"))

    p = add("tamper", "look for impossible travel, cross-service conflicts and hosting addresses in a log")
    p.add_argument("logfile", help="the log file")
    p.add_argument(
        "--format",
        required=True,
        choices=("moodle", "ssh", "apache", "entra", "csv", "jsonl"),
        help="log format",
    )
    p.add_argument("--time-format", help="strptime format of the time column (Moodle exports vary)")
    p.add_argument("--tz", default="UTC", help="time zone of naive times in the log (default UTC)")
    p.add_argument("--year", type=int, help="year of syslog (ssh) lines, which carry none")
    p.add_argument("--max-speed", type=float, default=900.0, help="maximum travel speed, km/h (default 900)")
    p.add_argument(
        "--distance-territory",
        choices=("all", "main"),
        default="all",
        help="country distances between whole countries including overseas parts (all, the method's "
        "rule: FR and BR are neighbours through French Guiana) or between main territories only "
        "(main: finds more impossible travel, errs towards voiding the evidence)",
    )
    add_network_options(p)
    g = p.add_argument_group("csv and jsonl column mapping")
    g.add_argument("--time-column", default="time", help="(default: time)")
    g.add_argument("--account-column", default="account", help="(default: account)")
    g.add_argument("--address-column", default="address", help="(default: address)")
    g.add_argument("--service-column", default=None, help="(default: none; --service names it)")
    g.add_argument("--event-column", default=None, help="(default: none)")
    g.add_argument("--service", default=None, help="service name for every entry (default: the format)")
    p.add_argument(
        "--encoding",
        default=None,
        help="the log's text encoding (a Python codec name such as cp1252 or utf-16; default UTF-8). "
        "Bytes not valid in it are read as U+FFFD, counted and reported",
    )
    p.add_argument(
        "--max-line-length",
        type=parse_line_limit,
        default=None,
        metavar="CHARS",
        help="longest line read, in characters (default 1048576); a longer line is one malformed line",
    )
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="machine-readable JSON output")
    out.add_argument("--markdown", action="store_true", help="Markdown output")
    p.set_defaults(handler=_command("tamper", "cmd_tamper"))

    p = add("report", "write a self-contained HTML report, a Markdown one and JSON")
    p.add_argument(
        "countries",
        nargs="*",
        metavar="COUNTRY",
        help="ISO alpha-2 codes (default: the five countries with the most ground truth in the window)",
    )
    p.add_argument("--date", type=parse_date, required=True, help="evidence date (YYYY-MM-DD)")
    p.add_argument("--output", "-o", default="ipevidence-report", metavar="DIR", help="output directory")
    p.add_argument("--assess", nargs="*", default=[], metavar="IP", help="addresses to assess in the report")
    p.add_argument("--preset", choices=("default", "reference"), default="default", help="method preset")
    add_alternatives_option(p)
    p.add_argument(
        "--no-figures",
        dest="figures",
        action="store_false",
        help="write no figures (faster)",
    )
    p.add_argument(
        "--case-id",
        metavar="TEXT",
        default=None,
        help="case reference printed in the report's header and page margin (only when given)",
    )
    p.add_argument(
        "--examiner",
        metavar="TEXT",
        default=None,
        help="examiner's name printed in the report's header and page margin (only when given)",
    )
    p.set_defaults(handler=_command("assess", "cmd_report"))

    p = add("staleness", "accuracy of every database build on every ground-truth year (needs a catalogue)")
    p.add_argument(
        "countries",
        nargs="*",
        metavar="COUNTRY",
        help="countries to tabulate besides all countries pooled (default: every country in the JSON, "
        "only the pooled figure printed)",
    )
    p.add_argument(
        "--not-located",
        choices=("exclude", "wrong"),
        default="exclude",
        help="not-located rows excluded (default) or counted as wrong",
    )
    p.add_argument("--json", action="store_true", help="the whole table as canonical JSON on standard output")
    p.add_argument("--output", "-o", metavar="DIR", help="also write staleness.json and the figures here")
    p.set_defaults(handler=_command("staleness", "cmd_staleness"))

    p = add("demo", "the whole method offline: generated archive, shipped database, table, verdicts, report")
    p.add_argument("--output", "-o", default="ipevidence-demo", metavar="DIR", help="output directory")
    p.add_argument("--probes", type=int, default=None, help="probes in the generated archive")
    p.add_argument("--years", type=int, default=8, help="years of history (default 8)")
    p.add_argument("--every", type=int, default=None, metavar="K", help="use every K-th archive day")
    p.add_argument("--seed", type=int, default=7, help="generator seed (default 7)")
    for action in p._actions:  # the demo always uses the shipped database and its own ground truth
        if action.dest in ("database", "database_dir", "database_rule", "ground_truth"):
            action.help = argparse.SUPPRESS
    p.set_defaults(handler=_command("demo", "cmd_demo"))
    return parser


def parse_alternatives(text: str) -> dict[str, Any]:
    """``--alternatives``: ``AT,CH`` (each separately), ``AT=0.7,CH=0.3`` (one weighted mixture) or
    ``pooled`` (every other country weighted by its ground truth) as Policy changes."""
    try:
        return _alternatives_spec(text)
    except ValueError as exc:  # an unknown country code
        raise argparse.ArgumentTypeError(str(exc)) from None


def _alternatives_spec(text: str) -> dict[str, Any]:
    spec = text.strip()
    if spec.lower() == "pooled":
        return {"lr_hd": "pooled", "lr_alternatives": None}
    items = [x.strip() for x in spec.split(",") if x.strip()]
    if not items:
        raise argparse.ArgumentTypeError("name at least one country, e.g. AT,CH or AT=0.7,CH=0.3")
    weighted = ["=" in x for x in items]
    if any(weighted) and not all(weighted):
        raise argparse.ArgumentTypeError("give a weight to every alternative or to none (AT=0.7,CH=0.3)")
    if not any(weighted):
        return {"lr_hd": "each", "lr_alternatives": tuple(parse_countries(items))}
    pairs: list[tuple[str, float]] = []
    for item in items:
        code, _, weight = item.partition("=")
        try:
            w = float(weight)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{weight!r} is not a weight (a number >= 0)") from None
        pairs.append((parse_countries([code])[0], w))
    return {"lr_hd": "weighted", "lr_alternatives": tuple(pairs)}


def add_alternatives_option(p: argparse.ArgumentParser) -> None:
    """``--alternatives`` (``table``, ``assess``, ``report``): the likelihood ratio's Hd."""
    p.add_argument(
        "--alternatives",
        type=parse_alternatives,
        default=None,
        metavar="SPEC",
        help="the likelihood ratio's alternative hypothesis Hd: AT,CH (against each, the weakest "
        "reported), AT=0.7,CH=0.3 (one weighted mixture) or 'pooled' (every other country weighted "
        "by its ground truth); default: each country with enough ground truth",
    )


def add_network_options(p: argparse.ArgumentParser) -> None:
    """``--asn-file`` and ``--ranges`` (``assess`` and ``tamper``)."""
    p.add_argument(
        "--asn-file",
        metavar="FILE",
        help="a dated pyasn IP-to-ASN file (.dat or .dat.gz): finds cloud and hosting networks by ASN",
    )
    p.add_argument(
        "--ranges",
        action="extend",
        nargs="+",
        default=[],
        metavar="FILE",
        help="providers' published range files (AWS ip-ranges.json, Google cloud.json, Azure Service "
        "Tags, DigitalOcean geofeed CSV, Oracle): addresses inside them are hosting addresses; "
        "may be repeated",
    )


def _download_limits(p: argparse.ArgumentParser) -> None:
    """``--max-download`` and ``--deadline`` of ``fetch`` and ``build`` (HTTP sources only)."""
    p.add_argument(
        "--max-download",
        type=int,
        default=None,
        metavar="MIB",
        help="largest archive file downloaded (default 64 MiB; a real day is about 1)",
    )
    p.add_argument(
        "--deadline",
        type=float,
        default=None,
        metavar="SECONDS",
        help="longest one day's download may take, retries included (default 600)",
    )


def add_triage_options(p: argparse.ArgumentParser) -> None:
    """The options of ``triage`` (docs/cli.md, docs/triage.md)."""
    p.add_argument("cases", metavar="CASES", help="the case list: CSV with a header, or JSON lines")
    p.add_argument("--output", "-o", required=True, metavar="DIR", help="folder for results and summary")
    p.add_argument(
        "--format",
        choices=("auto", "csv", "jsonl"),
        default="auto",
        help="the case list's format (default auto: .jsonl/.ndjson/.json are JSON lines, else CSV)",
    )
    p.add_argument(
        "--results",
        default="csv",
        metavar="FORMATS",
        help="per-case result files, comma-separated: csv, jsonl, parquet (needs pyarrow) (default csv)",
    )
    g = p.add_argument_group("column mapping (CSV header names or JSON keys, dotted for nested objects)")
    g.add_argument("--address-column", default="address", help="(default: address)")
    g.add_argument("--time-column", default="time", help="(default: time)")
    g.add_argument("--case-id-column", default=None, help="(default: none; cases are named by line)")
    g.add_argument("--country-column", default=None, help="the claimed country (default: none)")
    g.add_argument("--asn-column", default=None, help="the address's AS number (default: none)")
    p.add_argument("--time-format", help="iso (default), epoch, epoch_ms or a strptime format")
    p.add_argument("--tz", default="UTC", help="time zone of times without an offset (default UTC)")
    p.add_argument(
        "--date-zone",
        default="UTC",
        help="the zone whose calendar date is each case's evidence date (default UTC)",
    )
    p.add_argument(
        "--chunk-size",
        type=int,
        default=250_000,
        metavar="N",
        help="cases read and judged at a time (default 250000; memory grows with it, not with the file)",
    )
    p.add_argument("--encoding", default=None, help="the case list's encoding (default UTF-8)")
    p.add_argument(
        "--max-line-length",
        type=parse_line_limit,
        default=None,
        metavar="CHARS",
        help="longest line read (default 1048576); a longer line is one malformed line",
    )
    p.add_argument(
        "--ground-truth-v6",
        metavar="FILE",
        default=None,
        help="an IPv6 ground truth (besides --ground-truth); without one IPv6 cases cannot be assessed",
    )
    add_network_options(p)
    p.add_argument("--preset", choices=("default", "reference"), default="default", help="method preset")
    add_alternatives_option(p)
    p.add_argument(
        "--no-figures", dest="figures", action="store_false", help="no bar chart (needs no matplotlib)"
    )
