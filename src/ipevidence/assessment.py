"""The evidential verdict for one piece of IP country location evidence (METHOD.md sections 9, 12, 13).

:class:`EvidentialAssessor` pairs a ground truth with one geolocation database under a
:class:`Policy` and answers :meth:`~EvidentialAssessor.assess` (one address at a date) and
:meth:`~EvidentialAssessor.table` (the paper's Table 8). :func:`assess` is the one-call form that
opens the files it is given and keeps the assessors in a small cache.

A :class:`Verdict` is ``valid``, ``not valid`` or ``insufficient data`` and spells out every
criterion with its figure, threshold and pass or fail:

* ``data``: enough ground truth over the window and in every year of it;
* ``accuracy``: Hist min and Hist all at or above the threshold (on the lower confidence bounds
  in the conservative default, on the point estimates in the reference preset);
* ``geography``: distinct probes, distinct ASNs, population coverage, border removals, overseas
  parts (required in the default preset; reported only in the reference preset, where the paper
  left geography to the expert's eye);
* ``address``: the evidence address is located, and not in a cloud or hosting network;
* ``claim``: the database's country is the claimed country (when a claim is given);
* ``database``: the gap between the database's build date and the evidence date (advisory).

The criteria themselves, country level (:meth:`~EvidentialAssessor.evaluate_country`) and case
level, live in :mod:`ipevidence.criteria`, in :class:`~ipevidence.criteria.VerdictCriteria`, a
base class of :class:`EvidentialAssessor`. The policy lives in :mod:`ipevidence.policy`, the
verdict's parts and the outcome rule in :mod:`ipevidence.verdict`; both are re-exported here.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import os
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

from ._version import __version__
from .accuracy import LocatedGroundTruth, Table
from .addresses import require_global
from .backends.base import GeoBackend
from .countries import normalize_country
from .criteria import VerdictCriteria
from .errors import FamilyMismatchError, InvalidEvidenceDateError, InvalidParameterError
from .geoindicators import GeoIndicators, overseas_parts
from .groundtruth import GroundTruth
from .jsonutil import canonical_json, to_jsonable
from .networks import EXTENDED_HOSTING_ASNS as _HOSTING_NAMES
from .networks import (
    AsnTable,
    CloudRanges,
    NetworkClass,
    ProviderRanges,
    classify_address,
    classify_for_evidence,
)
from .policy import DEFAULT_CLOUD_ASNS, PRESETS, Policy
from .stats import percent_down

if TYPE_CHECKING:
    from .catalog import DatabaseCatalog
    from .staleness import StalenessTable

from .verdict import (
    INSUFFICIENT,
    NOT_VALID,
    VALID,
    CountryEvaluation,
    Criterion,
    Outcome,
    Verdict,
    outcome_of,
)

__all__ = [
    "DEFAULT_CLOUD_ASNS",
    "INSUFFICIENT",
    "NOT_VALID",
    "PRESETS",
    "VALID",
    "CountryEvaluation",
    "Criterion",
    "EvidentialAssessor",
    "Outcome",
    "Policy",
    "Verdict",
    "assess",
    "clear_assessor_cache",
    "overseas_parts",
]


# --------------------------------------------------------------------------------------------
# Helpers wiring the other modules
# --------------------------------------------------------------------------------------------


def _to_date(value: object) -> dt.date:
    """An evidence date from a ``date``, a ``datetime`` or an ISO string; anything else is an
    :class:`~ipevidence.errors.InvalidEvidenceDateError` (a ``ValueError``)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) > 10 and text[10] in "T ":
                return dt.datetime.fromisoformat(text).date()
            return dt.date.fromisoformat(text)
        except ValueError:
            raise InvalidEvidenceDateError(
                f"{value[:40]!r} is not an ISO date (YYYY-MM-DD) or date-time"
            ) from None
    raise InvalidEvidenceDateError(
        f"an evidence date is a datetime.date, a datetime or an ISO string, not {type(value).__name__}"
    )


