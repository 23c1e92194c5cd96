"""The result types of the accuracy figures (METHOD.md sections 8 and 9): :class:`YearAccuracy`
(one country, or all, in one year or a window), :class:`CountryAccuracy` (per year of a window,
"Hist all" and "Hist min"), :class:`ConfusionMatrix` (declared x located over a window) and the
small printable :class:`Table` they, and the paper's tables, are shown in.

They are computed by :class:`~ipevidence.accuracy.LocatedGroundTruth` (:mod:`ipevidence.accuracy`,
which re-exports every name of this module); the likelihood-ratio engine is
:mod:`ipevidence.lr_engine`.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import attrs
import numpy as np
import numpy.typing as npt

from ._format import format_cell
from .countries import normalize_country
from .jsonutil import to_jsonable
from .stats import Interval, percent_down, round_directed

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "NOT_LOCATED_LABEL",
    "ConfusionMatrix",
    "CountryAccuracy",
    "NotLocatedPolicy",
    "Table",
    "YearAccuracy",
]

NotLocatedPolicy = Literal["exclude", "wrong"]
NOT_LOCATED_LABEL = "not located"


def _pct(x: float | None, digits: int = 2) -> str:
    """A proportion as a percentage for display, rounded down (see :func:`stats.round_directed`)."""
    return "-" if x is None else f"{round_directed(100 * x, digits, 'down'):.{digits}f}"


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


@attrs.frozen
class Table:
    """A small rectangular result table: a title, column names, rows of cells and notes."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "columns": list(self.columns),
            "rows": [list(r) for r in to_jsonable(self.rows)],
            "notes": list(self.notes),
        }

    def to_markdown(self) -> str:
        lines = [f"**{self.title}**", ""]
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("|" + "|".join("---" for _ in self.columns) + "|")
        for row in self.rows:
            lines.append("| " + " | ".join(format_cell(v) for v in row) + " |")
        if self.notes:
            lines.append("")
            lines.extend(f"_{n}_" for n in self.notes)
        return "\n".join(lines) + "\n"

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(format_cell(v))}</td>" for v in row) + "</tr>"
            for row in self.rows
        )
        notes = "".join(f"<p><em>{html.escape(n)}</em></p>" for n in self.notes)
        return (
            f"<table><caption>{html.escape(self.title)}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>{notes}"
        )

    def to_pandas(self) -> pd.DataFrame:
        """A pandas DataFrame (pandas is optional and imported only here; the error names the extra)."""
        from ._optional import import_pandas

        pandas = import_pandas("Table.to_pandas()")
        frame: pd.DataFrame = pandas.DataFrame([list(r) for r in self.rows], columns=list(self.columns))
        return frame

    def __str__(self) -> str:
        cells = [list(self.columns)] + [[format_cell(v) for v in r] for r in self.rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(self.columns))]
        out = [self.title]
        for r in cells:
            out.append(
                "  ".join(
                    v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths, strict=True))
                )
            )
        out.extend(self.notes)
        return "\n".join(out)


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@attrs.frozen
class YearAccuracy:
    """Counts and accuracies of one country (or all, ``country`` "*") in one year or a window.

    ``accuracy`` excludes not-located rows (the reference), ``accuracy_all`` counts them as wrong.
    ``year`` is None for a window ("Hist all"), then ``first``/``last`` name the window.
    """

    country: str
    year: int | None
    first: int
    last: int
    addresses: int
    located: int
    correct: int
    accuracy: Interval
    accuracy_all: Interval
    asn: int | None = None

    @property
    def not_located(self) -> int:
        return self.addresses - self.located

    def selected(self, not_located: str) -> Interval:
        """The accuracy under a not-located policy: ``"exclude"`` or ``"wrong"``."""
        if not_located == "exclude":
            return self.accuracy
        if not_located == "wrong":
            return self.accuracy_all
        raise ValueError(f"not_located must be 'exclude' or 'wrong', not {not_located!r}")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "country": self.country,
            "year": self.year,
            "first": self.first,
            "last": self.last,
            "addresses": self.addresses,
            "located": self.located,
            "not_located": self.not_located,
            "correct": self.correct,
            "accuracy": self.accuracy.to_dict(),
            "accuracy_not_located_wrong": self.accuracy_all.to_dict(),
        }
        if self.asn is not None:
            out["asn"] = self.asn
        return out

    def __str__(self) -> str:
        when = str(self.year) if self.year is not None else f"{self.first}-{self.last}"
        who = self.country if self.asn is None else f"{self.country} AS{self.asn}"
        return f"{who} {when}: {self.accuracy} [not located counted wrong: {self.accuracy_all}]"


