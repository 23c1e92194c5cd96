"""What a verdict is made of: :class:`Criterion`, the country-level :class:`CountryEvaluation` and
the :class:`Verdict` with its renderings (text, Markdown, HTML, JSON, pandas).

The outcome rule (:func:`outcome_of`): a failing ``address`` or ``claim`` criterion makes the
evidence ``not valid``; otherwise a failing ``data`` criterion makes it ``insufficient data``;
otherwise any failing required criterion makes it ``not valid``; otherwise it is ``valid``.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal

import attrs

from . import _safetext
from .accuracy import CountryAccuracy, YearAccuracy
from .countries import country_name
from .coverage import CoverageResult
from .jsonutil import canonical_json, to_jsonable
from .stats import round_directed

__all__ = [
    "INSUFFICIENT",
    "NOT_VALID",
    "VALID",
    "CountryEvaluation",
    "Criterion",
    "Outcome",
    "Verdict",
    "outcome_of",
]

Outcome = Literal["valid", "not valid", "insufficient data"]
VALID: Final = "valid"
NOT_VALID: Final = "not valid"
INSUFFICIENT: Final = "insufficient data"


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

    def sign_text(self) -> str:
        """The comparison as a reader's sign (``≥``, ``≤``, ``=``); empty without a threshold."""
        if self.threshold is None:
            return ""
        return _SIGNS.get(self.comparison, self.comparison)

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


#: the comparison signs a reader expects, for the criteria's ASCII comparisons
_SIGNS: Final = {">=": "\u2265", "<=": "\u2264", "==": "=", ">": ">", "<": "<"}

#: a conservative LR at or above this (ENFSI "moderately strong" and up) next to a verdict that is
#: not valid gets one sentence saying how both can be true
STRONG_LR: Final = 100.0


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


