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

Outcome: a failing ``address`` or ``claim`` criterion makes the evidence ``not valid``; otherwise a
failing ``data`` criterion makes it ``insufficient data``; otherwise any failing required criterion
makes it ``not valid``; otherwise it is ``valid``.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import html
import os
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final, Literal

import attrs
import numpy as np
import numpy.typing as npt

from ._version import __version__
from .accuracy import CountryAccuracy, LocatedGroundTruth, Table
from .addresses import require_global
from .backends.base import GeoBackend
from .countries import country_name, normalize_country
from .coverage import CoverageResult, coverage_from_mask, covered_cities, unique_points
from .errors import FamilyMismatchError
from .geography import Borders
from .groundtruth import GroundTruth
from .jsonutil import canonical_json, to_jsonable
from .networks import DEFAULT_CLOUD_ASNS as _NETWORK_CLOUD_ASNS
from .networks import AsnTable, CloudRanges, NetworkClass, ProviderRanges, classify_address
from .stats import INTERVAL_METHODS, LikelihoodRatio, percent_down, round_directed

__all__ = [
    "DEFAULT_CLOUD_ASNS",
    "PRESETS",
    "Criterion",
    "EvidentialAssessor",
    "Outcome",
    "Policy",
    "Verdict",
    "assess",
    "clear_assessor_cache",
    "overseas_parts",
]

Outcome = Literal["valid", "not valid", "insufficient data"]
VALID: Final = "valid"
NOT_VALID: Final = "not valid"
INSUFFICIENT: Final = "insufficient data"

#: The method's cloud set (METHOD.md section 6), from :data:`ipevidence.networks.DEFAULT_CLOUD_ASNS`.
DEFAULT_CLOUD_ASNS: Final = frozenset(int(a) for a in _NETWORK_CLOUD_ASNS)


def overseas_parts(country: str) -> int:
    """Polygon parts of ``country`` outside its main territory (Natural Earth 1:10m), 0 for none."""
    return Borders.load("10m").overseas_parts(normalize_country(country))


def _alternatives(
    value: Mapping[str, float] | Iterable[tuple[str, float]] | None,
) -> tuple[tuple[str, float], ...] | None:
    if value is None:
        return None
    items = value.items() if isinstance(value, Mapping) else value
    return tuple(sorted((normalize_country(c), float(w)) for c, w in items))


def _asns(value: Iterable[int]) -> frozenset[int]:
    return frozenset(int(a) for a in value)


@attrs.frozen
class Policy:
    """Every parameter of the verdict (METHOD.md section 13); build one with :meth:`preset`.

    ``window_years`` years ending with the evidence's year; ``threshold`` applied to lower
    confidence bounds when ``conservative`` (else to point estimates); ``interval``/``level`` for
    every interval; ``not_located`` ``"exclude"`` (reference) or ``"wrong"``; minimum addresses over
    the window and per year; valid-geography thresholds (``geography_required`` makes them decide);
    the cloud/hosting ASN set; likelihood-ratio settings; the database date gap that draws a flag.
    """

    name: str = "default"
    window_years: int = 8
    threshold: float = 0.95
    conservative: bool = True
    interval: str = "wilson"
    level: float = 0.95
    not_located: str = "exclude"
    min_addresses_total: int = 1000
    min_addresses_per_year: int = 100
    geography_required: bool = True
    min_distinct_probes: int = 30
    min_distinct_asns: int = 5
    coverage_km: float = 50.0
    min_population_coverage: float = 0.5
    max_border_removed_share: float = 0.10
    overseas_invalid: bool = False
    cloud_asns: frozenset[int] = attrs.field(default=DEFAULT_CLOUD_ASNS, converter=_asns)
    cloud_invalid: bool = True
    report_lr: bool = True
    lr_alternatives: tuple[tuple[str, float], ...] | None = attrs.field(default=None, converter=_alternatives)
    lr_zero_count: str = "jeffreys"
    max_database_gap_days: int = 365

    def __attrs_post_init__(self) -> None:
        if self.window_years < 1:
            raise ValueError("window_years must be at least 1")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError("threshold must lie in (0, 1]")
        if self.interval not in INTERVAL_METHODS:
            raise ValueError(f"interval must be one of {', '.join(INTERVAL_METHODS)}")
        if not 0.0 < self.level < 1.0:
            raise ValueError("level must lie in (0, 1)")
        if self.not_located not in ("exclude", "wrong"):
            raise ValueError("not_located must be 'exclude' or 'wrong'")
        if self.lr_zero_count not in ("jeffreys", "rule-of-three"):
            raise ValueError("lr_zero_count must be 'jeffreys' or 'rule-of-three'")
        if self.coverage_km <= 0:
            raise ValueError("coverage_km must be positive")

    @classmethod
    def preset(cls, name: str, **changes: Any) -> Policy:
        """A named preset (``"reference"`` or ``"default"``), optionally with changed parameters."""
        try:
            base = PRESETS[name]
        except KeyError:
            raise ValueError(
                f"unknown policy preset {name!r}: expected one of {', '.join(sorted(PRESETS))}"
            ) from None
        return attrs.evolve(base, **changes) if changes else base

    def to_dict(self) -> dict[str, Any]:
        data = attrs.asdict(self, recurse=False)
        data["cloud_asns"] = sorted(self.cloud_asns)
        data["lr_alternatives"] = (
            None if self.lr_alternatives is None else [list(x) for x in self.lr_alternatives]
        )
        return data


