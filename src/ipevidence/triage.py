"""Triage: many cases at once, each with how far its country location can be trusted.

A unit that receives hundreds of thousands of reports (an address and a time from a platform's
log) must send each to the jurisdiction that can act on it. :func:`assess_many` judges every case
exactly as :meth:`EvidentialAssessor.assess <ipevidence.assessment.EvidentialAssessor.assess>`
would, but over columns:

* addresses are parsed once per distinct value, checked for global unicast and geolocated as
  columns (one vectorised database lookup per family and build);
* each case is judged on its own evidence date (the window of years ending with its year); with a
  :class:`~ipevidence.catalog.DatabaseCatalog` each case uses the build the rule picks for its date;
* every part of a verdict is computed once per distinct input of that part and broadcast: the
  country's criteria once per (country, window), the network's once per (ASN known, provider), the
  claim's once per (located, claimed), the database's once per (located, evidence date), the
  likelihood ratio once per (Hp, located, window). The SAME methods of the assessor compute each
  part as in ``assess()`` (:meth:`~ipevidence.assessment.EvidentialAssessor._case_criteria` puts
  them in a verdict's order), and :func:`~ipevidence.verdict.outcome_of` decides each distinct
  combination of the parts' results, so a case gets exactly the outcome, figures and likelihood
  ratio ``assess()`` gives it (tests/test_triage.py checks 10,000+ generated cases one by one);
* a case that ``assess()`` would refuse (not an address, private space, a date outside the ground
  truth, an IPv6 address without an IPv6 ground truth, ...) is a result with the outcome
  ``cannot be assessed`` and a reason code, never an exception and never dropped.

The result, :class:`TriageResult`, is columnar (numpy), with :meth:`~TriageResult.to_pandas`,
:meth:`~TriageResult.to_arrow` (pyarrow, the optional extra ``[arrow]``), iteration as
:class:`TriageRecord` and :meth:`~TriageResult.summary` (a :class:`TriageSummary` per located
country). Reason codes are in :data:`REASONS` (docs/triage.md explains each); reading case files and
writing per-case results is :mod:`ipevidence.triage_io` (the ``ipevidence triage`` command).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import socket
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import attrs
import numpy as np
import numpy.typing as npt

from ._version import __version__
from .addresses import IPV4_DTYPE, IPV6_DTYPE, global_mask_v4, global_mask_v6, parse_address
from .countries import COUNTRY_DTYPE, NOT_LOCATED, known_mask, normalize_country
from .errors import DatabaseSelectionError, InvalidAddressError, InvalidParameterError, UnknownCountryError
from .groundtruth import GroundTruth
from .triage_result import (
    _CODE,
    _NO_AGE,
    _OUTCOME,
    CANNOT_ASSESS,
    COLUMNS,
    OUTCOMES,
    REASONS,
    Reason,
    TriageRecord,
    TriageResult,
    TriageSummary,
    _u16,
    decisive_criterion,
    reason_code,
)
from .verdict import Criterion, outcome_of

if TYPE_CHECKING:
    from .assessment import EvidentialAssessor
    from .backends.base import GeoBackend
    from .catalog import DatabaseCatalog
    from .networks import AsnTable, CloudRanges, ProviderRanges
    from .policy import Policy
    from .provenance import DatabaseInfo

__all__ = [
    "CANNOT_ASSESS",
    "COLUMNS",
    "OUTCOMES",
    "REASONS",
    "Reason",
    "Triage",
    "TriageRecord",
    "TriageResult",
    "TriageSummary",
    "assess_many",
    "decisive_criterion",
    "reason_code",
]

# --------------------------------------------------------------------------------------------
# Columns in
# --------------------------------------------------------------------------------------------


def _as_list(values: Any, n: int | None = None, name: str = "column") -> list[Any]:
    """A plain list of a column (sequence, numpy array, pandas Series/Index/Categorical)."""
    if hasattr(values, "to_numpy") and not isinstance(values, np.ndarray):
        values = values.to_numpy(dtype=object)
    if isinstance(values, np.ndarray):
        out = values.reshape(-1).tolist() if values.dtype.kind in "OUS" else list(values.reshape(-1))
    else:
        out = list(values)
    if n is not None and len(out) != n:
        raise InvalidParameterError(f"{name} has {len(out)} values for {n} addresses")
    return out


def _factorize(values: list[Any]) -> tuple[list[Any], npt.NDArray[np.intp]]:
    """(distinct values in first-seen order, index of each value among them); unhashable values
    each count as distinct."""
    try:
        index = {v: k for k, v in enumerate(dict.fromkeys(values))}
        inverse = np.fromiter(map(index.__getitem__, values), dtype=np.intp, count=len(values))
        return list(index), inverse
    except TypeError:  # an unhashable value somewhere: one by one
        pass
    seen: dict[Any, int] = {}
    uniques: list[Any] = []
    inv = np.empty(len(values), dtype=np.intp)
    for i, v in enumerate(values):
        try:
            k = seen.get(v)
            hashable = True
        except TypeError:
            k, hashable = None, False
        if k is None:
            k = len(uniques)
            uniques.append(v)
            if hashable:
                seen[v] = k
        inv[i] = k
    return uniques, inv


def _is_missing(v: Any) -> bool:
    """None, NaN, pandas' NA/NaT: no value (for the optional claim and ASN columns)."""
    if v is None:
        return True
    if isinstance(v, float):
        return math.isnan(v)
    return type(v).__name__ in ("NAType", "NaTType")


