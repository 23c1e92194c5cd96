"""Staleness: how accurate a database build is on ground truth of each year, per country.

For every pair (database build, ground-truth year) and every country (and all countries pooled,
``"*"``), :func:`staleness_table` counts the ground-truth rows, the rows the build places
(``located``), the rows it places in the declared country (``correct``) and gives the accuracy
with not-located rows excluded (the reference) and counted as wrong, each with its confidence
interval. All figures come from :class:`~ipevidence.accuracy.LocatedGroundTruth` (one per build,
each address looked up once per build), so the intervals are whatever that module computes
(cluster-aware by probe where it is).

The AGE of a build relative to a ground-truth year is ``year - build year`` in calendar years
(a 2019 build on 2023 rows is 4 years old: "forward", the build is older than the evidence; a
2025 build on 2023 rows has age -2: "backward", a later database judging earlier evidence, as the
paper did with one recent database for every year). :meth:`StalenessTable.accuracy_at_age`
answers the verdict's question "how accurate, in this country, are builds of this age?" with the
most conservative cell of that age (the lowest lower bound), never a pooled figure: cells of one
age from two builds of the same year hold the same rows twice, so pooling would double-count.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import attrs
import numpy as np

from ._io import atomic_write_text
from .countries import normalize_country
from .jsonutil import canonical_json
from .provenance import LIBRARY_VERSION, DatabaseInfo
from .stats import Interval, percent_down

if TYPE_CHECKING:
    from .accuracy import Table
    from .catalog import DatabaseCatalog
    from .groundtruth import GroundTruth

__all__ = [
    "GLOBAL",
    "AgeAccuracy",
    "StalenessCell",
    "StalenessTable",
    "database_age_accuracy",
    "staleness_table",
]

#: the country code of the all-countries-pooled cells
GLOBAL = "*"
NotLocated = Literal["exclude", "wrong"]


def _check_not_located(value: str) -> None:
    if value not in ("exclude", "wrong"):
        raise ValueError(f"not_located must be 'exclude' or 'wrong', not {value!r}")


def _country(code: str) -> str:
    return GLOBAL if code == GLOBAL else normalize_country(code)


@attrs.frozen
class StalenessCell:
    """One (build, ground-truth year, country) cell: counts and both accuracies with intervals."""

    build: int  # index into StalenessTable.builds
    build_date: dt.date
    year: int
    country: str
    addresses: int
    located: int
    correct: int
    accuracy: Interval
    accuracy_all: Interval

    @property
    def not_located(self) -> int:
        return self.addresses - self.located

    @property
    def age_years(self) -> int:
        """Ground-truth year minus the build's year (positive: the build is older than the rows)."""
        return self.year - self.build_date.year

    def selected(self, not_located: str = "exclude") -> Interval:
        _check_not_located(not_located)
        return self.accuracy if not_located == "exclude" else self.accuracy_all

    def to_dict(self) -> dict[str, Any]:
        return {
            "build": self.build,
            "build_date": self.build_date.isoformat(),
            "year": self.year,
            "age_years": self.age_years,
            "country": self.country,
            "addresses": self.addresses,
            "located": self.located,
            "not_located": self.not_located,
            "correct": self.correct,
            "accuracy": self.accuracy.to_dict(),
            "accuracy_not_located_wrong": self.accuracy_all.to_dict(),
        }


@attrs.frozen
class AgeAccuracy:
    """The accuracy in one country of builds of one age, from the staleness table.

    ``cells`` are every (build, year) cell of the country at that age with rows; ``worst`` the one
    with the lowest lower confidence bound (then the lowest estimate) under ``not_located``: the
    conservative figure a verdict applies its threshold to. ``worst`` is None when no cell of
    that age has data (insufficient data).
    """

    country: str
    age_years: int
    not_located: str
    cells: tuple[StalenessCell, ...]
    worst: StalenessCell | None

    @property
    def interval(self) -> Interval | None:
        return None if self.worst is None else self.worst.selected(self.not_located)

    @property
    def estimate(self) -> float | None:
        iv = self.interval
        return None if iv is None else iv.estimate

    @property
    def low(self) -> float | None:
        iv = self.interval
        return None if iv is None else iv.low

    def to_dict(self) -> dict[str, Any]:
        return {
            "country": self.country,
            "age_years": self.age_years,
            "not_located": self.not_located,
            "cells": [c.to_dict() for c in self.cells],
            "worst": None if self.worst is None else self.worst.to_dict(),
        }

    def __str__(self) -> str:
        if self.worst is None:
            return f"{self.country}, builds {self.age_years} year(s) old: no ground truth of that age"
        w = self.worst
        return (
            f"{self.country}, builds {self.age_years} year(s) old: {self.interval} "
            f"(weakest of {len(self.cells)} cell(s): build {w.build_date.isoformat()} on {w.year} rows)"
        )


