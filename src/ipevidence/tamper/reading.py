"""What every log reader shares: the result types and the plumbing.

* :class:`LogRead` (what a reader got from one source), :class:`LogProblem` (a malformed line),
  :class:`ColumnMapping` (which column or key holds what) and ``LogSource`` (a path or an open text
  stream).
* Opening and decoding a source (``_open``: bytes not valid in the encoding become U+FFFD and are
  counted), the line cap (:data:`MAX_LINE_CHARS`; ``_capped`` never holds more of a line than the
  cap and gives an over-long line as ``_OVERLONG``), and ``_Collector``, which counts lines,
  malformed lines and lines that are not entries while building the :class:`~.model.LogTable`.

The readers of each format are :mod:`.csvlogs` (generic CSV, Moodle), :mod:`.jsonlogs` (JSON lines,
Entra ID sign-ins) and :mod:`.textlogs` (auth.log, web access logs); times are read by
:mod:`.times`. :mod:`.readers` re-exports every name.
"""

from __future__ import annotations

import codecs
import datetime as dt
import os
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any, Final

import attrs
import numpy as np
import numpy.typing as npt

from .._safetext import plain
from ..errors import InvalidAddressError, LogFormatError
from ..jsonutil import canonical_json
from .model import LogTable, LogTableBuilder

__all__ = [
    "MAX_LINE_CHARS",
    "ColumnMapping",
    "LogProblem",
    "LogRead",
    "LogSource",
]

LogSource = str | os.PathLike[str] | IO[str]

_MAX_TEXT: Final = 200

#: default cap on one line (or one JSON-lines record) in characters, after decoding, line end
#: excluded. A longer line is read no further: it is one malformed line, counted with its number,
#: and the reader holds at most this many characters of it in memory (``max_line_chars=`` changes it).
MAX_LINE_CHARS: Final = 1 << 20
#: stands for an over-long line in the stream of lines (a noncharacter: no log line is made of it)
_OVERLONG: Final = "\ufffeipevidence-overlong-line\ufffe"
_SKIP_CHUNK: Final = 1 << 16
_ERRORS: Final = "ipevidence-count-replace"
_decoding = threading.local()


def _count_replace(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: replace undecodable bytes by U+FFFD, counting them for the reader."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    counter: list[int] | None = getattr(_decoding, "counter", None)
    if counter is not None:
        counter[0] += exc.end - exc.start
    return "\ufffd", exc.end


codecs.register_error(_ERRORS, _count_replace)


@attrs.frozen
class LogProblem:
    """A malformed line: where, why, and (shortened) what it said."""

    line: int
    reason: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "reason": self.reason, "text": self.text}

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}: {self.text!r}"


@attrs.frozen(eq=False)
class LogRead:
    """What a reader got from one source.

    ``lines`` is the number of lines (records for a JSON array) read; ``problem_count`` and
    ``problem_lines`` cover every malformed line, ``problems`` the first ``max_problems`` of them
    with reason and text; ``ignored`` counts, by reason, the lines that are not entries by design.
    """

    table: LogTable
    format: str
    source: str
    lines: int
    problem_count: int
    problem_lines: npt.NDArray[np.int64]
    problems: tuple[LogProblem, ...]
    problem_reasons: Mapping[str, int]
    ignored: Mapping[str, int]
    #: bytes that were not valid in ``encoding`` and became U+FFFD (0 for a text stream given by the
    #: caller, which arrives decoded); see the ``encoding=`` argument of every reader
    replaced_bytes: int = 0
    encoding: str = ""

    @property
    def entries(self) -> int:
        return len(self.table)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "source": self.source,
            "lines": self.lines,
            "entries": self.entries,
            "problem_count": self.problem_count,
            "problem_lines": [int(x) for x in self.problem_lines],
            "problems": [p.to_dict() for p in self.problems],
            "problem_reasons": dict(self.problem_reasons),
            "ignored": dict(self.ignored),
            "encoding": self.encoding,
            "replaced_bytes": self.replaced_bytes,
        }

    def to_json(self) -> str:
        return canonical_json(self.to_dict())

    def __str__(self) -> str:
        ign = sum(self.ignored.values())
        text = (
            f"{plain(self.source)} ({self.format}): {self.lines} lines, {self.entries} entries, "
            f"{self.problem_count} malformed, {ign} not entries"
        )
        if self.replaced_bytes:
            text += f", {self.replaced_bytes} bytes not valid {self.encoding} replaced by U+FFFD"
        if self.problem_count:
            shown = ", ".join(str(int(x)) for x in self.problem_lines[:10])
            more = " ..." if self.problem_count > 10 else ""
            text += f" (malformed lines: {shown}{more})"
        return text


@attrs.frozen
class ColumnMapping:
    """Which column (CSV header name) or key (JSON; dotted for nested objects) holds what.

    ``service`` and ``event`` are optional; without them the reader's ``service`` argument names
    the service of every entry and the event is empty.
    """

    time: str
    account: str
    address: str
    service: str | None = None
    event: str | None = None