@attrs.frozen
class _Addresses:
    family: npt.NDArray[np.int8]  # 4, 6; 0 for not an address
    v4: npt.NDArray[np.uint32]
    v6: npt.NDArray[np.bytes_]
    status: npt.NDArray[np.int16]  # -1 ok, else a reason index


def _parse_addresses(values: list[Any]) -> _Addresses:
    """Parse a column of addresses once per distinct value, as ``assess()`` does
    (:func:`~ipevidence.addresses.parse_address`), with a fast path for dotted quads."""
    uniques, inverse = _factorize(values)
    m = len(uniques)
    fam = np.zeros(m, np.int8)
    v4 = np.zeros(m, IPV4_DTYPE)
    v6 = np.zeros(m, IPV6_DTYPE)
    pton, af4 = socket.inet_pton, socket.AF_INET
    packed4 = bytearray(4 * m)
    for k, v in enumerate(uniques):
        if type(v) is str:
            try:
                packed4[4 * k : 4 * k + 4] = pton(af4, v)  # strict dotted quad: what ipaddress accepts
                fam[k] = 4
                continue
            except (OSError, ValueError):
                pass
        try:
            addr = parse_address(v)
        except InvalidAddressError:
            continue
        if addr.version == 4:
            packed4[4 * k : 4 * k + 4] = addr.packed
            fam[k] = 4
        else:
            v6[k] = addr.packed
            fam[k] = 6
    v4[:] = np.frombuffer(bytes(packed4), dtype=">u4")
    status = np.full(m, _CODE["invalid_address"], np.int16)
    is4, is6 = fam == 4, fam == 6
    glob = np.zeros(m, np.bool_)
    glob[is4] = global_mask_v4(v4[is4])
    glob[is6] = global_mask_v6(v6[is6])
    status[(is4 | is6) & ~glob] = _CODE["not_global_address"]
    status[(is4 | is6) & glob] = -1
    return _Addresses(fam[inverse], v4[inverse], v6[inverse], status[inverse])


_NAT: Final = np.datetime64("NaT", "D")


def _parse_dates(values: Any, n: int) -> npt.NDArray[np.datetime64]:
    """Evidence dates as a ``datetime64[D]`` column, NaT where ``assess()`` would refuse the value.

    A ``datetime64`` column is read as calendar days; anything else per distinct value exactly as
    ``assess()`` reads a date (a ``date``, a ``datetime`` (its own calendar date) or an ISO string).
    """
    from .assessment import _to_date

    if hasattr(values, "to_numpy") and not isinstance(values, np.ndarray):
        arr = values.to_numpy()
        values = arr if arr.dtype.kind == "M" else values
    if isinstance(values, np.ndarray) and values.dtype.kind == "M":
        out = values.reshape(-1).astype("datetime64[D]")
        if len(out) != n:
            raise InvalidParameterError(f"dates has {len(out)} values for {n} addresses")
        return out
    items = _as_list(values, n, "dates")
    uniques, inverse = _factorize(items)
    days = np.full(len(uniques), _NAT)
    for k, v in enumerate(uniques):
        try:
            days[k] = np.datetime64(_to_date(v), "D")
        except (ValueError, TypeError, OverflowError):  # InvalidEvidenceDateError is a ValueError
            continue
    return days[inverse]


