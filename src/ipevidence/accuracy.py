"""Accuracy of a geolocation database on the ground truth: per country and year, over a window,
globally, as a confusion matrix and as likelihood ratios (METHOD.md sections 8 to 10).

:class:`LocatedGroundTruth` pairs a :class:`~ipevidence.groundtruth.GroundTruth` with one
database's answer for every row (looked up once, vectorised) and encodes declared and located
countries to small integers. One ``numpy.bincount`` then gives the count cube year x declared x
located from which every figure is a slice: per country-year counts, located and correct counts,
"Hist all" and "Hist min" over a window, global accuracy, the confusion matrix and the likelihood
ratio. No per-row Python loop is involved; after the first call everything is cached.

Intervals are cluster-aware by default (``clustering="probe"``): a second small table of counts per
(declared country, year, probe, located country) is built once, and every proportion is aggregated
per probe and given a design-effect interval (:func:`ipevidence.stats.clustered_intervals`).
Likelihood ratios against an explicit alternative hypothesis are :meth:`LocatedGroundTruth.evidence_lr`
(:class:`ipevidence.likelihood.EvidenceLR`).

Tables in the paper's layout (:class:`Table`: ``to_dict``, ``to_markdown``, ``_repr_html_``,
``to_pandas``): :func:`address_table` (Tables 4-6), :func:`database_accuracy_table` (Table 7),
:func:`naive_methods_table` (the naive methods of section 10 with how far each misleads). The
evidential table (Table 8) needs a policy and lives in :mod:`ipevidence.assessment`.
"""

from __future__ import annotations

import functools
import html
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import attrs
import numpy as np
import numpy.typing as npt