# --------------------------------------------------------------------------------------- plumbing
@contextmanager
def _open(source: LogSource, encoding: str) -> Iterator[tuple[IO[str], str]]:
    """The text stream of a source and its name; while it is open, bytes that are not valid in
    ``encoding`` become U+FFFD and are counted (:func:`_replaced_bytes`)."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise LogFormatError(
            f"unknown encoding {encoding!r}: use a Python codec name such as 'cp1252'"
        ) from None
    previous = getattr(_decoding, "counter", None)
    _decoding.counter = [0]
    try:
        if isinstance(source, str | os.PathLike):
            # a file name with bytes that are not UTF-8 comes back with lone surrogates: not printable
            name = _unicode(os.path.basename(os.fspath(source)))
            with open(source, encoding=encoding, errors=_ERRORS, newline="") as f:
                yield f, name
        else:
            yield source, str(getattr(source, "name", "<stream>"))
    finally:
        _decoding.counter = previous


def _capped(f: IO[str], limit: int) -> Iterator[str]:
    """The lines of ``f`` (with their line ends); a line longer than ``limit`` characters is read no
    further than ``limit + 1`` characters, skipped to its end in small pieces, and given as
    ``_OVERLONG``: memory holds at most ``limit`` characters of any line."""
    if limit < 1:
        raise ValueError(f"max_line_chars must be at least 1, not {limit!r}")
    while True:
        line = f.readline(limit + 1)
        if not line:
            return
        if len(line) > limit and not line.endswith(("\n", "\r")):
            while True:
                rest = f.readline(_SKIP_CHUNK)
                if not rest or rest.endswith(("\n", "\r")):
                    break
            yield _OVERLONG
            continue
        yield line


def _overlong(limit: int) -> str:
    return f"line longer than {limit:,} characters (not read; see max_line_chars)"


_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def _is_unicode(text: str) -> bool:
    """Can ``text`` be written as UTF-8 (no lone surrogate from a JSON ``\\udXXX`` escape)?"""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _unicode(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (a field the method does not use)."""
    return _SURROGATE.sub("\ufffd", text)


class _Collector:
    def __init__(
        self, fmt: str, source: str, strict: bool, max_problems: int, encoding: str = "", limit: int = 0
    ) -> None:
        self.fmt = fmt
        self.source = source
        self.encoding = encoding
        self.limit = limit or MAX_LINE_CHARS
        # the replaced-byte counter of the source being read (made by _open, which opens it first)
        self.counter: list[int] = getattr(_decoding, "counter", None) or [0]
        self.strict = strict
        self.max_problems = max_problems
        self.builder = LogTableBuilder()
        self.problem_lines: list[int] = []
        self.problems: list[LogProblem] = []
        self.reasons: Counter[str] = Counter()
        self.ignored: Counter[str] = Counter()
        self.lines = 0

    def problem(self, line: int, reason: str, text: str) -> None:
        short = text.rstrip("\r\n")
        short = short if len(short) <= _MAX_TEXT else short[: _MAX_TEXT - 3] + "..."
        if self.strict:
            raise LogFormatError(f"{self.source}, line {line}: {reason}: {short!r}")
        self.problem_lines.append(line)
        self.reasons[reason] += 1
        if len(self.problems) < self.max_problems:
            self.problems.append(LogProblem(line, reason, short))

    def ignore(self, reason: str) -> None:
        self.ignored[reason] += 1

    def add(
        self, when: dt.datetime, account: str, address: str, service: str, event: str, line: int, text: str
    ) -> None:
        if not account:
            self.problem(line, "empty account", text)
            return
        if not address.strip():
            self.problem(line, "empty address", text)
            return
        if not _is_unicode(account):
            # a JSON escape of half a surrogate pair ("\ud83d"): no account has that name, and
            # replacing it could merge two accounts; the line is malformed, the file goes on
            self.problem(line, "account is not valid Unicode (a lone surrogate escape)", text)
            return
        if not _is_unicode(service):
            service = _unicode(service)
        if not _is_unicode(event):
            event = _unicode(event)
        off = when.utcoffset()
        try:
            self.builder.add(
                int(when.timestamp() // 1),
                int(off.total_seconds()) if off is not None else 0,
                account,
                address,
                service,
                event,
                line,
                self.source,
            )
        except InvalidAddressError:
            self.problem(line, f"invalid IP address {address.strip()[:60]!r}", text)

    def result(self, resolution: int = 1) -> LogRead:
        replaced = self.counter[0]
        if replaced and self.strict:
            raise LogFormatError(
                f"{self.source}: {replaced} bytes are not valid {self.encoding}: give the file's encoding"
            )
        return LogRead(
            table=self.builder.build(resolution=resolution),
            format=self.fmt,
            source=self.source,
            lines=self.lines,
            problem_count=len(self.problem_lines),
            problem_lines=np.array(self.problem_lines, dtype=np.int64),
            problems=tuple(self.problems),
            problem_reasons=dict(sorted(self.reasons.items())),
            ignored=dict(sorted(self.ignored.items())),
            replaced_bytes=replaced,
            encoding=self.encoding,
        )


def _text_lines(col: _Collector, f: IO[str]) -> Iterator[tuple[int, str]]:
    """(line number, text without its line end) per non-blank line; counts lines and blank lines."""
    for n, raw in enumerate(_capped(f, col.limit), start=1):
        col.lines = n
        if raw is _OVERLONG:
            col.problem(n, _overlong(col.limit), "")
            continue
        text = raw.rstrip("\r\n")
        if not text.strip():
            col.ignore("blank line")
            continue
        yield n, text


def _parse_time(col: _Collector, parse: Callable[[str], dt.datetime], text: str, line: int, raw: str) -> Any:
    try:
        return parse(text)
    except (ValueError, OverflowError, OSError):
        col.problem(line, f"unreadable time {text.strip()[:40]!r}", raw)
        return None
