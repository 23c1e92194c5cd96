"""What triage gives back: outcomes, reason codes, per-case columns and the per-country summary.

* :data:`OUTCOMES` (``valid``, ``not valid``, ``insufficient data`` and triage's fourth,
  ``cannot be assessed``) and :data:`REASONS`, the stable list of reason codes (docs/triage.md);
  :func:`reason_code` gives a verdict's code (its :func:`decisive_criterion`);
* :class:`TriageResult`: every case's outcome, reason, figures, likelihood ratio, network, window
  and database as numpy columns, with :meth:`~TriageResult.to_pandas`,
  :meth:`~TriageResult.to_arrow`, iteration as :class:`TriageRecord` and
  :meth:`~TriageResult.summary`;
* :class:`TriageSummary`: cases per located country and reason code, as text, Markdown, HTML and
  canonical JSON with the provenance.

:func:`ipevidence.triage.assess_many` makes results; :mod:`ipevidence.triage_io` writes them.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Final

import attrs
import numpy as np
import numpy.typing as npt

from ._version import __version__
from .countries import COUNTRY_DTYPE, country_name
from .jsonutil import canonical_json, to_jsonable
from .verdict import INSUFFICIENT, NOT_VALID, VALID, Criterion, outcome_of

if TYPE_CHECKING:
    from .provenance import DatabaseInfo

__all__ = [
    "CANNOT_ASSESS",
    "COLUMNS",
    "OUTCOMES",
    "REASONS",
    "Reason",
    "TriageRecord",
    "TriageResult",
    "TriageSummary",
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


# --------------------------------------------------------------------------------------------
# The result
# --------------------------------------------------------------------------------------------

_NO_AGE: Final = np.iinfo(np.int32).min

#: the per-case columns, in the order of every output (see docs/triage.md)
COLUMNS: Final[tuple[str, ...]] = (
    "case_id",
    "line",
    "address",
    "family",
    "date",
    "claimed_country",
    "located_country",
    "outcome",
    "reason",
    "accuracy",
    "accuracy_min",
    "likelihood_ratio",
    "lr_verbal",
    "lr_weakest_against",
    "asn",
    "network_checked",
    "hosting",
    "window_first",
    "window_last",
    "database",
    "database_build_date",
    "database_age_days",
)


def _s2_text(code: bytes) -> str:
    return code.decode("ascii") if code else ""


@attrs.frozen
class TriageRecord:
    """One case of a :class:`TriageResult` (iteration gives these)."""

    case_id: str | None
    line: int | None
    address: Any
    family: int | None
    date: dt.date | None
    claimed_country: str | None
    located_country: str | None
    outcome: str
    reason: str
    accuracy: float | None
    accuracy_min: float | None
    likelihood_ratio: float | None
    lr_verbal: str | None
    lr_weakest_against: str | None
    asn: int | None
    network_checked: bool
    hosting: str | None
    window_first: int | None
    window_last: int | None
    database: str | None
    database_build_date: dt.date | None
    database_age_days: int | None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = to_jsonable(attrs.asdict(self))
        if not isinstance(self.address, str) and self.address is not None:
            out["address"] = str(self.address)
        return out


def _f(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


@attrs.frozen(eq=False)
class TriageResult:
    """Per-case triage results as columns (numpy), in the order of the input.

    Strings that repeat are categorical: ``lr_verbal``, ``hosting`` and ``database`` hold indices
    into :attr:`lr_texts`, :attr:`hosting_labels` and :attr:`databases`; countries are ``S2``
    (``b""`` none); ``outcome`` indexes :data:`OUTCOMES`, ``reason`` :data:`REASONS`; floats are
    NaN where there is no figure; ``asn`` 0, ``window_first``/``window_last`` 0 and
    ``database``/``lr_verbal`` -1 mean none; ``database_age_days`` is the evidence date minus the
    build date (negative: the build is newer than the evidence), ``-2**31`` for none.
    """

    address: npt.NDArray[np.object_]
    family: npt.NDArray[np.int8]
    date: npt.NDArray[np.datetime64]
    claimed: npt.NDArray[np.bytes_]
    located: npt.NDArray[np.bytes_]
    outcome: npt.NDArray[np.uint8]
    reason: npt.NDArray[np.uint8]
    accuracy: npt.NDArray[np.float64]
    accuracy_min: npt.NDArray[np.float64]
    lr: npt.NDArray[np.float64]
    lr_verbal: npt.NDArray[np.int32]
    lr_against: npt.NDArray[np.bytes_]
    asn: npt.NDArray[np.uint32]
    network_checked: npt.NDArray[np.bool_]
    hosting: npt.NDArray[np.int16]
    window_first: npt.NDArray[np.int16]
    window_last: npt.NDArray[np.int16]
    database: npt.NDArray[np.int16]
    database_age_days: npt.NDArray[np.int32]
    lr_texts: tuple[str, ...]
    hosting_labels: tuple[str, ...]
    databases: tuple[DatabaseInfo, ...]
    provenance: Mapping[str, Any] = attrs.field(factory=dict)
    case_id: npt.NDArray[np.object_] | None = None
    line: npt.NDArray[np.int64] | None = None

    _ARRAYS: ClassVar[tuple[str, ...]] = (
        "address",
        "family",
        "date",
        "claimed",
        "located",
        "outcome",
        "reason",
        "accuracy",
        "accuracy_min",
        "lr",
        "lr_verbal",
        "lr_against",
        "asn",
        "network_checked",
        "hosting",
        "window_first",
        "window_last",
        "database",
        "database_age_days",
    )

    def __len__(self) -> int:
        return int(self.outcome.shape[0])

    # -- selection --------------------------------------------------------------------------

    def take(self, index: npt.ArrayLike) -> TriageResult:
        """The cases at ``index`` (an integer array or a boolean mask), in that order."""
        idx = np.asarray(index)
        changes: dict[str, Any] = {name: getattr(self, name)[idx] for name in self._ARRAYS}
        changes["case_id"] = None if self.case_id is None else self.case_id[idx]
        changes["line"] = None if self.line is None else self.line[idx]
        return attrs.evolve(self, **changes)

    def order(self) -> npt.NDArray[np.intp]:
        """The triage order: by located country (code order; not located last), then by strength
        of evidence: outcome (valid, insufficient data, not valid, cannot be assessed), the
        reported likelihood ratio (highest first), the accuracy (highest first), then the input
        line (or position). The order of :func:`sort_keys`."""
        return np.argsort(sort_keys(self), kind="stable")

    def sorted(self) -> TriageResult:
        """The cases in :meth:`order`."""
        return self.take(self.order())

    # -- conversions ------------------------------------------------------------------------

    def outcome_texts(self) -> npt.NDArray[np.str_]:
        return np.asarray(OUTCOMES, dtype=np.str_)[self.outcome]

    def reason_codes(self) -> npt.NDArray[np.str_]:
        return np.asarray([r.code for r in REASONS], dtype=np.str_)[self.reason]

    def _database_names(self) -> list[str | None]:
        names = [d.name for d in self.databases]
        return [names[i] if i >= 0 else None for i in self.database.tolist()]

    def _database_builds(self) -> list[dt.date | None]:
        built = [d.build_date for d in self.databases]
        return [built[i] if i >= 0 else None for i in self.database.tolist()]

    def column(self, name: str) -> list[Any]:
        """One output column (:data:`COLUMNS`) as Python values (None where empty)."""
        if name == "case_id":
            return (
                [None] * len(self)
                if self.case_id is None
                else [None if v is None else str(v) for v in self.case_id]
            )
        if name == "line":
            return [None] * len(self) if self.line is None else self.line.tolist()
        if name == "address":
            return list(self.address)
        if name == "family":
            return [int(f) or None for f in self.family.tolist()]
        if name == "date":
            return [None if np.isnat(d) else d.astype(dt.date) for d in self.date]
        if name == "claimed_country":
            return [_s2_text(c) or None for c in self.claimed.tolist()]
        if name == "located_country":
            return [_s2_text(c) or None for c in self.located.tolist()]
        if name == "outcome":
            return [str(x) for x in self.outcome_texts().tolist()]
        if name == "reason":
            return [str(x) for x in self.reason_codes().tolist()]
        if name in ("accuracy", "accuracy_min"):
            return [_f(x) for x in getattr(self, name).tolist()]
        if name == "likelihood_ratio":
            return [_f(x) for x in self.lr.tolist()]
        if name == "lr_verbal":
            return [self.lr_texts[i] if i >= 0 else None for i in self.lr_verbal.tolist()]
        if name == "lr_weakest_against":
            return [_s2_text(c) or None for c in self.lr_against.tolist()]
        if name == "asn":
            return [int(a) or None for a in self.asn.tolist()]
        if name == "network_checked":
            return [bool(x) for x in self.network_checked.tolist()]
        if name == "hosting":
            return [self.hosting_labels[i] if i > 0 else None for i in self.hosting.tolist()]
        if name in ("window_first", "window_last"):
            return [int(y) or None for y in getattr(self, name).tolist()]
        if name == "database":
            return self._database_names()
        if name == "database_build_date":
            return self._database_builds()
        if name == "database_age_days":
            return [None if a == _NO_AGE else int(a) for a in self.database_age_days.tolist()]
        raise KeyError(name)

    def records(self) -> Iterator[TriageRecord]:
        """Every case as a :class:`TriageRecord`, in the result's order."""
        cols = [self.column(name) for name in COLUMNS]
        for values in zip(*cols, strict=True):
            yield TriageRecord(*values)

    def __iter__(self) -> Iterator[TriageRecord]:
        return self.records()

    def to_pandas(self) -> Any:
        """A pandas DataFrame with the columns of :data:`COLUMNS` (categorical where strings
        repeat). pandas is the optional extra ``[pandas]``."""
        pd = _import_optional("pandas", "pandas", "TriageResult.to_pandas()")
        data: dict[str, Any] = {}
        for name in COLUMNS:
            if name == "outcome":
                data[name] = pd.Categorical.from_codes(
                    self.outcome.astype(np.int64), categories=list(OUTCOMES)
                )
            elif name == "reason":
                data[name] = pd.Categorical.from_codes(
                    self.reason.astype(np.int64), categories=[r.code for r in REASONS]
                )
            elif name in ("accuracy", "accuracy_min"):
                data[name] = getattr(self, name)
            elif name == "likelihood_ratio":
                data[name] = self.lr
            elif name == "date":
                data[name] = self.date.astype("datetime64[s]")
            elif name in ("family", "asn", "window_first", "window_last", "line", "database_age_days"):
                values = self.column(name)
                data[name] = pd.array(values, dtype="Int64")
            elif name in ("claimed_country", "located_country", "lr_weakest_against", "hosting", "database"):
                data[name] = pd.Categorical(self.column(name))
            else:
                data[name] = self.column(name)
        return pd.DataFrame(data, columns=list(COLUMNS))

    def to_arrow(self) -> Any:
        """A pyarrow Table with the columns of :data:`COLUMNS` (dictionary-encoded where strings
        repeat). pyarrow is the optional extra ``[arrow]``."""
        pa = _import_optional("pyarrow", "arrow", "TriageResult.to_arrow()")
        return arrow_table(self, pa)

    def summary(self) -> TriageSummary:
        """Cases per located country: valid, not valid by reason, insufficient data, cannot be
        assessed (see :class:`TriageSummary`)."""
        return TriageSummary.of(self)

    def __repr__(self) -> str:
        counts = np.bincount(self.outcome, minlength=len(OUTCOMES))
        parts = ", ".join(f"{int(c):,} {o}" for o, c in zip(OUTCOMES, counts, strict=True))
        return f"<TriageResult {len(self):,} cases: {parts}>"

    @classmethod
    def concat(cls, results: Sequence[TriageResult]) -> TriageResult:
        """Cases of several results of ONE :class:`Triage` (sharing its string tables) in order."""
        if not results:
            raise ValueError("nothing to concatenate")
        last = results[-1]
        changes: dict[str, Any] = {
            name: np.concatenate([getattr(r, name) for r in results]) for name in cls._ARRAYS
        }
        ids = [r.case_id for r in results if r.case_id is not None]
        lines = [r.line for r in results if r.line is not None]
        changes["case_id"] = np.concatenate(ids) if len(ids) == len(results) else None
        changes["line"] = np.concatenate(lines) if len(lines) == len(results) else None
        return attrs.evolve(last, **changes)