class StalenessTable:
    """Accuracy per (build, ground-truth year, country), with the builds' provenance.

    Built by :func:`staleness_table`. ``cells`` are sorted by build, year, country (``"*"``
    first); every build of the table appears with every year of the ground truth.
    """

    def __init__(
        self,
        builds: Sequence[DatabaseInfo],
        years: Sequence[int],
        cells: Iterable[StalenessCell],
        *,
        method: str,
        level: float,
        ground_truth: dict[str, Any] | None = None,
    ) -> None:
        self.builds: tuple[DatabaseInfo, ...] = tuple(builds)
        self.years: tuple[int, ...] = tuple(years)
        self.cells: tuple[StalenessCell, ...] = tuple(
            sorted(cells, key=lambda c: (c.build, c.year, c.country != GLOBAL, c.country))
        )
        self.method = method
        self.level = level
        self.ground_truth = dict(ground_truth or {})
        self._index = {(c.build, c.year, c.country): c for c in self.cells}
        self.countries: tuple[str, ...] = tuple(sorted({c.country for c in self.cells} - {GLOBAL}))

    def __len__(self) -> int:
        return len(self.cells)

    def _build_index(self, build: int | str | dt.date | DatabaseInfo) -> int:
        if isinstance(build, int):
            if not 0 <= build < len(self.builds):
                raise IndexError(f"build {build} is not in the table ({len(self.builds)} builds)")
            return build
        for i, b in enumerate(self.builds):
            if (
                (isinstance(build, DatabaseInfo) and b.sha256 == build.sha256)
                or (isinstance(build, str) and build in (b.name, b.sha256))
                or (
                    isinstance(build, dt.date)
                    and not isinstance(build, dt.datetime)
                    and b.build_date == build
                )
            ):
                return i
        raise KeyError(f"build {build!r} is not in the staleness table")

    def cell(
        self, build: int | str | dt.date | DatabaseInfo, year: int, country: str
    ) -> StalenessCell | None:
        """The cell of one build (index, file name, SHA-256, build date or info), year and country
        (``"*"`` = all countries); None when the country has no rows that year."""
        return self._index.get((self._build_index(build), int(year), _country(country)))

    def accuracy_at_age(
        self,
        country: str,
        age_years: int,
        *,
        not_located: str = "exclude",
        first_year: int | None = None,
        last_year: int | None = None,
    ) -> AgeAccuracy:
        """The accuracy in ``country`` (``"*"``: all countries) of builds ``age_years`` older than
        the ground truth (negative: builds later than the ground truth); see :class:`AgeAccuracy`.
        ``first_year``/``last_year`` keep only cells of ground-truth years in that window."""
        _check_not_located(not_located)
        code = _country(country)
        lo = first_year if first_year is not None else -(10**6)
        hi = last_year if last_year is not None else 10**6
        cells = tuple(
            c
            for c in self.cells
            if c.country == code
            and c.age_years == int(age_years)
            and lo <= c.year <= hi
            and c.selected(not_located).trials
        )

        def key(c: StalenessCell) -> tuple[float, float, dt.date, int]:
            iv = c.selected(not_located)
            low = iv.low if iv.low is not None else 0.0
            est = iv.estimate if iv.estimate is not None else 0.0
            return (low, est, c.build_date, c.year)

        worst = min(cells, key=key) if cells else None
        return AgeAccuracy(code, int(age_years), not_located, cells, worst)

    def accuracy_for(
        self,
        country: str,
        build_date: dt.date,
        evidence_date: dt.date,
        *,
        not_located: str = "exclude",
        first_year: int | None = None,
        last_year: int | None = None,
    ) -> AgeAccuracy:
        """:meth:`accuracy_at_age` for the database that placed the evidence (its ``build_date``)
        and the evidence's date: age = evidence year - build year."""
        return self.accuracy_at_age(
            country,
            evidence_date.year - build_date.year,
            not_located=not_located,
            first_year=first_year,
            last_year=last_year,
        )

    def ages(self) -> tuple[int, ...]:
        """Every age (in years) present in the table, sorted."""
        return tuple(sorted({c.age_years for c in self.cells}))

    def matrix(self, country: str = GLOBAL, *, not_located: str = "exclude") -> np.ndarray[Any, Any]:
        """Estimates as a builds x years float array (NaN where no rows), for the heatmap."""
        _check_not_located(not_located)
        code = _country(country)
        out = np.full((len(self.builds), len(self.years)), np.nan)
        for j, y in enumerate(self.years):
            for i in range(len(self.builds)):
                c = self._index.get((i, y, code))
                if c is not None and c.selected(not_located).estimate is not None:
                    out[i, j] = c.selected(not_located).estimate
        return out

    def table(self, country: str = GLOBAL, *, not_located: str = "exclude") -> Table:
        """One country's cells as a printable :class:`~ipevidence.accuracy.Table`."""
        from .accuracy import Table

        _check_not_located(not_located)
        code = _country(country)
        rows = []
        for c in self.cells:
            if c.country != code:
                continue
            iv = c.selected(not_located)
            rows.append(
                (
                    self.builds[c.build].name,
                    c.build_date.isoformat(),
                    str(c.year),
                    c.age_years,
                    c.addresses,
                    c.not_located,
                    c.correct,
                    percent_down(iv.estimate),
                    percent_down(iv.low),
                )
            )
        who = "all countries" if code == GLOBAL else code
        return Table(
            title=f"Staleness: accuracy of each build on each ground-truth year ({who})",
            columns=(
                "Build",
                "Build date",
                "Year",
                "Age (y)",
                "Addresses",
                "Not located",
                "Correct",
                "Accuracy %",
                "Low %",
            ),
            rows=tuple(rows),
            notes=(
                f"{100 * self.level:g} % {self.method} intervals; not-located addresses {not_located}d; "
                "age = ground-truth year - build year (positive: the build is older than the rows).",
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "library_version": LIBRARY_VERSION,
            "method": self.method,
            "level": self.level,
            "ground_truth": self.ground_truth,
            "builds": [b.to_dict() for b in self.builds],
            "years": list(self.years),
            "cells": [c.to_dict() for c in self.cells],
        }

    def to_json(self) -> str:
        """Canonical JSON: the same table always gives the same bytes."""
        return canonical_json(self.to_dict())

    def write_json(self, path: str | os.PathLike[str]) -> Path:
        target = Path(path)
        atomic_write_text(target, self.to_json())
        return target

    def __str__(self) -> str:
        return str(self.table(GLOBAL))


def database_age_accuracy(
    ground_truth: GroundTruth,
    catalog: DatabaseCatalog | Iterable[Any],
    country: str,
    build_date: dt.date,
    evidence_date: dt.date,
    *,
    not_located: str = "exclude",
    window: tuple[int, int] | None = None,
    method: str = "wilson",
    level: float = 0.95,
) -> AgeAccuracy:
    """The verdict's measured database criterion in one call: the accuracy in ``country`` of the
    catalogue's builds of the same age as the database that placed the evidence (built
    ``build_date``) has at ``evidence_date``, from a staleness table of that one country
    (``window``: the ground-truth years to use, e.g. the verdict's window)."""
    table = staleness_table(ground_truth, catalog, countries=[country], method=method, level=level)
    first, last = window if window is not None else (None, None)
    return table.accuracy_for(
        country, build_date, evidence_date, not_located=not_located, first_year=first, last_year=last
    )


def staleness_table(
    ground_truth: GroundTruth,
    catalog: DatabaseCatalog | Iterable[Any],
    *,
    countries: Iterable[str] | None = None,
    method: str = "wilson",
    level: float = 0.95,
) -> StalenessTable:
    """The staleness table of ``ground_truth`` against every build of ``catalog`` that covers the
    ground truth's address family (a :class:`~ipevidence.catalog.DatabaseCatalog` or any iterable
    of backends), for every year of the ground truth and every declared country (or
    ``countries``) plus all countries pooled. Each build looks every address up once."""
    from .accuracy import LocatedGroundTruth

    fam = ground_truth.family
    backends = [b for b in catalog if fam in b.families]
    backends.sort(key=lambda b: (b.build_date, b.describe().sha256))
    years = sorted(int(y) for y in np.unique(ground_truth.years)) if len(ground_truth) else []
    if countries is None:
        codes = sorted(c.decode("ascii") for c in np.unique(ground_truth.country).tolist())
    else:
        codes = sorted({normalize_country(c) for c in countries})
    infos: list[DatabaseInfo] = []
    cells: list[StalenessCell] = []
    for bi, backend in enumerate(backends):
        info = backend.describe()
        infos.append(info)
        lgt = LocatedGroundTruth(
            ground_truth, backend.lookup(ground_truth.address), database=info, method=method, level=level
        )
        for y in years:
            glob = lgt.global_accuracy(y, y)[0]
            pieces = [(GLOBAL, glob)]
            for code in codes:
                ya = lgt.country_accuracy(code, y, y, "exclude").years[0]
                if ya.addresses:
                    pieces.append((code, ya))
            for code, ya in pieces:
                cells.append(
                    StalenessCell(
                        build=bi,
                        build_date=info.build_date,
                        year=y,
                        country=code,
                        addresses=ya.addresses,
                        located=ya.located,
                        correct=ya.correct,
                        accuracy=ya.accuracy,
                        accuracy_all=ya.accuracy_all,
                    )
                )
    first, last = (
        (str(ground_truth.date.min()), str(ground_truth.date.max())) if len(ground_truth) else (None, None)
    )
    summary = {
        "family": fam,
        "rows": len(ground_truth),
        "probes": int(np.unique(ground_truth.probe_id).size),
        "first_date": first,
        "last_date": last,
        "parameters": dict(ground_truth.parameters),
    }
    return StalenessTable(infos, years, cells, method=method, level=level, ground_truth=summary)
