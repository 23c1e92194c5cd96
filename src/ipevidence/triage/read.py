"""Reading case lists for the ``ipevidence triage`` command (:func:`read_cases`).

:func:`read_cases` streams a case list (CSV with a header, or JSON lines) in chunks of
``chunk_size`` cases (:class:`CaseChunk`), mapping columns with a :class:`CaseMapping` (case id,
address, time, optional claimed country, optional ASN). Times are read as the tamper readers read
them (:func:`ipevidence.tamper.times.make_time_parser`: ISO 8601 with ``Z`` and up to 7 fraction
digits, ``epoch``, ``epoch_ms`` or a strptime format; a time without an offset is in ``tz``), and
the evidence date is the calendar date of that instant in ``date_zone`` (UTC by default). Lines
that are not cases at all (a CSV row with the wrong number of fields, a line that is not a JSON
object, a line longer than ``max_line_chars``) are counted with their line numbers
(:class:`CaseReading`); a case whose fields are bad (not an address, an unreadable time, an
unknown country) is still a case, and its result says why it cannot be assessed. Files are opened,
decoded (undecodable bytes counted) and capped per line by the tamper readers' plumbing
(:mod:`ipevidence.tamper.reading`).

Writing the results is :mod:`ipevidence.triage.write`; the whole command is
:func:`ipevidence.triage.files.triage_file`, which re-exports every name of this module.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, Final

import attrs
import numpy as np
import numpy.typing as npt

from ..errors import LogFormatError

__all__ = [
    "DEFAULT_CHUNK",
    "CaseChunk",
    "CaseMapping",
    "CaseReading",
    "read_cases",
]

#: cases per chunk by default (a chunk's columns and results take about 0.5 KB a case)
DEFAULT_CHUNK: Final = 250_000
_MAX_PROBLEMS: Final = 1000


@attrs.frozen
class CaseMapping:
    """Which column (CSV header name) or key (JSON lines; dotted for nested objects) holds what."""

    address: str = "address"
    time: str = "time"
    case_id: str | None = None
    country: str | None = None
    asn: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen(eq=False)
class CaseChunk:
    """Up to ``chunk_size`` cases as columns, with the line each came from."""

    lines: npt.NDArray[np.int64]
    case_id: list[Any] | None
    address: list[Any]
    date: npt.NDArray[np.datetime64]
    claimed: list[Any] | None
    asn: list[Any] | None

    def __len__(self) -> int:
        return int(self.lines.shape[0])


@attrs.define
class CaseReading:
    """What reading a case list found (filled while :func:`read_cases` runs)."""

    source: str
    format: str
    lines: int = 0
    cases: int = 0
    blank_lines: int = 0
    malformed_lines: list[int] = attrs.field(factory=list)
    problems: list[dict[str, Any]] = attrs.field(factory=list)
    replaced_bytes: int = 0
    encoding: str = "utf-8"
    bytes_read: int = 0

    def problem(self, line: int, reason: str, text: str) -> None:
        self.malformed_lines.append(line)
        if len(self.problems) < _MAX_PROBLEMS:
            short = text.rstrip("\r\n")
            self.problems.append({"line": line, "reason": reason, "text": short[:200]})

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.format,
            "encoding": self.encoding,
            "lines": self.lines,
            "cases": self.cases,
            "blank_lines": self.blank_lines,
            "malformed_lines": len(self.malformed_lines),
            "malformed_line_numbers": list(self.malformed_lines),
            "problems": list(self.problems),
            "replaced_bytes": self.replaced_bytes,
        }


_NO_DAY: Final = int(np.datetime64("NaT", "D").astype(np.int64))


def _day_reader(
    time_format: str | None, tz: str | dt.tzinfo, date_zone: str | dt.tzinfo
) -> Callable[[Any], int]:
    """A function from a time field (text or number) to its evidence day, as days since
    1970-01-01 (``_NO_DAY``, NaT's integer, when unreadable)."""
    from ..tamper.readers import _time_parser, _zone

    zone = _zone(tz)
    day_zone = _zone(date_zone)
    slow = _time_parser(time_format, zone)
    utc = day_zone is dt.timezone.utc
    iso = time_format is None or time_format == "iso"
    fromiso = dt.datetime.fromisoformat
    epoch = dt.date(1970, 1, 1).toordinal()

    def day(value: Any) -> int:
        text = value if type(value) is str else str(value)
        when: dt.datetime | None = None
        if iso:
            try:
                when = fromiso(text)  # the common case, in C; the tamper parser otherwise
                if when.tzinfo is None:
                    when = when.replace(tzinfo=zone)
            except ValueError:
                when = None
        if when is None:
            try:
                when = slow(text)
            except (ValueError, OverflowError, OSError, TypeError):
                return _NO_DAY
        try:
            if utc:
                return int(when.timestamp() // 86400)
            return when.astimezone(day_zone).date().toordinal() - epoch
        except (ValueError, OverflowError, OSError):
            return _NO_DAY

    return day


class _Builder:
    """Rows of the chunk being read."""

    def __init__(self, mapping: CaseMapping, day: Callable[[Any], int]) -> None:
        self.mapping = mapping
        self.day = day
        #: CSV: the column index of address, time, case id, country, ASN (rows kept whole)
        self.index: tuple[int, int, int | None, int | None, int | None] | None = None
        self.reset()

    def reset(self) -> None:
        self.lines: list[int] = []
        self.rows: list[list[str]] = []
        self.ids: list[Any] = []
        self.addresses: list[Any] = []
        self.days: list[int] = []
        self.claims: list[Any] = []
        self.asns: list[Any] = []

    def __len__(self) -> int:
        return len(self.lines)

    def chunk(self) -> CaseChunk:
        m = self.mapping
        if self.index is not None:  # CSV rows: the columns, each in one pass
            ia, it, ii, ic, iasn = self.index
            rows = self.rows
            self.addresses = [r[ia].strip() for r in rows]
            self.days = list(map(self.day, [r[it] for r in rows]))
            self.ids = [r[ii] for r in rows] if ii is not None else []
            self.claims = _mapped([r[ic] for r in rows], _claim_value) if ic is not None else []
            self.asns = _mapped([r[iasn] for r in rows], _asn_value) if iasn is not None else []
        out = CaseChunk(
            lines=np.asarray(self.lines, dtype=np.int64),
            case_id=self.ids if m.case_id else None,
            address=self.addresses,
            date=np.asarray(self.days, dtype=np.int64).astype("datetime64[D]"),
            claimed=self.claims if m.country else None,
            asn=self.asns if m.asn else None,
        )
        self.reset()
        return out


def _claim_value(value: str) -> str | None:
    return value.strip() or None


def _mapped(values: list[str], convert: Callable[[str], Any]) -> list[Any]:
    """``convert`` of each value, computed once per distinct value (columns repeat a lot)."""
    table = {v: convert(v) for v in dict.fromkeys(values)}
    return [table[v] for v in values]


def _asn_value(value: Any) -> Any:
    """An ASN field: empty is none; ``AS15169`` and ``15169`` are 15169; anything else is kept
    as given (the triage then says it is not an AS number)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not text:
        return None
    digits = text[2:] if text[:2].upper() == "AS" else text
    if digits.isascii() and digits.isdigit() and len(digits) <= 12:
        return int(digits)
    return text


def _dig(record: dict[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


_BLOCK: Final = 1 << 20  # characters read at a time


def _line_blocks(f: IO[str], limit: int, overlong: str) -> Iterator[list[str]]:
    """The lines of ``f`` (with their ``\\n``), a block at a time; a line longer than ``limit``
    characters is given as ``overlong`` and never held whole: memory holds one block and at most
    ``limit`` characters of a line (as the tamper readers' line cap)."""
    tail = ""
    skipping = False
    while True:
        block = f.read(_BLOCK)
        if not block:
            if skipping:
                yield [overlong]
            elif tail:
                yield [tail if len(tail) <= limit else overlong]
            return
        parts = block.split("\n")
        last = parts.pop()
        out: list[str] = []
        if parts:
            if skipping:
                out.append(overlong)
                skipping = False
            else:
                line = tail + parts[0]
                out.append(line + "\n" if len(line) <= limit else overlong)
            out.extend(x + "\n" if len(x) <= limit else overlong for x in parts[1:])
            tail = last
        elif not skipping:
            tail += last
        if not skipping and len(tail) > limit:
            skipping, tail = True, ""
        if out:
            yield out


def read_cases(
    source: str | os.PathLike[str],
    mapping: CaseMapping,
    *,
    format: str = "auto",
    time_format: str | None = None,
    tz: str | dt.tzinfo = "UTC",
    date_zone: str | dt.tzinfo = "UTC",
    chunk_size: int = DEFAULT_CHUNK,
    encoding: str | None = None,
    delimiter: str = ",",
    max_line_chars: int | None = None,
    reading: CaseReading | None = None,
) -> Iterator[CaseChunk]:
    """The cases of a CSV (with a header) or JSON-lines file, ``chunk_size`` at a time.

    ``format`` ``"auto"`` takes the file name's ending (``.jsonl``, ``.ndjson``, ``.json``: JSON
    lines; anything else CSV). Lines end with ``\\n`` (``\\r\\n`` too). ``reading`` (a
    :class:`CaseReading`) is filled as the file is read: lines, cases, malformed lines with their
    numbers and reasons, undecodable bytes. Raises :class:`~ipevidence.errors.LogFormatError` for
    a file that cannot be read at all (no such file, a CSV header without a mapped column, an
    unknown encoding).
    """
    from ..tamper import readers as _readers

    path = Path(source)
    if not path.is_file():
        raise LogFormatError(f"{path}: no such case file")
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    fmt = format
    if fmt == "auto":
        fmt = "jsonl" if path.suffix.lower() in (".jsonl", ".ndjson", ".json") else "csv"
    if fmt not in ("csv", "jsonl"):
        raise ValueError(f"format must be csv, jsonl or auto, not {format!r}")
    enc = encoding or ("utf-8-sig" if fmt == "csv" else "utf-8")
    limit = max_line_chars or _readers.MAX_LINE_CHARS
    if limit < 1:
        raise ValueError("max_line_chars must be at least 1")
    rd = reading if reading is not None else CaseReading(path.name, fmt)
    rd.format, rd.encoding = fmt, enc
    day = _day_reader(time_format, tz, date_zone)
    b = _Builder(mapping, day)
    with _readers._open(path, enc) as (f, name):
        counter = getattr(_readers._decoding, "counter", None) or [0]
        fd = f.fileno() if hasattr(f, "fileno") else None

        def done() -> CaseChunk:
            rd.replaced_bytes = counter[0]
            try:
                rd.bytes_read = os.lseek(fd, 0, os.SEEK_CUR) if fd is not None else 0
            except OSError:
                rd.bytes_read = 0
            rd.cases += len(b)
            return b.chunk()

        lines = itertools.chain.from_iterable(_line_blocks(f, limit, _readers._OVERLONG))
        if fmt == "csv":
            full = _csv_cases(lines, name, mapping, b, rd, limit, delimiter, _readers._OVERLONG, chunk_size)
        else:
            full = _jsonl_cases(lines, mapping, b, rd, limit, _readers._OVERLONG, chunk_size)
        for _ in full:
            yield done()
        if len(b) or rd.cases == 0:
            chunk = done()
            if len(chunk):
                yield chunk


def _csv_cases(
    lines: Iterator[str],
    name: str,
    mapping: CaseMapping,
    b: _Builder,
    rd: CaseReading,
    limit: int,
    delimiter: str,
    overlong: str,
    chunk_size: int,
) -> Iterator[None]:
    """Fill ``b`` with the CSV's rows, yielding each time it holds ``chunk_size`` cases."""
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise LogFormatError(f"{name}: unreadable CSV header: {exc}") from None
    if header == [overlong]:
        raise LogFormatError(f"{name}: the CSV header is longer than {limit:,} characters")
    rd.lines = reader.line_num
    index = {h.strip().lstrip("\ufeff").strip(): i for i, h in enumerate(header)}
    wanted = [mapping.address, mapping.time, mapping.case_id, mapping.country, mapping.asn]
    missing = [w for w in wanted if w is not None and w not in index]
    if missing:
        raise LogFormatError(
            f"{name}: the header has no column {', '.join(map(repr, missing))} "
            f"(it has {', '.join(map(repr, index))}): map the columns with --address-column, "
            "--time-column, --case-id-column, --country-column and --asn-column"
        )
    b.index = (
        index[mapping.address],
        index[mapping.time],
        index[mapping.case_id] if mapping.case_id else None,
        index[mapping.country] if mapping.country else None,
        index[mapping.asn] if mapping.asn else None,
    )
    width = len(header)
    prev = reader.line_num
    rows, line_nos = b.rows, b.lines
    while True:
        try:
            for row in reader:
                line = prev + 1
                prev = reader.line_num
                if len(row) == width:
                    rows.append(row)
                    line_nos.append(line)
                    if len(rows) >= chunk_size:
                        rd.lines = prev
                        yield None
                        rows, line_nos = b.rows, b.lines
                elif row == [overlong]:
                    rd.problem(line, f"line longer than {limit:,} characters", "")
                elif not row or (len(row) == 1 and not row[0].strip()):
                    rd.blank_lines += 1
                else:
                    rd.problem(line, f"expected {width} fields, found {len(row)}", delimiter.join(row))
            break
        except csv.Error as exc:
            line = prev + 1
            prev = reader.line_num
            rd.problem(line, f"unreadable CSV ({exc})", "")
    rd.lines = prev


def _jsonl_cases(
    lines: Iterator[str],
    mapping: CaseMapping,
    b: _Builder,
    rd: CaseReading,
    limit: int,
    overlong: str,
    chunk_size: int,
) -> Iterator[None]:
    """Fill ``b`` with the JSON lines' records, yielding each time it holds ``chunk_size`` cases."""
    import msgspec

    decode = msgspec.json.decode
    day = b.day
    for n, raw in enumerate(lines, start=1):
        rd.lines = n
        if raw is overlong:
            rd.problem(n, f"line longer than {limit:,} characters", "")
            continue
        if not raw.strip():
            rd.blank_lines += 1
            continue
        try:
            record = decode(raw)
        except (msgspec.DecodeError, ValueError, RecursionError):
            rd.problem(n, "not valid JSON", raw)
            continue
        if not isinstance(record, dict):
            rd.problem(n, "not a JSON object", raw)
            continue
        address = _dig(record, mapping.address)
        when = _dig(record, mapping.time)
        b.lines.append(n)
        b.addresses.append(address.strip() if isinstance(address, str) else address)
        readable = isinstance(when, str | int | float) and not isinstance(when, bool)
        b.days.append(day(when) if readable else _NO_DAY)
        if mapping.case_id:
            cid = _dig(record, mapping.case_id)
            b.ids.append(None if cid is None else str(cid))
        if mapping.country:
            claim = _dig(record, mapping.country)
            b.claims.append(claim.strip() or None if isinstance(claim, str) else claim)
        if mapping.asn:
            b.asns.append(_asn_value(_dig(record, mapping.asn)))
        if len(b.lines) >= chunk_size:
            yield None