def _import_optional(module: str, extra: str, what: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            f"{what} needs {module}, which is not installed: pip install 'ipevidence[{extra}]'", name=module
        ) from exc


def arrow_table(result: TriageResult, pa: Any) -> Any:
    """The pyarrow Table of a result (``pa`` the imported pyarrow module)."""
    arrays: dict[str, Any] = {}
    for name in COLUMNS:
        values = result.column(name)
        if name in (
            "outcome",
            "reason",
            "claimed_country",
            "located_country",
            "lr_weakest_against",
            "hosting",
            "database",
            "lr_verbal",
        ):
            arrays[name] = pa.array(values, type=pa.string()).dictionary_encode()
        elif name in ("accuracy", "accuracy_min", "likelihood_ratio"):
            arrays[name] = pa.array(values, type=pa.float64())
        elif name in ("date", "database_build_date"):
            arrays[name] = pa.array(values, type=pa.date32())
        elif name in ("line", "asn", "family", "window_first", "window_last", "database_age_days"):
            arrays[name] = pa.array(values, type=pa.int64())
        elif name == "network_checked":
            arrays[name] = pa.array(values, type=pa.bool_())
        else:
            arrays[name] = pa.array([None if v is None else str(v) for v in values], type=pa.string())
    return pa.table(arrays)


