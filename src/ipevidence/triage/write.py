"""Writing triage results: per-case results files and the summary of the ``ipevidence triage``
command.

* :func:`write_results` writes a result's cases (CSV, JSON lines, Parquet with pyarrow),
  atomically; :func:`csv_lines` and :func:`text_columns` give the CSV text column by column, and
  ``_Writer`` is one results file being written batch by batch (what
  :func:`~ipevidence.triage.files.triage_file` streams the merged cases into).
* :func:`cases_figure` draws the summary's bar chart of cases per located country, by outcome;
  ``_write_summary`` writes the summary as text, Markdown, HTML (the chart embedded) and JSON (with
  the provenance). The same inputs give the same bytes.

Reading case lists is :mod:`ipevidence.triage.read`; the whole command is
:func:`ipevidence.triage.files.triage_file`, which re-exports every name of this module.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from .._io import atomic_binary, atomic_text, atomic_write_bytes, atomic_write_text
from ..countries import COUNTRY_DTYPE
from ..jsonutil import canonical_json
from .reasons import OUTCOMES, REASONS
from .result import _NO_AGE, COLUMNS, TriageResult, arrow_table
from .summary import TriageSummary

__all__ = [
    "RESULT_FORMATS",
    "cases_figure",
    "csv_lines",
    "text_columns",
    "write_results",
]

#: per-case result formats (Parquet needs pyarrow, the optional extra ``[arrow]``)
RESULT_FORMATS: Final = ("csv", "jsonl", "parquet")


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
    from ..report.document import Figure
    from ..report.figures import _pyplot, _to_png

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
# The summary files
# --------------------------------------------------------------------------------------------


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