def check_asn(value: object) -> int | None:
    """An AS number the caller gives: None, or an integer in 1..4294967295 (not a bool, not a float).

    Raises :class:`~ipevidence.errors.InvalidParameterError` otherwise: ``0`` and negative numbers
    are not "no ASN", and ``True`` or ``1.5`` are not AS numbers.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidParameterError(f"an AS number is an integer, not {type(value).__name__} {value!r}")
    n = int(value)
    if not 0 < n < 2**32:
        raise InvalidParameterError(f"AS number {n} is outside 1..4294967295")
    return n


def _gt_summary(gt: GroundTruth) -> dict[str, Any]:
    dates = gt.date[~np.isnat(gt.date)] if len(gt) else gt.date
    prov = gt.provenance
    archive: dict[str, Any] | None = None
    if prov is not None:
        days = canonical_json([d.to_dict() for d in prov.days], indent=None)
        archive = {
            "source": prov.source,
            "start": prov.start.isoformat(),
            "end": prov.end.isoformat(),
            "days_used": len(prov.used),
            "days_missing": [d.day.isoformat() for d in prov.missing],
            "days_corrupt": [d.to_dict() for d in prov.corrupt],
            "days_sha256": hashlib.sha256(days.encode()).hexdigest(),
        }
    try:
        params = to_jsonable(dict(gt.parameters))
    except TypeError:
        params = {str(k): str(v) for k, v in gt.parameters.items()}
    return {
        "family": gt.family,
        "rows": len(gt),
        "first_date": str(dates.min()) if dates.size else None,
        "last_date": str(dates.max()) if dates.size else None,
        "funnel": gt.funnel.to_dict(),
        "archive": archive,
        "parameters": params,
    }


def policy_likelihood_ratio(
    located: LocatedGroundTruth, policy: Policy, country: str, observed: str | None, first: int, last: int
) -> tuple[Any, str | None]:
    """The likelihood ratio of "the database says ``observed``" for Hp "the device was in
    ``country``" under the policy's Hd (:attr:`Policy.lr_hd`, :attr:`Policy.lr_alternatives`), with a
    note: why there is none, or what was removed from the alternatives.

    An address the database cannot place (``observed`` None) gets no LR: there is no country
    location to weigh. ``country`` named among the alternatives is removed from Hd with a note
    (a report over many countries must not fail on one of them).
    """
    p = policy
    if observed is None:
        return None, (
            "not computed: the database gives no country for this address, so there is no "
            f"country location to weigh for or against {country}"
        )
    note: str | None = None
    alternatives: Mapping[str, float] | list[str] | None = None
    if p.lr_alternatives is not None:
        named = [(c, w) for c, w in p.lr_alternatives if c != country]
        if len(named) < len(p.lr_alternatives):
            note = (
                f"{country} was named among the alternatives but is the proposition Hp itself; "
                "it was removed from Hd"
            )
        if not named:
            return None, (note or "") + (
                "; no alternative is left to weigh against" if note else "no alternative is left"
            )
        if p.lr_hd == "weighted":
            alternatives = {c: float(w or 0.0) for c, w in named}
            if sum(alternatives.values()) <= 0:
                return None, f"{note}; the remaining alternatives all have weight 0"
        else:
            alternatives = [c for c, _ in named]
    lr = located.evidence_lr(
        country,
        observed,
        first,
        last,
        alternatives=alternatives,
        mode=p.lr_hd,
        min_addresses=p.alternative_min_addresses,
        basis="conservative" if p.conservative else "point",
    )
    if lr is None:
        why = f"not computed: {country} has no ground truth in {first}-{last}"
        return None, why if note is None else f"{note}; {why}"
    if lr.headline is None:
        missing = ", ".join(lr.alternatives_without_data) or "none"
        why = (
            f"not computed: no alternative has enough ground truth in {first}-{last} (at least "
            f"{p.alternative_min_addresses:,} addresses; without: {missing})"
        )
        return None, why if note is None else f"{note}; {why}"
    return lr, note


# --------------------------------------------------------------------------------------------
# The assessor
# --------------------------------------------------------------------------------------------


class EvidentialAssessor(VerdictCriteria):
    """Verdicts for evidence addresses from one ground truth and one database under a policy.

    The database answer for every ground-truth row is looked up once (on first use); country
    evaluations per window are cached, so later calls cost a lookup of the evidence address.
    """

    def __init__(
        self,
        ground_truth: GroundTruth,
        backend: GeoBackend,
        policy: Policy | str = "default",
        *,
        asn_table: AsnTable | None = None,
        cloud_ranges: CloudRanges | ProviderRanges | None = None,
        catalog: DatabaseCatalog | None = None,
    ) -> None:
        self.policy = Policy.preset(policy) if isinstance(policy, str) else policy
        self.catalog = catalog
        self._staleness: dict[str, StalenessTable] = {}
        self.asn_table = asn_table
        self.cloud_ranges = cloud_ranges
        if ground_truth.family not in backend.families:
            raise FamilyMismatchError(
                f"the ground truth is IPv{ground_truth.family} but the database covers only "
                f"{', '.join(f'IPv{f}' for f in sorted(backend.families)) or 'no family'}"
            )
        self.ground_truth = ground_truth
        self.backend = backend
        self._located: LocatedGroundTruth | None = None
        self._countries: dict[tuple[str, int, int], CountryEvaluation] = {}
        self._lrs: dict[tuple[str, str, int, int], tuple[Any, str | None]] = {}
        self._provenance: Mapping[str, Any] | None = None
        self._geo_index: GeoIndicators | None = None
        self._covered: dict[tuple[str, int], npt.NDArray[np.bool_]] = {}

    @property
    def _geo(self) -> GeoIndicators:
        if self._geo_index is None:
            self._geo_index = GeoIndicators(self.ground_truth, self.located)
        return self._geo_index

    @property
    def located(self) -> LocatedGroundTruth:
        """The ground truth geolocated by the database (built on first use)."""
        if self._located is None:
            self._located = LocatedGroundTruth.from_backend(
                self.ground_truth,
                self.backend,
                method=self.policy.interval,
                level=self.policy.level,
                clustering=self.policy.clustering,
                min_icc=self.policy.min_icc,
            )
        return self._located

    def provenance(self) -> Mapping[str, Any]:
        """Library version, policy, ground-truth summary and database (read-only; shared by verdicts)."""
        if self._provenance is None:
            self._provenance = MappingProxyType(
                {
                    "library_version": __version__,
                    "policy": self.policy.to_dict(),
                    "ground_truth": _gt_summary(self.ground_truth),
                    "database": self.backend.describe().to_dict(),
                    "asn_table": None if self.asn_table is None else self.asn_table.describe(),
                    "cloud_ranges": None if self.cloud_ranges is None else self.cloud_ranges.describe(),
                }
            )
        return self._provenance

    # -- the address's network and the likelihood ratio ------------------------------------------

    def _lr(self, country: str, observed: str | None, first: int, last: int) -> tuple[Any, str | None]:
        """The likelihood ratio of "the database says ``observed``" for Hp = ``country`` under the
        policy's Hd, with a note (why there is none, or what was removed from the alternatives)."""
        key = (country, observed or "", first, last)
        if key not in self._lrs:
            self._lrs[key] = policy_likelihood_ratio(
                self.located, self.policy, country, observed, first, last
            )
        return self._lrs[key]

    def _network(self, addr: str, when: dt.date, asn: int | None) -> NetworkClass:
        """ASN and cloud/hosting status of the evidence address: the caller's ASN, else the caller's
        IP-to-ASN table, else (``network_data``) the shipped table nearest the evidence date."""
        names = {a: _HOSTING_NAMES.get(a, f"AS{a}") for a in self.policy.cloud_asns}
        if self.policy.network_data:
            return classify_for_evidence(
                addr, when, asn=asn, asn_table=self.asn_table, cloud_ranges=self.cloud_ranges, asns=names
            )
        return classify_address(
            addr, asn=asn, asn_table=self.asn_table, cloud_ranges=self.cloud_ranges, asns=names
        )

    # -- the verdict -----------------------------------------------------------------------------

    def assess(
        self,
        ip: str,
        date: dt.date | dt.datetime | str,
        claimed_country: str | None = None,
        *,
        asn: int | None = None,
    ) -> Verdict:
        """The verdict for ``ip`` seen at ``date`` (optionally claimed to show ``claimed_country``).

        Raises InvalidAddressError / ReservedAddressError, UnknownCountryError,
        OutsideGroundTruthError, FamilyMismatchError and InvalidParameterError (a date that is not a
        date, an AS number outside 1..4294967295; see :mod:`ipevidence.errors`).
        """
        addr = require_global(ip)
        family = addr.version
        when = _to_date(date)
        given_asn = check_asn(asn)
        if family != self.ground_truth.family:
            raise FamilyMismatchError(
                f"{ip} is IPv{family} but the ground truth is IPv{self.ground_truth.family}: "
                f"use an IPv{family} ground truth"
            )
        claimed = normalize_country(claimed_country) if claimed_country else None
        p = self.policy
        first, last = self.located.window(when.year, p.window_years)
        located = self.backend.country(str(addr))
        located = normalize_country(located) if located else None
        country = located or claimed
        evaluation = self.evaluate_country(country, first, last) if country else None
        net = self._network(str(addr), when, given_asn)
        net_crit, net_reasons, net_acc = self._network_criteria(net, located, first, last)
        gap = abs((self.backend.build_date - when).days)
        crit = self._case_criteria(
            evaluation, located, net_crit, claimed, self._database_criterion(located, when, gap, first, last)
        )
        outcome = outcome_of(crit)
        reasons = self._reasons(crit, family, located, claimed, outcome)
        reasons.extend(net_reasons)
        hp = claimed or located
        lr, lr_note = self._lr(hp, located, first, last) if p.report_lr and hp else (None, None)
        if lr_note and lr is not None:
            reasons.append(lr_note)
        return Verdict(
            ip=str(addr),
            family=family,
            date=when,
            claimed_country=claimed,
            located_country=located,
            country=country,
            outcome=outcome,
            reasons=tuple(reasons),
            criteria=tuple(crit),
            window=(first, last),
            accuracy=None if evaluation is None else evaluation.accuracy,
            likelihood_ratio=lr,
            asn=net.asn,
            network=net.to_dict(),
            database_gap_days=gap,
            coverage=None if evaluation is None else evaluation.coverage,
            provenance=self.provenance(),
            network_accuracy=net_acc,
            lr_note=lr_note if lr is None else None,
        )

    @staticmethod
    def _reasons(
        crit: list[Criterion], family: int, located: str | None, claimed: str | None, outcome: str
    ) -> list[str]:
        out: list[str] = []
        if located is None:
            out.append("the database cannot place this address, so there is no country location to assess")
        if claimed is not None and located is not None and located != claimed:
            out.append(f"the database places the address in {located}, not in the claimed {claimed}")
        for c in crit:
            if c.failed and c.group not in ("claim",) and c.name != "located":
                out.append(
                    f"{c.description} is {c.figure_text()}, "
                    f"the policy requires {c.comparison} {c.threshold_text()}"
                )
        if any(c.failed for c in crit if c.name == "accuracy_upper"):
            out.append(
                "the accuracy is clearly below the threshold (even its upper confidence bound is): "
                "a negative finding, however few addresses there are"
            )
        elif any(c.failed for c in crit if c.group == "data"):
            out.append(
                f"{'IPv6 ' if family == 6 else ''}ground truth is too thin for this country and window: "
                "insufficient data, not a negative finding"
            )
        for c in crit:
            if c.required and c.passed is None and c.group != "address":
                out.append(f"{c.description} could not be measured, so the evidence cannot be valid on it")
        for c in crit:
            if not c.required and c.passed is False:
                out.append(
                    f"flag: {c.description} is {c.figure_text()} "
                    f"(advisory limit {c.comparison} {c.threshold_text()})"
                )
        if outcome == VALID:
            out.insert(0, "every required criterion passed")
        return out

    def table(self, countries: Iterable[str], date: dt.date | dt.datetime | str) -> Table:
        """The evidential table (the paper's Table 8) for evidence dated ``date``."""
        when = _to_date(date)
        first, last = self.located.window(when.year, self.policy.window_years)
        p = self.policy
        rows = []
        for c in countries:
            ev = self.evaluate_country(c, first, last)
            acc = ev.accuracy
            iv = acc.hist_all.selected(p.not_located)
            rows.append(
                (
                    ev.country,
                    percent_down(acc.hist_min),
                    percent_down(iv.estimate),
                    percent_down(acc.hist_min_low),
                    percent_down(iv.low),
                    acc.addresses,
                    None if not iv.trials else int(iv.effective_n),
                    ev.valid_geography,
                    ev.outcome == VALID,
                    ev.outcome,
                )
            )
        return Table(
            title=f"Evidential data of IP country location evidence dated to {last} ({first}-{last})",
            columns=(
                "Country",
                "Hist min",
                "Hist all",
                "Hist min low",
                "Hist all low",
                "Addresses",
                "Effective n",
                "Valid geography",
                "Valid evidence",
                "Outcome",
            ),
            rows=tuple(rows),
            notes=(
                f"Policy {p.name}: threshold {100 * p.threshold:g} % on "
                f"{'lower bounds' if p.conservative else 'point estimates'} "
                f"({100 * p.level:g} % {p.interval}, "
                f"{'clustered by probe' if p.clustering == 'probe' else 'addresses as independent trials'}).",
                "Effective n: the independent trials the Hist all counts are worth once the many addresses "
                "one probe gives are accounted for (addresses / design effect; rounded down).",
                "Percentages are rounded down, so a shown figure never exceeds the measured one.",
                "Each piece of evidence should still be assessed individually.",
            ),
        )


