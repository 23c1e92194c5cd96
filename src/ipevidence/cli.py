"""The ``ipevidence`` command.

Subcommands: ``fetch``, ``build``, ``table``, ``assess``, ``triage``, ``tamper``, ``report``, ``demo``. Global
options (``--database``, ``--ground-truth``, ``--cache-dir``, ``--quiet``, ``--debug``) may be given
before or after the subcommand. Results go to standard output; progress, warnings and errors go to
standard error. An error is one line ``ipevidence: error: ...`` without a traceback unless
``--debug``. Exit codes (:class:`ExitCode`) are stable so scripts can rely on them.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import enum
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from . import errors
from ._version import __version__
from .defaults import DATABASE_ATTRIBUTION, attribution_for

__all__ = ["ExitCode", "FeatureUnavailableError", "build_parser", "exit_code_for", "main"]


class ExitCode(enum.IntEnum):
    """Exit codes of the ``ipevidence`` command (documented in docs/cli.md)."""

    #: success; for ``assess``: the country location is valid evidence; for ``tamper``: nothing voids it
    OK = 0
    #: ``assess``: not valid evidence; ``tamper``: findings leave the country evidence void
    NOT_VALID = 1
    #: bad command line (unknown option, missing argument, unparsable date)
    USAGE = 2
    #: a file that cannot be read: database, archive, ground truth, log, range file; or missing
    DATA_ERROR = 3
    #: the question cannot be asked of this input: invalid or private address, unknown country,
    #: evidence date outside the ground truth, address family the ground truth or database lacks
    INPUT_ERROR = 4
    #: ``assess``: insufficient data to decide
    INSUFFICIENT_DATA = 5
    #: a component this command needs is not installed (an optional extra or a missing stage)
    UNAVAILABLE = 6
    #: an unexpected internal error (a bug: please report it with ``--debug`` output)
    INTERNAL = 70
    #: interrupted by the user (Ctrl-C)
    INTERRUPTED = 130
    #: the reader of standard output went away (``... | head -1``) before the command finished;
    #: 128 + SIGPIPE, what a shell reports for a command a broken pipe stopped. A command whose output
    #: was cut only after its work was done keeps its own exit code (see :class:`Console`).
    BROKEN_PIPE = 141


class FeatureUnavailableError(errors.IpEvidenceError, RuntimeError):
    """A command needs a component that is not installed in this environment."""


class UsageError(errors.IpEvidenceError, ValueError):
    """A command-line argument that does not make sense (reported with exit code 2)."""


def exit_code_for(exc: BaseException) -> ExitCode:
    """The exit code for an exception raised while running a command."""
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    if isinstance(exc, UsageError):
        return ExitCode.USAGE
    if isinstance(exc, FeatureUnavailableError) or (
        isinstance(exc, ImportError) and str(getattr(exc, "name", "") or "").startswith("ipevidence")
    ):
        return ExitCode.UNAVAILABLE
    if isinstance(
        exc,
        errors.InvalidAddressError
        | errors.UnknownCountryError
        | errors.OutsideGroundTruthError
        | errors.FamilyMismatchError,
    ):
        return ExitCode.INPUT_ERROR
    if isinstance(exc, errors.IpEvidenceError | OSError):
        return ExitCode.DATA_ERROR
    return ExitCode.INTERNAL


# --------------------------------------------------------------------------- output helpers
def _discard_stream(stream: TextIO) -> None:
    """Point a standard stream whose reader went away at /dev/null, so that later writes and the
    interpreter's final flush neither fail nor print "Broken pipe"."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (a test's StringIO)
        pass


