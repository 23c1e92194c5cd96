"""A catalogue of dated geolocation databases, and geolocating a ground truth with it.

An investigator does not use "a database": on the day of the evidence they used a particular
build, and the accuracy of that build depends on its age relative to the evidence. A
:class:`DatabaseCatalog` holds many builds (any mix of IP2Location BIN, MaxMind DB and CSV range
files, ``.gz`` too), each dated by its OWN build date (read from the file by
:func:`~ipevidence.backends.open_database`, never from its name or mtime), with byte-identical
files detected by SHA-256 (kept once, reported), and answers which build applied on a date:

* ``"nearest-before"`` (default): the latest build dated on or before the date, what an
  investigator could have had that day. When no build is that old the default is a typed
  :class:`~ipevidence.errors.DatabaseSelectionError`; ``fallback="earliest"`` takes the earliest
  build instead and the provenance counts every row placed by such a later build;
* ``"nearest"``: the build closest in time, before or after (a tie goes to the earlier build);
* a path: exactly that file (it must be in the catalogue, matched by SHA-256).

:func:`geolocate` places every row of a ground truth either with ONE build (mode ``"fixed"``,
as the paper did) or each row with the build the rule picks for the row's date (mode
``"contemporary"``). Each database is opened once (by the catalogue) and looked up once with the
rows it places (rows partitioned by build with one stable sort); the result records which build
placed how many rows and the age of the build at every row, and gives the ``S2`` located column
that :class:`~ipevidence.accuracy.LocatedGroundTruth` takes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import attrs
import numpy as np
import numpy.typing as npt

from .backends.base import GeoBackend
from .countries import COUNTRY_DTYPE
from .errors import DatabaseFormatError, DatabaseSelectionError, FamilyMismatchError
from .provenance import DatabaseInfo, sha256_file

if TYPE_CHECKING:
    from .accuracy import LocatedGroundTruth
    from .groundtruth import GroundTruth

__all__ = [
    "RULES",
    "BuildUse",
    "CatalogEntry",
    "CatalogGeolocation",
    "DatabaseCatalog",
    "DuplicateFile",
    "Fallback",
    "GeolocationMode",
    "Rule",
    "SkippedFile",
    "geolocate",
    "product_of",
]

Rule = Literal["nearest-before", "nearest"]
Fallback = Literal["error", "earliest"]
GeolocationMode = Literal["fixed", "contemporary"]
#: the named selection rules (a path is the third kind of rule)
RULES: Final[tuple[str, ...]] = ("nearest-before", "nearest")
_DAY: Final = np.dtype("datetime64[D]")


def product_of(info: DatabaseInfo) -> str:
    """The product line of a database (its "family" of builds) from its description, e.g.
    ``"ip2location-bin:DB1"`` or ``"mmdb:GeoLite2-Country"``; builds of one product are comparable
    over time, builds of different products are not the same database."""
    desc = info.description
    if info.kind == "ip2location-bin":
        # "IP2Location BIN DB1 (2 columns, IPv4)"
        parts = desc.split()
        db = next((p for p in parts if p.startswith("DB") and p[2:].isdigit()), "DB?")
        return f"{info.kind}:{db}"
    if info.kind == "mmdb":
        # "MaxMind DB GeoLite2-Country (IPv4, IPv6; ...)"
        rest = desc.removeprefix("MaxMind DB ").split(" (", 1)[0].strip()
        return f"{info.kind}:{rest or '?'}"
    return info.kind


@attrs.frozen(eq=False)
class CatalogEntry:
    """One build of the catalogue: where it was read from, what it is, its opened backend."""

    path: Path
    info: DatabaseInfo
    backend: GeoBackend = attrs.field(repr=False)

    @property
    def build_date(self) -> dt.date:
        return self.info.build_date

    @property
    def sha256(self) -> str:
        return self.info.sha256

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def families(self) -> frozenset[int]:
        return self.info.families

    @property
    def product(self) -> str:
        return product_of(self.info)

    def to_dict(self) -> dict[str, Any]:
        """The database's provenance (no directory: byte-identical across machines) and product."""
        return {**self.info.to_dict(), "product": self.product}

    def __str__(self) -> str:
        fams = "/".join(f"IPv{f}" for f in sorted(self.families))
        return (
            f"{self.build_date.isoformat()}  {self.name}  ({self.product}, {fams}, sha256 {self.sha256[:12]})"
        )