def _parse_asns(values: Any, n: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """(ASN, 0 for none; mask of values that are not AS numbers) as ``assess(asn=...)`` checks
    them; None, NaN and pandas' NA mean "no ASN" (a float column, as pandas makes of integers with
    gaps, is read as integers)."""
    from .assessment import check_asn

    if values is None:
        return np.zeros(n, np.int64), np.zeros(n, np.bool_)
    if hasattr(values, "to_numpy") and not isinstance(values, np.ndarray):
        values = values.to_numpy(dtype=object)
    arr = np.asarray(values) if isinstance(values, np.ndarray) else None
    if arr is not None and arr.dtype.kind in "iu":
        col = arr.reshape(-1).astype(np.int64)
        if len(col) != n:
            raise InvalidParameterError(f"asns has {len(col)} values for {n} addresses")
        bad = (col < 1) | (col > 2**32 - 1)
        return np.where(bad, 0, col), bad
    if arr is not None and arr.dtype.kind == "f":
        colf = arr.reshape(-1).astype(np.float64)
        if len(colf) != n:
            raise InvalidParameterError(f"asns has {len(colf)} values for {n} addresses")
        missing = np.isnan(colf)
        ok = ~missing & (colf == np.floor(np.where(missing, 0, colf))) & (colf >= 1) & (colf <= 2**32 - 1)
        return np.where(ok, colf, 0).astype(np.int64), ~missing & ~ok
    items = _as_list(values, n, "asns")
    uniques, inverse = _factorize(items)
    got = np.zeros(len(uniques), np.int64)
    bad = np.zeros(len(uniques), np.bool_)
    for k, v in enumerate(uniques):
        if _is_missing(v):
            continue
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        try:
            got[k] = check_asn(v) or 0
        except InvalidParameterError:
            bad[k] = True
    return got[inverse], bad[inverse]


def _parse_claims(values: Any, n: int) -> tuple[npt.NDArray[np.bytes_], npt.NDArray[np.bool_]]:
    """(claimed country ``S2``, b"" for none; mask of claims that are not countries), as
    ``assess(claimed_country=...)`` reads them (an empty value is no claim; NaN and NA too)."""
    if values is None:
        return np.zeros(n, COUNTRY_DTYPE), np.zeros(n, np.bool_)
    items = _as_list(values, n, "claimed_countries")
    uniques, inverse = _factorize(items)
    got = np.zeros(len(uniques), COUNTRY_DTYPE)
    bad = np.zeros(len(uniques), np.bool_)
    for k, v in enumerate(uniques):
        try:
            if _is_missing(v) or not v:
                continue
            got[k] = normalize_country(v).encode("ascii")
        except (UnknownCountryError, TypeError, ValueError):
            bad[k] = True
    return got[inverse], bad[inverse]


# --------------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------------


def _signature(criteria: Iterable[Criterion]) -> tuple[tuple[str, str, bool, bool | None], ...]:
    """What the outcome rule and the reason code read of criteria: name, group, required, passed
    (never the figures, which :func:`outcome_of` compares only through ``passed``)."""
    return tuple((c.name, c.group, c.required, c.passed) for c in criteria)


class _Part:
    """One part of a verdict computed once per distinct key: its criteria and their signature id."""

    def __init__(self) -> None:
        self.criteria: list[tuple[Criterion, ...]] = []
        self.sig_ids: list[int] = []
        self._sigs: dict[tuple[Any, ...], int] = {}

    def add(self, criteria: Sequence[Criterion]) -> None:
        crit = tuple(criteria)
        self.criteria.append(crit)
        self.sig_ids.append(self._sigs.setdefault(_signature(crit), len(self._sigs)))

    def sig_column(self, ids: npt.NDArray[np.intp]) -> npt.NDArray[np.int64]:
        table = np.asarray([*self.sig_ids, len(self._sigs)], dtype=np.int64)  # -1 -> "absent"
        return table[ids]


def _unique(keys: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """(distinct keys in order, the index of one row holding each, the inverse). Keys in a small
    range are counted with a bitmap in linear time; others are sorted."""
    if keys.size == 0:
        return keys, np.zeros(0, np.intp), np.zeros(0, np.intp)
    lo, hi = int(keys.min()), int(keys.max())
    if hi - lo < _BITMAP_SPAN:
        offset = keys - lo
        seen = np.zeros(hi - lo + 1, np.bool_)
        seen[offset] = True
        present = np.flatnonzero(seen)
        rank = np.cumsum(seen, dtype=np.intp) - 1
        holder = np.empty(hi - lo + 1, np.intp)
        holder[offset] = np.arange(keys.size, dtype=np.intp)  # some row of each key: all alike
        return present + lo, holder[present], rank[offset]
    uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return uniq, first, inverse.reshape(-1)


_BITMAP_SPAN: Final = 1 << 25


def _open_ground_truths(
    value: GroundTruth
    | str
    | os.PathLike[str]
    | Sequence[GroundTruth | str | os.PathLike[str]]
    | Mapping[int, Any],
) -> dict[int, GroundTruth]:
    items: Iterable[Any]
    if isinstance(value, Mapping):
        items = value.values()
    elif isinstance(value, GroundTruth | str | os.PathLike):
        items = [value]
    else:
        items = list(value)
    out: dict[int, GroundTruth] = {}
    for item in items:
        gt = item if isinstance(item, GroundTruth) else GroundTruth.load(item)
        if gt.family in out:
            raise InvalidParameterError(f"two IPv{gt.family} ground truths given: give one per family")
        out[gt.family] = gt
    if not out:
        raise InvalidParameterError("no ground truth given")
    return out


def _intern(index: dict[str, int], values: list[str], text: str) -> int:
    """The code of ``text`` in a table of distinct strings (appended on first sight)."""
    k = index.get(text)
    if k is None:
        k = len(values)
        index[text] = k
        values.append(text)
    return k


class Triage:
    """The engine behind :func:`assess_many`: ground truths (one per family), one database or a
    catalogue of dated builds, a policy and the network data, with every cache kept between calls
    of :meth:`run` (the ``ipevidence triage`` command feeds a long case file through one engine,
    chunk by chunk).

    ``database``: a backend, a database file, None for the shipped IP2Location LITE DB1, or a
    :class:`~ipevidence.catalog.DatabaseCatalog` (each case then uses the build ``database_rule``
    picks for its date, as ``ipevidence assess`` does with a catalogue).
    """

    def __init__(
        self,
        ground_truth: GroundTruth | str | os.PathLike[str] | Sequence[Any] | Mapping[int, Any],
        database: GeoBackend | DatabaseCatalog | str | os.PathLike[str] | None = None,
        policy: Policy | str = "default",
        *,
        asn_table: AsnTable | None = None,
        cloud_ranges: CloudRanges | ProviderRanges | None = None,
        database_rule: str | os.PathLike[str] = "nearest-before",
    ) -> None:
        from .assessment import _open_backend
        from .catalog import DatabaseCatalog
        from .policy import Policy

        self.policy = Policy.preset(policy) if isinstance(policy, str) else policy
        self.ground_truths = _open_ground_truths(ground_truth)
        self.asn_table = asn_table
        self.cloud_ranges = cloud_ranges
        self.rule = database_rule
        self.catalog: DatabaseCatalog | None = database if isinstance(database, DatabaseCatalog) else None
        self.backend: GeoBackend | None = None if self.catalog is not None else _open_backend(database)  # type: ignore[arg-type]
        self._assessors: dict[tuple[int, int], EvidentialAssessor] = {}
        self.databases: list[DatabaseInfo] = []
        self._db_index: dict[str, int] = {}
        self._backends: list[GeoBackend] = []
        self.lr_texts: list[str] = []
        self._lr_text_index: dict[str, int] = {}
        self.hosting_labels: list[str] = [""]
        self._hosting_index: dict[str, int] = {"": 0}
        self.cases_per_database: dict[int, int] = {}
        if self.backend is not None:
            self._database_id(self.backend)

    # -- tables shared by every chunk -------------------------------------------------------

    def _database_id(self, backend: GeoBackend) -> int:
        info = backend.describe()
        k = self._db_index.get(info.sha256)
        if k is None:
            k = len(self.databases)
            self._db_index[info.sha256] = k
            self.databases.append(info)
            self._backends.append(backend)
        return k

    def _lr_text_id(self, text: str) -> int:
        return _intern(self._lr_text_index, self.lr_texts, text)

    def _hosting_id(self, label: str) -> int:
        return _intern(self._hosting_index, self.hosting_labels, label)

    def assessor(self, family: int, database: int) -> EvidentialAssessor:
        """The assessor of one family's ground truth and one database (built once)."""
        from .assessment import EvidentialAssessor

        key = (family, database)
        got = self._assessors.get(key)
        if got is None:
            got = EvidentialAssessor(
                self.ground_truths[family],
                self._backends[database],
                self.policy,
                asn_table=self.asn_table,
                cloud_ranges=self.cloud_ranges,
                catalog=self.catalog,
            )
            self._assessors[key] = got
        return got

    def provenance(self) -> dict[str, Any]:
        """What the run used: library version, policy, ground truths, databases (with the cases
        each judged), network data, reason codes. No wall-clock time: the same inputs give the
        same bytes."""
        from .assessment import _gt_summary

        out: dict[str, Any] = {
            "library_version": __version__,
            "policy": self.policy.to_dict(),
            "ground_truths": {f"IPv{f}": _gt_summary(gt) for f, gt in sorted(self.ground_truths.items())},
            "databases": [
                {**info.to_dict(), "cases": int(self.cases_per_database.get(i, 0))}
                for i, info in enumerate(self.databases)
            ],
            "database_rule": None if self.catalog is None else str(self.rule),
            "catalog": None if self.catalog is None else self.catalog.describe(),
            "asn_table": None if self.asn_table is None else self.asn_table.describe(),
            "cloud_ranges": None if self.cloud_ranges is None else self.cloud_ranges.describe(),
            "network_data": "shipped data nearest each case's date" if self.policy.network_data else "none",
        }
        return out

    # -- one batch of cases -----------------------------------------------------------------

    def run(
        self,
        addresses: Any,
        dates: Any,
        *,
        claimed_countries: Any = None,
        asns: Any = None,
        case_ids: Any = None,
        lines: npt.ArrayLike | None = None,
    ) -> TriageResult:
        """Judge one batch of cases (see :func:`assess_many`)."""
        addr_list = _as_list(addresses, name="addresses")
        n = len(addr_list)
        parsed = _parse_addresses(addr_list)
        days = _parse_dates(dates, n)
        given_asn, bad_asn = _parse_asns(asns, n)
        claimed, bad_claim = _parse_claims(claimed_countries, n)

        status = (
            parsed.status.copy()
        )  # -1: assessable so far; else the first refusal, as assess() orders them
        ok = status < 0
        status[ok & np.isnat(days)] = _CODE["invalid_date"]
        ok = status < 0
        status[ok & bad_asn] = _CODE["invalid_asn"]
        ok = status < 0
        have_gt = np.isin(parsed.family, np.asarray(sorted(self.ground_truths), dtype=np.int8))
        status[ok & ~have_gt] = _CODE["no_ground_truth_for_family"]
        ok = status < 0
        status[ok & bad_claim] = _CODE["unknown_claimed_country"]

        # Which database judges each case (and geolocates it for routing, whatever its status).
        db = np.full(n, -1, np.int16)
        located = np.zeros(n, COUNTRY_DTYPE)
        geo_ok = parsed.status < 0
        for fam in (4, 6):
            rows = np.flatnonzero(geo_ok & (parsed.family == fam))
            if rows.size == 0:
                continue
            if self.catalog is None:
                assert self.backend is not None
                if fam not in self.backend.families:
                    status[rows[status[rows] < 0]] = _CODE["no_database_for_family"]
                    continue
                db[rows] = 0
            else:
                rows = rows[~np.isnat(days[rows])]
                try:
                    cands, index, fell_back = self.catalog.select(
                        days[rows], self.rule, family=fam, fallback="earliest"
                    )
                except DatabaseSelectionError:
                    bad = np.flatnonzero(geo_ok & (parsed.family == fam))
                    status[bad[status[bad] < 0]] = _CODE["no_database_for_family"]
                    continue
                ids = np.asarray([self._database_id(e.backend) for e in cands], dtype=np.int16)
                if self.rule == "nearest-before":
                    late = rows[fell_back]
                    status[late[status[late] < 0]] = _CODE["no_database_for_date"]
                    rows, index = rows[~fell_back], index[~fell_back]
                db[rows] = ids[index]
            for d in np.unique(db[rows]).tolist():
                sel = rows[db[rows] == d]
                col = parsed.v4[sel] if fam == 4 else parsed.v6[sel]
                located[sel] = self._backends[d].lookup(col)
        unknown = (located != NOT_LOCATED) & ~known_mask(located)
        located[unknown] = NOT_LOCATED

        # Windows: the ground truth's years (assess() raises OutsideGroundTruthError outside them).
        year = np.zeros(n, np.int64)
        valid_days = ~np.isnat(days)
        year[valid_days] = days[valid_days].astype("datetime64[Y]").astype(np.int64) + 1970
        first = np.zeros(n, np.int16)
        last = np.zeros(n, np.int16)
        ok = status < 0
        for fam, gt in self.ground_truths.items():
            rows = np.flatnonzero(ok & (parsed.family == fam))
            if rows.size == 0:
                continue
            lgt_years = gt.years
            lo, hi = (int(lgt_years.min()), int(lgt_years.max())) if len(gt) else (1, 0)
            inside = (year[rows] >= lo) & (year[rows] <= hi)
            status[rows[~inside]] = _CODE["date_outside_ground_truth"]
            rows = rows[inside]
            first[rows] = np.maximum(lo, year[rows] - self.policy.window_years + 1)
            last[rows] = year[rows]
        ok = status < 0
        status[ok & unknown] = _CODE["unknown_database_country"]

        out = _Columns.empty(n)
        out.located[:] = located
        out.database[:] = db
        ok = status < 0
        out.reason[~ok] = status[~ok]
        out.outcome[~ok] = _OUTCOME[CANNOT_ASSESS]
        for fam in (4, 6):
            for d in range(len(self.databases)):
                rows = np.flatnonzero(ok & (parsed.family == fam) & (db == d))
                if rows.size:
                    self._judge(
                        self.assessor(fam, d),
                        rows,
                        parsed.v4[rows] if fam == 4 else parsed.v6[rows],
                        days[rows],
                        year[rows],
                        first[rows],
                        last[rows],
                        located[rows],
                        claimed[rows],
                        given_asn[rows],
                        out,
                    )
                    self.cases_per_database[d] = self.cases_per_database.get(d, 0) + int(rows.size)
        has_db = db >= 0
        age = np.full(n, _NO_AGE, np.int32)
        if has_db.any():
            built = np.asarray(
                [np.datetime64(i.build_date, "D") for i in self.databases], dtype="datetime64[D]"
            )
            dated = has_db & ~np.isnat(days)
            age[dated] = (days[dated] - built[db[dated]]).astype(np.int64).astype(np.int32)
        return TriageResult(
            address=np.asarray([*addr_list, None], dtype=object)[:-1],
            family=parsed.family,
            date=days,
            claimed=claimed,
            located=located,
            outcome=out.outcome,
            reason=out.reason,
            accuracy=out.accuracy,
            accuracy_min=out.accuracy_min,
            lr=out.lr,
            lr_verbal=out.lr_verbal,
            lr_against=out.lr_against,
            asn=out.asn,
            network_checked=out.network_checked,
            hosting=out.hosting,
            window_first=np.where(ok, first, 0).astype(np.int16),
            window_last=np.where(ok, last, 0).astype(np.int16),
            database=db,
            database_age_days=age,
            lr_texts=tuple(self.lr_texts),
            hosting_labels=tuple(self.hosting_labels),
            databases=tuple(self.databases),
            provenance=self.provenance(),
            case_id=None
            if case_ids is None
            else np.asarray([*_as_list(case_ids, n, "case_ids"), None], dtype=object)[:-1],
            line=None if lines is None else np.asarray(lines, dtype=np.int64).reshape(-1),
        )

    # -- the network, as classify_for_evidence / classify_address would -----------------------

    def _networks(
        self,
        a: EvidentialAssessor,
        col: npt.NDArray[Any],
        days: npt.NDArray[np.datetime64],
        given: npt.NDArray[np.int64],
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(ASN, 0 for unknown; hosting label id, 0 for none) of each case: the caller's ASN wins,
        else the assessor's IP-to-ASN table, else (``network_data``) the shipped table nearest the
        case's date; a hosting ASN of the policy's set, else a cloud range file (the assessor's, or
        the shipped ones nearest the date)."""
        from .networks import EXTENDED_HOSTING_ASNS as _HOSTING_NAMES
        from .networks import CloudRanges, ProviderRanges, asn_table_for, shipped_cloud_ranges

        p = self.policy
        fam = 4 if col.dtype == IPV4_DTYPE else 6
        n = col.shape[0]
        asn = given.copy()
        provider = np.zeros(n, np.int64)
        udays, dinv = np.unique(days, return_inverse=True)
        dinv = dinv.reshape(-1)
        groups: dict[tuple[int, tuple[int, ...]], list[int]] = {}
        sources: dict[tuple[int, tuple[int, ...]], tuple[Any, CloudRanges | None]] = {}
        for k, day in enumerate(udays.tolist()):
            table: Any = a.asn_table
            ranges: Any = a.cloud_ranges
            if p.network_data:
                if table is None:
                    table = asn_table_for(day, fam)
                if ranges is None:
                    ranges = shipped_cloud_ranges(day)
            if isinstance(ranges, ProviderRanges):
                ranges = CloudRanges((ranges,))
            key = (id(table), tuple(id(pr) for pr in ranges.providers) if ranges is not None else (-1,))
            groups.setdefault(key, []).append(k)
            sources[key] = (table, ranges)
        cloud = np.asarray(sorted(p.cloud_asns), dtype=np.int64)
        for key, day_ids in groups.items():
            table, ranges = sources[key]
            rows = np.flatnonzero(np.isin(dinv, np.asarray(day_ids)))
            need = rows[asn[rows] == 0]
            if table is not None and need.size:
                asn[need] = table.lookup(col[need]).astype(np.int64)
            in_set = np.isin(asn[rows], cloud) & (asn[rows] > 0)
            for a_num in np.unique(asn[rows][in_set]).tolist():
                label = _HOSTING_NAMES.get(int(a_num), f"AS{int(a_num)}")
                provider[rows[in_set & (asn[rows] == a_num)]] = self._hosting_id(label)
            if ranges is not None and len(ranges.providers):
                rest = rows[~in_set]
                if rest.size:
                    idx = ranges.match(col[rest]).astype(np.int64)
                    for i in np.unique(idx[idx >= 0]).tolist():
                        provider[rest[idx == i]] = self._hosting_id(ranges.providers[i].provider)
        return asn, provider

    # -- the verdict's parts, once per distinct input ---------------------------------------

    def _judge(
        self,
        a: EvidentialAssessor,
        rows: npt.NDArray[np.intp],
        col: npt.NDArray[Any],
        days: npt.NDArray[np.datetime64],
        year: npt.NDArray[np.int64],
        first: npt.NDArray[np.int16],
        last: npt.NDArray[np.int16],
        located: npt.NDArray[np.bytes_],
        claimed: npt.NDArray[np.bytes_],
        given: npt.NDArray[np.int64],
        out: _Columns,
    ) -> None:
        p = self.policy
        m = rows.size
        loc16 = _u16(located)
        has_loc = loc16 > 0
        country = np.where(has_loc, located, claimed)
        c16 = _u16(country)
        cl16 = _u16(claimed)
        # dense small numbers for the countries and years in keys (so that keys fit a bitmap)
        dense = np.zeros(1 << 16, np.int64)
        present = np.flatnonzero(np.bincount(np.concatenate([loc16, cl16]), minlength=1 << 16))
        dense[present] = np.arange(present.size)
        dloc, dcl, dc = dense[loc16], dense[cl16], dense[c16]
        ny = int(year.max() - year.min() + 1) if m else 1
        yr = year - (int(year.min()) if m else 0)
        nc = max(1, int(present.size))
        asn, provider = self._networks(a, col, days, given)
        out.asn[rows] = asn.astype(np.uint32)
        out.hosting[rows] = provider.astype(np.int16)
        out.network_checked[rows] = (asn > 0) | (provider > 0)

        def text(code: int) -> str | None:
            return None if code == 0 else int(code).to_bytes(2, "big").decode("ascii")

        def first_last(y: int) -> tuple[int, int]:
            return a.located.window(int(y), p.window_years)

        # 1. the country's criteria, per (country, window)
        ev_part = _Part()
        evaluations: list[Any] = []
        ev_ids = np.full(m, -1, np.intp)
        sel = np.flatnonzero(c16 > 0)
        acc_all = np.full(0, np.nan)
        acc_min = np.full(0, np.nan)
        if sel.size:
            keys, firsts, inv = _unique(dc[sel] * ny + yr[sel])
            acc_all = np.full(len(keys), np.nan)
            acc_min = np.full(len(keys), np.nan)
            for k, r in enumerate(sel[firsts].tolist()):
                f, la = first_last(year[r])
                ev = a.evaluate_country(str(text(int(c16[r]))), f, la)
                ev_part.add(ev.criteria)
                evaluations.append(ev)
                for c in ev.criteria:
                    if c.name == "hist_all" and c.figure is not None:
                        acc_all[k] = float(c.figure)
                    elif c.name == "hist_min" and c.figure is not None:
                        acc_min[k] = float(c.figure)
            ev_ids[sel] = inv
            out.accuracy[rows[sel]] = acc_all[inv]
            out.accuracy_min[rows[sel]] = acc_min[inv]
        # 2. located, per located country
        loc_part = _Part()
        _lkeys, lfirst, loc_ids = _unique(dloc)
        for r in lfirst.tolist():
            loc_part.add([a._located_criterion(text(int(loc16[r])))])
        # 3. the network: cloud/hosting per (ASN known, provider); the own network's accuracy per
        #    (located, ASN, window), needed only where it can decide (network_required)
        net_part = _Part()
        _nkeys, nfirst, net_ids = _unique(((asn > 0).astype(np.int64) << 16) | provider)
        for r in nfirst.tolist():
            label = self.hosting_labels[int(provider[r])] if provider[r] else None
            net_part.add([a._cloud_criterion(int(asn[r]) or None, label)])
        acc_part = _Part()
        acc_ids = np.full(m, -1, np.intp)
        if p.network_required:
            sel = np.flatnonzero(has_loc & (asn > 0) & (provider == 0))
            if sel.size:
                keys, firsts, inv = _unique((loc16[sel] << 48) | (asn[sel] << 16) | year[sel])
                for r in sel[firsts].tolist():
                    f, la = first_last(year[r])
                    crit, _reasons, _acc = a._network_accuracy_criterion(
                        str(text(int(loc16[r]))), int(asn[r]), f, la
                    )
                    acc_part.add([crit])
                acc_ids[sel] = inv
        # 4. the claim, per (located, claimed)
        claim_part = _Part()
        claim_ids = np.full(m, -1, np.intp)
        sel = np.flatnonzero(cl16 > 0)
        if sel.size:
            keys, firsts, inv = _unique(dloc[sel] * nc + dcl[sel])
            for r in sel[firsts].tolist():
                claim_part.add([a._claim_criterion(text(int(loc16[r])), str(text(int(cl16[r]))))])
            claim_ids[sel] = inv
        # 5. the database, per distinct input of _database_criterion (the assessor's own key)
        build = np.datetime64(a.backend.build_date, "D")
        delta = (days - build).astype(np.int64)
        db_part = _Part()
        _dkeys, dfirst, db_ids = _unique(a._database_keys(loc16, days))
        for r in dfirst.tolist():
            f, la = first_last(year[r])
            when = days[r].astype(dt.date)
            db_part.add([a._database_criterion(text(int(loc16[r])), when, abs(int(delta[r])), f, la)])
        # 6. the likelihood ratio, per (Hp, located, window)
        hp16 = np.where(cl16 > 0, cl16, loc16)
        if p.report_lr:
            sel = np.flatnonzero(hp16 > 0)
            if sel.size:
                dhp = np.where(cl16[sel] > 0, dcl[sel], dloc[sel])
                keys, firsts, inv = _unique((dhp * nc + dloc[sel]) * ny + yr[sel])
                lr_val = np.full(len(keys), np.nan)
                lr_txt = np.full(len(keys), -1, np.int32)
                lr_vs = np.zeros(len(keys), COUNTRY_DTYPE)
                for k, r in enumerate(sel[firsts].tolist()):
                    f, la = first_last(year[r])
                    lr, _note = a._lr(str(text(int(hp16[r]))), text(int(loc16[r])), f, la)
                    if lr is not None and lr.headline is not None:
                        rep = lr.headline.reported
                        lr_val[k] = np.inf if rep is None else float(rep)
                        lr_txt[k] = self._lr_text_id(lr.verbal)
                        lr_vs[k] = (lr.weakest_against or "").encode("ascii")
                out.lr[rows[sel]] = lr_val[inv]
                out.lr_verbal[rows[sel]] = lr_txt[inv]
                out.lr_against[rows[sel]] = lr_vs[inv]
        # 7. the outcome: each distinct combination of the parts' signatures, decided by
        #    outcome_of on one case's criteria (in a verdict's order), broadcast to all like it
        sigs = [
            ev_part.sig_column(ev_ids),
            loc_part.sig_column(loc_ids),
            net_part.sig_column(net_ids),
            acc_part.sig_column(acc_ids),
            claim_part.sig_column(claim_ids),
            db_part.sig_column(db_ids),
        ]
        combo = np.zeros(m, np.int64)
        for s in sigs:
            combo = combo * (int(s.max()) + 1 if s.size else 1) + s
        ckeys, cfirst, cinv = _unique(combo)
        reason = np.empty(len(ckeys), np.uint8)
        outcome = np.empty(len(ckeys), np.uint8)
        for k, r in enumerate(cfirst.tolist()):
            network = list(net_part.criteria[net_ids[r]])
            if acc_ids[r] >= 0:
                network += list(acc_part.criteria[acc_ids[r]])
            case = a._case_criteria(
                evaluations[ev_ids[r]] if ev_ids[r] >= 0 else None,
                text(int(loc16[r])),
                network,
                text(int(cl16[r])),
                db_part.criteria[db_ids[r]][0],
            )
            decided = outcome_of(case)
            outcome[k] = _OUTCOME[decided]
            reason[k] = _CODE[reason_code(case, decided)]
        out.reason[rows] = reason[cinv]
        out.outcome[rows] = outcome[cinv]


@attrs.define
class _Columns:
    """The per-case outputs being filled."""

    reason: npt.NDArray[np.uint8]
    outcome: npt.NDArray[np.uint8]
    located: npt.NDArray[np.bytes_]
    database: npt.NDArray[np.int16]
    accuracy: npt.NDArray[np.float64]
    accuracy_min: npt.NDArray[np.float64]
    lr: npt.NDArray[np.float64]
    lr_verbal: npt.NDArray[np.int32]
    lr_against: npt.NDArray[np.bytes_]
    asn: npt.NDArray[np.uint32]
    network_checked: npt.NDArray[np.bool_]
    hosting: npt.NDArray[np.int16]

    @classmethod
    def empty(cls, n: int) -> _Columns:
        return cls(
            reason=np.zeros(n, np.uint8),
            outcome=np.zeros(n, np.uint8),
            located=np.zeros(n, COUNTRY_DTYPE),
            database=np.full(n, -1, np.int16),
            accuracy=np.full(n, np.nan),
            accuracy_min=np.full(n, np.nan),
            lr=np.full(n, np.nan),
            lr_verbal=np.full(n, -1, np.int32),
            lr_against=np.zeros(n, COUNTRY_DTYPE),
            asn=np.zeros(n, np.uint32),
            network_checked=np.zeros(n, np.bool_),
            hosting=np.zeros(n, np.int16),
        )


# --------------------------------------------------------------------------------------------
# The one-call form
# --------------------------------------------------------------------------------------------


def assess_many(
    addresses: Any,
    dates: Any,
    *,
    claimed_countries: Any = None,
    asns: Any = None,
    ground_truth: GroundTruth | str | os.PathLike[str] | Sequence[Any] | Mapping[int, Any],
    database: GeoBackend | DatabaseCatalog | str | os.PathLike[str] | None = None,
    policy: Policy | str = "default",
    asn_table: AsnTable | None = None,
    cloud_ranges: CloudRanges | ProviderRanges | None = None,
    database_rule: str | os.PathLike[str] = "nearest-before",
    case_ids: Any = None,
) -> TriageResult:
    """Judge many cases at once, each exactly as :func:`~ipevidence.assessment.assess` would.

    ``addresses``, ``dates`` and the optional ``claimed_countries``, ``asns`` and ``case_ids``
    are columns of equal length: sequences, numpy arrays or pandas columns. A date is a
    ``datetime.date``, a ``datetime`` (its own calendar date), an ISO string, or a
    ``datetime64`` column (calendar days); a missing claim or ASN is None, NaN or NA.
    ``ground_truth`` is a :class:`~ipevidence.groundtruth.GroundTruth` or the path of a saved one,
    or a list of them, one per address family (IPv6 cases without an IPv6 ground truth cannot be
    assessed). ``database`` is a backend, a database file, None for the shipped IP2Location LITE
    DB1, or a :class:`~ipevidence.catalog.DatabaseCatalog` from which ``database_rule`` picks each
    case's build. ``policy``, ``asn_table`` and ``cloud_ranges`` are as for ``assess()``.

    Returns a :class:`TriageResult` in the order of the input. Nothing raises for a bad case:
    it is a result with the outcome ``cannot be assessed`` and its reason code. Raises for what is
    wrong with the call itself (columns of different lengths, an unreadable ground truth or
    database). For a long stream of cases, keep one :class:`Triage` and call :meth:`Triage.run`
    per batch (the caches are kept).
    """
    engine = Triage(
        ground_truth,
        database,
        policy,
        asn_table=asn_table,
        cloud_ranges=cloud_ranges,
        database_rule=database_rule,
    )
    return engine.run(addresses, dates, claimed_countries=claimed_countries, asns=asns, case_ids=case_ids)