class Console:
    """Where the command writes: results to stdout, notes and warnings to stderr (``--quiet``).

    When the reader of a stream goes away (``ipevidence assess ... | head -1``), the rest of what
    the command writes there is dropped quietly and the command carries on, so its work (a file
    it writes) is done and its exit code is still its outcome; nothing about the pipe is printed.
    """

    def __init__(self, *, quiet: bool, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.quiet = quiet
        self.out = out or sys.stdout
        self.err = err or sys.stderr

    def _print(self, text: str, stream: TextIO) -> None:
        try:
            print(text, file=stream)
        except BrokenPipeError:
            _discard_stream(stream)

    def result(self, text: str = "") -> None:
        self._print(text, self.out)

    def info(self, text: str) -> None:
        if not self.quiet:
            self._print(text, self.err)

    def warn(self, text: str) -> None:
        self._print(f"ipevidence: warning: {text}", self.err)

    def attribution(self, lines: Sequence[str] = (DATABASE_ATTRIBUTION,)) -> None:
        """The attribution a database's licence requires wherever its data is used."""
        if not self.quiet:
            for line in lines:
                self._print(line, self.err)

    def flush(self) -> None:
        """Flush both streams (a broken pipe found only now is dropped quietly too)."""
        for stream in (self.out, self.err):
            try:
                stream.flush()
            except BrokenPipeError:
                _discard_stream(stream)


def require(module: str) -> Any:
    """Import an ipevidence stage (or optional dependency) by name, or raise FeatureUnavailableError."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = getattr(exc, "name", None) or module
        hint = ""
        if missing.startswith("matplotlib"):
            hint = " (a dependency of ipevidence: pip install --force-reinstall matplotlib)"
        elif missing.startswith(("dask", "distributed")):
            hint = " (install the optional extra: pip install 'ipevidence[dask]')"
        raise FeatureUnavailableError(f"this command needs {missing}, which is not available{hint}") from exc


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


def parse_countries(values: Sequence[str]) -> list[str]:
    from .countries import normalize_country

    out: list[str] = []
    for v in values:
        for part in v.split(","):
            if part.strip():
                out.append(normalize_country(part))
    return out


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
    p.set_defaults(handler=cmd_fetch)

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
    p.set_defaults(handler=cmd_build)

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
    p.set_defaults(handler=cmd_table)

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
    p.set_defaults(handler=cmd_assess)

    p = add("triage", "judge a list of cases (address, time) at once and sort them by located country")
    add_triage_options(p)
    p.set_defaults(handler=cmd_triage)

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
    p.set_defaults(handler=cmd_tamper)

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
    p.set_defaults(handler=cmd_report)

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
    p.set_defaults(handler=cmd_staleness)

    p = add("demo", "the whole method offline: generated archive, shipped database, table, verdicts, report")
    p.add_argument("--output", "-o", default="ipevidence-demo", metavar="DIR", help="output directory")
    p.add_argument("--probes", type=int, default=None, help="probes in the generated archive")
    p.add_argument("--years", type=int, default=8, help="years of history (default 8)")
    p.add_argument("--every", type=int, default=None, metavar="K", help="use every K-th archive day")
    p.add_argument("--seed", type=int, default=7, help="generator seed (default 7)")
    for action in p._actions:  # the demo always uses the shipped database and its own ground truth
        if action.dest in ("database", "database_dir", "database_rule", "ground_truth"):
            action.help = argparse.SUPPRESS
    p.set_defaults(handler=cmd_demo)
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


# --------------------------------------------------------------------------- context
class Context:
    """What every command shares: console, database, ground truth and cache directory."""

    def __init__(self, args: argparse.Namespace, console: Console) -> None:
        self.args = args
        self.console = console

    @property
    def cache_dir(self) -> Path | None:
        value = self.args.cache_dir or os.environ.get("IPEVIDENCE_CACHE")
        return Path(value) if value else None

    @property
    def database_files(self) -> list[str]:
        """Every ``--database`` given (the option may be repeated)."""
        value = getattr(self.args, "database", None) or []
        return [value] if isinstance(value, str) else list(value)

    @property
    def uses_catalog(self) -> bool:
        """Several ``--database`` files or a ``--database-dir``: a catalogue of dated builds."""
        return len(self.database_files) > 1 or bool(getattr(self.args, "database_dir", None))

    def open_catalog(self) -> Any:
        """The catalogue of ``--database`` files and ``--database-dir`` folders."""
        catalog = require("ipevidence.catalog")
        items = [*self.database_files, *(getattr(self.args, "database_dir", None) or [])]
        return catalog.DatabaseCatalog.open(items)

    @property
    def database_path(self) -> Path:
        from .defaults import default_database_path

        if self.uses_catalog:
            raise UsageError("this command takes one --database, not a catalogue")
        if self.args.database:
            path = Path(self.database_files[0])
            if not path.is_file():
                raise errors.DatabaseFormatError(f"{path}: no such database file")
            return path
        return default_database_path()

    @property
    def using_shipped_database(self) -> bool:
        return not self.args.database and not getattr(self.args, "database_dir", None)

    def open_database(self, date: dt.date | None = None) -> Any:
        """The database: ``--database`` FILE (or the shipped one), or from a catalogue the build
        ``--database-rule`` picks for ``date`` (named on standard error)."""
        if not self.uses_catalog:
            backends = require("ipevidence.backends")
            return backends.open_database(self.database_path)
        if date is None:
            raise UsageError(
                f"'{self.args.command}' cannot choose a build from a catalogue (no evidence date): "
                "pass one --database"
            )
        catalog = self.open_catalog()
        rule = getattr(self.args, "database_rule", "nearest-before")
        try:
            backend = catalog.at(date, rule)
        except ValueError as exc:  # an unknown rule name
            raise UsageError(f"--database-rule: {exc}") from None
        info = backend.describe()
        self.console.info(
            f"database: {info.name} (built {info.build_date.isoformat()}, sha256 {info.sha256[:12]}), "
            f"the {rule} build for {date.isoformat()} among {len(catalog)} builds"
        )
        return backend

    def ground_truth_path(self) -> Path:
        value = self.args.ground_truth or os.environ.get("IPEVIDENCE_GROUND_TRUTH")
        if not value:
            raise errors.GroundTruthFormatError(
                "no ground truth given: pass --ground-truth FILE (written by 'ipevidence build' or "
                "'ipevidence demo') or set IPEVIDENCE_GROUND_TRUTH"
            )
        path = Path(value)
        if not path.exists():
            raise errors.GroundTruthFormatError(f"{path}: no such ground-truth file")
        return path

    def load_ground_truth(self) -> Any:
        from . import groundtruth

        load = getattr(groundtruth.GroundTruth, "load", None)
        if load is None:
            require("ipevidence.history")
            load = getattr(groundtruth.GroundTruth, "load", None)
        if load is None:
            raise FeatureUnavailableError("GroundTruth.load is not available in this build")
        return load(self.ground_truth_path())

    def warn_database_date(self, backend: Any, evidence_date: dt.date) -> str | None:
        from .defaults import database_date_warning

        text = database_date_warning(backend.build_date, evidence_date, shipped=self.using_shipped_database)
        if text:
            self.console.warn(text)
        return text


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


# --------------------------------------------------------------------------- commands
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
    from .estimate import estimate_archive

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
    from .report import Table

    rows = [(s.name, s.rows_in, s.removed, s.rows_out, s.description) for s in ground_truth.funnel.steps]
    table = Table(f"Filter funnel (IPv{ground_truth.family})", ("step", "in", "removed", "out", "rule"), rows)
    return str(table)


def cmd_build(ctx: Context) -> int:
    """Compile a ground truth and save it; print the filter funnel."""
    from ._io import check_output_path

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


def network_files(ctx: Context) -> tuple[Any, Any]:
    """(AsnTable or None, CloudRanges or None) from ``--asn-file`` and ``--ranges`` (if the command
    has them). An unreadable file is a data error (exit 3) naming the file."""
    asn_file = getattr(ctx.args, "asn_file", None)
    ranges = list(getattr(ctx.args, "ranges", None) or [])
    if not asn_file and not ranges:
        return None, None
    networks = require("ipevidence.networks")
    table = networks.AsnTable.load(asn_file) if asn_file else None
    cloud = networks.CloudRanges.load(ranges) if ranges else None
    return table, cloud


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
        from .report.build import top_countries

        first, last = assessor.located.window(a.date.year, assessor.policy.window_years)
        countries = top_countries(assessor.located, first, last, n=10)
    table = assessor.table(countries, a.date)
    warning = ctx.warn_database_date(backend, a.date)
    if a.json:
        from .jsonutil import canonical_json

        data = {
            "table": table.to_dict(),
            "provenance": assessor.provenance(),
            "attribution": list(attribution_for(backend.describe())),
            "warnings": [warning] if warning else [],
        }
        ctx.console.result(canonical_json(data).rstrip("\n"))
    else:
        ctx.console.result(str(table))
        from .report.build import outcome_reasons_table

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
        from .jsonutil import canonical_json

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


def cmd_triage(ctx: Context) -> int:
    """Triage a case list: per-case results sorted by located country, and the summary."""
    a = ctx.args
    formats = [f.strip().lower() for f in a.results.split(",") if f.strip()]
    bad = [f for f in formats if f not in ("csv", "jsonl", "parquet")]
    if not formats or bad:
        raise UsageError(f"--results: {', '.join(bad) or 'nothing'} is not csv, jsonl or parquet")
    if a.chunk_size < 1:
        raise UsageError("--chunk-size must be at least 1")
    from ._io import check_output_dir

    check_output_dir(a.output)
    if "parquet" in formats:
        try:
            import pyarrow  # noqa: F401
        except ImportError as exc:
            raise FeatureUnavailableError(
                "Parquet results need pyarrow, which is not installed (install the optional extra: "
                "pip install 'ipevidence[arrow]')"
            ) from exc
    from .tamper.readers import _zone

    for option, zone in (("--tz", a.tz), ("--date-zone", a.date_zone)):
        try:
            _zone(zone)
        except ValueError as exc:
            raise UsageError(f"{option}: {exc}") from None
    cases = Path(a.cases)
    if not cases.is_file():
        raise errors.LogFormatError(f"{cases}: no such case file")
    triage = require("ipevidence.triage")
    triage_io = require("ipevidence.triage_io")
    ground_truths = [ctx.load_ground_truth()]
    if a.ground_truth_v6:
        from .groundtruth import GroundTruth

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

        from .jsonutil import canonical_json

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


def cmd_report(ctx: Context) -> int:
    """Write the self-contained HTML report, the Markdown one and JSON."""
    from ._io import check_output_dir
    from .report.build import assessor_report

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


def cmd_staleness(ctx: Context) -> int:
    """Print (and write) the staleness table of the ground truth against a catalogue of builds."""
    a = ctx.args
    if not ctx.database_files and not getattr(a, "database_dir", None):
        raise UsageError("staleness needs databases: --database-dir DIR or --database FILE (repeatable)")
    staleness = require("ipevidence.staleness")
    catalog = ctx.open_catalog()
    ground_truth = ctx.load_ground_truth()
    named = parse_countries(a.countries)
    table = staleness.staleness_table(ground_truth, catalog, countries=named or None)
    if a.json:
        ctx.console.result(table.to_json().rstrip("\n"))
    else:
        ctx.console.result(str(catalog))
        for country in ["*", *named]:
            ctx.console.result("")
            ctx.console.result(str(table.table(country, not_located=a.not_located)))
    if a.output:
        out = Path(a.output)
        out.mkdir(parents=True, exist_ok=True)
        written = [table.write_json(out / "staleness.json")]
        from .report.staleness_figures import staleness_age_figure, staleness_heatmap

        countries = ["*", *named]
        figures = [staleness_heatmap(table, c, not_located=a.not_located) for c in countries]
        figures.append(staleness_age_figure(table, countries, not_located=a.not_located))
        from ._io import atomic_write_bytes

        for fig in figures:
            if fig is not None:
                atomic_write_bytes(out / fig.file_name, fig.png)
                written.append(out / fig.file_name)
        if any(f is None for f in figures):
            ctx.console.warn("figures not drawn: matplotlib cannot be imported (pip install matplotlib)")
        ctx.console.info("written: " + ", ".join(str(w) for w in written))
    ctx.console.attribution(sorted({line for e in catalog.entries for line in attribution_for(e.info)}))
    return ExitCode.OK


def cmd_demo(ctx: Context) -> int:
    """Run the offline demo: generated archive, shipped database, table, verdicts, report."""
    from ._io import check_output_dir
    from .demo import DemoConfig, run_demo

    a = ctx.args
    if ctx.args.database or getattr(ctx.args, "database_dir", None):
        raise UsageError("the demo always uses the shipped database (omit --database and --database-dir)")
    check_output_dir(a.output)
    defaults = DemoConfig()
    try:
        config = DemoConfig(
            output_dir=a.output,
            probes=a.probes if a.probes is not None else defaults.probes,
            years=a.years,
            every=a.every if a.every is not None else defaults.every,
            seed=a.seed,
        )
    except ValueError as exc:
        message = str(exc)
        if message.split(" ", 1)[0] in ("probes", "years", "every", "seed"):
            message = "--" + message  # name the option the user typed
        raise UsageError(message) from None
    result = run_demo(config, log=ctx.console.info)
    ctx.console.result(str(result))
    ctx.console.info("timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in result.seconds.items()))
    ctx.console.result("")
    ctx.console.result(
        "The numbers above come from a GENERATED archive: they show the method, not the real "
        "accuracy of any database."
    )
    ctx.console.result(DATABASE_ATTRIBUTION)
    return ExitCode.OK


# --------------------------------------------------------------------------- main
@contextlib.contextmanager
def _library_warnings(console: Console) -> Iterator[None]:
    """The library's warnings (a cache that cannot be written, ...) as one ``ipevidence:
    warning:`` line each, without the Python source location."""
    with warnings.catch_warnings():

        def show(message: Warning | str, category: type[Warning], *_args: Any, **_kw: Any) -> None:
            console.warn(str(message))

        warnings.showwarning = show
        yield


def _exit_now_if_threads_linger(code: int, grace: float = 0.5) -> None:
    """After Ctrl-C: if worker threads (a download blocked in a read, up to its read timeout)
    are still running after ``grace`` seconds, leave at once (``os._exit``) instead of letting
    the interpreter join them at exit. Every file the library writes is written atomically, so
    nothing partial is visible; a leftover temporary is removed by the next run."""
    import threading
    import time

    deadline = time.monotonic() + grace
    others = [t for t in threading.enumerate() if t is not threading.current_thread() and not t.daemon]
    for t in others:
        t.join(max(0.0, deadline - time.monotonic()))
    if any(t.is_alive() for t in others):
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code (``python -m ipevidence`` passes it to sys.exit)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version (0) or a usage error (2)
        return int(exc.code) if isinstance(exc.code, int) else ExitCode.USAGE
    console = Console(quiet=args.quiet)
    ctx = Context(args, console)
    try:
        with _library_warnings(console):
            code = int(args.handler(ctx))
        console.flush()
        return code
    except KeyboardInterrupt:
        print("ipevidence: interrupted", file=sys.stderr)
        _exit_now_if_threads_linger(ExitCode.INTERRUPTED)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:  # written past the Console (a progress bar): stop quietly
        _discard_stream(sys.stdout)
        _discard_stream(sys.stderr)
        return ExitCode.BROKEN_PIPE
    except Exception as exc:
        code = exit_code_for(exc)
        if args.debug:
            import traceback

            traceback.print_exc()
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if code == ExitCode.INTERNAL:
            message = f"internal error ({type(exc).__name__}: {message}); rerun with --debug and report it"
        elif code == ExitCode.USAGE:
            parser_usage = f"usage: ipevidence {args.command} ..."
            print(parser_usage, file=sys.stderr)
        print(f"ipevidence: error: {message}", file=sys.stderr)
        return code