from ._format import format_cell
from .backends.base import GeoBackend
from .countries import COUNTRY_DTYPE, normalize_country
from .errors import FamilyMismatchError, InvalidParameterError, OutsideGroundTruthError
from .groundtruth import GroundTruth
from .jsonutil import to_jsonable
from .likelihood import (
    HD_MODES,
    ZERO_COUNT_RULES,
    EvidenceLR,
    LikelihoodRatio,
    likelihood_ratio_from_intervals,
)
from .provenance import DatabaseInfo
from .stats import (
    CLUSTERINGS,
    DEFAULT_MIN_ICC,
    ClusteredIntervals,
    Interval,
    clustered_intervals,
    effective_counts,
    percent_down,
    proportion_interval,
    proportion_intervals,
    round_directed,
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


# --------------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------------


def _count_words(n: int, noun: str) -> str:
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"the one {noun}" if n == 1 else f"the {n:,} {plural}"


def _each_words(n: int, named: bool, enough: str) -> str:
    noun = "named alternative" if named else "country"
    if n == 0:
        return f"but no {'other country' if noun == 'country' else noun} has {enough}"
    if n == 1:
        return f"the one {noun} with {enough}"
    return f"each of {_count_words(n, noun)} with {enough} taken separately"


@attrs.frozen(eq=False)
class _Placed:
    """Per declared country, the sufficient statistics of the share of its rows placed in one
    answer: successes, trials, clusters (probes), and when clustered the residual sum of squares
    about its own proportion, the sum of m^2 and the sum of y * m over its probes."""

    successes: npt.NDArray[np.float64]
    trials: npt.NDArray[np.float64]
    clusters: npt.NDArray[np.float64]
    rss: npt.NDArray[np.float64] | None
    smm: npt.NDArray[np.float64] | None
    ym: npt.NDArray[np.float64] | None


def _codes_u16(column: npt.NDArray[np.bytes_]) -> npt.NDArray[np.uint16]:
    col = np.ascontiguousarray(np.asarray(column, dtype=COUNTRY_DTYPE))
    return col.view(np.uint16)


class LocatedGroundTruth:
    """A ground truth geolocated by one database, with every accuracy figure cached.

    Build it with :meth:`from_backend` (looks every address up once) or directly from a located
    column (``S2``, ``b""`` = not located) of the same length as the ground truth.

    ``clustering`` ``"probe"`` (default) makes every interval cluster-aware: the addresses one
    probe contributes are correlated trials, and the intervals use a design effect over probes
    (:func:`~ipevidence.stats.clustered_intervals`, never assumed below an intra-probe correlation
    of ``min_icc``); ``"none"`` keeps the paper's independent counts (the reference preset).
    """

    def __init__(
        self,
        ground_truth: GroundTruth,
        located: npt.NDArray[np.bytes_],
        *,
        database: DatabaseInfo | None = None,
        method: str = "wilson",
        level: float = 0.95,
        clustering: str = "probe",
        min_icc: float = DEFAULT_MIN_ICC,
    ) -> None:
        located = np.asarray(located, dtype=COUNTRY_DTYPE)
        if located.shape != (len(ground_truth),):
            raise ValueError(f"located column has shape {located.shape}, expected ({len(ground_truth)},)")
        proportion_interval(1, 2, method, level)  # validates method and level early
        if clustering not in CLUSTERINGS:
            raise ValueError(f"clustering must be 'probe' or 'none', not {clustering!r}")
        if not 0.0 <= min_icc <= 1.0:
            raise ValueError(f"min_icc must lie in [0, 1], not {min_icc!r}")
        self.ground_truth = ground_truth
        self.located = located
        self.database = database
        self.method = method
        self.level = level
        self.clustering = clustering
        self.min_icc = min_icc
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
        cls,
        ground_truth: GroundTruth,
        backend: GeoBackend,
        *,
        method: str = "wilson",
        level: float = 0.95,
        clustering: str = "probe",
        min_icc: float = DEFAULT_MIN_ICC,
    ) -> LocatedGroundTruth:
        """Look every ground-truth address up in ``backend`` once."""
        if ground_truth.family not in backend.families:
            raise FamilyMismatchError(
                f"the ground truth is IPv{ground_truth.family} but the database covers "
                f"IPv{'/IPv'.join(str(f) for f in sorted(backend.families)) or ' nothing'}"
            )
        located = backend.lookup(ground_truth.address)
        return cls(
            ground_truth,
            located,
            database=backend.describe(),
            method=method,
            level=level,
            clustering=clustering,
            min_icc=min_icc,
        )

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

    # -- the probe table (cluster-aware intervals) ---------------------------------------------

    @functools.cached_property
    def _probe_table(self) -> dict[str, npt.NDArray[np.int64]]:
        """Counts per unique (declared, year, probe, located), sorted in that order (built once).

        Every cluster-aware figure aggregates this small table (one row per probe, year and
        answer) instead of the ground truth's rows.
        """
        pid = np.asarray(self.ground_truth.probe_id, dtype=np.int64)
        if pid.size == 0:
            empty = np.zeros(0, dtype=np.int64)
            return {
                "dec": empty,
                "year": empty,
                "probe": empty,
                "loc": empty,
                "count": empty,
                "n_probes": np.ones(1, dtype=np.int64),
                "pair": empty,
                "pair_dec": empty,
            }
        lo, hi = int(pid.min()), int(pid.max())
        if hi - lo < (1 << 26):
            seen = np.zeros(hi - lo + 1, dtype=np.bool_)
            seen[pid - lo] = True
            probe_lut = np.cumsum(seen, dtype=np.int64) - 1
            probe = probe_lut[pid - lo]
            n_probes = int(seen.sum())
        else:
            _, inverse = np.unique(pid, return_inverse=True)
            probe = inverse.astype(np.int64)
            n_probes = int(probe.max()) + 1
        ny = self.last_year - self.first_year + 1
        nc = len(self.codes)
        key = ((self._dec.astype(np.int64) * ny + self._year_idx) * n_probes + probe) * nc + self._loc
        uniq, count = np.unique(key, return_counts=True)
        loc = uniq % nc
        rest = uniq // nc
        probe_u = rest % n_probes
        rest //= n_probes
        dec_u = rest // ny
        # one id per (declared, probe) pair, across years: the clusters of a window's LR
        pair_keys, pair = np.unique(dec_u * n_probes + probe_u, return_inverse=True)
        return {
            "dec": dec_u,
            "year": rest % ny,
            "probe": probe_u,
            "loc": loc,
            "count": count.astype(np.int64),
            "n_probes": np.array([n_probes], dtype=np.int64),
            "pair": pair.ravel().astype(np.int64),
            "pair_dec": (pair_keys // n_probes).astype(np.int64),
        }

    def _country_block(self, ci: int, first: int, last: int) -> slice:
        """Rows of the probe table declared in country index ``ci`` with years ``first``..``last``."""
        t = self._probe_table
        ny = self.last_year - self.first_year + 1
        lo_y = max(first, self.first_year) - self.first_year
        hi_y = min(last, self.last_year) - self.first_year
        if hi_y < lo_y:
            return slice(0, 0)
        order_key = t["dec"] * ny + t["year"]
        lo = int(np.searchsorted(order_key, ci * ny + lo_y, side="left"))
        hi = int(np.searchsorted(order_key, ci * ny + hi_y, side="right"))
        return slice(lo, hi)

    def _clustered(
        self,
        y: npt.NDArray[np.int64],
        m: npt.NDArray[np.int64],
        group: npt.NDArray[np.int64] | None = None,
        groups: int | None = None,
        level: float | None = None,
    ) -> ClusteredIntervals:
        return clustered_intervals(
            y,
            m,
            group,
            groups,
            method=self.method,
            level=self.level if level is None else level,
            min_icc=self.min_icc,
        )

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
        clustered: tuple[Interval, Interval] | None = None,
        asn: int | None = None,
    ) -> YearAccuracy:
        if clustered is None:
            acc = proportion_interval(correct, located, self.method, self.level)
            acc_all = proportion_interval(correct, addresses, self.method, self.level)
        else:
            acc, acc_all = clustered
        return YearAccuracy(
            country=country,
            year=year,
            first=first,
            last=last,
            addresses=addresses,
            located=located,
            correct=correct,
            accuracy=acc,
            accuracy_all=acc_all,
            asn=asn,
        )

    def _probe_intervals(
        self,
        probe: npt.NDArray[np.int64],
        loc: npt.NDArray[np.int64],
        count: npt.NDArray[np.int64],
        correct_code: int | npt.NDArray[np.int64],
        group: npt.NDArray[np.int64],
        groups: int,
    ) -> tuple[ClusteredIntervals, ClusteredIntervals]:
        """Accuracy intervals (not located excluded, and counted wrong) per group, clustered by probe.

        ``group`` gives each row's proportion; rows are aggregated per (group, probe) first.
        """
        key = group * (int(probe.max()) + 1 if probe.size else 1) + probe
        uk, inv = np.unique(key, return_inverse=True)
        inv = inv.ravel()
        ok = np.bincount(inv, weights=count * (loc == correct_code), minlength=uk.size).astype(np.int64)
        located = np.bincount(inv, weights=count * (loc != 0), minlength=uk.size).astype(np.int64)
        total = np.bincount(inv, weights=count, minlength=uk.size).astype(np.int64)
        g = uk // (int(probe.max()) + 1 if probe.size else 1)
        return self._clustered(ok, located, g, groups), self._clustered(ok, total, g, groups)

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
        counts = []
        tot = [0, 0, 0]
        for y in range(first, last + 1):
            if ci is not None and self.first_year <= y <= self.last_year:
                row = self.cube[y - self.first_year, ci]
                n, nl, ok = int(row.sum()), int(row[0]), int(row[ci])
            else:
                n = nl = ok = 0
            counts.append((y, n, n - nl, ok))
            tot[0] += n
            tot[1] += n - nl
            tot[2] += ok
        per_year: list[tuple[Interval, Interval] | None] = [None] * len(counts)
        window: tuple[Interval, Interval] | None = None
        if self.clustering == "probe":
            nyw = last - first + 1
            if ci is not None:
                t = self._probe_table
                sl = self._country_block(ci, first, last)
                probe, loc, cnt = t["probe"][sl], t["loc"][sl], t["count"][sl]
                year_pos = t["year"][sl] + self.first_year - first
            else:
                probe = loc = cnt = year_pos = np.zeros(0, dtype=np.int64)
            yr = self._probe_intervals(probe, loc, cnt, ci or -1, year_pos, nyw)
            allw = self._probe_intervals(probe, loc, cnt, ci or -1, np.zeros_like(probe), 1)
            per_year = [(yr[0].interval(i), yr[1].interval(i)) for i in range(nyw)]
            window = (allw[0].interval(0), allw[1].interval(0))
        years = [
            self._year_accuracy(code, y, y, y, n, nloc, ok, per_year[i])
            for i, (y, n, nloc, ok) in enumerate(counts)
        ]
        result = CountryAccuracy(
            country=code,
            first=first,
            last=last,
            not_located=not_located,
            years=tuple(years),
            hist_all=self._year_accuracy(code, None, first, last, tot[0], tot[1], tot[2], window),
        )
        self._cache[key] = result
        return result

    def global_accuracy(self, first: int, last: int) -> tuple[YearAccuracy, ...]:
        """All countries pooled, per year of ``first``..``last`` (the first naive method's figure)."""
        key = ("global", first, last)
        if key in self._cache:
            return self._cache[key]  # type: ignore[no-any-return]
        diag = np.einsum("yii->yi", self.cube)
        nyw = last - first + 1
        clustered: list[tuple[Interval, Interval] | None] = [None] * nyw
        if self.clustering == "probe":
            t = self._probe_table
            year_pos = t["year"] + self.first_year - first
            sel = (year_pos >= 0) & (year_pos < nyw)
            yr = self._probe_intervals(
                t["probe"][sel], t["loc"][sel], t["count"][sel], t["dec"][sel], year_pos[sel], nyw
            )
            clustered = [(yr[0].interval(i), yr[1].interval(i)) for i in range(nyw)]
        out = []
        for i, y in enumerate(range(first, last + 1)):
            if self.first_year <= y <= self.last_year:
                cube_y = self.cube[y - self.first_year]
                n, nl = int(cube_y.sum()), int(cube_y[:, 0].sum())
                ok = int(diag[y - self.first_year, 1:].sum())
            else:
                n = nl = ok = 0
            out.append(self._year_accuracy("*", y, y, y, n, n - nl, ok, clustered[i]))
        result = tuple(out)
        self._cache[key] = result
        return result

    @functools.cached_property
    def _asn_order(self) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64]]:
        """Rows sorted by (declared, ASN, year) and the sorted keys (built on first use)."""
        asn = np.asarray(self.ground_truth.asn, dtype=np.int64)
        key = (self._dec.astype(np.int64) << 40) | (asn << 8) | self._year_idx
        order = np.argsort(key, kind="stable")
        return order, key[order]

    def network_accuracy(
        self, country: str, asn: int, first: int, last: int, not_located: str = "exclude"
    ) -> YearAccuracy:
        """Accuracy over ``first``..``last`` of the rows declared in ``country`` whose ground-truth
        ASN is ``asn`` (the evidence's own network), with counts and its (clustered) interval.

        ``not_located`` is checked for the caller's convenience: both accuracies are in the result
        (``selected(not_located)`` picks one). A network without ground truth gives 0 addresses
        and no interval.
        """
        code = normalize_country(country)
        if not_located not in ("exclude", "wrong"):
            raise ValueError(f"not_located must be 'exclude' or 'wrong', not {not_located!r}")
        if not 0 < int(asn) < 2**32:
            raise InvalidParameterError(f"AS number {asn} is outside 1..4294967295")
        asn = int(asn)
        key = ("network", code, asn, first, last)
        if key in self._cache:
            return self._cache[key]  # type: ignore[no-any-return]
        ci = self._cidx(code)
        rows = np.zeros(0, dtype=np.intp)
        lo_y = max(first, self.first_year) - self.first_year
        hi_y = min(last, self.last_year) - self.first_year
        if ci is not None and hi_y >= lo_y and len(self.ground_truth):
            order, keys = self._asn_order
            base = (ci << 40) | (asn << 8)
            lo = int(np.searchsorted(keys, base | lo_y, side="left"))
            hi = int(np.searchsorted(keys, base | hi_y, side="right"))
            rows = order[lo:hi]
        loc = self._loc[rows].astype(np.int64)
        n, nloc = int(rows.size), int(np.count_nonzero(loc))
        ok = int(np.count_nonzero(loc == (ci or -1)))
        clustered: tuple[Interval, Interval] | None = None
        if self.clustering == "probe":
            pid = np.asarray(self.ground_truth.probe_id, dtype=np.int64)[rows]
            _, probe = np.unique(pid, return_inverse=True)
            probe = probe.ravel().astype(np.int64)
            exc, wrong = self._probe_intervals(
                probe, loc, np.ones(rows.size, dtype=np.int64), ci or -1, np.zeros_like(probe), 1
            )
            clustered = (exc.interval(0), wrong.interval(0))
        result = self._year_accuracy(code, None, first, last, n, nloc, ok, clustered, asn=asn)
        self._cache[key] = result
        return result

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

    # -- likelihood ratios ---------------------------------------------------------------------

    def _window_probes(self, first: int, last: int) -> dict[str, npt.NDArray[Any]]:
        """The window's probe-table rows and per-country probe sums (cached per window).

        Clusters are (declared country, probe) pairs. Per row of the window: ``pair``, ``dec``
        (sorted), ``loc``, ``count``; per pair: ``m`` (addresses in the window); per country:
        ``clusters`` (pairs with addresses in the window), ``smm`` (sum of m^2) and ``starts``
        (where each country's rows begin).
        """
        key = ("wprobes", first, last)
        if key not in self._cache:
            t = self._probe_table
            nc = len(self.codes)
            year_pos = t["year"] + self.first_year
            sel = np.flatnonzero((year_pos >= first) & (year_pos <= last))
            pair, cnt, dec = t["pair"][sel], t["count"][sel], t["dec"][sel]
            pair_dec = t["pair_dec"]
            m = np.bincount(pair, weights=cnt, minlength=pair_dec.size).astype(np.int64)
            mf = m.astype(np.float64)
            self._cache[key] = {
                "pair": pair,
                "dec": dec,
                "loc": t["loc"][sel],
                "count": cnt,
                "m": m,
                "pair_dec": pair_dec,
                "clusters": np.bincount(pair_dec, weights=(m > 0), minlength=nc).astype(np.int64),
                "smm": np.bincount(pair_dec, weights=mf * mf, minlength=nc),
                "starts": np.searchsorted(dec, np.arange(nc + 1)).astype(np.int64),
            }
        return self._cache[key]  # type: ignore[no-any-return]

    def _placed(self, first: int, last: int, obs: str) -> _Placed:
        """Per declared country: sufficient statistics of the share of its window rows placed in
        ``obs``, clustered by probe (cached per window and observation).

        Only the rows that are the minority outcome are touched: rows placed in ``obs`` from other
        countries, and rows of ``obs``'s own country placed elsewhere; every other pair contributes
        through the per-country sum of m^2. So the cost is the number of misplaced rows, not of
        probes.
        """
        key = ("placed", first, last, obs)
        if key in self._cache:
            return self._cache[key]  # type: ignore[no-any-return]
        counts = self.window_counts(first, last)
        oi = self._index.get(obs)
        nc = len(self.codes)
        n = counts.sum(axis=1).astype(np.float64)
        k_s = (counts[:, oi] if oi is not None else np.zeros(nc, dtype=np.int64)).astype(np.float64)
        if self.clustering != "probe":
            result = _Placed(k_s, n, n, None, None, None)
            self._cache[key] = result
            return result
        w = self._window_probes(first, last)
        pair, loc, cnt, m, pair_dec = w["pair"], w["loc"], w["count"], w["m"], w["pair_dec"]
        smm = np.asarray(w["smm"], dtype=np.float64)
        p = k_s / np.where(n > 0, n, 1.0)
        mf = m.astype(np.float64)
        rss = p * p * smm  # every pair at y = 0; corrected below for the pairs with y > 0
        ym = np.zeros(nc)  # sum of y * m per country
        if oi is not None:
            own = slice(int(w["starts"][oi]), int(w["starts"][oi + 1]))
            hit = np.flatnonzero(loc == oi)
            hit = hit[(hit < own.start) | (hit >= own.stop)]
            up, inv = np.unique(pair[hit], return_inverse=True)
            yv = np.bincount(inv.ravel(), weights=cnt[hit], minlength=up.size)
            pd, pm = pair_dec[up], mf[up]
            pp = p[pd]
            rss += np.bincount(pd, weights=yv * (yv - 2.0 * pp * pm), minlength=nc)
            ym += np.bincount(pd, weights=yv * pm, minlength=nc)
            # the observed country's own rows: count its failures (placed elsewhere) instead
            rows = np.arange(own.start, own.stop)
            miss = rows[loc[own] != oi]
            uf, finv = np.unique(pair[miss], return_inverse=True)
            fv = np.bincount(finv.ravel(), weights=cnt[miss], minlength=uf.size)
            fm = mf[uf]
            q = 1.0 - p[oi]
            rss[oi] = q * q * smm[oi] + float(np.sum(fv * (fv - 2.0 * q * fm)))
            ym[oi] = smm[oi] - float(np.sum(fv * fm))
        result = _Placed(k_s, n, w["clusters"].astype(np.float64), np.maximum(rss, 0.0), smm, ym)
        self._cache[key] = result
        return result

    def _interval_of(self, placed: _Placed, i: int, level: float | None = None) -> Interval:
        """The interval of country index ``i`` at ``level`` (default the engine's).

        The intervals of every country of one :class:`_Placed` are computed in one vectorised call
        the first time one of them is asked for at a level (the same element-wise arithmetic as
        :meth:`_from_sums`, so the same values), then read from the arrays."""
        lvl = self.level if level is None else level
        k, n = int(placed.successes[i]), int(placed.trials[i])
        if placed.rss is None or placed.smm is None:
            return proportion_interval(k, n, self.method, lvl)
        key = ("placed-intervals", id(placed), lvl)
        hit = self._cache.get(key)
        if hit is None:
            deff, n_eff, k_eff = effective_counts(
                placed.successes, placed.trials, placed.clusters, placed.rss, lvl, placed.smm, self.min_icc
            )
            low, high = proportion_intervals(k_eff, n_eff, self.method, lvl)
            # the _Placed is kept in the entry so that its id cannot be reused while cached
            hit = (placed, deff, n_eff, low, high)
            self._cache[key] = hit
        _, deff_a, n_eff_a, low_a, high_a = hit
        return self._clustered_interval(
            k, n, int(placed.clusters[i]), deff_a[i], n_eff_a[i], low_a[i], high_a[i], lvl
        )

    def _from_sums(self, k: int, n: int, clusters: float, rss: float, smm: float, level: float) -> Interval:
        deff, n_eff, k_eff = effective_counts(k, n, clusters, rss, level, smm, self.min_icc)
        low, high = proportion_intervals(k_eff, n_eff, self.method, level)
        return self._clustered_interval(k, n, int(clusters), deff, n_eff, low, high, level)

    def _clustered_interval(
        self, k: int, n: int, clusters: int, deff: Any, n_eff: Any, low: Any, high: Any, level: float
    ) -> Interval:
        """An :class:`Interval` clustered by probe from its computed parts (NaN bounds: None)."""
        lo, hi = float(low), float(high)
        return Interval(
            successes=k,
            trials=n,
            low=None if math.isnan(lo) else lo,
            high=None if math.isnan(hi) else hi,
            method=self.method,
            level=level,
            design_effect=float(deff),
            effective_trials=float(n_eff),
            clusters=clusters,
            clustering="probe",
        )

    def _pooled_interval(self, first: int, last: int, obs: str, members: Sequence[int]) -> Interval:
        """One proportion over the rows of every country in ``members`` (clustered by probe)."""
        placed = self._placed(first, last, obs)
        idx = np.asarray(members, dtype=np.int64)
        k = int(placed.successes[idx].sum())
        n = int(placed.trials[idx].sum())
        if placed.rss is None or placed.smm is None or placed.ym is None:
            return proportion_interval(k, n, self.method, self.level)
        # Pool the per-country sums about the pooled proportion P:
        # sum (y - P m)^2 = sum (y - p_c m)^2 + 2 (p_c - P)(sum y m - p_c sum m^2) + (p_c - P)^2 sum m^2
        big_p = k / n if n else 0.0
        p_c = placed.successes[idx] / np.where(placed.trials[idx] > 0, placed.trials[idx], 1.0)
        d = p_c - big_p
        smm = placed.smm[idx]
        rss = float(np.sum(placed.rss[idx] + 2.0 * d * (placed.ym[idx] - p_c * smm) + d * d * smm))
        return self._from_sums(
            k, n, float(placed.clusters[idx].sum()), max(rss, 0.0), float(smm.sum()), self.level
        )

    def evidence_lr(
        self,
        country: str,
        observed: str | None,
        first: int,
        last: int,
        *,
        alternatives: Mapping[str, float] | Sequence[str] | None = None,
        mode: str = "each",
        min_addresses: int = 1000,
        basis: str = "conservative",
        zero_count: str = "method",
    ) -> EvidenceLR | None:
        """Likelihood ratios that the database says ``observed`` (None = not located) given the
        device in ``country`` (Hp), against an explicit Hd (see :class:`~ipevidence.likelihood.EvidenceLR`).

        ``mode`` ``"each"`` (default): one LR per alternative country with at least
        ``min_addresses`` ground-truth rows in the window (all such countries, or only the named
        ``alternatives``); the headline is the weakest. ``"weighted"``: the mixture of the named
        ``alternatives`` with their weights (a mapping; a plain sequence means equal weights),
        normalised. ``"pooled"``: every other country with enough ground truth, weighted by its
        ground truth. Alternatives named or found with too little ground truth are listed in
        ``alternatives_without_data``. Returns None when ``country`` has no ground truth in the
        window. Raises :class:`~ipevidence.errors.InvalidParameterError` when Hp is among the
        alternatives, weights are negative or all zero, or the mode is unknown;
        :class:`~ipevidence.errors.UnknownCountryError` for an unknown code.
        """
        code = normalize_country(country)
        obs = "" if not observed else normalize_country(observed)
        if mode not in HD_MODES:
            raise InvalidParameterError(f"mode must be one of {', '.join(HD_MODES)}, not {mode!r}")
        if basis not in ("conservative", "point"):
            raise InvalidParameterError(f"basis must be 'conservative' or 'point', not {basis!r}")
        if zero_count not in ZERO_COUNT_RULES:
            raise InvalidParameterError(
                f"zero_count must be one of {', '.join(ZERO_COUNT_RULES)}, not {zero_count!r}"
            )
        if min_addresses < 1:
            raise InvalidParameterError("min_addresses must be at least 1")
        named: list[tuple[str, float]] | None = None
        if alternatives is not None:
            if mode == "pooled":
                raise InvalidParameterError(
                    "mode 'pooled' uses every other country; it takes no alternatives"
                )
            items = (
                [(k, float(v)) for k, v in alternatives.items()]
                if isinstance(alternatives, Mapping)
                else [(str(k), 1.0) for k in alternatives]
            )
            merged: dict[str, float] = {}
            for k, w in items:
                a = normalize_country(k)
                if a == code:
                    raise InvalidParameterError(
                        f"{a} is the claimed country (Hp) and cannot also be among its own alternatives (Hd)"
                    )
                if not np.isfinite(w) or w < 0:
                    raise InvalidParameterError(f"the weight of {a} must be a finite non-negative number")
                merged[a] = merged.get(a, 0.0) + w
            if not merged:
                raise InvalidParameterError("an empty list of alternatives; give at least one country")
            if mode == "weighted" and sum(merged.values()) <= 0:
                raise InvalidParameterError(
                    "the alternatives' weights are all zero; give at least one positive"
                )
            named = sorted(merged.items())
        elif mode == "weighted":
            raise InvalidParameterError("mode 'weighted' needs named alternatives with weights")
        frozen_named = tuple(named) if named else None
        key = ("evidence", code, obs, first, last, frozen_named, mode, min_addresses, basis, zero_count)
        if key in self._cache:
            return self._cache[key]  # type: ignore[no-any-return]
        result = self._evidence_lr(code, obs, first, last, named, mode, min_addresses, basis, zero_count)
        self._cache[key] = result
        return result

    def _evidence_lr(
        self,
        code: str,
        obs: str,
        first: int,
        last: int,
        named: list[tuple[str, float]] | None,
        mode: str,
        min_addresses: int,
        basis: str,
        zero_count: str,
    ) -> EvidenceLR | None:
        m = self.window_counts(first, last)
        totals = m.sum(axis=1)
        ci = self._index.get(code)
        if ci is None or int(totals[ci]) == 0:
            return None
        window = f"{first}-{last}" if first != last else str(first)
        if named is None:
            present = [i for i in range(1, len(self.codes)) if i != ci and totals[i] > 0]
            candidates = [(self.codes[i], 1.0) for i in present]
        else:
            candidates = named
        kept: list[tuple[str, float, int]] = []
        without: list[str] = []
        for a, w in candidates:
            i = self._index.get(a)
            if i is None or int(totals[i]) < min_addresses:
                without.append(a)
            elif mode != "weighted" or w > 0:
                kept.append((a, w, i))
        hp = f"the device was in {code}"
        observation = (
            f"the database places the address in {obs}" if obs else "the database cannot place the address"
        )
        prop = f"the proposition that {hp}"
        enough = f"at least {min_addresses:,} ground-truth address{'es' * (min_addresses != 1)} in {window}"
        placed = self._placed(first, last, obs)
        num = self._interval_of(placed, ci)

        def one(a: str, i: int, numerator: Interval = num, level: float | None = None) -> LikelihoodRatio:
            return likelihood_ratio_from_intervals(
                numerator,
                [self._interval_of(placed, i, level)],
                zero_count=zero_count,
                basis=basis,
                hp=hp,
                hd=f"the device was in {a}",
                observation=observation,
                alternative_names=(a,),
                proposition=prop,
                alternative_proposition=f"the proposition that the device was in {a}",
            )

        def order(lr: LikelihoodRatio) -> tuple[float, float, str]:
            rep = lr.reported
            return (
                math.inf if rep is None else rep,
                math.inf if lr.value is None else lr.value,
                lr.alternative or "",
            )

        singles = sorted((one(a, i) for a, _, i in kept), key=order)
        headline: LikelihoodRatio | None = None
        weakest: str | None = None
        weights: tuple[tuple[str, float], ...] = ()
        if mode == "each":
            sep = ": " if kept else ", "
            hd = f"the device was in another country{sep}{_each_words(len(kept), named is not None, enough)}"
            if singles:
                headline = singles[0]
                if headline.conservative < 1.0 and len(kept) > 1:
                    # Support for an ALTERNATIVE, and that alternative was picked as the most
                    # favourable of len(kept): every bound at 1 - alpha / J (Bonferroni), so the
                    # reported support for the picked alternative holds simultaneously at 1 - alpha.
                    lvl = 1.0 - (1.0 - self.level) / len(kept)
                    num_b = self._interval_of(placed, ci, lvl)
                    adjusted = sorted((one(a, i, num_b, lvl) for a, _, i in kept), key=order)
                    headline = attrs.evolve(adjusted[0], conservative_level=self.level)
                weakest = headline.alternative
                if len(kept) == 1:
                    only = "named alternative" if named is not None else "other country"
                    hd = f"the device was in {weakest} (the only {only} with {enough})"
                else:
                    hd += f"; the weakest, {weakest}, is reported"
                if headline is not singles[0]:
                    hd += (
                        f" (its bounds adjusted for choosing it among {len(kept)}: a simultaneous "
                        f"{100 * self.level:g} % bound)"
                    )
            if named is not None and len(kept) > 1:
                hd += f" (alternatives: {', '.join(a for a, _, _ in kept)})"
        elif mode == "weighted":
            total = sum(w for _, w, _ in kept)
            weights = tuple((a, round(w / total, 12)) for a, w, _ in kept) if total > 0 else ()
            mixture = "the device was in " + " or ".join(
                f"{a} (weight {w:.3g})" if j == 0 else f"{a} ({w:.3g})" for j, (a, w) in enumerate(weights)
            )
            hd = mixture
            if without:
                hd += (
                    f"; {', '.join(without)} named but with fewer than {min_addresses:,} ground-truth "
                    f"addresses in {window}, left out and the other weights renormalised"
                )
            if kept:
                lvl = 1.0 - (1.0 - self.level) / len(kept)
                dens = [self._interval_of(placed, i, lvl) for _, _, i in kept]
                headline = likelihood_ratio_from_intervals(
                    num,
                    dens,
                    weights=[w for _, w, _ in kept],
                    zero_count=zero_count,
                    basis=basis,
                    hp=hp,
                    hd=hd,
                    observation=observation,
                    alternative_names=[a for a, _, _ in kept],
                    alternatives_without_data=without,
                    proposition=prop,
                    alternative_proposition=f"the proposition that {mixture}",
                )
        else:
            hd = (
                f"the device was in another country: {_count_words(len(kept), 'country')} with {enough}, "
                "weighted by their ground truth, i.e. by where RIPE Atlas deploys probes"
                if kept
                else f"the device was in another country, but no other country has {enough}"
            )
            if kept:
                den = self._pooled_interval(first, last, obs, [i for _, _, i in kept])
                n_all = sum(int(totals[i]) for _, _, i in kept)
                lr = likelihood_ratio_from_intervals(
                    num,
                    [den],
                    zero_count=zero_count,
                    basis=basis,
                    hp=hp,
                    hd=hd,
                    observation=observation,
                    alternative_names=("pooled",),
                    alternatives_without_data=without,
                    proposition=prop,
                    alternative_proposition="the proposition that the device was in another country (pooled)",
                )
                weights = tuple((a, round(int(totals[i]) / n_all, 12)) for a, _, i in kept)
                headline = attrs.evolve(lr, alternatives=weights)
        return EvidenceLR(
            hp_country=code,
            observed=obs or None,
            mode=mode,
            headline=headline,
            weakest_against=weakest,
            per_alternative=tuple(singles) if mode != "pooled" else (),
            alternatives_without_data=tuple(without),
            min_addresses=min_addresses,
            first=first,
            last=last,
            hp=hp,
            hd=hd,
            observation=observation,
            basis=basis,
            weights=weights,
            level=1.0 - 2.0 * (1.0 - self.level),
            conservative_level=self.level,
        )

    def likelihood_ratio(
        self,
        country: str,
        observed: str | None,
        first: int,
        last: int,
        *,
        alternatives: Mapping[str, float] | None = None,
        zero_count: str = "method",
        basis: str = "conservative",
    ) -> LikelihoodRatio | None:
        """The older interface: the headline LR of :meth:`evidence_lr` in mode ``"pooled"`` (no
        ``alternatives``: every other country with ground truth, weighted by its ground truth) or
        ``"weighted"`` (the named ``alternatives`` with their weights), with no minimum of
        addresses. Prefer :meth:`evidence_lr` (mode ``"each"`` is the defensible default).
        ``zero_count`` ``"jeffreys"``/``"rule-of-three"`` may only raise a zero count's bound.
        """
        ev = self.evidence_lr(
            country,
            observed,
            first,
            last,
            alternatives=alternatives,
            mode="pooled" if alternatives is None else "weighted",
            min_addresses=1,
            basis=basis,
            zero_count=zero_count,
        )
        return None if ev is None else ev.headline

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