PRESETS: Final[dict[str, Policy]] = {
    "default": Policy(),
    "reference": Policy(
        name="reference",
        conservative=False,
        min_addresses_total=1,
        min_addresses_per_year=1,
        geography_required=False,
        report_lr=False,
    ),
}


@attrs.frozen
class Criterion:
    """One test of the verdict: its figure, threshold, and whether it passed.

    ``passed`` is None when the figure could not be measured or the test is informational.
    ``required`` criteria decide the outcome; others are reported (flags).
    """

    name: str
    group: str
    description: str
    figure: float | int | str | None
    threshold: float | int | str | None
    comparison: str
    passed: bool | None
    required: bool = True
    unit: str = ""

    @property
    def failed(self) -> bool:
        return self.required and self.passed is False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "group": self.group,
            "description": self.description,
            "figure": self.figure,
            "threshold": self.threshold,
            "comparison": self.comparison,
            "passed": self.passed,
            "required": self.required,
            "unit": self.unit,
        }

    def figure_text(self) -> str:
        """The figure as shown to a reader, rounded AGAINST passing: down for a ``>=`` test and up
        for a ``<=`` test, so a shown figure never seems to meet a threshold the raw one misses."""
        direction = {">=": "down", "<=": "up"}.get(self.comparison, "nearest")
        return _fmt(self.figure, self.unit, direction=direction)

    def threshold_text(self) -> str:
        return _fmt(self.threshold, self.unit)

    def status(self) -> str:
        if self.passed is None:
            return "not measured" if self.figure is None else "reported"
        if self.passed:
            return "pass"
        if self.group == "data":
            # too little ground truth: "insufficient data", which is not a negative finding
            return "insufficient"
        return "FAIL" if self.required else "flag"

    def __str__(self) -> str:
        fig = self.figure_text()
        thr = "" if self.threshold is None else f" (threshold {self.comparison} {self.threshold_text()})"
        return f"{self.description}: {fig}{thr} - {self.status()}"


def _fmt(value: Any, unit: str = "", *, direction: str = "nearest") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if unit == "%" and isinstance(value, int | float):
        return f"{round_directed(100 * value, 2, direction):.2f} %"
    if isinstance(value, float):
        if value < 1.0:
            return f"{round_directed(value, 4, direction):.4f}"
        return f"{round_directed(value, 2, direction):,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _outcome(criteria: Iterable[Criterion]) -> str:
    crit = list(criteria)
    if any(c.failed for c in crit if c.group in ("address", "claim")):
        return NOT_VALID
    if any(c.failed for c in crit if c.group == "data"):
        return INSUFFICIENT
    if any(c.failed for c in crit):
        return NOT_VALID
    return VALID


@attrs.frozen
class CountryEvaluation:
    """The country-level part of a verdict for one window (shared by every address of it)."""

    country: str
    first: int
    last: int
    accuracy: CountryAccuracy
    criteria: tuple[Criterion, ...]
    coverage: CoverageResult | None
    distinct_probes: int
    distinct_asns: int

    @property
    def outcome(self) -> str:
        return _outcome(self.criteria)

    @property
    def valid_geography(self) -> bool:
        return not any(
            c.passed is False for c in self.criteria if c.group == "geography" and c.name != "overseas_parts"
        )