@attrs.frozen
class DuplicateFile:
    """A file whose bytes equal a file already in the catalogue (kept once, reported)."""

    name: str
    sha256: str
    same_as: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "sha256": self.sha256, "same_as": self.same_as}


@attrs.frozen
class SkippedFile:
    """A file of a scanned folder that is not a database the library reads (with the reason)."""

    name: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "reason": self.reason}


def _as_day(value: dt.date | str | np.datetime64) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, np.datetime64):
        return dt.date.fromisoformat(str(value.astype("datetime64[D]")))
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"not a date (expected YYYY-MM-DD): {value!r}") from None
    raise TypeError(f"not a date: {value!r}")


class DatabaseCatalog:
    """Dated geolocation database builds, in build-date order.

    Build one with :meth:`open` (a folder, one file or a list of files and folders),
    :meth:`from_paths` or :meth:`from_directory`. Iterating gives the backends in build-date order
    (ties: by SHA-256, so the order never depends on the file system). ``duplicates`` lists files
    whose bytes equal an earlier one; ``skipped`` the files of scanned folders that are not
    databases. Files named explicitly must all be databases (a
    :class:`~ipevidence.errors.DatabaseFormatError` otherwise).
    """

    def __init__(
        self,
        entries: Iterable[CatalogEntry],
        *,
        duplicates: Iterable[DuplicateFile] = (),
        skipped: Iterable[SkippedFile] = (),
    ) -> None:
        ordered = sorted(entries, key=lambda e: (e.build_date, e.sha256))
        seen: dict[str, CatalogEntry] = {}
        dups = list(duplicates)
        kept: list[CatalogEntry] = []
        for e in ordered:
            if e.sha256 in seen:
                dups.append(DuplicateFile(e.name, e.sha256, seen[e.sha256].name))
                continue
            seen[e.sha256] = e
            kept.append(e)
        self.entries: tuple[CatalogEntry, ...] = tuple(kept)
        self.duplicates: tuple[DuplicateFile, ...] = tuple(dups)
        self.skipped: tuple[SkippedFile, ...] = tuple(skipped)

    # ------------------------------------------------------------------ construction

    @classmethod
    def open(
        cls,
        source: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
        *,
        recursive: bool = False,
        cache_dir: str | os.PathLike[str] | None = None,
        csv_dates: Mapping[str, dt.date] | None = None,
    ) -> DatabaseCatalog:
        """A catalogue from a folder, a file, or a list of files and folders."""
        items = [source] if isinstance(source, str | os.PathLike) else list(source)
        return cls.from_paths(items, recursive=recursive, cache_dir=cache_dir, csv_dates=csv_dates)

    @classmethod
    def from_directory(
        cls,
        directory: str | os.PathLike[str],
        *,
        recursive: bool = False,
        cache_dir: str | os.PathLike[str] | None = None,
        csv_dates: Mapping[str, dt.date] | None = None,
    ) -> DatabaseCatalog:
        """Every database file in ``directory`` (sub-folders with ``recursive``); other files
        (licences, READMEs, unreadable databases) are listed in ``skipped`` with the reason."""
        return cls.from_paths([directory], recursive=recursive, cache_dir=cache_dir, csv_dates=csv_dates)

    @classmethod
    def from_paths(
        cls,
        paths: Iterable[str | os.PathLike[str]],
        *,
        recursive: bool = False,
        cache_dir: str | os.PathLike[str] | None = None,
        csv_dates: Mapping[str, dt.date] | None = None,
    ) -> DatabaseCatalog:
        """Files (each must be a database) and folders (scanned; non-databases skipped).

        A CSV range table has no build date of its own: it states one in a ``# build_date:``
        comment, or ``csv_dates`` gives it by file name (never the file name's digits or mtime).
        """
        from .backends.opening import open_database

        entries: list[CatalogEntry] = []
        duplicates: list[DuplicateFile] = []
        skipped: list[SkippedFile] = []
        by_sha: dict[str, str] = {}
        files: list[tuple[Path, bool]] = []  # (path, explicit)
        for item in paths:
            p = Path(item)
            if p.is_dir():
                found = p.rglob("*") if recursive else p.iterdir()
                files.extend((f, False) for f in sorted(found) if f.is_file())
            elif p.is_file():
                files.append((p, True))
            else:
                raise DatabaseFormatError(f"{p}: no such database file or folder")
        for path, explicit in files:
            sha = sha256_file(path)
            if sha in by_sha:  # the same bytes: never opened twice
                duplicates.append(DuplicateFile(path.name, sha, by_sha[sha]))
                continue
            try:
                backend = open_database(
                    path, cache_dir=cache_dir, build_date=(csv_dates or {}).get(path.name)
                )
            except DatabaseFormatError as exc:
                if explicit:
                    raise
                skipped.append(SkippedFile(path.name, str(exc)))
                continue
            by_sha[sha] = path.name
            entries.append(CatalogEntry(path=path, info=backend.describe(), backend=backend))
        return cls(entries, duplicates=duplicates, skipped=skipped)

    # ------------------------------------------------------------------ container

    def __iter__(self) -> Iterator[GeoBackend]:
        return (e.backend for e in self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> CatalogEntry:
        return self.entries[index]

    @property
    def build_dates(self) -> tuple[dt.date, ...]:
        return tuple(e.build_date for e in self.entries)

    @property
    def products(self) -> tuple[str, ...]:
        """The product lines in the catalogue, sorted."""
        return tuple(sorted({e.product for e in self.entries}))

    def subset(
        self, *, product: str | None = None, family: int | None = None, kind: str | None = None
    ) -> DatabaseCatalog:
        """The builds of one product line, address family and/or kind (duplicates and skipped kept)."""
        keep = [
            e
            for e in self.entries
            if (product is None or e.product == product)
            and (family is None or family in e.families)
            and (kind is None or e.info.kind == kind)
        ]
        return DatabaseCatalog(keep, duplicates=self.duplicates, skipped=self.skipped)

    def entry_for(self, path: str | os.PathLike[str]) -> CatalogEntry:
        """The entry holding the same bytes as ``path`` (matched by SHA-256)."""
        p = Path(path)
        if not p.is_file():
            raise DatabaseSelectionError(f"{p}: no such database file")
        sha = sha256_file(p)
        for e in self.entries:
            if e.sha256 == sha:
                return e
        raise DatabaseSelectionError(
            f"{p.name} (sha256 {sha[:12]}...) is not in the catalogue: add it to the catalogue first"
        )

    # ------------------------------------------------------------------ selection

    def _candidates(self, family: int, product: str | None) -> tuple[CatalogEntry, ...]:
        cands = tuple(
            e for e in self.entries if family in e.families and (product is None or e.product == product)
        )
        if not cands:
            what = f" of product {product}" if product else ""
            raise DatabaseSelectionError(
                f"the catalogue has no IPv{family} database{what} ({len(self.entries)} builds in all)"
            )
        for a, b in itertools.pairwise(cands):
            if a.build_date == b.build_date:
                raise DatabaseSelectionError(
                    f"two different builds share the build date {a.build_date.isoformat()} "
                    f"({a.name}, {b.name}): choose one with an explicit file or a product subset"
                )
        return cands

    def select(
        self,
        dates: npt.ArrayLike,
        rule: Rule | str | os.PathLike[str] = "nearest-before",
        *,
        family: int = 4,
        product: str | None = None,
        fallback: Fallback = "error",
    ) -> tuple[tuple[CatalogEntry, ...], npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
        """Vectorised selection for a column of dates.

        Returns ``(candidates, index, fell_back)``: the candidate builds (of ``family`` and
        ``product``, in build-date order), for every date the index of the chosen candidate, and
        a mask of the dates for which no build satisfied ``"nearest-before"`` and ``fallback``
        took the earliest build. NaT dates raise ``ValueError``.
        """
        days = np.asarray(dates).astype(_DAY)
        if days.ndim != 1:
            days = days.reshape(-1)
        if days.size and np.isnat(days).any():
            raise ValueError("dates must not be NaT")
        if not isinstance(rule, str) or rule not in RULES:
            if isinstance(rule, str) and not (os.sep in rule or Path(rule).suffix or Path(rule).is_file()):
                raise ValueError(f"unknown rule {rule!r}: use one of {', '.join(RULES)} or a database file")
            entry = self.entry_for(rule)
            if family not in entry.families:
                raise FamilyMismatchError(f"{entry.name} has no IPv{family} data")
            return (entry,), np.zeros(len(days), np.intp), np.zeros(len(days), np.bool_)
        if fallback not in ("error", "earliest"):
            raise ValueError(f"fallback must be 'error' or 'earliest', not {fallback!r}")
        cands = self._candidates(family, product)
        built = np.array([np.datetime64(e.build_date, "D") for e in cands], dtype=_DAY)
        after = np.searchsorted(built, days, side="right")  # first build strictly after the date
        before = after - 1  # latest build on or before the date (-1: none)
        fell_back = np.zeros(len(days), np.bool_)
        if rule == "nearest-before":
            none = before < 0
            if none.any():
                if fallback == "error":
                    first_day = str(days[none].min())
                    raise DatabaseSelectionError(
                        f"no IPv{family} build in the catalogue is dated on or before {first_day} "
                        f"(earliest build {cands[0].build_date.isoformat()}; {int(none.sum()):,} dates "
                        "affected): add an older build, or allow fallback='earliest'"
                    )
                fell_back = none
            index = np.maximum(before, 0)
        else:  # nearest: ties go to the earlier build
            lo = np.maximum(before, 0)
            hi = np.minimum(after, len(cands) - 1)
            d_lo = np.abs((days - built[lo]).astype(np.int64))
            d_hi = np.abs((built[hi] - days).astype(np.int64))
            index = np.where(d_hi < d_lo, hi, lo)
        return cands, index.astype(np.intp), fell_back

    def entry_at(
        self,
        date: dt.date | str | np.datetime64,
        rule: Rule | str | os.PathLike[str] = "nearest-before",
        *,
        family: int = 4,
        product: str | None = None,
        fallback: Fallback = "error",
    ) -> CatalogEntry:
        """The build the rule picks for ``date`` (see :meth:`at`)."""
        day = np.array([np.datetime64(_as_day(date), "D")])
        cands, index, _ = self.select(day, rule, family=family, product=product, fallback=fallback)
        return cands[int(index[0])]

    def at(
        self,
        date: dt.date | str | np.datetime64,
        rule: Rule | str | os.PathLike[str] = "nearest-before",
        *,
        family: int = 4,
        product: str | None = None,
        fallback: Fallback = "error",
    ) -> GeoBackend:
        """The backend of the build the rule picks for ``date``.

        ``rule``: ``"nearest-before"`` (default: the latest build on or before the date, what an
        investigator had that day), ``"nearest"`` (closest in time; ties to the earlier build), or
        the path of a file of the catalogue. Only builds covering ``family`` (and of ``product``,
        if given) are considered. With no build on or before the date, ``"nearest-before"`` raises
        :class:`~ipevidence.errors.DatabaseSelectionError` unless ``fallback="earliest"``.
        """
        return self.entry_at(date, rule, family=family, product=product, fallback=fallback).backend

    # ------------------------------------------------------------------ provenance

    def describe(self) -> dict[str, Any]:
        """JSON-ready provenance: every build (name, SHA-256, build date, kind, product, ranges,
        families), the duplicates and the skipped files. No paths: byte-identical across machines."""
        return {
            "builds": [e.to_dict() for e in self.entries],
            "products": {
                p: [e.build_date.isoformat() for e in self.entries if e.product == p] for p in self.products
            },
            "duplicates": [d.to_dict() for d in self.duplicates],
            "skipped": [s.to_dict() for s in self.skipped],
        }

    def __str__(self) -> str:
        lines = [f"DatabaseCatalog: {len(self)} builds, {len(self.products)} product(s)"]
        lines += [f"  {e}" for e in self.entries]
        for d in self.duplicates:
            lines.append(f"  duplicate: {d.name} has the same bytes as {d.same_as} (kept once)")
        for s in self.skipped:
            lines.append(f"  skipped: {s.name}: {s.reason}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<DatabaseCatalog {len(self)} builds {[d.isoformat() for d in self.build_dates]}>"


# ============================================================================ geolocation


@attrs.frozen
class BuildUse:
    """How one build was used to geolocate a ground truth: the rows it placed and their dates."""

    database: DatabaseInfo
    rows: int
    located: int
    first_date: dt.date | None
    last_date: dt.date | None
    fallback_rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "database": self.database.to_dict(),
            "rows": self.rows,
            "located": self.located,
            "not_located": self.rows - self.located,
            "first_date": None if self.first_date is None else self.first_date.isoformat(),
            "last_date": None if self.last_date is None else self.last_date.isoformat(),
            "fallback_rows": self.fallback_rows,
        }


def _combined_info(builds: Sequence[BuildUse], mode: str, rule: str) -> DatabaseInfo:
    used = [b for b in builds if b.rows]
    if len(builds) == 1:
        return builds[0].database
    digest = hashlib.sha256("\n".join(b.database.sha256 for b in builds).encode("ascii")).hexdigest()
    infos = [b.database for b in used] or [b.database for b in builds]
    fams = frozenset.intersection(*(i.families for i in infos))
    names = "; ".join(
        f"{b.database.name} ({b.database.build_date.isoformat()}): {b.rows:,} rows" for b in used
    )
    return DatabaseInfo(
        kind="catalog",
        name=f"{len(infos)} builds {infos[0].build_date.isoformat()}..{infos[-1].build_date.isoformat()}",
        sha256=digest,
        build_date=max(i.build_date for i in infos),
        ranges=sum(i.ranges for i in infos),
        families=fams,
        description=f"{mode} geolocation, rule {rule}: {names}; sha256 = SHA-256 of the builds' "
        "SHA-256 lines in build-date order; build_date = the latest build used",
    )


@attrs.frozen(eq=False)
class CatalogGeolocation:
    """A ground truth geolocated with a catalogue: the located column and its provenance.

    * ``located``: ``S2`` per row (``b""`` = not located), for
      :class:`~ipevidence.accuracy.LocatedGroundTruth` (or call :meth:`located_ground_truth`);
    * ``build``: per row, the index into ``builds`` of the build that placed it;
    * ``age_days``: per row, the row's date minus that build's date (positive: the build is
      older than the row; negative: the build is later than the row);
    * ``builds``: every candidate build with the rows it placed (0 for builds not used);
    * ``database``: one :class:`~ipevidence.provenance.DatabaseInfo` for the whole column (the
      build itself in fixed mode; kind ``"catalog"`` naming every build used in contemporary mode).
    """

    mode: GeolocationMode
    rule: str
    family: int
    located: npt.NDArray[np.bytes_]
    build: npt.NDArray[np.int16]
    age_days: npt.NDArray[np.int64]
    builds: tuple[BuildUse, ...]
    database: DatabaseInfo

    @property
    def fallback_rows(self) -> int:
        return sum(b.fallback_rows for b in self.builds)

    def counts_per_build(self) -> dict[str, int]:
        """Rows placed by each build, keyed by its file name (builds that placed none omitted)."""
        return {b.database.name: b.rows for b in self.builds if b.rows}

    def located_ground_truth(
        self, ground_truth: GroundTruth, *, method: str = "wilson", level: float = 0.95
    ) -> LocatedGroundTruth:
        """``LocatedGroundTruth(ground_truth, located, database=...)`` for the same ground truth."""
        from .accuracy import LocatedGroundTruth

        return LocatedGroundTruth(
            ground_truth, self.located, database=self.database, method=method, level=level
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "rule": self.rule,
            "family": self.family,
            "rows": int(self.located.shape[0]),
            "fallback_rows": self.fallback_rows,
            "database": self.database.to_dict(),
            "builds": [b.to_dict() for b in self.builds],
        }

    def __str__(self) -> str:
        lines = [
            f"{self.mode} geolocation of {self.located.shape[0]:,} IPv{self.family} rows (rule {self.rule}):"
        ]
        for b in self.builds:
            if b.rows:
                fb = f", {b.fallback_rows:,} dated before it (fallback)" if b.fallback_rows else ""
                lines.append(
                    f"  {b.database.name} ({b.database.build_date.isoformat()}): {b.rows:,} rows, "
                    f"{b.rows - b.located:,} not located{fb}"
                )
        return "\n".join(lines)


def geolocate(
    ground_truth: GroundTruth,
    catalog: DatabaseCatalog,
    *,
    mode: GeolocationMode = "contemporary",
    rule: Rule | str | os.PathLike[str] = "nearest-before",
    date: dt.date | str | None = None,
    product: str | None = None,
    fallback: Fallback = "error",
    allow_mixed_products: bool = False,
) -> CatalogGeolocation:
    """Geolocate every row of ``ground_truth`` with builds of ``catalog``.

    * ``mode="fixed"``: one build for every row (the paper's way): the build the rule picks for
      ``date`` (default: the ground truth's last date), or the file given as ``rule``;
    * ``mode="contemporary"``: each row with the build the rule picks for the row's own date.

    Rows are partitioned by build (one stable argsort) and each build answers its rows in one
    vectorised lookup. In contemporary mode builds of different products (an IP2Location and a
    GeoLite2 build, say) are not mixed unless ``allow_mixed_products`` (a
    :class:`~ipevidence.errors.DatabaseSelectionError` names them): pick one with ``product``.
    """
    if mode not in ("fixed", "contemporary"):
        raise ValueError(f"mode must be 'fixed' or 'contemporary', not {mode!r}")
    fam = ground_truth.family
    n = len(ground_truth)
    dates = np.asarray(ground_truth.date, dtype=_DAY)
    rule_name = rule if isinstance(rule, str) and rule in RULES else f"file:{Path(rule).name}"
    if mode == "fixed":
        if date is not None:
            when = np.datetime64(_as_day(date), "D")
        elif n:
            when = dates.max()
        else:
            raise ValueError("an empty ground truth needs an explicit date in fixed mode")
        cands, idx1, fb1 = catalog.select(
            np.array([when]), rule, family=fam, product=product, fallback=fallback
        )
        cands = (cands[int(idx1[0])],)
        index = np.zeros(n, np.intp)
        fell = np.zeros(n, np.bool_)
        if bool(fb1[0]):
            fell[:] = True
    else:
        cands, index, fell = catalog.select(dates, rule, family=fam, product=product, fallback=fallback)
    if mode == "contemporary" and not allow_mixed_products and n:
        used_products = sorted({cands[int(i)].product for i in np.unique(index)})
        if len(used_products) > 1:
            raise DatabaseSelectionError(
                f"the rows would be placed by builds of different products ({', '.join(used_products)}): "
                "pass product=... (or allow_mixed_products=True to measure the mixture)"
            )
    located = np.zeros(n, COUNTRY_DTYPE)
    built = np.array([np.datetime64(e.build_date, "D") for e in cands], dtype=_DAY)
    order = np.argsort(index, kind="stable")
    bounds = np.searchsorted(index[order], np.arange(len(cands) + 1), side="left")
    uses: list[BuildUse] = []
    for k, entry in enumerate(cands):
        rows = order[bounds[k] : bounds[k + 1]]
        if rows.size:
            out = entry.backend.lookup(ground_truth.address[rows])
            located[rows] = out
            d = dates[rows]
            uses.append(
                BuildUse(
                    database=entry.info,
                    rows=int(rows.size),
                    located=int(np.count_nonzero(out)),
                    first_date=_as_day(d.min()),
                    last_date=_as_day(d.max()),
                    fallback_rows=int(np.count_nonzero(fell[rows])),
                )
            )
        else:
            uses.append(BuildUse(entry.info, 0, 0, None, None))
    age = (dates - built[index]).astype(np.int64) if n else np.zeros(0, np.int64)
    builds = tuple(uses)
    return CatalogGeolocation(
        mode=mode,
        rule=rule_name,
        family=fam,
        located=located,
        build=index.astype(np.int16),
        age_days=age,
        builds=builds,
        database=_combined_info(builds, mode, rule_name),
    )
