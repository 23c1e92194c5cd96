"""Turning the library's results into a :class:`~ipevidence.report.document.Report`.

:func:`evidence_report` takes a ground truth geolocated by one database
(:class:`~ipevidence.accuracy.LocatedGroundTruth`), an evidence date and the countries of interest,
and assembles the paper's tables (4-8), the figures (accuracy per year with bands and the 95 %
line, the naive methods, a coverage map on the shipped borders, the likelihood ratio per year), any
verdicts and tamper reports, and the full provenance.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._version import __version__
from ..countries import country_name, normalize_country
from ..defaults import DATABASE_ATTRIBUTION, attribution_for
from ..jsonutil import to_jsonable
from ..verdict import STRONG_LR
from .document import Block, Cell, Figure, Report, Section, Table
from .figures import (
    NO_PLOTS_NOTE,
    NaiveComparison,
    YearSeries,
    accuracy_figure,
    coverage_map_figure,
    lr_figure,
    naive_methods_figure,
    plots_available,
)

if TYPE_CHECKING:
    from ..accuracy import LocatedGroundTruth

__all__ = [
    "accuracy_series",
    "as_report_table",
    "assessor_report",
    "border_of",
    "evidence_report",
    "ground_truth_provenance",
    "lr_section",
    "lr_series",
    "naive_comparison",
    "outcome_reasons_table",
    "preset_differences",
    "top_countries",
    "verdict_block",
]


def as_report_table(table: Any) -> Table:
    """A report :class:`Table` from any table-like result (``title``, ``columns``, ``rows``, ``notes``)."""
    if isinstance(table, Table):
        return table
    rows: list[tuple[Cell, ...]] = []
    for r in table.rows:
        cells: list[Cell] = []
        for v in r:
            j = to_jsonable(v)
            cells.append(j if j is None or isinstance(j, str | int | float) else str(j))
        rows.append(tuple(cells))
    notes = getattr(table, "notes", ()) or ()
    note = " ".join(str(n) for n in notes) if not isinstance(notes, str) else notes
    return Table(str(table.title), tuple(str(c) for c in table.columns), tuple(rows), note)


def top_countries(located: LocatedGroundTruth, first: int, last: int, n: int = 5) -> list[str]:
    """The ``n`` countries with the most ground-truth addresses in ``first``..``last``."""
    m = located.window_counts(first, last).sum(axis=1)
    order = np.argsort(-m, kind="stable")
    return [located.codes[i] for i in order if i != 0 and m[i] > 0][:n]


def accuracy_series(
    located: LocatedGroundTruth, countries: Sequence[str], first: int, last: int, not_located: str = "exclude"
) -> list[YearSeries]:
    """Accuracy per year with its interval, one series per country."""
    out = []
    for c in countries:
        ca = located.country_accuracy(c, first, last, not_located)
        ivs = [y.selected(not_located) for y in ca.years]
        out.append(
            YearSeries(
                ca.country,
                [y.year for y in ca.years if y.year is not None],
                [iv.estimate for iv in ivs],
                [iv.low for iv in ivs],
                [iv.high for iv in ivs],
            )
        )
    return out


def _report_policy(policy: Any | None) -> Any:
    if policy is not None:
        return policy
    from ..policy import Policy

    return Policy.preset("default")


def lr_series(
    located: LocatedGroundTruth,
    countries: Sequence[str],
    first: int,
    last: int,
    policy: Any | None = None,
) -> list[YearSeries]:
    """Per year: the LR that the database says C when the device is in C, under the policy's Hd
    (by default each alternative with enough ground truth, the weakest shown)."""
    from ..assessment import policy_likelihood_ratio

    pol = _report_policy(policy)
    out = []
    for c in countries:
        years: list[int] = []
        vals: list[float | None] = []
        lows: list[float | None] = []
        highs: list[float | None] = []
        for y in range(first, last + 1):
            lr, _ = policy_likelihood_ratio(located, pol, c, c, y, y)
            head = None if lr is None else lr.headline
            years.append(y)
            if head is None:
                vals.append(None)
                lows.append(None)
                highs.append(None)
            else:
                vals.append(head.value if head.value is not None else head.conservative)
                lows.append(head.conservative)
                highs.append(head.high)
        out.append(YearSeries(c, years, vals, lows, highs))
    return out


def lr_section(
    located: LocatedGroundTruth,
    codes: Sequence[str],
    first: int,
    last: int,
    policy: Any,
    draw: bool,
    outcomes: Mapping[str, str] | None = None,
) -> Section:
    """The likelihood-ratio section under the policy's alternative hypothesis, Hp and Hd in words.

    ``outcomes`` (country -> Table 8 outcome): a country that is not valid evidence although its
    conservative LR shows strong support (at least :data:`~ipevidence.verdict.STRONG_LR`) gets one
    sentence saying how both can be true."""
    from ..assessment import policy_likelihood_ratio

    rows: list[tuple[Cell, ...]] = []
    hd_texts: list[str] = []
    both: list[str] = []
    for c in codes:
        lr, note = policy_likelihood_ratio(located, policy, c, c, first, last)
        head = None if lr is None else lr.headline
        if lr is None or head is None:
            rows.append((c, None, None, None, None, None, note or "not computed"))
            continue
        outcome = (outcomes or {}).get(c)
        if outcome is not None and outcome != "valid" and head.conservative >= STRONG_LR:
            both.append(c)
        if lr.hd not in hd_texts:
            hd_texts.append(lr.hd)
        against = lr.weakest_against or ("weighted mixture" if lr.mode == "weighted" else "pooled")
        rows.append((c, against, head.value, head.low, head.high, head.conservative, head.verbal))
    figs: list[Figure] = []
    if draw:
        lf = lr_figure(lr_series(located, codes, first, last, policy))
        if lf is not None:
            figs.append(lf)
    modes = {
        "each": "against each alternative country with enough ground truth in the window taken separately; "
        "the table shows the weakest of them and names it",
        "weighted": "against the named alternatives mixed with the stated weights",
        "pooled": "against every other country weighted by its ground truth, i.e. by where RIPE Atlas "
        "happens to deploy probes (shown on request; not a defensible alternative on its own)",
    }
    paragraphs = [
        "E: the database places the address in C. Hp: the device was in C. Hd: the device was in "
        f"another country, {modes[policy.lr_hd]}. LR = P(E | Hp) / P(E | Hd) from the window's "
        "confusion matrix; the conservative LR is the end of its interval closest to 1.",
        *(f"Hd as computed: {t}." for t in hd_texts[:3]),
    ]
    if both:
        paragraphs.append(
            f"{', '.join(both)}: not valid evidence in Table 8 although the likelihood ratio shows strong "
            "support. Both can be true: the LR only compares how often the database says C for devices "
            "in C with how rarely it says C for devices elsewhere, while validity also asks that the "
            "database be right about C at least the threshold's share of the time on enough ground "
            "truth and with a valid geography; a strong LR does not make the location valid evidence."
        )
    return Section(
        "Likelihood ratio",
        paragraphs=tuple(paragraphs),
        tables=(
            Table(
                f"Likelihood ratio of the observation 'the database says C', {first}-{last}",
                ("Country (Hp)", "Against (Hd)", "LR", "Low", "High", "Conservative", "Verbal (ENFSI)"),
                rows,
                note="A dash in LR or High means unbounded: no ground-truth address of the alternative "
                "was placed in C, so the point estimate divides by zero. The verbal equivalent words "
                "the conservative LR.",
            ),
        ),
        figures=figs,
    )


def naive_comparison(
    located: LocatedGroundTruth,
    country: str,
    first: int,
    last: int,
    *,
    other_country: str | None = None,
    not_located: str = "exclude",
) -> NaiveComparison:
    """The country's yearly accuracy against the naive figures (global per year, the last year's
    figure applied to every year, another country's window figure)."""
    code = normalize_country(country)
    ca = located.country_accuracy(code, first, last, not_located)
    glob = located.global_accuracy(first, last)
    single = ca.years[-1].selected(not_located).estimate if ca.years else None
    other_value: float | None = None
    if other_country:
        hist_all = located.country_accuracy(other_country, first, last, not_located).hist_all
        other_value = hist_all.selected(not_located).estimate
    return NaiveComparison(
        country=code,
        years=[y.year for y in ca.years if y.year is not None],
        evidential=[y.selected(not_located).estimate for y in ca.years],
        global_accuracy=[g.selected(not_located).estimate for g in glob],
        single_year=single,
        single_year_label=f"{code} {last} applied to every year",
        other_country=other_value,
        other_country_label=f"{other_country} {first}-{last}" if other_country else "",
    )


