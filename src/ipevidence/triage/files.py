"""Case lists in, per-case results and per-country summaries out: the ``ipevidence triage`` command.

* Reading case lists is :mod:`ipevidence.triage.read`: :func:`read_cases` streams a case list
  (CSV with a header, or JSON lines) in chunks of ``chunk_size`` cases, mapping columns with a
  :class:`CaseMapping`; what it found (lines, malformed lines with their numbers, undecodable
  bytes) is a :class:`CaseReading`.
* Writing results is :mod:`ipevidence.triage.write`: the per-case results (CSV, JSON lines,
  Parquet with pyarrow; :func:`write_results`) and the summary (text, Markdown and HTML with a bar
  chart, :func:`cases_figure`, and JSON with the provenance).
* This module runs the whole command: :func:`triage_file` runs the cases through one
  :class:`~ipevidence.triage.Triage` chunk by chunk, keeping memory bounded: each chunk's results
  are sorted and, when there is more than one chunk, spilled to a temporary run on disk (numpy
  columns, memory-mapped back); the runs are merged block by block into the final order (located
  country, then strength of evidence), written as results and summarised. The same inputs give
  the same bytes.

The public names of :mod:`ipevidence.triage.read` and :mod:`ipevidence.triage.write` that the
command's callers use are re-exported here (and by ``ipevidence.triage_io``).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final

import attrs
import numpy as np
import numpy.typing as npt

from .._io import check_output_dir
from ..errors import LogFormatError
from .engine import Triage
from .read import DEFAULT_CHUNK, CaseChunk, CaseMapping, CaseReading, read_cases
from .reasons import REASONS
from .result import TriageResult, sort_keys
from .summary import TriageSummary
from .write import RESULT_FORMATS, _pyarrow, _write_summary, _Writer, cases_figure, write_results

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
    from ..provenance import sha256_file

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