# --------------------------------------------------------------------------------------------
# The one-call form
# --------------------------------------------------------------------------------------------

_CACHE: collections.OrderedDict[tuple[Any, ...], tuple[EvidentialAssessor, tuple[Any, ...]]] = (
    collections.OrderedDict()
)
_CACHE_SIZE: Final = 4


def clear_assessor_cache() -> None:
    """Forget the assessors :func:`assess` keeps."""
    _CACHE.clear()


def _file_key(path: str | os.PathLike[str]) -> tuple[str, int, int]:
    real = os.path.realpath(path)
    st = os.stat(real)
    return real, st.st_size, st.st_mtime_ns


def _open_ground_truth(value: GroundTruth | str | os.PathLike[str]) -> GroundTruth:
    if isinstance(value, GroundTruth):
        return value
    return GroundTruth.load(value)


def _database_path(value: str | os.PathLike[str] | None) -> str | os.PathLike[str]:
    if value is not None:
        return value
    from .defaults import default_database_path

    return default_database_path()


def _open_backend(value: GeoBackend | str | os.PathLike[str] | None) -> GeoBackend:
    if value is None or isinstance(value, str | os.PathLike):
        from .backends import open_database

        return open_database(_database_path(value))
    return value


def assess(
    ip: str,
    date: dt.date | dt.datetime | str,
    *,
    claimed_country: str | None = None,
    ground_truth: GroundTruth | str | os.PathLike[str],
    database: GeoBackend | str | os.PathLike[str] | None = None,
    policy: Policy | str = "default",
    asn: int | None = None,
    asn_table: AsnTable | None = None,
    cloud_ranges: CloudRanges | ProviderRanges | None = None,
) -> Verdict:
    """The verdict for ``ip`` at ``date``: opens what it is given and caches the assessor.

    ``ground_truth`` is a :class:`GroundTruth` or the path of a saved one; ``database`` a backend,
    the path of a database file (any format :func:`ipevidence.backends.open_database` reads), or
    None for the shipped IP2Location LITE DB1. ``policy`` is a preset name or a :class:`Policy`.
    ``asn`` is the evidence address's ASN when known (from the log or WHOIS); ``asn_table`` (a
    pyasn file loaded as :class:`~ipevidence.networks.AsnTable`) and ``cloud_ranges`` (providers'
    range files) let the verdict check the address's network itself.
    Files are cached by their real path, size and modification time; objects by identity.
    """
    pol = Policy.preset(policy) if isinstance(policy, str) else policy
    gt_key: tuple[Any, ...] = (
        ("object", id(ground_truth))
        if isinstance(ground_truth, GroundTruth)
        else ("file", *_file_key(ground_truth))
    )
    db_key: tuple[Any, ...] = (
        ("file", *_file_key(_database_path(database)))
        if database is None or isinstance(database, str | os.PathLike)
        else ("object", id(database))
    )
    key = (gt_key, db_key, pol, id(asn_table), id(cloud_ranges))
    hit = _CACHE.get(key)
    if hit is None:
        assessor = EvidentialAssessor(
            _open_ground_truth(ground_truth),
            _open_backend(database),
            pol,
            asn_table=asn_table,
            cloud_ranges=cloud_ranges,
        )
        # Keep the objects alive while cached, so that their ids are not reused.
        _CACHE[key] = (assessor, (ground_truth, database, asn_table, cloud_ranges))
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
        assessor = hit[0]
    return assessor.assess(ip, date, claimed_country=claimed_country, asn=asn)