@functools.cache
def _borders() -> Any | None:
    try:
        geography: Any = importlib.import_module("ipevidence.geography")
        return geography.Borders.load("50m")  # ample detail for a map, and 30x faster to load than 10m
    except Exception:  # no borders only means maps are drawn without them
        return None


def border_of(country: str) -> Any | None:
    """The shipped Natural Earth border of ``country`` (shapely geometry), or None if not available."""
    borders = _borders()
    if borders is None:
        return None
    try:
        return borders.geometry(country)
    except Exception:  # an unknown or borderless territory: draw the points alone
        return None


def ground_truth_provenance(located: LocatedGroundTruth) -> dict[str, Any]:
    """The provenance of a located ground truth: archive days, funnel, parameters, database."""
    gt = located.ground_truth
    out: dict[str, Any] = {
        "library_version": __version__,
        "ground_truth": {
            "family": gt.family,
            "rows": len(gt),
            "years": [located.first_year, located.last_year] if len(gt) else [],
            "parameters": to_jsonable(dict(gt.parameters)),
            "funnel": gt.funnel.to_dict(),
            "archive": gt.provenance.to_dict() if gt.provenance is not None else None,
        },
        "database": located.database.to_dict() if located.database is not None else None,
        "intervals": {"method": located.method, "level": located.level},
    }
    return out


