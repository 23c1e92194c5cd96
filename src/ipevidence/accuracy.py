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

What lives where: this module holds :class:`LocatedGroundTruth` (the count cube, the probe table,
windows, country, global and network accuracy, the confusion matrix, ``rows_of``) and the paper's
tables; the result types (:class:`YearAccuracy`, :class:`CountryAccuracy`, :class:`ConfusionMatrix`,
:class:`Table`) are :mod:`ipevidence.accuracy_results`; the likelihood-ratio methods
(``evidence_lr``, ``likelihood_ratio`` and their vectorised per-alternative intervals) are
:class:`ipevidence.lr_engine.LikelihoodRatioEngine`, a base class of :class:`LocatedGroundTruth`.
Every name is still importable from here.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from .accuracy_results import (
    NOT_LOCATED_LABEL,
    ConfusionMatrix,
    CountryAccuracy,
    NotLocatedPolicy,
    Table,
    YearAccuracy,
)
from .accuracy_results import _pct as _pct
from .backends.base import GeoBackend
from .countries import COUNTRY_DTYPE, normalize_country
from .errors import FamilyMismatchError, InvalidParameterError, OutsideGroundTruthError
from .groundtruth import GroundTruth
from .lr_engine import LikelihoodRatioEngine
from .lr_engine import _count_words as _count_words
from .lr_engine import _each_words as _each_words
from .lr_engine import _Placed as _Placed
from .provenance import DatabaseInfo
from .stats import (
    CLUSTERINGS,
    DEFAULT_MIN_ICC,
    ClusteredIntervals,
    Interval,
    clustered_intervals,
    percent_down,
    proportion_interval,
)

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


# --------------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------------


def _codes_u16(column: npt.NDArray[np.bytes_]) -> npt.NDArray[np.uint16]:
    col = np.ascontiguousarray(np.asarray(column, dtype=COUNTRY_DTYPE))
    return col.view(np.uint16)


class LocatedGroundTruth(LikelihoodRatioEngine):
    """A ground truth geolocated by one database, with every accuracy figure cached.

    Build it with :meth:`from_backend` (looks every address up once) or directly from a located
    column (``S2``, ``b""`` = not located) of the same length as the ground truth.

    ``clustering`` ``"probe"`` (default) makes every interval cluster-aware: the addresses one
    probe contributes are correlated trials, and the intervals use a design effect over probes
    (:func:`~ipevidence.stats.clustered_intervals`, never assumed below an intra-probe correlation
    of ``min_icc``); ``"none"`` keeps the paper's independent counts (the reference preset).

    The likelihood ratios (:meth:`evidence_lr`, :meth:`likelihood_ratio`) are methods of its base
    class :class:`~ipevidence.lr_engine.LikelihoodRatioEngine`.
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

    # -- likelihood ratios: evidence_lr and likelihood_ratio, see ipevidence.lr_engine ---------

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