# --------------------------------------------------------------------------------------------
# The summary
# --------------------------------------------------------------------------------------------

_NOT_LOCATED_LABEL: Final = "not located"


@attrs.frozen(eq=False)
class TriageSummary:
    """Cases per located country and reason code (``counts[i, j]``: country ``countries[i]``,
    reason :data:`REASONS` ``[j]``); ``""`` is "not located" (which includes every case that was
    not geolocated: not an address, private space, ...). Summaries of parts of one run add up
    (:meth:`merge`); ``provenance`` says what produced them."""

    countries: tuple[str, ...]
    counts: npt.NDArray[np.int64]
    provenance: Mapping[str, Any] = attrs.field(factory=dict)

    @classmethod
    def of(cls, result: TriageResult, provenance: Mapping[str, Any] | None = None) -> TriageSummary:
        codes, inverse = np.unique(result.located, return_inverse=True)
        counts = np.zeros((len(codes), len(REASONS)), np.int64)
        np.add.at(counts, (inverse.reshape(-1), result.reason.astype(np.intp)), 1)
        return cls(
            tuple(_s2_text(c) for c in codes.tolist()),
            counts,
            dict(result.provenance if provenance is None else provenance),
        )

    def merge(self, other: TriageSummary) -> TriageSummary:
        """The summary of both parts (provenance of ``self``)."""
        names = sorted(set(self.countries) | set(other.countries))
        pos = {c: i for i, c in enumerate(names)}
        counts = np.zeros((len(names), len(REASONS)), np.int64)
        for src in (self, other):
            for i, c in enumerate(src.countries):
                counts[pos[c]] += src.counts[i]
        return attrs.evolve(self, countries=tuple(names), counts=counts)

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def by_outcome(self) -> npt.NDArray[np.int64]:
        """Cases per country (rows) and outcome (columns, :data:`OUTCOMES`)."""
        out = np.zeros((len(self.countries), len(OUTCOMES)), np.int64)
        for j, r in enumerate(REASONS):
            out[:, _OUTCOME[r.outcome]] += self.counts[:, j]
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One dictionary per country, largest first (not located last): cases, valid, not valid
        (with the count per reason), insufficient data (per reason), cannot be assessed (per reason)."""
        outcomes = self.by_outcome()
        order = sorted(
            range(len(self.countries)),
            key=lambda i: (self.countries[i] == "", -int(self.counts[i].sum()), self.countries[i]),
        )
        out = []
        for i in order:
            per = {r.code: int(self.counts[i, j]) for j, r in enumerate(REASONS) if self.counts[i, j]}
            out.append(
                {
                    "country": self.countries[i] or None,
                    "name": country_name(self.countries[i]) if self.countries[i] else _NOT_LOCATED_LABEL,
                    "cases": int(self.counts[i].sum()),
                    "valid": int(outcomes[i, _OUTCOME[VALID]]),
                    "not_valid": int(outcomes[i, _OUTCOME[NOT_VALID]]),
                    "insufficient_data": int(outcomes[i, _OUTCOME[INSUFFICIENT]]),
                    "cannot_be_assessed": int(outcomes[i, _OUTCOME[CANNOT_ASSESS]]),
                    "not_valid_by_reason": {
                        k: v for k, v in per.items() if REASONS[_CODE[k]].outcome == NOT_VALID
                    },
                    "insufficient_by_reason": {
                        k: v for k, v in per.items() if REASONS[_CODE[k]].outcome == INSUFFICIENT
                    },
                    "cannot_be_assessed_by_reason": {
                        k: v for k, v in per.items() if REASONS[_CODE[k]].outcome == CANNOT_ASSESS
                    },
                }
            )
        return out

    def totals(self) -> dict[str, int]:
        outcomes = self.by_outcome().sum(axis=0)
        return {"cases": self.total, **{o: int(outcomes[i]) for i, o in enumerate(OUTCOMES)}}

    def to_dict(self) -> dict[str, Any]:
        data = {
            "totals": self.totals(),
            "countries": self.rows(),
            "reasons": [r.to_dict() for r in REASONS],
            "provenance": dict(self.provenance),
        }
        out: dict[str, Any] = to_jsonable(data)
        return out

    def to_json(self, *, indent: int | None = 2) -> str:
        """Canonical JSON (sorted keys): byte-identical for the same inputs."""
        return canonical_json(self.to_dict(), indent=indent)

    def _table_rows(self, limit: int | None = None) -> list[tuple[str, ...]]:
        rows: list[tuple[str, ...]] = []
        data = self.rows()
        for row in data[:limit] if limit else data:
            nv = ", ".join(
                f"{k} {v:,}" for k, v in sorted(row["not_valid_by_reason"].items(), key=lambda kv: -kv[1])
            )
            ins = ", ".join(
                f"{k} {v:,}" for k, v in sorted(row["insufficient_by_reason"].items(), key=lambda kv: -kv[1])
            )
            cba = ", ".join(
                f"{k} {v:,}"
                for k, v in sorted(row["cannot_be_assessed_by_reason"].items(), key=lambda kv: -kv[1])
            )
            rows.append(
                (
                    row["country"] or "--",
                    row["name"],
                    f"{row['cases']:,}",
                    f"{row['valid']:,}",
                    f"{row['not_valid']:,}" + (f" ({nv})" if nv else ""),
                    f"{row['insufficient_data']:,}" + (f" ({ins})" if ins else ""),
                    f"{row['cannot_be_assessed']:,}" + (f" ({cba})" if cba else ""),
                )
            )
        return rows

    _HEAD: ClassVar[tuple[str, ...]] = (
        "Country",
        "Name",
        "Cases",
        "Valid",
        "Not valid (by reason)",
        "Insufficient data",
        "Cannot be assessed",
    )

    def _lead(self) -> list[str]:
        t = self.totals()
        lines = [
            f"{t['cases']:,} cases: {t[VALID]:,} valid, {t[NOT_VALID]:,} not valid, "
            f"{t[INSUFFICIENT]:,} insufficient data, {t[CANNOT_ASSESS]:,} cannot be assessed; "
            f"{sum(1 for c in self.countries if c):,} located countries."
        ]
        reading = self.provenance.get("input")
        if isinstance(reading, Mapping) and reading.get("malformed_lines"):
            shown = ", ".join(str(x) for x in list(reading.get("malformed_line_numbers", []))[:10])
            more = " ..." if int(reading["malformed_lines"]) > 10 else ""
            lines.append(
                f"{int(reading['malformed_lines']):,} malformed lines in the case file were not cases "
                f"(lines {shown}{more})."
            )
        return lines

    def __str__(self) -> str:
        head = self._HEAD
        rows = self._table_rows()
        widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
        lines = ["Triage summary per located country", *self._lead(), ""]
        lines.append("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip())
        lines.append("  ".join("-" * w for w in widths))
        for row in rows:
            lines.append("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip())
        lines += ["", *self._footer()]
        return "\n".join(lines)

    def _footer(self) -> list[str]:
        prov = self.provenance
        out = []
        policy = prov.get("policy")
        if isinstance(policy, Mapping):
            out.append(
                f"Policy {policy.get('name')} (ipevidence {prov.get('library_version', __version__)})."
            )
        for db in prov.get("databases", []) or []:
            if isinstance(db, Mapping):
                out.append(
                    f"Database {db.get('name')} (built {db.get('build_date')}, SHA-256 {db.get('sha256')}): "
                    f"{int(db.get('cases', 0)):,} cases."
                )
        out.append("Countries, not regions: a valid case says the device was in that country, nothing finer.")
        return out

    def to_markdown(self, figure: str | None = None) -> str:
        """Markdown; ``figure`` is the file name of the bar chart to show (None: none)."""
        out = ["# Triage summary", "", *self._lead(), ""]
        if figure:
            out += [f"![Cases per located country, by outcome]({figure})", ""]
        out.append("| " + " | ".join(self._HEAD) + " |")
        out.append("|" + "---|" * len(self._HEAD))
        for row in self._table_rows():
            out.append("| " + " | ".join(str(x).replace("|", "\\|") for x in row) + " |")
        out += ["", "Reason codes: see docs/triage.md.", ""]
        out += [f"_{line}_" for line in self._footer()]
        return "\n".join(out) + "\n"

    def to_html(self, figure_uri: str | None = None) -> str:
        """A self-contained HTML page; ``figure_uri`` a data URI of the bar chart (None: none)."""
        rows = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(x))}</td>" for x in row) + "</tr>"
            for row in self._table_rows()
        )
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self._HEAD)
        lead = "".join(f"<p>{html.escape(x)}</p>" for x in self._lead())
        fig = (
            f'<figure><img alt="Cases per located country, by outcome" src="{figure_uri}">'
            "<figcaption>Cases per located country, by outcome</figcaption></figure>"
            if figure_uri
            else ""
        )
        foot = "".join(f"<p><em>{html.escape(x)}</em></p>" for x in self._footer())
        codes = "".join(
            f"<tr><td><code>{html.escape(r.code)}</code></td><td>{html.escape(r.outcome)}</td>"
            f"<td>{html.escape(r.meaning)}</td></tr>"
            for r in REASONS
        )
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Triage summary</title>'
            "<style>body{font-family:sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse}"
            "td,th{border:1px solid #bbb;padding:.2em .5em;text-align:left}img{max-width:100%}</style>"
            f"</head><body><h1>Triage summary</h1>{lead}{fig}<table><thead><tr>{head}</tr></thead>"
            f"<tbody>{rows}</tbody></table><h2>Reason codes</h2><table><thead><tr><th>Code</th>"
            f"<th>Outcome</th><th>Meaning</th></tr></thead><tbody>{codes}</tbody></table>{foot}</body></html>\n"
        )


def _u16(codes: npt.NDArray[np.bytes_]) -> npt.NDArray[np.int64]:
    """An ``S2`` column as integers (b"" -> 0), order-preserving."""
    return np.ascontiguousarray(codes, dtype=COUNTRY_DTYPE).view(">u2").astype(np.int64)


#: the strength rank of each outcome code (valid, not valid, insufficient data, cannot be assessed)
_STRENGTH: Final = np.asarray([0, 2, 1, 3], dtype=np.uint8)


def _sortable(x: npt.NDArray[np.float64]) -> npt.NDArray[np.uint64]:
    """Floats as unsigned integers in the same order (-inf lowest)."""
    bits = np.ascontiguousarray(x, dtype=np.float64).view(np.uint64)
    neg = (bits >> np.uint64(63)).astype(bool)
    return np.asarray(np.where(neg, ~bits, bits | np.uint64(1 << 63)), dtype=np.uint64)


def sort_keys(result: TriageResult) -> npt.NDArray[np.bytes_]:
    """One 27-byte string per case whose byte order is the triage order
    (:meth:`TriageResult.order`): located country (not located last), strength of the outcome,
    likelihood ratio and accuracy (highest first, none last), then the line (or input position).
    Keys of different chunks of one file compare too (the command merges sorted chunks with them)."""
    n = len(result)
    loc = _u16(result.located)
    country = np.where(loc == 0, 0xFFFF, loc).astype(">u2")
    lr = np.where(np.isnan(result.lr), -np.inf, result.lr)
    acc = np.where(np.isnan(result.accuracy), -np.inf, result.accuracy)
    seq = np.arange(n, dtype=np.int64) if result.line is None else result.line
    key = np.empty((n, 27), dtype=np.uint8)
    key[:, 0:2] = country.view(np.uint8).reshape(n, 2)
    key[:, 2] = _STRENGTH[result.outcome]
    key[:, 3:11] = (~_sortable(lr)).astype(">u8").view(np.uint8).reshape(n, 8)
    key[:, 11:19] = (~_sortable(acc)).astype(">u8").view(np.uint8).reshape(n, 8)
    key[:, 19:27] = seq.astype(">u8").view(np.uint8).reshape(n, 8)
    out: npt.NDArray[np.bytes_] = np.ascontiguousarray(key).view("S27").reshape(n)
    return out
