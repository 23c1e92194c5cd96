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
writing per-case results is :mod:`ipevidence.triage.files` (the ``ipevidence triage`` command).

This module holds :func:`assess_many` and the engine :class:`Triage` (ground truths, databases,
caches; one batch after another in :meth:`Triage.run`). The bulk parsing of the input columns is
:mod:`ipevidence.triage.inputs`, the network checks in bulk :mod:`ipevidence.triage.networks`, the
verdict's parts once per distinct input :mod:`ipevidence.triage.parts`; the results are
:mod:`ipevidence.triage.result`, the reason codes :mod:`ipevidence.triage.reasons` and the summary
:mod:`ipevidence.triage.summary`. Every name those held here before is re-exported.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .._version import __version__
from ..countries import COUNTRY_DTYPE, NOT_LOCATED, known_mask
from ..errors import DatabaseSelectionError, InvalidParameterError
from ..groundtruth import GroundTruth

# the bulk input parsing, re-exported (its home is .inputs)
from .inputs import _NAT as _NAT
from .inputs import _Addresses as _Addresses
from .inputs import _as_list as _as_list
from .inputs import _factorize as _factorize
from .inputs import _is_missing as _is_missing
from .inputs import _parse_addresses as _parse_addresses
from .inputs import _parse_asns as _parse_asns
from .inputs import _parse_claims as _parse_claims
from .inputs import _parse_dates as _parse_dates
from .networks import networks_in_bulk

# the verdict's parts, re-exported (their home is .parts)
from .parts import _BITMAP_SPAN as _BITMAP_SPAN
from .parts import _Columns as _Columns
from .parts import _Part as _Part
from .parts import _signature as _signature
from .parts import _unique as _unique
from .parts import judge_parts
from .reasons import _CODE, _OUTCOME, CANNOT_ASSESS
from .result import _NO_AGE, TriageResult

if TYPE_CHECKING:
    from ..assessment import EvidentialAssessor
    from ..backends.base import GeoBackend
    from ..catalog import DatabaseCatalog
    from ..networks import AsnTable, CloudRanges, ProviderRanges
    from ..policy import Policy
    from ..provenance import DatabaseInfo

__all__ = ["Triage", "assess_many"]

# --------------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------------


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
        from ..assessment import _open_backend
        from ..catalog import DatabaseCatalog
        from ..policy import Policy

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
        from ..assessment import EvidentialAssessor

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
        from ..assessment import _gt_summary

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

    # -- the network, as classify_for_evidence / classify_address would (.networks) -----

    _networks = networks_in_bulk

    # -- the verdict's parts, once per distinct input (.parts) ---------------------------

    _judge = judge_parts


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
