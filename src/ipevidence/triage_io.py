"""Case lists in, per-case results and per-country summaries out: the ``ipevidence triage`` command.

* :func:`read_cases` streams a case list (CSV with a header, or JSON lines) in chunks of
  ``chunk_size`` cases, mapping columns with a :class:`CaseMapping` (case id, address, time,
  optional claimed country, optional ASN). Times are read as the tamper readers read them
  (:func:`ipevidence.tamper.readers.make_time_parser`: ISO 8601 with ``Z`` and up to 7 fraction
  digits, ``epoch``, ``epoch_ms`` or a strptime format; a time without an offset is in ``tz``), and
  the evidence date is the calendar date of that instant in ``date_zone`` (UTC by default). Lines
  that are not cases at all (a CSV row with the wrong number of fields, a line that is not a JSON
  object, a line longer than ``max_line_chars``) are counted with their line numbers
  (:class:`CaseReading`); a case whose fields are bad (not an address, an unreadable time, an
  unknown country) is still a case, and its result says why it cannot be assessed.
* :func:`triage_file` runs the cases through one :class:`~ipevidence.triage.Triage` chunk by
  chunk, keeping memory bounded: each chunk's results are sorted and, when there is more than one
  chunk, spilled to a temporary run on disk (numpy columns, memory-mapped back); the runs are
  merged block by block into the final order (located country, then strength of evidence). It
  writes the per-case results (CSV, JSON lines, Parquet with pyarrow) and the summary (text,
  Markdown and HTML with a bar chart, JSON with the provenance). The same inputs give the same bytes.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import itertools
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, Final

import attrs
import numpy as np
import numpy.typing as npt

from ._io import atomic_binary, atomic_text, atomic_write_bytes, atomic_write_text, check_output_dir
from .countries import COUNTRY_DTYPE
from .errors import LogFormatError
from .jsonutil import canonical_json
from .triage import Triage
from .triage_result import (
    _NO_AGE,
    COLUMNS,
    OUTCOMES,
    REASONS,
    TriageResult,
    TriageSummary,
    arrow_table,
    sort_keys,
)

__all__ = [
    "DEFAULT_CHUNK",
    "RESULT_FORMATS",
    "CaseChunk",
    "CaseMapping",
    "CaseReading",
    "TriageFiles",
    "cases_figure",
    "read_cases",
    "triage_file",
    "write_results",
]

#: cases per chunk by default (a chunk's columns and results take about 0.5 KB a case)
DEFAULT_CHUNK: Final = 250_000
#: per-case result formats (Parquet needs pyarrow, the optional extra ``[arrow]``)
RESULT_FORMATS: Final = ("csv", "jsonl", "parquet")
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


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


_NO_DAY: Final = int(np.datetime64("NaT", "D").astype(np.int64))


def _day_reader(
    time_format: str | None, tz: str | dt.tzinfo, date_zone: str | dt.tzinfo
) -> Callable[[Any], int]:
    """A function from a time field (text or number) to its evidence day, as days since
    1970-01-01 (``_NO_DAY``, NaT's integer, when unreadable)."""
    from .tamper.readers import _time_parser, _zone

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
    from .tamper import readers as _readers

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


# --------------------------------------------------------------------------------------------
# Sorting: runs on disk, merged block by block
# --------------------------------------------------------------------------------------------

#: The columns of a sorted run on disk: the case's line and id, then the result's own columns.
_RUN_COLUMNS: Final = ("line", "address", "case_id", *TriageResult._ARRAYS[1:])


def _columns(result: TriageResult) -> dict[str, npt.NDArray[Any]]:
    def text(values: Any) -> npt.NDArray[np.str_]:
        items = ["" if v is None else v if type(v) is str else str(v) for v in values.tolist()]
        width = max(map(len, items), default=1) or 1
        return np.asarray(items, dtype=f"U{width}")

    out: dict[str, npt.NDArray[Any]] = {
        "line": np.arange(len(result), dtype=np.int64) if result.line is None else result.line,
        "address": text(result.address),
        "case_id": text(result.case_id) if result.case_id is not None else np.zeros(len(result), "U1"),
        "claimed": result.claimed,
        "lr_against": result.lr_against,
    }
    for name in _RUN_COLUMNS:
        if name not in out:
            out[name] = getattr(result, name)
    return out


def _result_of(cols: dict[str, npt.NDArray[Any]], engine: Triage, has_ids: bool) -> TriageResult:
    return TriageResult(
        address=np.asarray([*cols["address"].tolist(), None], dtype=object)[:-1],
        family=np.asarray(cols["family"]),
        date=np.asarray(cols["date"]),
        claimed=np.asarray(cols["claimed"]),
        located=np.asarray(cols["located"]),
        outcome=np.asarray(cols["outcome"]),
        reason=np.asarray(cols["reason"]),
        accuracy=np.asarray(cols["accuracy"]),
        accuracy_min=np.asarray(cols["accuracy_min"]),
        lr=np.asarray(cols["lr"]),
        lr_verbal=np.asarray(cols["lr_verbal"]),
        lr_against=np.asarray(cols["lr_against"]),
        asn=np.asarray(cols["asn"]),
        network_checked=np.asarray(cols["network_checked"]),
        hosting=np.asarray(cols["hosting"]),
        window_first=np.asarray(cols["window_first"]),
        window_last=np.asarray(cols["window_last"]),
        database=np.asarray(cols["database"]),
        database_age_days=np.asarray(cols["database_age_days"]),
        lr_texts=tuple(engine.lr_texts),
        hosting_labels=tuple(engine.hosting_labels),
        databases=tuple(engine.databases),
        provenance={},
        case_id=np.asarray([*cols["case_id"].tolist(), None], dtype=object)[:-1] if has_ids else None,
        line=np.asarray(cols["line"]),
    )


class _Run:
    """One sorted chunk of results on disk (one ``.npy`` per column, memory-mapped)."""

    def __init__(self, folder: Path, result: TriageResult) -> None:
        folder.mkdir(parents=True)
        self.folder = folder
        keys = sort_keys(result)
        order = np.argsort(keys, kind="stable")
        np.save(folder / "key.npy", keys[order])
        for name, col in _columns(result).items():
            np.save(folder / f"{name}.npy", np.asarray(col)[order])
        self.size = len(result)
        self._maps: dict[str, npt.NDArray[Any]] = {}

    def col(self, name: str) -> npt.NDArray[Any]:
        if name not in self._maps:
            self._maps[name] = np.load(self.folder / f"{name}.npy", mmap_mode="r")
        return self._maps[name]


def _merge(runs: Sequence[_Run], block: int) -> Iterator[tuple[list[int], list[npt.NDArray[np.intp]]]]:
    """Blocks of the merged order: per block, for each run, the row indices taken from it (in
    the block's final order this is re-sorted by key by the caller)."""
    pos = [0] * len(runs)
    while True:
        live = [i for i, r in enumerate(runs) if pos[i] < r.size]
        if not live:
            return
        ends = {i: min(runs[i].size, pos[i] + block) for i in live}
        bounded = [bytes(runs[i].col("key")[ends[i] - 1]) for i in live if ends[i] < runs[i].size]
        limit = min(bounded) if bounded else None
        taken: list[int] = []
        rows: list[npt.NDArray[np.intp]] = []
        for i in live:
            keys = runs[i].col("key")[pos[i] : ends[i]]
            stop = ends[i] if limit is None else pos[i] + int(np.searchsorted(keys, limit, side="right"))
            if stop > pos[i]:
                taken.append(i)
                rows.append(np.arange(pos[i], stop, dtype=np.intp))
                pos[i] = stop
        yield taken, rows


def _merged_batches(
    runs: Sequence[_Run], engine: Triage, has_ids: bool, block: int
) -> Iterator[TriageResult]:
    for taken, rows in _merge(runs, block):
        keys = np.concatenate([runs[i].col("key")[r] for i, r in zip(taken, rows, strict=True)])
        order = np.argsort(keys, kind="stable")
        cols = {
            name: np.concatenate([runs[i].col(name)[r] for i, r in zip(taken, rows, strict=True)])[order]
            for name in _RUN_COLUMNS
        }
        yield _result_of(cols, engine, has_ids)


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _table(values: Sequence[str], codes: npt.NDArray[Any], none: int = -1) -> list[str]:
    """Strings of a categorical column (``none`` code -> "")."""
    lut = np.asarray([*values, ""], dtype=object)
    idx = np.where(codes == none, len(values), codes).astype(np.intp)
    return list(lut[idx])


def _by_unique(values: npt.NDArray[Any], text: Callable[[Any], str]) -> list[str]:
    """``text`` of each value, computed once per distinct value."""
    if values.size == 0:
        return []
    uniq, inverse = np.unique(values, return_inverse=True)
    table = np.asarray([text(v) for v in uniq.tolist()], dtype=object)
    return list(table[inverse.reshape(-1)])


def _ints(values: npt.NDArray[Any], none: int = 0) -> list[str]:
    return _by_unique(values, lambda v: "" if v == none else str(v))


def _floats(values: npt.NDArray[np.float64]) -> list[str]:
    return _by_unique(values, lambda v: "" if v != v else repr(v))  # NaN (none) -> ""


def _texts(values: npt.NDArray[np.object_] | None, n: int) -> list[str]:
    if values is None:
        return [""] * n
    return ["" if v is None else v if type(v) is str else str(v) for v in values.tolist()]


_NEEDS_QUOTES: Final = re.compile(r'[,"\r\n]')


def _quoted(values: list[str]) -> list[str]:
    """CSV fields with minimal quoting (RFC 4180: a field with a comma, a quote or a line break
    is quoted, quotes doubled), computed once per distinct value."""
    if not _NEEDS_QUOTES.search("\x00".join(values)):
        return values  # the usual case: nothing to quote
    table = {
        v: '"' + v.replace('"', '""') + '"' if _NEEDS_QUOTES.search(v) else v for v in dict.fromkeys(values)
    }
    return [table[v] for v in values]


#: the columns whose text comes from outside (the case list) or from free text
_FREE_TEXT: Final = frozenset({"case_id", "address", "lr_verbal", "hosting", "database"})


def csv_lines(result: TriageResult) -> str:
    """The cases as CSV lines (no header), column by column; the same text :mod:`csv` writes."""
    cols = text_columns(result)
    for k, name in enumerate(COLUMNS):
        if name in _FREE_TEXT:
            cols[k] = _quoted(cols[k])
    if not cols or not cols[0]:
        return ""
    return "\n".join(map(",".join, zip(*cols, strict=True))) + "\n"


def _countries(values: npt.NDArray[np.bytes_]) -> list[str]:
    return list(np.asarray(values, dtype=COUNTRY_DTYPE).astype("U2").tolist())


def text_columns(result: TriageResult) -> list[list[str]]:
    """Every column of :data:`~ipevidence.triage.COLUMNS` as strings ("" for none), column by
    column (what the CSV writer writes; floats as ``repr``, booleans ``true``/``false``)."""
    n = len(result)
    dates = np.datetime_as_string(result.date, unit="D")
    dates[np.isnat(result.date)] = ""
    names = [d.name for d in result.databases]
    built = [d.build_date.isoformat() for d in result.databases]
    by_name: dict[str, list[str]] = {
        "case_id": _texts(result.case_id, n),
        "line": [] if result.line is None else _ints(result.line, -1),
        "address": _texts(result.address, n),
        "family": _ints(result.family),
        "date": list(dates.tolist()),
        "claimed_country": _countries(result.claimed),
        "located_country": _countries(result.located),
        "outcome": _table(OUTCOMES, result.outcome, 255),
        "reason": _table([r.code for r in REASONS], result.reason, 255),
        "accuracy": _floats(result.accuracy),
        "accuracy_min": _floats(result.accuracy_min),
        "likelihood_ratio": _floats(result.lr),
        "lr_verbal": _table(result.lr_texts, result.lr_verbal),
        "lr_weakest_against": _countries(result.lr_against),
        "asn": _ints(result.asn),
        "network_checked": list(np.where(result.network_checked, "true", "false").tolist()),
        "hosting": _table(result.hosting_labels, result.hosting, 0),
        "window_first": _ints(result.window_first),
        "window_last": _ints(result.window_last),
        "database": _table(names, result.database),
        "database_build_date": _table(built, result.database),
        "database_age_days": _ints(result.database_age_days, int(_NO_AGE)),
    }
    if result.line is None:
        by_name["line"] = [""] * n
    return [by_name[c] for c in COLUMNS]


def _json_row() -> Any:
    import msgspec

    return msgspec.defstruct("TriageRow", [(name, Any) for name in COLUMNS])


_JsonRow: Any = None


_WRITE_BATCH: Final = 1 << 16


class _Writer:
    """One per-case results file being written (CSV, JSON lines or Parquet), atomically."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path = path
        self.fmt = fmt
        self.rows = 0
        self._ctx: Any
        global _JsonRow
        if fmt == "jsonl" and _JsonRow is None:
            _JsonRow = _json_row()
        if fmt == "parquet":
            self._pa = _pyarrow()
            import pyarrow.parquet as pq  # type: ignore[import-not-found,unused-ignore]

            self._pq = pq
            self._ctx = atomic_binary(path)
            self._raw = self._ctx.__enter__()
            self._pw: Any = None
        else:
            self._ctx = atomic_text(path, newline="")
            self._f = self._ctx.__enter__()
            if fmt == "csv":
                self._csv = csv.writer(self._f, lineterminator="\n")
                self._csv.writerow(COLUMNS)

    def write(self, result: TriageResult) -> None:
        if len(result) > _WRITE_BATCH:  # bounded memory: the text of one batch at a time
            for lo in range(0, len(result), _WRITE_BATCH):
                self.write(result.take(np.arange(lo, min(len(result), lo + _WRITE_BATCH))))
            return
        if not len(result):
            return
        self.rows += len(result)
        if self.fmt == "parquet":
            table = arrow_table(result, self._pa)
            if self._pw is None:
                self._pw = self._pq.ParquetWriter(self._raw, table.schema)
            self._pw.write_table(table)
            return
        if self.fmt == "csv":
            self._f.write(csv_lines(result))
            return
        import msgspec

        cols = [result.column(name) for name in COLUMNS]
        for k, name in enumerate(COLUMNS):
            if name in ("date", "database_build_date"):
                cols[k] = [None if v is None else v.isoformat() for v in cols[k]]
        rows = [_JsonRow(*row) for row in zip(*cols, strict=True)]
        self._f.write(msgspec.json.Encoder().encode_lines(rows).decode("utf-8"))

    def close(self) -> None:
        if self.fmt == "parquet":
            if self._pw is None:
                self._pw = self._pq.ParquetWriter(self._raw, arrow_table(_empty_result(), self._pa).schema)
            self._pw.close()
        self._ctx.__exit__(None, None, None)

    def abort(self, exc: BaseException) -> None:
        with contextlib.suppress(BaseException):  # the original error is what the caller reports
            self._ctx.__exit__(type(exc), exc, exc.__traceback__)


def _empty_result() -> TriageResult:
    z = np.zeros(0)
    return TriageResult(
        address=np.zeros(0, object),
        family=z.astype(np.int8),
        date=z.astype("datetime64[D]"),
        claimed=np.zeros(0, COUNTRY_DTYPE),
        located=np.zeros(0, COUNTRY_DTYPE),
        outcome=z.astype(np.uint8),
        reason=z.astype(np.uint8),
        accuracy=z,
        accuracy_min=z,
        lr=z,
        lr_verbal=z.astype(np.int32),
        lr_against=np.zeros(0, COUNTRY_DTYPE),
        asn=z.astype(np.uint32),
        network_checked=z.astype(bool),
        hosting=z.astype(np.int16),
        window_first=z.astype(np.int16),
        window_last=z.astype(np.int16),
        database=z.astype(np.int16),
        database_age_days=np.full(0, _NO_AGE, np.int32),
        lr_texts=(),
        hosting_labels=("",),
        databases=(),
    )


def _pyarrow() -> Any:
    try:
        import pyarrow  # type: ignore[import-not-found,unused-ignore]
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "Parquet results need pyarrow, which is not installed: pip install 'ipevidence[arrow]'",
            name="pyarrow",
        ) from exc
    return pyarrow


def write_results(result: TriageResult, path: str | os.PathLike[str], fmt: str | None = None) -> Path:
    """Write a result's cases (in its order) to ``path`` as CSV, JSON lines or Parquet (``fmt``
    None: from the ending), atomically; the columns of :data:`~ipevidence.triage.COLUMNS`."""
    p = Path(path)
    kind = fmt or {".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}.get(p.suffix.lower(), "csv")
    w = _Writer(p, kind)
    try:
        w.write(result)
    except BaseException as exc:
        w.abort(exc)
        raise
    w.close()
    return p


# --------------------------------------------------------------------------------------------
# The figure
# --------------------------------------------------------------------------------------------

_COLOURS: Final = {
    "valid": "#1b7837",
    "not valid": "#c51b7d",
    "insufficient data": "#f1a340",
    "cannot be assessed": "#999999",
}
_PARTS: Final = ("valid", "not_valid", "insufficient_data", "cannot_be_assessed")


def cases_figure(summary: TriageSummary, top: int = 25) -> Any:
    """A horizontal bar chart of cases per located country (the ``top`` largest, the rest as
    "other", not located last), each bar split by outcome; a
    :class:`~ipevidence.report.document.Figure`, or None without matplotlib."""
    from .report.document import Figure
    from .report.figures import _pyplot, _to_png

    plt = _pyplot()
    if plt is None:
        return None
    rows = summary.rows()
    located = [r for r in rows if r["country"]]
    shown = located[:top]
    rest = located[top:]
    labels = [r["country"] for r in shown]
    data = [[r[k] for k in _PARTS] for r in shown]
    if rest:
        labels.append(f"other ({len(rest)})")
        data.append(
            [
                sum(r[k] for r in rest)
                for k in ("valid", "not_valid", "insufficient_data", "cannot_be_assessed")
            ]
        )
    nl = [r for r in rows if not r["country"]]
    if nl:
        labels.append("not located")
        data.append([nl[0][k] for k in _PARTS])
    values = np.asarray(data, dtype=float).reshape(-1, 4)
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(labels) + 1.6))
    y = np.arange(len(labels))[::-1]
    left = np.zeros(len(labels))
    for j, outcome in enumerate(OUTCOMES):
        ax.barh(y, values[:, j], left=left, color=_COLOURS[outcome], label=outcome, height=0.75)
        left += values[:, j]
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel("cases")
    ax.set_title("Cases per located country, by outcome")
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    png = _to_png(fig)
    return Figure(
        name="cases-per-country",
        title="Cases per located country, by outcome",
        png=png,
        caption="Each bar is one located country's cases, split by the outcome of their evidence.",
    )


# --------------------------------------------------------------------------------------------
# The whole command
# --------------------------------------------------------------------------------------------


@attrs.frozen
class TriageFiles:
    """What :func:`triage_file` wrote and found."""

    results: tuple[Path, ...]
    summary: tuple[Path, ...]
    summary_data: TriageSummary
    reading: CaseReading

    def __str__(self) -> str:
        return "\n".join(["written:", *(f"  {p}" for p in (*self.results, *self.summary))])


def triage_file(
    source: str | os.PathLike[str],
    engine: Triage,
    output: str | os.PathLike[str],
    mapping: CaseMapping,
    *,
    results: Sequence[str] = ("csv",),
    format: str = "auto",
    time_format: str | None = None,
    tz: str | dt.tzinfo = "UTC",
    date_zone: str | dt.tzinfo = "UTC",
    chunk_size: int = DEFAULT_CHUNK,
    encoding: str | None = None,
    max_line_chars: int | None = None,
    figures: bool = True,
    progress: Any = None,
    extra_provenance: dict[str, Any] | None = None,
) -> TriageFiles:
    """Read ``source`` chunk by chunk, triage every case with ``engine``, and write into the folder
    ``output``: ``cases.<fmt>`` for each of ``results`` (sorted by located country, then strength
    of evidence), ``summary.txt``, ``summary.md`` (with ``cases-per-country.png``),
    ``summary.html`` (the chart embedded) and ``summary.json`` (with the provenance: the input
    file's name, SHA-256, lines and malformed lines, the column mapping, the policy, the ground
    truths and databases). ``progress`` is a callable taking the bytes read so far (or None)."""
    from .provenance import sha256_file

    for fmt in results:
        if fmt not in RESULT_FORMATS:
            raise ValueError(f"unknown result format {fmt!r}: use {', '.join(RESULT_FORMATS)}")
    if "parquet" in results:
        _pyarrow()
    out = check_output_dir(output)
    out.mkdir(parents=True, exist_ok=True)
    src = Path(source)
    reading = CaseReading(src.name, format)
    summary: TriageSummary | None = None
    runs: list[_Run] = []
    single: TriageResult | None = None
    has_ids = mapping.case_id is not None
    tmp = Path(tempfile.mkdtemp(prefix=".ipevidence-triage-", dir=out))
    try:
        for k, chunk in enumerate(
            read_cases(
                src,
                mapping,
                format=format,
                time_format=time_format,
                tz=tz,
                date_zone=date_zone,
                chunk_size=chunk_size,
                encoding=encoding,
                max_line_chars=max_line_chars,
                reading=reading,
            )
        ):
            res = engine.run(
                chunk.address,
                chunk.date,
                claimed_countries=chunk.claimed,
                asns=chunk.asn,
                case_ids=chunk.case_id,
                lines=chunk.lines,
            )
            part = TriageSummary.of(res, {})
            summary = part if summary is None else summary.merge(part)
            if k == 0:
                single = res
            else:
                if single is not None:
                    runs.append(_Run(tmp / "run-0", single))
                    single = None
                runs.append(_Run(tmp / f"run-{k}", res))
            if progress is not None:
                progress(reading.bytes_read)
        if reading.cases == 0 and reading.malformed_lines:
            first = reading.problems[0]["reason"] if reading.problems else "malformed"
            raise LogFormatError(
                f"{src.name}: no case could be read ({len(reading.malformed_lines):,} malformed lines; "
                f"first: {first}): check the format and the column mapping"
            )
        prov = {
            **engine.provenance(),
            "input": {**reading.to_dict(), "sha256": sha256_file(src), "mapping": mapping.to_dict()},
            "reading": {
                "time_format": time_format or "iso",
                "tz": str(tz),
                "date_zone": str(date_zone),
                "chunk_size": chunk_size,
            },
            "order": "located country (code order, not located last), then outcome (valid, insufficient "
            "data, not valid, cannot be assessed), likelihood ratio and accuracy (highest first), line",
            **(extra_provenance or {}),
        }
        final = (
            attrs.evolve(summary, provenance=prov)
            if summary is not None
            else TriageSummary((), np.zeros((0, len(REASONS)), np.int64), prov)
        )
        writers = [_Writer(out / f"cases.{fmt}", fmt) for fmt in results]
        try:
            if single is not None:
                batch = single.take(np.argsort(sort_keys(single), kind="stable"))
                for w in writers:
                    w.write(batch)
            else:
                for batch in _merged_batches(
                    runs, engine, has_ids, block=max(1, chunk_size // max(1, len(runs)))
                ):
                    for w in writers:
                        w.write(batch)
        except BaseException as exc:
            for w in writers:
                w.abort(exc)
            raise
        for w in writers:
            w.close()
        written = _write_summary(final, out, figures)
    finally:
        runs.clear()
        shutil.rmtree(tmp, ignore_errors=True)
    return TriageFiles(
        results=tuple(out / f"cases.{fmt}" for fmt in results),
        summary=tuple(written),
        summary_data=final,
        reading=reading,
    )


def _write_summary(summary: TriageSummary, out: Path, figures: bool) -> list[Path]:
    figure = cases_figure(summary) if figures else None
    written = [out / "summary.txt", out / "summary.md", out / "summary.html", out / "summary.json"]
    atomic_write_text(out / "summary.txt", str(summary) + "\n")
    if figure is not None:
        atomic_write_bytes(out / figure.file_name, figure.png)
        written.append(out / figure.file_name)
    atomic_write_text(
        out / "summary.md", summary.to_markdown(figure.file_name if figure is not None else None)
    )
    atomic_write_text(
        out / "summary.html", summary.to_html(figure.data_uri() if figure is not None else None)
    )
    data = summary.to_dict()
    data["figure"] = None if figure is None else figure.to_dict()
    atomic_write_text(out / "summary.json", canonical_json(data))
    return written