def verdict_block(verdict: Any) -> Block:
    """A verdict as a report :class:`Block`: the structured HTML (outcome and one-sentence reason
    first, then the criteria table, the LR with Hp and Hd in words, the database and its date),
    Markdown and text from the verdict's own renderers."""
    return Block(
        "verdict",
        html=verdict.to_html_block(heading_level=3),
        markdown=verdict.to_markdown(),
        text=str(verdict),
        data={"ip": verdict.ip, "date": verdict.date.isoformat(), "outcome": verdict.outcome},
    )


def _verdict_section(verdicts: Sequence[Any]) -> Section:
    return Section(
        "Verdicts",
        paragraphs=(
            "Each verdict gives its outcome and the reason first, then every criterion with its figure, "
            "the comparison, the threshold and the result; the JSON report holds the full structured "
            "form.",
        ),
        blocks=[verdict_block(v) for v in verdicts],
    )


def outcome_reasons_table(evaluations: Sequence[Any]) -> Table | None:
    """Why each country of Table 8 is not valid (or has insufficient data): every failing or
    unmeasured required criterion, and every failing valid-geography indicator, with its figure,
    comparison and threshold. None when every country is valid with a valid geography."""
    rows: list[tuple[Cell, ...]] = []
    for ev in evaluations:
        for c in ev.criteria:
            geography_fail = c.group == "geography" and c.passed is False and c.name != "overseas_parts"
            unmeasured = c.required and c.passed is None
            shown = c.failed or geography_fail or unmeasured
            if not shown or (ev.outcome == "valid" and not geography_fail):
                continue
            rows.append(
                (
                    ev.country,
                    ev.outcome,
                    c.description,
                    c.figure_text(),
                    c.sign_text(),
                    "" if c.threshold is None else c.threshold_text(),
                    c.status(),
                )
            )
    if not rows:
        return None
    return Table(
        "Why: the criteria behind each outcome that is not valid, and each geography that is not valid",
        ("Country", "Outcome", "Criterion", "Figure", "Test", "Threshold", "Result"),
        rows,
        note="Valid geography is 'no' when any of its objective indicators fails (distinct probes, "
        "distinct ASNs, population coverage, records removed at the border); figures are rounded "
        "against passing.",
    )