@attrs.frozen(eq=False)
class Verdict:
    """The evidential value of one address's country location at one date.

    Deterministic: the same inputs give the same :meth:`to_json` bytes (no wall-clock time).
    """

    ip: str
    family: int
    date: dt.date
    claimed_country: str | None
    located_country: str | None
    country: str | None
    outcome: str
    reasons: tuple[str, ...]
    criteria: tuple[Criterion, ...]
    window: tuple[int, int]
    accuracy: CountryAccuracy | None
    likelihood_ratio: LikelihoodRatio | None
    asn: int | None
    network: Mapping[str, Any]
    database_gap_days: int
    coverage: CoverageResult | None
    provenance: Mapping[str, Any]

    @property
    def is_valid(self) -> bool:
        return self.outcome == VALID

    def to_dict(self) -> dict[str, Any]:
        data = {
            "ip": self.ip,
            "family": self.family,
            "date": self.date.isoformat(),
            "claimed_country": self.claimed_country,
            "located_country": self.located_country,
            "country": self.country,
            "outcome": self.outcome,
            "reasons": list(self.reasons),
            "criteria": [c.to_dict() for c in self.criteria],
            "window": {"first": self.window[0], "last": self.window[1]},
            "accuracy": None if self.accuracy is None else self.accuracy.to_dict(),
            "likelihood_ratio": None if self.likelihood_ratio is None else self.likelihood_ratio.to_dict(),
            "asn": self.asn,
            "network": dict(self.network),
            "database_gap_days": self.database_gap_days,
            "coverage": None if self.coverage is None else self.coverage.to_dict(),
            "provenance": dict(self.provenance),
        }
        out: dict[str, Any] = to_jsonable(data)
        return out

    def to_json(self, *, indent: int | None = 2) -> str:
        """Canonical JSON (sorted keys): byte-identical for the same inputs."""
        return canonical_json(self.to_dict(), indent=indent)

    def _headline(self) -> str:
        where = self.located_country
        place = f"{where} ({country_name(where)})" if where else "no country (not located)"
        claim = f", claimed {self.claimed_country}" if self.claimed_country else ""
        return (
            f"{self.ip} on {self.date.isoformat()}: the database places it in {place}{claim}. "
            f"Country location evidence: {self.outcome.upper()}."
        )

    def __str__(self) -> str:
        parts = [self._headline()]
        parts.extend(f"{r[0].upper()}{r[1:]}." for r in self.reasons)
        if self.accuracy is not None:
            if self.accuracy.addresses:
                parts.append(f"Accuracy of the database on the ground truth of {self.accuracy}.")
            else:
                parts.append(
                    f"There is no ground truth of {self.accuracy.country} in {self.window[0]}-"
                    f"{self.window[1]}, so the database's accuracy there is not measured."
                )
        if self.likelihood_ratio is not None:
            parts.append(f"Likelihood ratio: {self.likelihood_ratio}.")
        net = "unknown ASN" if self.asn is None else f"AS{self.asn}"
        if self.network.get("is_cloud"):
            net += f" (cloud/hosting: {self.network.get('provider')})"
        parts.append(
            f"Address network: {net}. "
            f"Database built {self.provenance.get('database', {}).get('build_date', '?')}, "
            f"{self.database_gap_days} days from the evidence date."
        )
        lines = [" ".join(parts), "", "Criteria:"]
        lines.extend(f"  - [{c.group}] {c}" for c in self.criteria)
        return "\n".join(lines)

    def to_markdown(self) -> str:
        out = [f"### Verdict: {self.outcome.upper()}", "", self._headline(), ""]
        out.extend(f"- {r}" for r in self.reasons)
        out += ["", "| Group | Criterion | Figure | Threshold | Result |", "|---|---|---|---|---|"]
        for c in self.criteria:
            thr = "" if c.threshold is None else f"{c.comparison} {c.threshold_text()}"
            out.append(f"| {c.group} | {c.description} | {c.figure_text()} | {thr} | {c.status()} |")
        if self.accuracy is not None:
            out += ["", self.accuracy.table().to_markdown()]
        if self.likelihood_ratio is not None:
            out += ["", f"**Likelihood ratio**: {self.likelihood_ratio}"]
        db = self.provenance.get("database", {})
        out += [
            "",
            f"_ipevidence {self.provenance.get('library_version')}, "
            f"policy {self.provenance.get('policy', {}).get('name')}, "
            f"database {db.get('name')} (built {db.get('build_date')}, SHA-256 {db.get('sha256')})._",
        ]
        return "\n".join(out) + "\n"

    def to_pandas(self) -> Any:
        """The criteria as a pandas DataFrame, one row per criterion (figure, threshold, result);
        pandas is optional and imported only here."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "group": c.group,
                    "criterion": c.description,
                    "figure": c.figure,
                    "threshold": c.threshold,
                    "comparison": c.comparison,
                    "required": c.required,
                    "result": c.status(),
                }
                for c in self.criteria
            ],
            columns=["group", "criterion", "figure", "threshold", "comparison", "required", "result"],
        )

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(c.group)}</td><td>{html.escape(c.description)}</td>"
            f"<td>{html.escape(c.figure_text())}</td><td>{html.escape(c.threshold_text())}</td>"
            f"<td>{html.escape(c.status())}</td></tr>"
            for c in self.criteria
        )
        acc = self.accuracy.table()._repr_html_() if self.accuracy is not None else ""
        lr = (
            f"<p>Likelihood ratio: {html.escape(str(self.likelihood_ratio))}</p>"
            if self.likelihood_ratio
            else ""
        )
        return (
            f"<div><h3>Verdict: {html.escape(self.outcome.upper())}</h3>"
            f"<p>{html.escape(self._headline())}</p>"
            "<table><thead><tr><th>Group</th><th>Criterion</th><th>Figure</th><th>Threshold</th><th>Result</th>"
            f"</tr></thead><tbody>{rows}</tbody></table>{acc}{lr}</div>"
        )


# --------------------------------------------------------------------------------------------
# Helpers wiring the other modules
# --------------------------------------------------------------------------------------------


def _to_date(value: dt.date | dt.datetime | str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO date (YYYY-MM-DD)") from None
    raise TypeError(f"a date is a datetime.date or an ISO string, not {type(value).__name__}")


def _classify(
    ip: str,
    policy: Policy,
    asn: int | None,
    asn_table: AsnTable | None,
    cloud_ranges: CloudRanges | ProviderRanges | None,
) -> NetworkClass:
    """ASN and cloud/hosting status of the evidence address (:func:`ipevidence.networks.classify_address`)."""
    names = {a: _NETWORK_CLOUD_ASNS.get(a, f"AS{a}") for a in policy.cloud_asns}
    return classify_address(ip, asn=asn, asn_table=asn_table, cloud_ranges=cloud_ranges, asns=names)


def _border_share(gt: GroundTruth) -> float | None:
    for step in gt.funnel.steps:
        if "border" in step.name.lower() or "border" in step.description.lower():
            return step.removed / step.rows_in if step.rows_in else None
    return None


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


# --------------------------------------------------------------------------------------------
# The assessor
# --------------------------------------------------------------------------------------------


class _GeoIndex:
    """Row -> probe, ASN and location indices, built once, so that the valid-geography indicators
    of any set of rows cost a few boolean-mask writes (no sorting per country or window)."""

    def __init__(self, gt: GroundTruth) -> None:
        self.probes, self.probe_inv = np.unique(gt.probe_id, return_inverse=True)
        self.asns, self.asn_inv = np.unique(gt.asn, return_inverse=True)
        self.loc_lat, self.loc_lon, self.loc_inv = unique_points(gt.latitude, gt.longitude)

    def indicators(self, rows: npt.NDArray[np.intp]) -> tuple[int, int, int]:
        """Distinct probes, distinct known ASNs and distinct locations of ``rows``."""
        seen_p = np.zeros(self.probes.shape[0], dtype=np.bool_)
        seen_p[self.probe_inv[rows]] = True
        seen_a = np.zeros(self.asns.shape[0], dtype=np.bool_)
        seen_a[self.asn_inv[rows]] = True
        seen_a &= self.asns != 0
        loc = self.loc_inv[rows]
        seen_l = np.zeros(self.loc_lat.shape[0], dtype=np.bool_)
        seen_l[loc[loc >= 0]] = True
        return int(seen_p.sum()), int(seen_a.sum()), int(seen_l.sum())

    def locations(
        self, rows: npt.NDArray[np.intp]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """The distinct locations of ``rows``."""
        loc = self.loc_inv[rows]
        seen = np.zeros(self.loc_lat.shape[0], dtype=np.bool_)
        seen[loc[loc >= 0]] = True
        return self.loc_lat[seen], self.loc_lon[seen]


class EvidentialAssessor:
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
    ) -> None:
        self.policy = Policy.preset(policy) if isinstance(policy, str) else policy
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
        self._lrs: dict[tuple[str, str, int, int], LikelihoodRatio | None] = {}
        self._provenance: Mapping[str, Any] | None = None
        self._geo_index: _GeoIndex | None = None
        self._covered: dict[tuple[str, int], npt.NDArray[np.bool_]] = {}

    @property
    def _geo(self) -> _GeoIndex:
        if self._geo_index is None:
            self._geo_index = _GeoIndex(self.ground_truth)
        return self._geo_index

    @property
    def located(self) -> LocatedGroundTruth:
        """The ground truth geolocated by the database (built on first use)."""
        if self._located is None:
            self._located = LocatedGroundTruth.from_backend(
                self.ground_truth, self.backend, method=self.policy.interval, level=self.policy.level
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
        # Valid geography.
        rows = lgt.rows_of(code, first, last)
        probes, asns, points = self._geo.indicators(rows)
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
        border = _border_share(self.ground_truth)
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
                lat, lon = self._geo.locations(self.located.rows_of(code, year, year))
                self._covered[key] = covered_cities(code, lat, lon, km)[0]
            mask = self._covered[key] if mask is None else mask | self._covered[key]
        assert mask is not None
        return coverage_from_mask(code, mask, km, points)

    def _lr(self, country: str, observed: str | None, first: int, last: int) -> LikelihoodRatio | None:
        key = (country, observed or "", first, last)
        if key not in self._lrs:
            alts = dict(self.policy.lr_alternatives) if self.policy.lr_alternatives is not None else None
            self._lrs[key] = self.located.likelihood_ratio(
                country,
                observed,
                first,
                last,
                alternatives=alts,
                zero_count=self.policy.lr_zero_count,
                basis="conservative" if self.policy.conservative else "point",
            )
        return self._lrs[key]

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
        OutsideGroundTruthError and FamilyMismatchError (see :mod:`ipevidence.errors`).
        """
        addr = require_global(ip)
        family = addr.version
        if family != self.ground_truth.family:
            raise FamilyMismatchError(
                f"{ip} is IPv{family} but the ground truth is IPv{self.ground_truth.family}: "
                f"use an IPv{family} ground truth"
            )
        when = _to_date(date)
        claimed = normalize_country(claimed_country) if claimed_country else None
        p = self.policy
        first, last = self.located.window(when.year, p.window_years)
        located = self.backend.country(str(addr))
        located = normalize_country(located) if located else None
        country = located or claimed
        crit: list[Criterion] = []
        reasons: list[str] = []
        evaluation = self.evaluate_country(country, first, last) if country else None
        if evaluation is not None:
            crit.extend(evaluation.criteria)
        crit.append(
            Criterion(
                "located",
                "address",
                "the database places the address in a country",
                located or "not located",
                None,
                "",
                located is not None,
            )
        )
        net = _classify(str(addr), p, asn, self.asn_table, self.cloud_ranges)
        checked = net.is_cloud or net.asn is not None or self.cloud_ranges is not None
        crit.append(
            Criterion(
                "cloud_hosting",
                "address",
                "address in a cloud or hosting network",
                (net.provider or "no") if checked else None,
                "no",
                "==",
                (not net.is_cloud) if checked else None,
                p.cloud_invalid,
            )
        )
        net_reasons: list[str] = []
        if not checked:
            net_reasons.append(
                "the address's network was not checked: no ASN was given and no ASN table or cloud range "
                "files were supplied"
            )
        elif net.is_cloud:
            net_reasons.append(
                f"{net.reason}: a cloud or hosting address says nothing about where the user was"
            )
        if claimed is not None:
            crit.append(
                Criterion(
                    "claim",
                    "claim",
                    "the database's country is the claimed country",
                    located or "not located",
                    claimed,
                    "==",
                    located == claimed,
                )
            )
        gap = abs((self.backend.build_date - when).days)
        crit.append(
            Criterion(
                "database_gap_days",
                "database",
                "days between the database build and the evidence date",
                gap,
                p.max_database_gap_days,
                "<=",
                gap <= p.max_database_gap_days,
                False,
            )
        )
        outcome = _outcome(crit)
        reasons.extend(self._reasons(crit, family, located, claimed, outcome))
        reasons.extend(net_reasons)
        hp = claimed or located
        lr = self._lr(hp, located, first, last) if p.report_lr and hp else None
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
        if any(c.failed for c in crit if c.group == "data"):
            out.append(
                f"{'IPv6 ' if family == 6 else ''}ground truth is too thin for this country and window: "
                "insufficient data, not a negative finding"
            )
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
                "Valid geography",
                "Valid evidence",
                "Outcome",
            ),
            rows=tuple(rows),
            notes=(
                f"Policy {p.name}: threshold {100 * p.threshold:g} % on "
                f"{'lower bounds' if p.conservative else 'point estimates'} "
                f"({100 * p.level:g} % {p.interval}).",
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