def outcome_of(criteria: Iterable[Criterion]) -> str:
    """The outcome of a set of criteria, most decisive first.

    1. a failing ``address`` or ``claim`` criterion: ``not valid``;
    2. an accuracy that is clearly below the threshold (a failing ``accuracy_upper`` criterion:
       even the upper confidence bound is below it): ``not valid``, however few addresses;
    3. a failing ``data`` criterion (too few addresses, too short a window): ``insufficient data``;
    4. any other failing required criterion: ``not valid``;
    5. a required criterion that could not be measured (``passed`` None): ``insufficient data``,
       never ``valid`` on an unchecked criterion;
    6. otherwise ``valid``.
    """
    crit = list(criteria)
    if any(c.failed for c in crit if c.group in ("address", "claim")):
        return NOT_VALID
    if any(c.failed for c in crit if c.name == "accuracy_upper"):
        return NOT_VALID
    if any(c.failed for c in crit if c.group == "data"):
        return INSUFFICIENT
    if any(c.failed for c in crit):
        return NOT_VALID
    if any(c.required and c.passed is None for c in crit):
        return INSUFFICIENT
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
        return outcome_of(self.criteria)

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
    likelihood_ratio: Any
    asn: int | None
    network: Mapping[str, Any]
    database_gap_days: int
    coverage: CoverageResult | None
    provenance: Mapping[str, Any]
    network_accuracy: YearAccuracy | None = None
    lr_note: str | None = None

    @property
    def is_valid(self) -> bool:
        return self.outcome == VALID

    def data_attribution(self) -> tuple[str, ...]:
        """The attribution the network data used for this verdict requires (a shipped IP-to-ASN
        table's licence: CC BY 4.0 or CC BY-SA 4.0), to print beside the database's own."""
        text = self.network.get("asn_source_attribution")
        return (str(text),) if text else ()

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
            "likelihood_ratio_note": self.lr_note,
            "network_accuracy": None if self.network_accuracy is None else self.network_accuracy.to_dict(),
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

    def _window_text(self) -> str:
        first, last = self.window
        return f"Ground-truth window: {first}-{last} ({last - first + 1} year{'s' if last > first else ''})."

    def _network_text(self) -> str:
        net = "ASN unknown" if self.asn is None else f"AS{self.asn}"
        name = self.network.get("as_name")
        if name:
            net += f" ({name})"
        src = self.network.get("asn_source")
        if src:
            net += f", ASN {src}" if str(src).startswith("given") else f", ASN from {src}"
        if self.network.get("is_cloud"):
            net += f"; cloud/hosting: {self.network.get('provider')} ({self.network.get('reason')})"
        elif self.network.get("missing"):
            net += f"; not checked: {self.network.get('missing')}"
        return f"Address network: {net}."

    def _network_accuracy_text(self) -> str | None:
        na = self.network_accuracy
        if na is None:
            return None
        return f"Ground truth in the address's own network (AS{self.asn}) within {na.country}: {na.accuracy}."

    def _lr_lines(self) -> list[str]:
        lr = self.likelihood_ratio
        if lr is None:
            return [f"Likelihood ratio: {self.lr_note}."] if self.lr_note else []
        text = str(lr.headline) if getattr(lr, "headline", None) is not None else str(lr)
        against = getattr(lr, "weakest_against", None)
        weakest = f" (weakest against {against})" if against else ""
        return [
            f"Likelihood ratio of E = {lr.observation}: Hp = {lr.hp}; Hd = {lr.hd}.",
            f"{text.rstrip('.')}{weakest}.",
        ]

    def __str__(self) -> str:
        parts = [self._headline()]
        parts.extend(f"{r[0].upper()}{r[1:]}." for r in self.reasons)
        parts.append(self._window_text())
        if self.accuracy is not None:
            if self.accuracy.addresses:
                parts.append(f"Accuracy of the database on the ground truth of {self.accuracy}.")
            else:
                parts.append(
                    f"There is no ground truth of {self.accuracy.country} in {self.window[0]}-"
                    f"{self.window[1]}, so the database's accuracy there is not measured."
                )
        parts.append(self._network_text())
        net_acc = self._network_accuracy_text()
        if net_acc:
            parts.append(net_acc)
        parts.extend(self._lr_lines())
        both = self.lr_conflict_note()
        if both:
            parts.append(both)
        db = self.provenance.get("database", {})
        parts.append(
            f"Database {db.get('name', '?')} built {db.get('build_date', '?')}, "
            f"{self.database_gap_days} days from the evidence date."
        )
        lines = [" ".join(parts), "", "Criteria:"]
        lines.extend(f"  - [{c.group}] {c}" for c in self.criteria)
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """The verdict as Markdown: outcome, one-sentence reason, the other reasons, the criteria
        table (with comparison signs), window, network, accuracy, LR and database. Text that can
        come from input files (database and network names, addresses) is neutralised."""
        m = _safetext.markdown
        out = [f"### Verdict: {self.outcome.upper()}", "", m(self._headline()), ""]
        lead = self.lead_reason()
        if lead:
            out += [f"**Reason:** {m(lead)}", ""]
        out.extend(f"- {m(r)}" for r in self.reasons[1:])
        out += ["", "| Group | Criterion | Figure | Test | Threshold | Result |", "|---|---|---|---|---|---|"]
        for c in self.criteria:
            thr = "" if c.threshold is None else c.threshold_text()
            cells = (c.group, c.description, c.figure_text(), c.sign_text(), thr, c.status())
            out.append("| " + " | ".join(m(x) for x in cells) + " |")
        out += ["", m(self._window_text()), "", m(self._network_text())]
        net_acc = self._network_accuracy_text()
        if net_acc:
            out += ["", m(net_acc)]
        if self.accuracy is not None:
            out += ["", self.accuracy.table().to_markdown()]
        lr_lines = self._lr_lines()
        both = self.lr_conflict_note()
        if both:
            lr_lines.append(both)
        if lr_lines:
            out += ["", "**Likelihood ratio**", ""] + [f"- {m(line)}" for line in lr_lines]
        db = self.provenance.get("database", {})
        policy = self.provenance.get("policy", {}) or {}
        foot = (
            f"ipevidence {self.provenance.get('library_version')}, policy {policy.get('name')}, database "
            f"{db.get('name')} (built {db.get('build_date')}, SHA-256 {db.get('sha256')})."
        )
        out += ["", f"*{m(foot)}*"]
        return "\n".join(out) + "\n"

    def to_pandas(self) -> Any:
        """The criteria as a pandas DataFrame, one row per criterion (figure, threshold, result);
        pandas is optional and imported only here (``pip install 'ipevidence[pandas]'``)."""
        from ._optional import import_pandas

        pd = import_pandas("Verdict.to_pandas()")

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

    def lead_reason(self) -> str:
        """The verdict's reason in one sentence: the most decisive reason (the assessor lists it
        first), e.g. "Every required criterion passed." or the first failing criterion."""
        if not self.reasons:
            return ""
        first = self.reasons[0].strip()
        return f"{first[0].upper()}{first[1:]}" + ("" if first.endswith(".") else ".")

    def lr_conflict_note(self) -> str | None:
        """One sentence when the location is not valid evidence but its likelihood ratio still shows
        strong support (conservative LR of at least :data:`STRONG_LR`): how both can be true."""
        lr = self.likelihood_ratio
        head = getattr(lr, "headline", None) if lr is not None else None
        if self.outcome == VALID or head is None:
            return None
        conservative = getattr(head, "conservative", None)
        if conservative is None or conservative < STRONG_LR:
            return None
        return (
            f"Both can be true: the likelihood ratio ({head.verbal}) only compares how often the database "
            f"says {self.located_country} for devices there with how rarely it says so for devices "
            "elsewhere, while validity also asks that the database be right about this country at least "
            "the threshold's share of the time, on enough ground truth, for an address that can be "
            "evidence; a strong likelihood ratio does not make this location valid evidence."
        )

    def _database_text(self) -> str:
        db = self.provenance.get("database", {}) or {}
        name = db.get("name", "?")
        sha = db.get("sha256")
        return (
            f"Database {name}, built {db.get('build_date', '?')}, {self.database_gap_days:,} days from "
            f"the evidence date" + (f"; SHA-256 {sha}" if sha else "") + "."
        )

    def to_html_block(self, *, heading_level: int = 3) -> str:
        """The verdict as a structured HTML block (the report's form; ``_repr_html_`` too): the
        outcome and its one-sentence reason first, then every other reason, the criteria table
        (criterion, figure, comparison sign, threshold, result), the likelihood ratio with Hp and Hd
        in words, the network, the window and the database with its date. Everything is escaped;
        nothing is preformatted, so the text wraps on any screen and on paper. Controls and bidi
        overrides from input text are shown as visible escapes (they could reorder what is read)."""

        def e(text: str) -> str:
            return html.escape(_safetext.plain(text))

        h = max(1, min(6, heading_level))
        slug = self.outcome.replace(" ", "-")
        out = [
            f'<article class="verdict verdict-{e(slug)}">',
            f"<h{h}>Verdict: {e(self.outcome.upper())}</h{h}>",
            f'<p class="verdict-headline">{e(self._headline())}</p>',
        ]
        lead = self.lead_reason()
        if lead:
            out.append(f'<p class="verdict-reason"><strong>Reason:</strong> {e(lead)}</p>')
        more = [r for r in self.reasons[1:] if r.strip()]
        if more:
            out.append('<ul class="verdict-reasons">')
            out += [f"<li>{e(r[0].upper() + r[1:])}</li>" for r in more]
            out.append("</ul>")
        out.append('<table class="criteria">')
        out.append(f"<caption>Criteria ({len(self.criteria)})</caption>")
        out.append(
            "<thead><tr><th>Group</th><th>Criterion</th><th>Figure</th><th>Test</th><th>Threshold</th>"
            "<th>Result</th></tr></thead><tbody>"
        )
        for c in self.criteria:
            status = c.status()
            cls = {"pass": "pass", "FAIL": "fail", "insufficient": "fail", "flag": "flag"}.get(status, "nm")
            out.append(
                f"<tr><td>{e(c.group)}</td><td>{e(c.description)}</td>"
                f'<td class="num">{e(c.figure_text())}</td><td class="sign">{e(c.sign_text())}</td>'
                f'<td class="num">{e("" if c.threshold is None else c.threshold_text())}</td>'
                f'<td class="result result-{cls}">{e(status)}{"" if c.required else " (informational)"}'
                "</td></tr>"
            )
        out.append("</tbody></table>")
        facts: list[tuple[str, str]] = []
        lr_lines = self._lr_lines()
        both = self.lr_conflict_note()
        if lr_lines or both:
            facts.append(("Likelihood ratio", " ".join([*lr_lines, *([both] if both else [])])))
        if self.accuracy is not None and self.accuracy.addresses:
            facts.append(("Accuracy", f"On the ground truth of {self.accuracy}."))
        facts.append(("Window", self._window_text()))
        net = self._network_text()
        net_acc = self._network_accuracy_text()
        facts.append(("Network", net + (f" {net_acc}" if net_acc else "")))
        facts.append(("Database", self._database_text()))
        out.append('<dl class="verdict-facts">')
        for k, v in facts:
            out.append(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>")
        out.append("</dl></article>")
        return "\n".join(out)

    def _repr_html_(self) -> str:
        acc = self.accuracy.table()._repr_html_() if self.accuracy is not None else ""
        return f"<div>{self.to_html_block()}{acc}</div>"