@attrs.frozen
class CountryAccuracy:
    """A country's accuracy per year of a window, "Hist all" and "Hist min".

    ``hist_min`` is the lowest yearly point estimate and ``hist_min_low`` the lowest yearly lower
    confidence bound (years without addresses are skipped; their absence is visible in ``years``),
    both under the ``not_located`` policy.
    """

    country: str
    first: int
    last: int
    not_located: str
    years: tuple[YearAccuracy, ...]
    hist_all: YearAccuracy

    def _with_data(self) -> list[Interval]:
        return [y.selected(self.not_located) for y in self.years if y.selected(self.not_located).trials]

    @property
    def hist_min(self) -> float | None:
        vals = [iv.estimate for iv in self._with_data() if iv.estimate is not None]
        return min(vals) if vals else None

    @property
    def hist_min_year(self) -> int | None:
        best: tuple[float, int] | None = None
        for y in self.years:
            e = y.selected(self.not_located).estimate
            if e is not None and y.year is not None and (best is None or e < best[0]):
                best = (e, y.year)
        return None if best is None else best[1]

    @property
    def hist_min_low(self) -> float | None:
        vals = [iv.low for iv in self._with_data() if iv.low is not None]
        return min(vals) if vals else None

    @property
    def hist_min_low_year(self) -> int | None:
        best: tuple[float, int] | None = None
        for y in self.years:
            lo = y.selected(self.not_located).low
            if lo is not None and y.year is not None and (best is None or lo < best[0]):
                best = (lo, y.year)
        return None if best is None else best[1]

    @property
    def addresses(self) -> int:
        return self.hist_all.addresses

    def to_dict(self) -> dict[str, Any]:
        return {
            "country": self.country,
            "first": self.first,
            "last": self.last,
            "not_located": self.not_located,
            "years": [y.to_dict() for y in self.years],
            "hist_all": self.hist_all.to_dict(),
            "hist_min": self.hist_min,
            "hist_min_year": self.hist_min_year,
            "hist_min_low": self.hist_min_low,
            "hist_min_low_year": self.hist_min_low_year,
        }

    def table(self) -> Table:
        """Per year and "all": counts, accuracy and interval (%); with probe clustering also the
        probes, the design effect and the effective number of addresses behind each interval."""
        clustered = self.hist_all.accuracy.clustering != "none"
        rows = []
        for y in (*self.years, self.hist_all):
            iv = y.selected(self.not_located)
            row: tuple[Any, ...] = (
                str(y.year) if y.year is not None else "all",
                y.addresses,
                y.located,
                y.correct,
                # rounded as Table 8 rounds (against the conclusion): estimate and lower bound
                # down, upper bound up, so the two tables show the same figures
                percent_down(iv.estimate),
                percent_down(iv.low),
                None if iv.high is None else round_directed(100 * iv.high, 2, "up"),
            )
            if clustered:
                row += (
                    iv.clusters,
                    # against the conclusion: the design effect up, the effective n down
                    round_directed(iv.design_effect, 2, "up") if iv.trials else None,
                    round_directed(iv.effective_n, 1, "down") if iv.trials else None,
                )
            rows.append(row)
        level = self.hist_all.accuracy.level
        method = self.hist_all.accuracy.method
        columns: tuple[str, ...] = (
            "Year",
            "Addresses",
            "Located",
            "Correct",
            "Accuracy %",
            "Low %",
            "High %",
        )
        notes = [f"{100 * level:g} % {method} intervals; not-located addresses {self.not_located}d."]
        if clustered:
            columns += ("Probes", "Design effect", "Effective n")
            notes.append(
                "Intervals count each probe's addresses as correlated (design effect over probes); "
                "effective n = addresses / design effect."
            )
        return Table(
            title=f"Accuracy of {self.country}, {self.first}-{self.last}",
            columns=columns,
            rows=tuple(rows),
            notes=tuple(notes),
        )

    def __str__(self) -> str:
        return (
            f"{self.country} {self.first}-{self.last}: "
            f"Hist all {_pct(self.hist_all.selected(self.not_located).estimate)} %"
            f" of {self.addresses:,} addresses, Hist min {_pct(self.hist_min)} % ({self.hist_min_year}),"
            f" lowest yearly lower bound {_pct(self.hist_min_low)} % ({self.hist_min_low_year})"
        )


@attrs.frozen(eq=False)
class ConfusionMatrix:
    """Declared country (rows) x located country (columns, ``""`` = not located) over a window."""

    first: int
    last: int
    declared: tuple[str, ...]
    located: tuple[str, ...]
    counts: npt.NDArray[np.int64]

    def count(self, declared: str, located: str | None) -> int:
        d = normalize_country(declared)
        loc = "" if not located else normalize_country(located)
        if d not in self.declared or loc not in self.located:
            return 0
        return int(self.counts[self.declared.index(d), self.located.index(loc)])

    def row_total(self, declared: str) -> int:
        d = normalize_country(declared)
        return int(self.counts[self.declared.index(d)].sum()) if d in self.declared else 0

    def to_dict(self) -> dict[str, Any]:
        cells: dict[str, dict[str, int]] = {}
        nz_r, nz_c = np.nonzero(self.counts)
        for r, c in zip(nz_r.tolist(), nz_c.tolist(), strict=True):
            cells.setdefault(self.declared[r], {})[self.located[c] or NOT_LOCATED_LABEL] = int(
                self.counts[r, c]
            )
        return {"first": self.first, "last": self.last, "counts": cells}

    def table(self, countries: Sequence[str] | None = None) -> Table:
        rows_c = [normalize_country(c) for c in countries] if countries else list(self.declared)
        cols = list(self.located)
        rows = []
        for c in rows_c:
            rows.append((c, *[self.count(c, loc) for loc in cols]))
        return Table(
            title=f"Confusion matrix {self.first}-{self.last}: declared (rows) x located (columns)",
            columns=("Declared", *[loc or NOT_LOCATED_LABEL for loc in cols]),
            rows=tuple(rows),
        )

    def to_markdown(self) -> str:
        return self.table().to_markdown()

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()

    def to_pandas(self) -> pd.DataFrame:
        from ._optional import import_pandas

        pandas = import_pandas("ConfusionMatrix.to_pandas()")
        frame: pd.DataFrame = pandas.DataFrame(
            self.counts, index=list(self.declared), columns=[c or NOT_LOCATED_LABEL for c in self.located]
        )
        return frame

    def __str__(self) -> str:
        return str(self.table())