def _short(value: Any) -> str:
    text = ", ".join(str(x) for x in value) if isinstance(value, list | tuple) else str(value)
    if isinstance(value, list | tuple) and len(text) > 80:
        text = f"{len(value)} entries"
    return text


def preset_differences(policy: Any | None, ground_truth_parameters: Mapping[str, Any] | None) -> list[str]:
    """The parameters that differ from their named preset, in words (``name: value (preset: value)``):
    the assessor's policy against ``Policy.preset(policy.name)`` and the ground truth's build
    parameters against ``GroundTruthParams.preset_params(preset)``."""
    out: list[str] = []
    if policy is not None:
        from ..policy import Policy

        try:
            base = Policy.preset(policy.name).to_dict()
        except (ValueError, KeyError):
            base = {}
        mine = policy.to_dict()
        out += [
            f"policy {k}: {_short(mine[k])} (preset: {_short(base[k])})"
            for k in sorted(mine)
            if k in base and to_jsonable(mine[k]) != to_jsonable(base[k])
        ]
    params = dict(ground_truth_parameters or {})
    if params.get("preset"):
        from ..history import GroundTruthParams

        try:
            base_gt = GroundTruthParams.preset_params(str(params["preset"])).to_dict()
        except ValueError:
            base_gt = {}
        out += [
            f"ground truth {k}: {_short(params[k])} (preset: {_short(base_gt[k])})"
            for k in sorted(base_gt)
            if k in params and to_jsonable(params[k]) != to_jsonable(base_gt[k])
        ]
    return out


