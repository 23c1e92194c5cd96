"""The criteria of a verdict: country (data, accuracy, geography), case (address, network, claim, database).

:class:`VerdictCriteria` is a base class of :class:`~ipevidence.assessment.EvidentialAssessor` and
works on its policy, ground truth, database, catalogue and caches (declared below); it is not used
on its own. At the country level, :meth:`~VerdictCriteria.evaluate_country` gives the data,
accuracy and geography criteria of a country over a window (cached per window); at the case level,
the address's (located, cloud or hosting), the network's accuracy, the claim's and the database's
criteria, put in a verdict's order by :meth:`~VerdictCriteria._case_criteria`. Both
:meth:`~ipevidence.assessment.EvidentialAssessor.assess` and :func:`ipevidence.triage.assess_many`
build their verdicts from these. The outcome rule and the verdict's parts are
:mod:`ipevidence.verdict`; the policy is :mod:`ipevidence.policy`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from .countries import normalize_country
from .coverage import CoverageResult, coverage_from_mask, covered_cities
from .geoindicators import border_removed_share, overseas_parts
from .verdict import CountryEvaluation, Criterion

if TYPE_CHECKING:
    from .accuracy import LocatedGroundTruth, YearAccuracy
    from .backends.base import GeoBackend
    from .catalog import DatabaseCatalog
    from .geoindicators import GeoIndicators
    from .groundtruth import GroundTruth
    from .networks import NetworkClass
    from .policy import Policy
    from .staleness import StalenessTable

__all__ = ["VerdictCriteria"]


class VerdictCriteria:
    """The criteria of a verdict, country and case; the base class of
    :class:`~ipevidence.assessment.EvidentialAssessor`, which provides the attributes declared here."""

    policy: Policy
    ground_truth: GroundTruth
    backend: GeoBackend
    catalog: DatabaseCatalog | None
    _staleness: dict[str, StalenessTable]
    _countries: dict[tuple[str, int, int], CountryEvaluation]
    _covered: dict[tuple[str, int], npt.NDArray[np.bool_]]

    if TYPE_CHECKING:

        @property
        def _geo(self) -> GeoIndicators: ...

        @property
        def located(self) -> LocatedGroundTruth: ...

    # -- country level ---------------------------------------------------------------------------

    def evaluate_country(self, country: str, first: int, last: int) -> CountryEvaluation:
        """Data, accuracy and geography criteria of ``country`` over ``first``..``last`` (cached)."""
        code = normalize_country(country)
        key = (code, first, last)
        cached = self._countries.get(key)
        if cached is not None:
            return cached
        p = self.policy
        lgt = self.located
        acc = lgt.country_accuracy(code, first, last, p.not_located)
        crit: list[Criterion] = []
        years = last - first + 1
        crit.append(
            Criterion(
                "window_years",
                "data",
                f"years of ground truth in the window {first}-{last} (the policy's window is "
                f"{p.window_years} years)",
                years,
                p.min_window_years,
                ">=",
                years >= p.min_window_years,
            )
        )
        total = acc.addresses
        crit.append(
            Criterion(
                "addresses_total",
                "data",
                f"ground-truth addresses of {code}, {first}-{last}",
                total,
                p.min_addresses_total,
                ">=",
                total >= p.min_addresses_total,
            )
        )
        fewest = min(acc.years, key=lambda y: (y.addresses, y.year))
        crit.append(
            Criterion(
                "addresses_per_year",
                "data",
                f"fewest addresses in one year ({fewest.year})",
                fewest.addresses,
                p.min_addresses_per_year,
                ">=",
                fewest.addresses >= p.min_addresses_per_year,
            )
        )
        basis = "lower bound" if p.conservative else "point estimate"
        hist_min = acc.hist_min_low if p.conservative else acc.hist_min
        hist_all_iv = acc.hist_all.selected(p.not_located)
        hist_all = hist_all_iv.low if p.conservative else hist_all_iv.estimate
        min_year = acc.hist_min_low_year if p.conservative else acc.hist_min_year
        crit.append(
            Criterion(
                "hist_min",
                "accuracy",
                f"Hist min, lowest yearly accuracy ({basis}{'' if min_year is None else f', {min_year}'})",
                hist_min,
                p.threshold,
                ">=",
                None if hist_min is None else hist_min >= p.threshold,
                unit="%",
            )
        )
        crit.append(
            Criterion(
                "hist_all",
                "accuracy",
                f"Hist all, accuracy over {first}-{last} ({basis})",
                hist_all,
                p.threshold,
                ">=",
                None if hist_all is None else hist_all >= p.threshold,
                unit="%",
            )
        )
        # A clear failure: even the upper confidence bound of Hist all or of some year is below the
        # threshold. This makes the evidence "not valid" however few addresses there are (a thin
        # but clearly bad record is a negative finding, not "insufficient data").
        uppers = [
            (iv.high, y.year)
            for y in acc.years
            for iv in (y.selected(p.not_located),)
            if iv.trials and iv.high is not None
        ]
        if hist_all_iv.trials and hist_all_iv.high is not None:
            uppers.append((hist_all_iv.high, None))
        if uppers:
            upper, upper_year = min(uppers, key=lambda t: (t[0], t[1] or 0))
            where = f"{upper_year}" if upper_year is not None else f"{first}-{last}"
            crit.append(
                Criterion(
                    "accuracy_upper",
                    "accuracy",
                    f"lowest upper confidence bound of the accuracy ({where}; below the threshold is a "
                    "clear failure)",
                    upper,
                    p.threshold,
                    ">=",
                    upper >= p.threshold,
                    unit="%",
                )
            )
        # Valid geography.
        rows = lgt.rows_of(code, first, last)
        probes, asns, points = self._geo.indicators(code, first, last)
        cov = self._coverage(code, first, last, points) if rows.size else None
        req = p.geography_required
        crit.append(
            Criterion(
                "distinct_probes",
                "geography",
                "distinct probes",
                probes,
                p.min_distinct_probes,
                ">=",
                probes >= p.min_distinct_probes,
                req,
            )
        )
        crit.append(
            Criterion(
                "distinct_asns",
                "geography",
                "distinct ASNs",
                asns,
                p.min_distinct_asns,
                ">=",
                asns >= p.min_distinct_asns,
                req,
            )
        )
        share = None if cov is None else cov.share
        crit.append(
            Criterion(
                "population_coverage",
                "geography",
                f"share of the city population within {p.coverage_km:g} km of a ground-truth point",
                share,
                p.min_population_coverage,
                ">=",
                None if share is None else share >= p.min_population_coverage,
                req,
                unit="%",
            )
        )
        border = border_removed_share(self.ground_truth)
        crit.append(
            Criterion(
                "border_removed_share",
                "geography",
                "share of records removed for coordinates outside the declared country (all countries)",
                border,
                p.max_border_removed_share,
                "<=",
                None if border is None else border <= p.max_border_removed_share,
                req,
                unit="%",
            )
        )
        overseas = overseas_parts(code)
        crit.append(
            Criterion(
                "overseas_parts",
                "geography",
                "polygon parts outside the main territory (overseas parts, exclaves; flagged)",
                overseas,
                0,
                "==",
                overseas == 0,
                p.overseas_invalid and req,
            )
        )
        result = CountryEvaluation(
            country=code,
            first=first,
            last=last,
            accuracy=acc,
            criteria=tuple(crit),
            coverage=cov,
            distinct_probes=probes,
            distinct_asns=asns,
        )
        self._countries[key] = result
        return result

    def _coverage(self, code: str, first: int, last: int, points: int) -> CoverageResult:
        """Population coverage of a window: the union of per-year covered cities (cached per year)."""
        km = self.policy.coverage_km
        mask: npt.NDArray[np.bool_] | None = None
        for year in range(first, last + 1):
            key = (code, year)
            if key not in self._covered:
                lat, lon = self._geo.locations(code, year)
                self._covered[key] = covered_cities(code, lat, lon, km)[0]
            mask = self._covered[key] if mask is None else mask | self._covered[key]
        assert mask is not None
        return coverage_from_mask(code, mask, km, points)

    # -- case level ------------------------------------------------------------------------------

    def _cloud_criterion(self, asn: int | None, provider: str | None) -> Criterion:
        """The cloud/hosting criterion of an address whose network has ``asn`` (None: unknown) and
        cloud/hosting ``provider`` (None: not one); not measured when neither is known.

        Shared by :meth:`~ipevidence.assessment.EvidentialAssessor.assess` and
        :func:`ipevidence.triage.assess_many` (which calls it once per distinct pair)."""
        checked = provider is not None or asn is not None
        return Criterion(
            "cloud_hosting",
            "address",
            "address in a cloud or hosting network",
            (provider or "no") if checked else None,
            "no",
            "==",
            (provider is None) if checked else None,
            self.policy.cloud_invalid,
        )

    def _network_criteria(
        self, net: NetworkClass, country: str | None, first: int, last: int
    ) -> tuple[list[Criterion], list[str], YearAccuracy | None]:
        """The cloud/hosting criterion and the ground truth of the address's own network."""
        crit: list[Criterion] = [self._cloud_criterion(net.asn, net.provider)]
        reasons: list[str] = []
        checked = net.is_cloud or net.asn is not None
        if not checked:
            missing = getattr(net, "missing", None) or (
                "no ASN was given, no IP-to-ASN table answered and no cloud range file matched"
            )
            reasons.append(
                f"the address's network could not be checked ({missing}): a cloud, hosting or VPN "
                "address cannot be ruled out, so the evidence cannot be valid on this check"
            )
        elif net.is_cloud:
            reasons.append(f"{net.reason}: a cloud or hosting address says nothing about where the user was")
        net_acc: YearAccuracy | None = None
        if country is not None and net.asn is not None and not net.is_cloud:
            acc_crit, acc_reasons, net_acc = self._network_accuracy_criterion(country, net.asn, first, last)
            crit.append(acc_crit)
            reasons.extend(acc_reasons)
        return crit, reasons, net_acc

    def _network_accuracy_criterion(
        self, country: str, asn: int, first: int, last: int
    ) -> tuple[Criterion, list[str], YearAccuracy]:
        """The accuracy on the ground truth of AS ``asn`` within ``country`` over the window (a
        criterion when :attr:`Policy.network_required`, else reported), with a note when thin."""
        p = self.policy
        reasons: list[str] = []
        net_acc = self.located.network_accuracy(country, asn, first, last, p.not_located)
        iv = net_acc.selected(p.not_located)
        enough = net_acc.addresses >= p.min_network_addresses
        figure = (iv.low if p.conservative else iv.estimate) if enough else None
        basis = "lower bound" if p.conservative else "point estimate"
        criterion = Criterion(
            "network_accuracy",
            "network",
            f"accuracy on the ground truth of AS{asn} within {country}, {first}-{last} "
            f"({basis}; {net_acc.addresses:,} addresses)",
            figure,
            p.threshold,
            ">=",
            None if figure is None else figure >= p.threshold,
            p.network_required,
            unit="%",
        )
        if not enough:
            reasons.append(
                f"the ground truth holds {net_acc.addresses:,} addresses of AS{asn} in {country} "
                f"in {first}-{last} (fewer than {p.min_network_addresses:,}): the country's accuracy "
                "was measured on other networks"
            )
        return criterion, reasons, net_acc

    def _database_keys(
        self, located: npt.NDArray[np.int64], days: npt.NDArray[np.datetime64]
    ) -> npt.NDArray[np.int64]:
        """Vectorised, for :func:`ipevidence.triage.assess_many`: a key per case (``located`` a
        country column as integers, 0 = not located; ``days`` the evidence dates) such that cases
        with equal keys get equal :meth:`_database_criterion`: what it reads of the case. Keep the
        two in step (tests/test_triage.py compares every case with
        :meth:`~ipevidence.assessment.EvidentialAssessor.assess`)."""
        delta = (days - np.datetime64(self.backend.build_date, "D")).astype(np.int64)
        gap = np.abs(delta)
        if self.catalog is None:
            return gap  # the flat gap flag: the gap alone
        year = days.astype("datetime64[Y]").astype(np.int64)  # the age in years and the window
        keys: npt.NDArray[np.int64] = np.where(located > 0, (located << 40) | (year << 24), gap)
        return keys

    def _database_criterion(
        self, located: str | None, when: dt.date, gap: int, first: int, last: int
    ) -> Criterion:
        """The database's age against the evidence date: measured on the catalogue's builds of the
        same age when a catalogue is given (docs/databases.md), else the flat gap flag."""
        p = self.policy
        build = self.backend.build_date
        if self.catalog is None or located is None:
            return Criterion(
                "database_gap_days",
                "database",
                "days between the database build and the evidence date",
                gap,
                p.max_database_gap_days,
                "<=",
                gap <= p.max_database_gap_days,
                False,
            )
        from .staleness import staleness_table

        if located not in self._staleness:
            self._staleness[located] = staleness_table(
                self.ground_truth, self.catalog, countries=[located], method=p.interval, level=p.level
            )
        age = self._staleness[located].accuracy_for(
            located, build, when, not_located=p.not_located, first_year=first, last_year=last
        )
        iv = age.interval
        figure = None if iv is None else (iv.low if p.conservative else iv.estimate)
        basis = "lower bound" if p.conservative else "point estimate"
        return Criterion(
            "database_age_accuracy",
            "database",
            f"accuracy in {located} of the catalogue's builds {age.age_years} year(s) older than the "
            f"evidence, as the database built {build.isoformat()} is ({basis}, weakest of "
            f"{len(age.cells)} build-year cell(s) in {first}-{last})",
            figure,
            p.threshold,
            ">=",
            None if figure is None else figure >= p.threshold,
            unit="%",
        )

    @staticmethod
    def _located_criterion(located: str | None) -> Criterion:
        """Whether the database places the address in a country at all."""
        return Criterion(
            "located",
            "address",
            "the database places the address in a country",
            located or "not located",
            None,
            "",
            located is not None,
        )

    @staticmethod
    def _claim_criterion(located: str | None, claimed: str) -> Criterion:
        """Whether the database's country is the claimed one."""
        return Criterion(
            "claim",
            "claim",
            "the database's country is the claimed country",
            located or "not located",
            claimed,
            "==",
            located == claimed,
        )

    @classmethod
    def _case_criteria(
        cls,
        evaluation: CountryEvaluation | None,
        located: str | None,
        network: Iterable[Criterion],
        claimed: str | None,
        database: Criterion,
    ) -> list[Criterion]:
        """A verdict's criteria in their order: the country's (data, accuracy, geography), the
        address's (located, network), the claim's, the database's. The same for
        :meth:`~ipevidence.assessment.EvidentialAssessor.assess` and :func:`ipevidence.triage.assess_many`:
        the reason code of a case is its first decisive criterion in this order."""
        crit: list[Criterion] = [] if evaluation is None else list(evaluation.criteria)
        crit.append(cls._located_criterion(located))
        crit.extend(network)
        if claimed is not None:
            crit.append(cls._claim_criterion(located, claimed))
        crit.append(database)
        return crit
