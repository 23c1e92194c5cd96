"""Triage's outcomes and reason codes: the stable tables and how a verdict gets its code.

* :data:`OUTCOMES` (``valid``, ``not valid``, ``insufficient data`` and triage's fourth,
  :data:`CANNOT_ASSESS`, ``cannot be assessed``);
* :data:`REASONS`, the stable list of reason codes (:class:`Reason`: code, outcome, criterion,
  meaning; docs/triage.md explains each), with the lookup tables behind them;
* :func:`reason_code` gives a verdict's code (its :func:`decisive_criterion`).

:mod:`ipevidence.triage.result` (which re-exports every name here) holds the results that carry
these codes, :mod:`ipevidence.triage.summary` the per-country counts of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import attrs
import numpy as np

from ..verdict import INSUFFICIENT, NOT_VALID, VALID, Criterion, outcome_of

__all__ = [
    "CANNOT_ASSESS",
    "OUTCOMES",
    "REASONS",
    "Reason",
    "decisive_criterion",
    "reason_code",
]

#: the fourth outcome of triage: ``assess()`` would refuse the case (see the ``input`` reasons)
CANNOT_ASSESS: Final = "cannot be assessed"
#: every outcome (the order of the ``outcome`` column's codes)
OUTCOMES: Final[tuple[str, ...]] = (VALID, NOT_VALID, INSUFFICIENT, CANNOT_ASSESS)


@attrs.frozen
class Reason:
    """One reason code: the ``code`` written in results, the ``outcome`` it goes with, the verdict
    criterion it stands for (None for an input problem or a valid case) and what it means."""

    code: str
    outcome: str
    criterion: str | None
    meaning: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "outcome": self.outcome,
            "criterion": self.criterion,
            "meaning": self.meaning,
        }


def _r(code: str, outcome: str, criterion: str | None, meaning: str) -> Reason:
    return Reason(code, outcome, criterion, meaning)


#: The stable list of reason codes (docs/triage.md). A case's code is its decisive criterion: the
#: first criterion, in a verdict's order, of the kind :func:`~ipevidence.verdict.outcome_of` decides
#: by (see :func:`decisive_criterion`). New codes are only ever appended.
REASONS: Final[tuple[Reason, ...]] = (
    _r("valid", VALID, None, "every required criterion passed"),
    # the address and the claim (not valid, however good the country's record)
    _r("not_located", NOT_VALID, "located", "the database places the address in no country"),
    _r(
        "cloud_or_hosting",
        NOT_VALID,
        "cloud_hosting",
        "the address is in a cloud, hosting, CDN or VPN network",
    ),
    _r("claim_mismatch", NOT_VALID, "claim", "the database's country is not the claimed country"),
    # a clear failure of the country's accuracy
    _r(
        "accuracy_clearly_below",
        NOT_VALID,
        "accuracy_upper",
        "even the upper confidence bound of the accuracy (a year's or the window's) is below the threshold",
    ),
    # too little ground truth
    _r("window_too_short", INSUFFICIENT, "window_years", "too few years of ground truth in the window"),
    _r("too_few_addresses", INSUFFICIENT, "addresses_total", "too few ground-truth addresses of the country"),
    _r("thin_year", INSUFFICIENT, "addresses_per_year", "a year of the window has too few addresses"),
    # the other required criteria
    _r(
        "yearly_accuracy_below",
        NOT_VALID,
        "hist_min",
        "Hist min (the lowest yearly accuracy) is below the threshold",
    ),
    _r("accuracy_below", NOT_VALID, "hist_all", "Hist all (the window's accuracy) is below the threshold"),
    _r("too_few_probes", NOT_VALID, "distinct_probes", "too few distinct probes in the country"),
    _r("too_few_asns", NOT_VALID, "distinct_asns", "too few distinct networks (ASNs) in the country"),
    _r(
        "low_population_coverage",
        NOT_VALID,
        "population_coverage",
        "the ground truth covers too little of the country's city population",
    ),
    _r(
        "border_removals",
        NOT_VALID,
        "border_removed_share",
        "too many records were removed for coordinates outside their declared country",
    ),
    _r(
        "overseas_parts",
        NOT_VALID,
        "overseas_parts",
        "the country has overseas parts (when the policy voids them)",
    ),
    _r(
        "network_accuracy_below",
        NOT_VALID,
        "network_accuracy",
        "the accuracy on the address's own network is below the threshold (when required)",
    ),
    _r(
        "database_gap",
        NOT_VALID,
        "database_gap_days",
        "the database is too far from the evidence date (when required)",
    ),
    _r(
        "database_age_accuracy_below",
        NOT_VALID,
        "database_age_accuracy",
        "builds as old as the one used place the country less accurately than the threshold",
    ),
    # required criteria that could not be measured
    _r(
        "network_not_checked",
        INSUFFICIENT,
        "cloud_hosting",
        "no source could tell the address's network: a cloud, hosting or VPN address cannot be ruled out",
    ),
    _r("accuracy_not_measured", INSUFFICIENT, "hist_all", "the country's accuracy could not be measured"),
    _r(
        "coverage_not_measured",
        INSUFFICIENT,
        "population_coverage",
        "the population coverage could not be measured",
    ),
    _r(
        "border_share_not_measured",
        INSUFFICIENT,
        "border_removed_share",
        "the border removals are not recorded",
    ),
    _r(
        "network_accuracy_not_measured",
        INSUFFICIENT,
        "network_accuracy",
        "too little ground truth in the address's own network (when required)",
    ),
    _r(
        "database_age_not_measured",
        INSUFFICIENT,
        "database_age_accuracy",
        "no build of the database's age has ground truth of the country",
    ),
    _r("other_criterion_failed", NOT_VALID, None, "a required criterion not in this list failed"),
    _r(
        "other_criterion_not_measured",
        INSUFFICIENT,
        None,
        "a required criterion not in this list was not measured",
    ),
    # cannot be assessed: what assess() refuses
    _r("invalid_address", CANNOT_ASSESS, None, "not an IP address"),
    _r(
        "not_global_address",
        CANNOT_ASSESS,
        None,
        "private, shared (carrier-grade NAT), loopback, link-local, documentation, multicast or reserved",
    ),
    _r("invalid_date", CANNOT_ASSESS, None, "the case's date or time is missing or unreadable"),
    _r("invalid_asn", CANNOT_ASSESS, None, "the given AS number is not one (1 to 4294967295)"),
    _r(
        "no_ground_truth_for_family",
        CANNOT_ASSESS,
        None,
        "no ground truth of the address's family was given (an IPv6 address without an IPv6 ground truth)",
    ),
    _r("unknown_claimed_country", CANNOT_ASSESS, None, "the claimed country is not an ISO 3166-1 code"),
    _r(
        "no_database_for_family", CANNOT_ASSESS, None, "the database (every build) lacks the address's family"
    ),
    _r(
        "no_database_for_date",
        CANNOT_ASSESS,
        None,
        "no build of the catalogue is dated on or before the case's date",
    ),
    _r(
        "date_outside_ground_truth",
        CANNOT_ASSESS,
        None,
        "the case's year is outside the ground truth's years",
    ),
    _r(
        "unknown_database_country",
        CANNOT_ASSESS,
        None,
        "the database answers with a code that is not a country",
    ),
)
_CODE: Final[dict[str, int]] = {r.code: i for i, r in enumerate(REASONS)}
_OUTCOME: Final[dict[str, int]] = {o: i for i, o in enumerate(OUTCOMES)}
_REASON_OUTCOME: Final = np.array([_OUTCOME[r.outcome] for r in REASONS], dtype=np.uint8)
# decided criteria -> reason code, for a failure and for "could not be measured"
_FAILED: Final[dict[str, str]] = {
    "located": "not_located",
    "cloud_hosting": "cloud_or_hosting",
    "claim": "claim_mismatch",
    "accuracy_upper": "accuracy_clearly_below",
    "window_years": "window_too_short",
    "addresses_total": "too_few_addresses",
    "addresses_per_year": "thin_year",
    "hist_min": "yearly_accuracy_below",
    "hist_all": "accuracy_below",
    "distinct_probes": "too_few_probes",
    "distinct_asns": "too_few_asns",
    "population_coverage": "low_population_coverage",
    "border_removed_share": "border_removals",
    "overseas_parts": "overseas_parts",
    "network_accuracy": "network_accuracy_below",
    "database_gap_days": "database_gap",
    "database_age_accuracy": "database_age_accuracy_below",
}
_UNMEASURED: Final[dict[str, str]] = {
    "cloud_hosting": "network_not_checked",
    "hist_all": "accuracy_not_measured",
    "hist_min": "accuracy_not_measured",
    "accuracy_upper": "accuracy_not_measured",
    "population_coverage": "coverage_not_measured",
    "border_removed_share": "border_share_not_measured",
    "network_accuracy": "network_accuracy_not_measured",
    "database_age_accuracy": "database_age_not_measured",
}


def decisive_criterion(criteria: Sequence[Criterion], outcome: str | None = None) -> Criterion | None:
    """The criterion that decides ``outcome`` (default: :func:`~ipevidence.verdict.outcome_of`),
    following the outcome rule's order and, within one step, the criteria's order: a failing
    address or claim criterion; else a clear accuracy failure; else a failing data criterion; else
    any failing required criterion; else a required criterion that was not measured. None for a
    valid verdict."""
    crit = list(criteria)
    result = outcome_of(crit) if outcome is None else outcome
    if result == VALID:
        return None
    steps = (
        lambda c: c.failed and c.group in ("address", "claim"),
        lambda c: c.failed and c.name == "accuracy_upper",
        lambda c: c.failed and c.group == "data",
        lambda c: c.failed,
        lambda c: c.required and c.passed is None,
    )
    for step in steps:
        for c in crit:
            if step(c):  # type: ignore[no-untyped-call]
                return c
    return None


def reason_code(criteria: Sequence[Criterion], outcome: str | None = None) -> str:
    """The reason code (:data:`REASONS`) of a verdict's criteria: its :func:`decisive_criterion`."""
    c = decisive_criterion(criteria, outcome)
    if c is None:
        return "valid"
    if c.passed is None:
        return _UNMEASURED.get(c.name, "other_criterion_not_measured")
    return _FAILED.get(c.name, "other_criterion_failed")
