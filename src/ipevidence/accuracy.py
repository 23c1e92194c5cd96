"""Accuracy of a geolocation database on the ground truth: per country and year, over a window,
globally, as a confusion matrix and as likelihood ratios (METHOD.md sections 8 to 10).

:class:`LocatedGroundTruth` pairs a :class:`~ipevidence.groundtruth.GroundTruth` with one
database's answer for every row (looked up once, vectorised) and encodes declared and located
countries to small integers. One ``numpy.bincount`` then gives the count cube year x declared x
located from which every figure is a slice: per country-year counts, located and correct counts,
"Hist all" and "Hist min" over a window, global accuracy, the confusion matrix and the likelihood
ratio. No per-row Python loop is involved; after the first call everything is cached.

Tables in the paper's layout (:class:`Table`: ``to_dict``, ``to_markdown``, ``_repr_html_``,
``to_pandas``): :func:`address_table` (Tables 4-6), :func:`database_accuracy_table` (Table 7),
:func:`naive_methods_table` (the naive methods of section 10 with how far each misleads). The
evidential table (Table 8) needs a policy and lives in :mod:`ipevidence.assessment`.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import attrs
import numpy as np
import numpy.typing as npt

from ._format import format_cell
from .backends.base import GeoBackend
from .countries import COUNTRY_DTYPE, normalize_country
from .errors import FamilyMismatchError, OutsideGroundTruthError
from .groundtruth import GroundTruth
from .jsonutil import to_jsonable
from .provenance import DatabaseInfo
from .stats import (
    Interval,
    LikelihoodRatio,
    likelihood_ratio,
    percent_down,
    proportion_interval,
    round_directed,
    verbal_scale,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "NOT_LOCATED_LABEL",
    "ConfusionMatrix",
    "CountryAccuracy",
    "LocatedGroundTruth",
    "NotLocatedPolicy",
    "Table",
    "YearAccuracy",
    "address_table",
    "database_accuracy_table",
    "naive_methods_table",
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
        """A pandas DataFrame (pandas is optional and imported only here)."""
        import pandas as pd

        frame: pd.DataFrame = pd.DataFrame([list(r) for r in self.rows], columns=list(self.columns))
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
        return {
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

    def __str__(self) -> str:
        when = str(self.year) if self.year is not None else f"{self.first}-{self.last}"
        return f"{self.country} {when}: {self.accuracy} [not located counted wrong: {self.accuracy_all}]"


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
        rows = []
        for y in (*self.years, self.hist_all):
            iv = y.selected(self.not_located)
            rows.append(
                (
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
            )
        level = self.hist_all.accuracy.level
        method = self.hist_all.accuracy.method
        return Table(
            title=f"Accuracy of {self.country}, {self.first}-{self.last}",
            columns=("Year", "Addresses", "Located", "Correct", "Accuracy %", "Low %", "High %"),
            rows=tuple(rows),
            notes=(f"{100 * level:g} % {method} intervals; not-located addresses {self.not_located}d.",),
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
        import pandas as pd

        frame: pd.DataFrame = pd.DataFrame(
            self.counts, index=list(self.declared), columns=[c or NOT_LOCATED_LABEL for c in self.located]
        )
        return frame

    def __str__(self) -> str:
        return str(self.table())


# --------------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------------


def _codes_u16(column: npt.NDArray[np.bytes_]) -> npt.NDArray[np.uint16]:
    col = np.ascontiguousarray(np.asarray(column, dtype=COUNTRY_DTYPE))
    return col.view(np.uint16)


class LocatedGroundTruth:
    """A ground truth geolocated by one database, with every accuracy figure cached.

    Build it with :meth:`from_backend` (looks every address up once) or directly from a located
    column (``S2``, ``b""`` = not located) of the same length as the ground truth.
    """

    def __init__(
        self,
        ground_truth: GroundTruth,
        located: npt.NDArray[np.bytes_],
        *,
        database: DatabaseInfo | None = None,
        method: str = "wilson",
        level: float = 0.95,
    ) -> None:
        located = np.asarray(located, dtype=COUNTRY_DTYPE)
        if located.shape != (len(ground_truth),):
            raise ValueError(f"located column has shape {located.shape}, expected ({len(ground_truth)},)")
        proportion_interval(1, 2, method, level)  # validates method and level early
        self.ground_truth = ground_truth
        self.located = located
        self.database = database
        self.method = method
        self.level = level
        n = len(ground_truth)
        # Encode both country columns to small ints through a 65,536-entry table (no sorting).
        dec16, loc16 = _codes_u16(ground_truth.country), _codes_u16(located)
        present = np.flatnonzero(
            np.bincount(dec16, minlength=65536).astype(bool)
            | np.bincount(loc16, minlength=65536).astype(bool)
        )
        present = present[present != 0]
        names = np.asarray(present.astype(np.uint16)).view(COUNTRY_DTYPE)
        order = np.argsort(names)
        codes = [""] + [bytes(b).decode("ascii") for b in names[order]]
        lut = np.zeros(65536, dtype=np.int32)
        lut[present[order]] = np.arange(1, len(codes), dtype=np.int32)
        self.codes: tuple[str, ...] = tuple(codes)
        self._index = {c: i for i, c in enumerate(codes)}
        self._dec = lut[dec16]
        self._loc = lut[loc16]
        years = ground_truth.years
        if n:
            self.first_year, self.last_year = int(years.min()), int(years.max())
        else:
            self.first_year = self.last_year = 0
        self._year_idx = (years - self.first_year).astype(np.int64)
        ny, nc = self.last_year - self.first_year + 1, len(codes)
        flat = (self._year_idx * nc + self._dec) * nc + self._loc
        self.cube: npt.NDArray[np.int64] = np.bincount(flat, minlength=ny * nc * nc).reshape(ny, nc, nc)
        self._cache: dict[tuple[Any, ...], Any] = {}

    @classmethod
    def from_backend(
        cls, ground_truth: GroundTruth, backend: GeoBackend, *, method: str = "wilson", level: float = 0.95
    ) -> LocatedGroundTruth:
        """Look every ground-truth address up in ``backend`` once."""
        if ground_truth.family not in backend.families:
            raise FamilyMismatchError(
                f"the ground truth is IPv{ground_truth.family} but the database covers "
                f"IPv{'/IPv'.join(str(f) for f in sorted(backend.families)) or ' nothing'}"
            )
        located = backend.lookup(ground_truth.address)
        return cls(ground_truth, located, database=backend.describe(), method=method, level=level)

    # -- windows -------------------------------------------------------------------------------

    def window(self, last: int, length: int) -> tuple[int, int]:
        """The window of ``length`` years ending with ``last``, clipped to the ground truth's years.

        Raises :class:`OutsideGroundTruthError` when ``last`` is outside the ground truth.
        """
        if len(self.ground_truth) == 0:
            raise OutsideGroundTruthError("the ground truth is empty")
        if not self.first_year <= last <= self.last_year:
            raise OutsideGroundTruthError(
                f"year {last} is outside the ground truth, which covers {self.first_year}-{self.last_year}"
            )
        if length < 1:
            raise ValueError("a window is at least one year long")
        return max(self.first_year, last - length + 1), last

    def _slice(self, first: int, last: int) -> slice:
        lo = max(first, self.first_year) - self.first_year
        hi = min(last, self.last_year) - self.first_year + 1
        return slice(lo, max(lo, hi))

    def _cidx(self, country: str) -> int | None:
        return self._index.get(normalize_country(country))

    # -- accuracy ------------------------------------------------------------------------------

    def _year_accuracy(
        self,
        country: str,
        year: int | None,
        first: int,
        last: int,
        addresses: int,
        located: int,
        correct: int,
    ) -> YearAccuracy:
        return YearAccuracy(
            country=country,
            year=year,
            first=first,
            last=last,
            addresses=addresses,
            located=located,
            correct=correct,
            accuracy=proportion_interval(correct, located, self.method, self.level),
            accuracy_all=proportion_interval(correct, addresses, self.method, self.level),
        )

    def country_accuracy(
        self, country: str, first: int, last: int, not_located: str = "exclude"
    ) -> CountryAccuracy:
        """Per-year accuracy of ``country`` for ``first``..``last``, with Hist all and Hist min."""
        code = normalize_country(country)
        if not_located not in ("exclude", "wrong"):
            raise ValueError(f"not_located must be 'exclude' or 'wrong', not {not_located!r}")
        key = ("country", code, first, last, not_located)
        if key in self._cache:
            return self._cache[key]  # type: ignore[no-any-return]
        ci = self._cidx(code)
        years = []
        tot = [0, 0, 0]
        for y in range(first, last + 1):
            if ci is not None and self.first_year <= y <= self.last_year:
                row = self.cube[y - self.first_year, ci]
                n, nl, ok = int(row.sum()), int(row[0]), int(row[ci])
            else:
                n = nl = ok = 0
            years.append(self._year_accuracy(code, y, y, y, n, n - nl, ok))
            tot[0] += n
            tot[1] += n - nl
            tot[2] += ok
        result = CountryAccuracy(
            country=code,
            first=first,
            last=last,
            not_located=not_located,
            years=tuple(years),
            hist_all=self._year_accuracy(code, None, first, last, tot[0], tot[1], tot[2]),
        )
        self._cache[key] = result
        return result

    def global_accuracy(self, first: int, last: int) -> tuple[YearAccuracy, ...]:
        """All countries pooled, per year of ``first``..``last`` (the first naive method's figure)."""
        diag = np.einsum("yii->yi", self.cube)
        out = []
        for y in range(first, last + 1):
            if self.first_year <= y <= self.last_year:
                cube_y = self.cube[y - self.first_year]
                n, nl = int(cube_y.sum()), int(cube_y[:, 0].sum())
                ok = int(diag[y - self.first_year, 1:].sum())
            else:
                n = nl = ok = 0
            out.append(self._year_accuracy("*", y, y, y, n, n - nl, ok))
        return tuple(out)

    def confusion(self, first: int, last: int) -> ConfusionMatrix:
        """Declared x located counts over ``first``..``last`` (only codes that occur)."""
        key = ("confusion", first, last)
        if key in self._cache:
            return self._cache[key]  # type: ignore[no-any-return]
        m = self.cube[self._slice(first, last)].sum(axis=0)
        rows = np.flatnonzero(m.sum(axis=1))
        cols = np.flatnonzero(m.sum(axis=0))
        result = ConfusionMatrix(
            first=first,
            last=last,
            declared=tuple(self.codes[i] for i in rows),
            located=tuple(self.codes[i] for i in cols),
            counts=np.ascontiguousarray(m[np.ix_(rows, cols)]),
        )
        self._cache[key] = result
        return result

    def window_counts(self, first: int, last: int) -> npt.NDArray[np.int64]:
        """Declared x located counts over the window in the engine's code order (``codes``)."""
        key = ("window", first, last)
        if key not in self._cache:
            self._cache[key] = self.cube[self._slice(first, last)].sum(axis=0)
        return self._cache[key]  # type: ignore[no-any-return]

    def likelihood_ratio(
        self,
        country: str,
        observed: str | None,
        first: int,
        last: int,
        *,
        alternatives: Mapping[str, float] | None = None,
        zero_count: str = "jeffreys",
        basis: str = "conservative",
    ) -> LikelihoodRatio | None:
        """LR that the database says ``observed`` (None = not located) given the device in ``country``.

        P(E | Hp) is the share of ``country``'s rows in the window placed in ``observed``; P(E | Hd)
        the same share among the alternatives: every other country with ground truth weighted by
        its ground truth (default), or the named ``alternatives`` with their weights. Returns None
        when ``country`` or every alternative has no ground truth in the window.
        """
        code = normalize_country(country)
        obs = "" if not observed else normalize_country(observed)
        m = self.window_counts(first, last)
        ci = self._cidx(code)
        if ci is None or int(m[ci].sum()) == 0:
            return None
        oi = self._index.get(obs)
        row_tot = m.sum(axis=1)
        k_p = int(m[ci, oi]) if oi is not None else 0
        if alternatives is None:
            alt_idx = [i for i in range(1, len(self.codes)) if i != ci and row_tot[i] > 0]
            names = [self.codes[i] for i in alt_idx]
            weights: list[float] | None = None
            missing: list[str] = []
        else:
            names, weights, missing, alt_idx = [], [], [], []
            for c, w in sorted(alternatives.items()):
                a = normalize_country(c)
                if a == code:
                    raise ValueError(f"{a} cannot be its own alternative")
                i = self._index.get(a)
                if i is None or row_tot[i] == 0:
                    missing.append(a)
                    continue
                names.append(a)
                weights.append(float(w))
                alt_idx.append(i)
            if weights and sum(weights) <= 0:
                weights = [1.0] * len(weights)
        if not alt_idx:
            return None
        k_d = [int(m[i, oi]) if oi is not None else 0 for i in alt_idx]
        n_d = [int(row_tot[i]) for i in alt_idx]
        lr = likelihood_ratio(
            k_p,
            int(row_tot[ci]),
            k_d,
            n_d,
            weights=weights,
            method=self.method,
            level=self.level,
            zero_count=zero_count,
            basis=basis,
            hp=f"the device was in {code}",
            hd="the device was in another country "
            f"({'user-weighted' if alternatives else 'weighted by ground truth'})",
            observation=f"the database places the address in {obs or NOT_LOCATED_LABEL}",
            alternative_names=names,
            alternatives_without_data=missing,
        )
        # ENFSI wording names the proposition: "... support for the proposition that the device was
        # in DE", not "... support for the device was in DE".
        return attrs.evolve(lr, verbal=verbal_scale(lr.reported, f"the proposition that {lr.hp}"))

    # -- geography helpers ---------------------------------------------------------------------

    @functools.cached_property
    def _country_order(self) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        order = np.lexsort((self._year_idx, self._dec))
        dec_sorted = self._dec[order]
        key_sorted = dec_sorted.astype(np.int64) * 10_000 + self._year_idx[order]
        return order, dec_sorted.astype(np.int64), key_sorted

    def rows_of(self, country: str, first: int, last: int) -> npt.NDArray[np.intp]:
        """Row indices of the ground truth declared in ``country`` with years ``first``..``last``."""
        ci = self._cidx(country)
        if ci is None:
            return np.zeros(0, dtype=np.intp)
        order, _, key = self._country_order
        lo = np.searchsorted(key, ci * 10_000 + (first - self.first_year), side="left")
        hi = np.searchsorted(key, ci * 10_000 + (last - self.first_year), side="right")
        return order[lo:hi]


# --------------------------------------------------------------------------------------------
# Tables in the paper's layout
# --------------------------------------------------------------------------------------------


def address_table(lgt: LocatedGroundTruth, countries: Iterable[str], first: int, last: int) -> Table:
    """Addresses per country and year with the total (the paper's Tables 4 to 6)."""
    years = list(range(first, last + 1))
    rows = []
    for c in countries:
        ca = lgt.country_accuracy(c, first, last)
        rows.append((ca.country, *[y.addresses for y in ca.years], ca.addresses))
    return Table(
        title=f"Ground-truth addresses per country and year, {first}-{last}",
        columns=("Country", *[str(y) for y in years], "Total"),
        rows=tuple(rows),
    )


def database_accuracy_table(
    databases: Mapping[str, LocatedGroundTruth],
    countries: Sequence[str],
    first: int,
    last: int,
    not_located: str = "exclude",
) -> Table:
    """Hist all accuracy (%) per database and country over a window (the paper's Table 7)."""
    codes = [normalize_country(c) for c in countries]
    rows = []
    for name, lgt in databases.items():
        cells: list[float | None] = []
        for c in codes:
            e = lgt.country_accuracy(c, first, last, not_located).hist_all.selected(not_located).estimate
            cells.append(None if e is None else round(100 * e, 2))
        rows.append((name, *cells))
    return Table(
        title=f"Accuracy (%) of IP country location per database, {first}-{last}",
        columns=("Database", *codes),
        rows=tuple(rows),
        notes=(f"Not-located addresses {not_located}d; {last - first + 1} years of ground truth.",),
    )


def naive_methods_table(
    lgt: LocatedGroundTruth,
    country: str,
    year: int,
    *,
    observed_year: int,
    other_country: str,
    not_located: str = "exclude",
) -> Table:
    """The three naive methods for ``country`` in ``year`` next to the country's own figure.

    (i) the global accuracy of ``year``; (ii) the country's accuracy of ``observed_year`` applied to
    ``year``; (iii) ``other_country``'s accuracy of ``year``. "Misleads by" is the naive figure
    minus the country's accuracy of ``year`` in percentage points (positive = overstates).
    """
    code = normalize_country(country)
    other = normalize_country(other_country)
    own = lgt.country_accuracy(code, year, year, not_located).hist_all.selected(not_located)
    glob = lgt.global_accuracy(year, year)[0].selected(not_located)
    single = lgt.country_accuracy(code, observed_year, observed_year, not_located).hist_all.selected(
        not_located
    )
    cross = lgt.country_accuracy(other, year, year, not_located).hist_all.selected(not_located)

    def row(method: str, used: str, iv: Interval) -> tuple[Any, ...]:
        diff = None
        if iv.estimate is not None and own.estimate is not None:
            diff = round(100 * (iv.estimate - own.estimate), 2)
        est = percent_down(iv.estimate)  # rounded down, as in Table 8 and the per-year tables
        return (method, used, est, iv.trials, diff)

    rows = (
        row("evidential (the country, the year)", f"{code} {year}", own),
        row("(i) global accuracy", f"all countries {year}", glob),
        row("(ii) single observation", f"{code} {observed_year}", single),
        row("(iii) cross country", f"{other} {year}", cross),
    )
    return Table(
        title=f"Naive methods for evidence in {code} dated {year}",
        columns=("Method", "Figure used", "Accuracy %", "Addresses", "Misleads by (pp)"),
        rows=rows,
        notes=("Misleads by = naive accuracy minus the country's own accuracy in the evidence year.",),
    )