def evidence_report(
    located: LocatedGroundTruth,
    *,
    evidence_date: dt.date,
    countries: Sequence[str] | None = None,
    window_years: int = 8,
    threshold: float = 0.95,
    not_located: str = "exclude",
    evidential_table: Any | None = None,
    verdicts: Sequence[Any] = (),
    verdict_dicts: Sequence[Mapping[str, Any]] = (),
    other_databases: Mapping[str, LocatedGroundTruth] | None = None,
    extra_sections: Sequence[Section] = (),
    extra_provenance: Mapping[str, Any] | None = None,
    notes: Sequence[str] = (),
    title: str | None = None,
    figures: bool = True,
    policy: Any | None = None,
    country_evaluations: Sequence[Any] = (),
    case_id: str | None = None,
    examiner: str | None = None,
    after_verdicts: Sequence[Section] = (),
) -> Report:
    """A whole report on the evidential value of a database's country answers at ``evidence_date``.

    ``policy`` (a :class:`~ipevidence.policy.Policy`, default the ``default`` preset) decides the
    likelihood ratio: whether it is reported and against which alternative hypothesis.
    ``country_evaluations`` (:class:`~ipevidence.verdict.CountryEvaluation`, one per Table 8 row)
    add the table of reasons under Table 8. ``case_id`` and ``examiner`` are printed in the
    report's header (and page margin) only when given."""
    from ..accuracy import address_table, database_accuracy_table, naive_methods_table

    pol = _report_policy(policy)
    first, last = located.window(evidence_date.year, window_years)
    codes = [normalize_country(c) for c in countries] if countries else top_countries(located, first, last)
    all_notes = list(notes)
    draw = figures and plots_available()
    if figures and not draw:
        all_notes.append(NO_PLOTS_NOTE)
    db = located.database
    db_text = f"{db.name} (built {db.build_date.isoformat()})" if db is not None else "the database"

    sections: list[Section] = []
    intro = (
        f"Evidence date {evidence_date.isoformat()}; window {first}-{last} ({last - first + 1} years "
        f"ending with the evidence's year); database {db_text}; ground truth of "
        f"{len(located.ground_truth):,} IPv{located.ground_truth.family} addresses; "
        f"threshold {threshold:.0%}; {located.level:.0%} {located.method} intervals"
        f"{' clustered by probe' if getattr(located, 'clustering', 'none') == 'probe' else ''}; "
        f"not-located addresses {not_located}d."
    )
    sections.append(
        Section(
            "Summary",
            paragraphs=(intro,),
            items=tuple(f"{c}: {country_name(c)}" for c in codes),
        )
    )
    if verdicts:
        sections.append(_verdict_section(verdicts))
    sections.extend(after_verdicts)

    tables: list[Table] = []
    if evidential_table is not None:
        tables.append(as_report_table(evidential_table))
    why = outcome_reasons_table(country_evaluations)
    if why is not None:
        tables.append(why)
    figs: list[Figure] = []
    if draw and codes:
        f = accuracy_figure(
            accuracy_series(located, codes, first, last, not_located),
            threshold=threshold,
            title=f"Accuracy per year, {first}-{last}",
        )
        if f is not None:
            figs.append(f)
    sections.append(
        Section(
            "Evidential value per country (Table 8)",
            paragraphs=(
                "Hist min is the lowest yearly accuracy in the window and Hist all the accuracy over the "
                "whole window; both must reach the threshold, with enough ground truth and a valid "
                "geography, for a country location to be valid evidence.",
            ),
            tables=tables,
            figures=figs,
        )
    )

    acc_tables = [as_report_table(address_table(located, codes, first, last))]
    dbs: dict[str, LocatedGroundTruth] = {db.name if db is not None else "database": located}
    if other_databases:
        dbs.update(other_databases)
    acc_tables.append(as_report_table(database_accuracy_table(dbs, codes, first, last, not_located)))
    for c in codes:
        acc_tables.append(as_report_table(located.country_accuracy(c, first, last, not_located).table()))
    sections.append(
        Section(
            "Ground truth and accuracy (Tables 4 to 7)",
            paragraphs=(
                "Addresses per country and year (Tables 4-6), the accuracy per database (Table 7), and "
                "each country's accuracy per year with its confidence interval.",
            ),
            tables=acc_tables,
        )
    )

    if codes:
        main = codes[0]
        other = codes[1] if len(codes) > 1 else None
        naive_tables = []
        if other is not None:
            naive_tables.append(
                as_report_table(
                    naive_methods_table(
                        located, main, last, observed_year=first, other_country=other, not_located=not_located
                    )
                )
            )
        nfigs: list[Figure] = []
        if draw:
            nf = naive_methods_figure(
                naive_comparison(located, main, first, last, other_country=other, not_located=not_located),
                threshold=threshold,
            )
            if nf is not None:
                nfigs.append(nf)
        sections.append(
            Section(
                "The naive methods (shown to be rejected)",
                paragraphs=(
                    "(i) global accuracy applied to a country, (ii) one year's figure applied to another "
                    "year, (iii) another country's figure: each can overstate the evidence.",
                ),
                tables=naive_tables,
                figures=nfigs,
            )
        )

        if pol.report_lr:
            outcomes = {ev.country: ev.outcome for ev in country_evaluations}
            sections.append(lr_section(located, codes, first, last, pol, draw, outcomes))

        cfigs: list[Figure] = []
        if draw:
            for c in codes[:3]:
                rows = located.rows_of(c, first, last)
                gt = located.ground_truth
                cf = coverage_map_figure(
                    c,
                    gt.latitude[rows],
                    gt.longitude[rows],
                    border=border_of(c),
                    country_label=f"{country_name(c)} ({c}), {first}-{last}",
                )
                if cf is not None:
                    cfigs.append(cf)
        if cfigs:
            sections.append(
                Section(
                    "Ground-truth coverage",
                    paragraphs=("Where the ground truth of each country lies (the paper's Figure 6).",),
                    figures=cfigs,
                )
            )

    sections.extend(extra_sections)
    provenance = ground_truth_provenance(located)
    provenance["evidence_date"] = evidence_date.isoformat()
    provenance["window"] = [first, last]
    provenance["threshold"] = threshold
    provenance["not_located"] = not_located
    provenance["countries"] = codes
    if verdict_dicts:
        provenance["verdicts"] = [to_jsonable(v) for v in verdict_dicts]
    if extra_provenance:
        provenance.update(to_jsonable(dict(extra_provenance)))
    changed = preset_differences(policy, located.ground_truth.parameters)
    summary = [
        (
            "Differs from the presets",
            "; ".join(changed) if changed else "nothing: every parameter is the named preset's",
        )
    ]
    return Report(
        title=title or f"Evidential value of IP country location at {evidence_date.isoformat()}",
        sections=sections,
        provenance=provenance,
        notes=all_notes,
        attribution=tuple(
            dict.fromkeys(
                [
                    *(attribution_for(db) if db is not None else (DATABASE_ATTRIBUTION,)),
                    *(line for v in verdicts for line in v.data_attribution()),
                ]
            )
        ),
        summary=summary,
        case_id=case_id,
        examiner=examiner,
    )


