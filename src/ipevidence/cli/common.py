"""What every ``ipevidence`` command shares.

Exit codes (:class:`ExitCode`) and the exception -> exit code mapping (:func:`exit_code_for`), the
:class:`Console` the commands write to, :func:`require` (the lazy importer of stages and optional
dependencies), :func:`parse_countries`, the :class:`Context` that loads the database (or catalogue),
the ground truth and the cache directory, and :func:`network_files` (``--asn-file``, ``--ranges``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import enum
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from .. import errors
from ..defaults import DATABASE_ATTRIBUTION


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


def parse_countries(values: Sequence[str]) -> list[str]:
    from ..countries import normalize_country

    out: list[str] = []
    for v in values:
        for part in v.split(","):
            if part.strip():
                out.append(normalize_country(part))
    return out


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
        from ..defaults import default_database_path

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
        from .. import groundtruth

        load = getattr(groundtruth.GroundTruth, "load", None)
        if load is None:
            require("ipevidence.history")
            load = getattr(groundtruth.GroundTruth, "load", None)
        if load is None:
            raise FeatureUnavailableError("GroundTruth.load is not available in this build")
        return load(self.ground_truth_path())

    def warn_database_date(self, backend: Any, evidence_date: dt.date) -> str | None:
        from ..defaults import database_date_warning

        text = database_date_warning(backend.build_date, evidence_date, shipped=self.using_shipped_database)
        if text:
            self.console.warn(text)
        return text


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