def assessor_report(
    assessor: Any,
    evidence_date: dt.date,
    *,
    countries: Sequence[str] | None = None,
    addresses: Sequence[str | tuple[str, str | None] | tuple[str, str | None, int | None]] = (),
    notes: Sequence[str] = (),
    extra_sections: Sequence[Section] = (),
    extra_provenance: Mapping[str, Any] | None = None,
    title: str | None = None,
    figures: bool = True,
    case_id: str | None = None,
    examiner: str | None = None,
) -> Report:
    """A report from an :class:`~ipevidence.assessment.EvidentialAssessor`: Table 8 under its policy
    with the reasons for every outcome that is not valid,
    verdicts for ``addresses`` (an address, an (address, claimed country) pair or an (address,
    claimed country, AS number) triple, the ASN letting the cloud check run), and everything
    :func:`evidence_report` shows. An address that cannot be assessed (private, invalid, ...) is
    listed with the reason instead of stopping the report."""
    from ..errors import IpEvidenceError

    policy = assessor.policy
    located = assessor.located
    first, last = located.window(evidence_date.year, policy.window_years)
    codes = [normalize_country(c) for c in countries] if countries else top_countries(located, first, last)
    verdicts = []
    refused: list[str] = []
    for item in addresses:
        ip, claimed, asn = (item, None, None) if isinstance(item, str) else (*item, None)[:3]
        try:
            verdicts.append(assessor.assess(ip, evidence_date, claimed_country=claimed, asn=asn))
        except IpEvidenceError as exc:
            reason = str(exc)
            refused.append(reason if ip in reason else f"{ip}: {reason}")
    sections = list(extra_sections)
    refused_sections = []
    if refused:
        refused_sections.append(
            Section(
                "Addresses that cannot be assessed",
                paragraphs=("These addresses say nothing about a country location:",),
                items=refused,
            )
        )
    provenance = {"policy": policy.to_dict(), **(dict(extra_provenance) if extra_provenance else {})}
    return evidence_report(
        located,
        evidence_date=evidence_date,
        countries=codes,
        window_years=policy.window_years,
        threshold=policy.threshold,
        not_located=policy.not_located,
        evidential_table=assessor.table(codes, evidence_date),
        verdicts=verdicts,
        verdict_dicts=[v.to_dict() for v in verdicts],
        extra_sections=sections,
        extra_provenance=provenance,
        notes=notes,
        title=title,
        figures=figures,
        policy=policy,
        country_evaluations=[assessor.evaluate_country(c, first, last) for c in codes],
        case_id=case_id,
        examiner=examiner,
        after_verdicts=refused_sections,
    )
